"""Every ```python block in README.md and docs/*.md runs, so the documentation cannot rot.

Blocks of one page run in order in one namespace (like a notebook). A line of the form

    print(EXPR)   # expected output

also checks what it prints: the printed text (whitespace-normalized) must equal the comment, or
start with it when the comment ends in "...". A note after two spaces and "(" is ignored, so
`print(x.grad)  # tensor([2.])  (because ...)` compares only `tensor([2.])`.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
BLOCK = re.compile(r"^```python[^\n]*\n(.*?)^```", re.S | re.M)
CHECKED_PRINT = re.compile(r"^(\s*)print\((.*)\)\s+#\s?(.*)$")


def _normalize(text: str) -> str:
    return " ".join(text.split())


def _expected(comment: str) -> tuple[str, bool]:
    comment = re.split(r"\s{2,}\(", comment)[0].strip()
    prefix = comment.endswith("...")
    return _normalize(comment.rstrip(".").rstrip() if prefix else comment), prefix


def _instrument(code: str) -> str:
    """Turn `print(a, b)  # text` into a checked print."""
    lines = []
    for line in code.splitlines():
        m = CHECKED_PRINT.match(line)
        if m:
            indent, args, comment = m.groups()
            line = f"{indent}__check_print__(({args},), {comment!r})"
        lines.append(line)
    return "\n".join(lines)


def _check_print(args, comment):
    text = " ".join(str(a) for a in args)
    print(text)
    expected, prefix = _expected(comment)
    got = _normalize(text)
    ok = got.startswith(expected) if prefix else got == expected
    assert ok, f"printed {got!r}, the docs say {expected!r}"


def _blocks(page: Path):
    return BLOCK.findall(page.read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", [p for p in PAGES if _blocks(p)],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_code_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # blocks that write files write them here
    namespace = {"__name__": f"docs_{page.stem}", "__check_print__": _check_print}
    for i, code in enumerate(_blocks(page), 1):
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out), np.errstate(all="ignore"):
                exec(compile(_instrument(code), f"{page.name}[block {i}]", "exec"), namespace)
        except Exception as err:  # noqa: BLE001 - re-raised with the block's location
            raise AssertionError(f"{page.name}, code block {i} failed: {err!r}\n{code}") from err


def test_docs_checker_catches_a_wrong_expected_output():
    with pytest.raises(AssertionError, match="the docs say"):
        _check_print((1 + 1,), "3")
    _check_print(("tensor([1., 2.])",), "tensor([1., 2.])  (a note)")
    _check_print(("detect_anomaly: Sqrt backward produced inf",), "detect_anomaly: Sqrt ...")
