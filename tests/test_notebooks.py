"""The lesson's notebooks (docs/notebooks/*.ipynb): each one runs top to bottom in a fresh kernel
within its time budget, and the copies stored in the repository (what the docs site shows) were
run the same way and are clean.

The notebooks check their own numbers (assert cells), so running them is a test of the claims
they make. Needs nbclient and ipykernel (the `dev` extra); skipped cleanly without them.

After changing a notebook, store its fresh outputs with the same runner:

    python tests/test_notebooks.py --update [NAME ...]
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "docs" / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
# Seconds each notebook may take from kernel start to its last cell: a hang guard (the run is
# stopped there), about five times what a run took on a busy 2-core machine.
BUDGETS = {"01-lesson-network": 120, "02-backprop-by-hand": 60, "03-activations": 120,
           "04-optimizers": 60}
NEEDS_DOT = {"02-backprop-by-hand"}  # draws the recorded graph with Graphviz
TRAINS = {"01-lesson-network", "03-activations"}  # bounded training on real data: marked slow
SIZE_LIMIT = 600_000  # bytes per stored notebook (its pictures are PNGs in the JSON)


def _requirements():
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    return pytest.importorskip("nbformat")


def execute(nb, budget: float, cwd: Path):
    """Run every cell of `nb` (a NotebookNode, changed in place) in a fresh python3 kernel whose
    working folder is `cwd`. A cell that raises stops the run with nbclient's CellExecutionError
    (the cell's source and traceback); cells that together run longer than `budget` seconds are
    stopped with a TimeoutError."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError

    deadline = []

    def time_left(source):  # nbclient asks before each cell how long it may run
        if not deadline:
            deadline.append(time.monotonic() + budget)
        return max(1, deadline[0] - time.monotonic())

    client = NotebookClient(nb, timeout_func=time_left, kernel_name="python3",
                            record_timing=False, resources={"metadata": {"path": str(cwd)}})
    try:
        client.execute()
    except CellTimeoutError:
        raise TimeoutError(f"the notebook ran past its budget of {budget} s: shorten it (fewer "
                           "epochs, a subset of the data) or raise its budget in "
                           "tests/test_notebooks.py") from None
    return nb


def _code_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def _kinds(cell) -> set:
    """What a code cell shows: 'stdout', 'image/png', 'image/svg+xml', ..."""
    kinds = set()
    for out in cell.outputs:
        if out.output_type == "stream":
            kinds.add(out.name)
        elif out.output_type in ("display_data", "execute_result"):
            kinds |= {k for k in out.data if k.startswith("image/")} or {"text"}
        else:
            kinds.add(out.output_type)
    return kinds


def _params():
    marks = {name: [pytest.mark.slow] if name in TRAINS else [] for name in BUDGETS}
    return [pytest.param(p, marks=marks.get(p.stem, []), id=p.stem) for p in NOTEBOOKS]


# ---------------------------------------------------------------------------- running them ----
@pytest.mark.parametrize("path", _params())
def test_notebook_runs_top_to_bottom(path, tmp_path):
    nbformat = _requirements()
    if path.stem in NEEDS_DOT and shutil.which("dot") is None:
        pytest.skip("Graphviz `dot` is not installed")
    stored = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    ran = execute(copy.deepcopy(stored), BUDGETS[path.stem], tmp_path)
    print(f"{path.name}: {time.perf_counter() - start:.1f} s")
    # every picture of the stored copy is drawn again, by the same cell
    for i, (old, new) in enumerate(zip(_code_cells(stored), _code_cells(ran))):
        pictures = {k for k in _kinds(old) if k.startswith("image/")}
        assert pictures <= _kinds(new), f"{path.name}, code cell {i + 1} no longer draws {pictures}"
    warnings = [o.text for c in _code_cells(ran) for o in c.outputs
                if o.output_type == "stream" and o.name == "stderr" and "Warning" in o.text]
    assert not warnings, f"{path.name} warns: {warnings}"


# ------------------------------------------------------------------- the stored notebooks ----
def test_there_are_four_notebooks_with_budgets():
    assert [p.stem for p in NOTEBOOKS] == sorted(BUDGETS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_notebook_was_run_top_to_bottom_and_is_clean(path):
    nbformat = pytest.importorskip("nbformat")  # reading needs no kernel
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith(
        f"# {int(path.stem[:2])}. "), "the first cell is the title: '# N. ...'"
    cells = _code_cells(nb)
    counts = [c.execution_count for c in cells]
    assert counts == list(range(1, len(cells) + 1)), (
        f"{path.name} was not run top to bottom in one go (execution counts {counts}): "
        "python tests/test_notebooks.py --update")
    for i, cell in enumerate(cells, 1):
        assert not {"error", "stderr"} & _kinds(cell), f"{path.name}, code cell {i}: error/warning"
        assert "execution" not in cell.metadata, "timing metadata: store with --update"
    assert any("image/png" in _kinds(c) or "image/svg+xml" in _kinds(c) for c in cells)
    assert path.stat().st_size < SIZE_LIMIT, f"{path.name} is {path.stat().st_size:,} bytes"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_uses_only_the_public_api(path):
    code = "\n".join("".join(c["source"]) for c in json.loads(path.read_text("utf-8"))["cells"]
                     if c["cell_type"] == "code")
    private = re.findall(r"(?:tinygrad_lite|\btg|\bnn|\boptim|\bF|\bviz)\.(_\w+)|import (_\w+)",
                         code)
    assert not private, f"{path.name} reaches private names: {private}"
    assert not re.search(r"^\s*(from|import) examples", code, re.M), (
        f"{path.name} imports from examples/: notebooks stand alone")


def test_notebooks_are_listed_in_the_docs_and_the_readme():
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    index = (NOTEBOOK_DIR / "index.md").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        assert f"notebooks/{path.name}" in config, f"{path.name} is not in mkdocs.yml's nav"
        assert f"({path.name})" in index, f"docs/notebooks/index.md does not link {path.name}"
        assert path.name in readme, f"README.md does not list {path.name}"


# -------------------------------------------------------------- the runner can fail ----
def _notebook(*sources):
    nbformat = _requirements()
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    return nb


def test_runner_stops_at_a_failing_cell(tmp_path):
    nb = _notebook("x = 1", "assert x + 1 == 3, 'a wrong claim'", "print('never runs')")
    from nbclient.exceptions import CellExecutionError

    with pytest.raises(CellExecutionError, match="a wrong claim"):
        execute(nb, 60, tmp_path)
    assert nb.cells[2].outputs == []


def test_runner_stops_a_notebook_over_its_budget(tmp_path):
    nb = _notebook("import time", "time.sleep(30)")
    start = time.perf_counter()
    with pytest.raises(TimeoutError, match="budget of 3 s"):
        execute(nb, 3, tmp_path)
    assert time.perf_counter() - start < 25


# ------------------------------------------------------------------------------- --update ----
def update(names: list[str]) -> None:
    """Run the named notebooks (all by default) and store them with their outputs."""
    import os
    import tempfile

    import nbformat

    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")  # the kernel inherits it: the same setting as the tests
    for path in NOTEBOOKS:
        if names and path.stem not in names and path.name not in names:
            continue
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            cell.metadata.pop("execution", None)
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            execute(nb, BUDGETS.get(path.stem, 120), Path(tmp))
        nbformat.write(nb, path)
        print(f"{path.relative_to(ROOT)}: {time.perf_counter() - start:.1f} s, "
              f"{path.stat().st_size:,} bytes")


if __name__ == "__main__":
    if sys.argv[1:2] != ["--update"]:
        sys.exit(__doc__)
    update(sys.argv[2:])
