"""The documentation site: mkdocs.yml's nav, the pages, pictures and links, the code excerpts that
claim to be copies of the source, and (when mkdocs is installed) a strict build of the whole site.

The code blocks of the pages are run by tests/test_docs.py.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CONFIG = ROOT / "mkdocs.yml"
PAGES = sorted(DOCS.glob("**/*.md"))
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
EXCERPT = re.compile(r'^```py title="([^"]+)"\n(.*?)^```', re.S | re.M)
IMAGES_LIMIT = 2_000_000  # bytes, all pictures together


def _nav_pages() -> list[str]:
    """The .md files named in mkdocs.yml's nav (read without yaml: one entry per line)."""
    text = CONFIG.read_text(encoding="utf-8")
    nav = re.search(r"^nav:\n((?:[ \t]+.*\n|\n)+)", text, re.M)
    assert nav, "mkdocs.yml has no nav"
    return re.findall(r"([\w./-]+\.(?:md|ipynb))\s*$", nav.group(1), re.M)


def _without_code(text: str) -> str:
    """Markdown with fenced blocks and inline code removed (links inside code are not links)."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


# ------------------------------------------------------------------------------------- pages ----
def test_nav_pages_exist():
    missing = [p for p in _nav_pages() if not (DOCS / p).is_file()]
    assert not missing, f"mkdocs.yml's nav names pages that do not exist: {missing}"


def test_nav_has_the_planned_pages_in_order():
    nav = _nav_pages()
    planned = ["index.md", "getting-started.md", "lesson.md", "autograd.md", "visualization.md",
               "optimizers.md", "performance.md", "api/index.md"]
    assert [p for p in nav if p in planned] == planned


def test_every_page_is_in_nav():
    nav = set(_nav_pages())
    pages = [*PAGES, *DOCS.glob("notebooks/*.ipynb")]
    orphans = [str(p.relative_to(DOCS)) for p in pages if str(p.relative_to(DOCS)) not in nav]
    assert not orphans, f"pages missing from mkdocs.yml's nav: {orphans}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_page_images_exist(page):
    text = _without_code(page.read_text(encoding="utf-8"))
    for ref in IMAGE.findall(text):
        if ref.startswith(("http://", "https://")):
            continue
        assert (page.parent / ref).is_file(), f"{page.name} shows {ref}, which does not exist"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_page_links_to_pages_that_exist(page):
    text = _without_code(page.read_text(encoding="utf-8"))
    for ref in LINK.findall(text):
        if ref.startswith(("http://", "https://", "mailto:", "#")):
            continue
        target = ref.split("#")[0]
        assert (page.parent / target).exists(), f"{page.name} links to {ref}, which does not exist"


def test_every_picture_is_used_and_small():
    pictures = [p for p in (DOCS / "img").iterdir() if p.suffix in (".svg", ".png", ".jpg")]
    assert pictures, "docs/img has no pictures"
    used = {(page.parent / ref).resolve() for page in PAGES
            for ref in IMAGE.findall(page.read_text(encoding="utf-8"))}
    unused = [p.name for p in pictures if p.resolve() not in used]
    assert not unused, f"pictures no page shows: {unused}"
    total = sum(p.stat().st_size for p in pictures)
    assert total < IMAGES_LIMIT, f"docs/img holds {total:,} bytes of pictures (limit {IMAGES_LIMIT:,})"


def test_svg_pictures_are_svg():
    for p in (DOCS / "img").glob("*.svg"):
        head = p.read_text(encoding="utf-8")[:400]
        assert "<svg" in head, f"{p.name} is not an SVG file"


# ---------------------------------------------------------------------------------- excerpts ----
def _excerpt_in_source(excerpt: str, source: str) -> bool:
    """Whether the excerpt's lines appear, consecutive and in order, in the source (indentation
    and blank lines ignored). A line `...` (perhaps with a comment) in the excerpt stands for lines
    left out: the pieces around it must appear in this order."""
    have = [line.strip() for line in excerpt.splitlines()]
    pieces, piece = [], []
    for line in have:
        if line.split("#", 1)[0].strip() == "...":
            pieces.append(piece)
            piece = []
        elif line:
            piece.append(line)
    pieces.append(piece)
    if not any(pieces):
        return False
    lines = [line.strip() for line in source.splitlines() if line.strip()]
    start = 0
    for want in filter(None, pieces):
        n = len(want)
        found = next((i for i in range(start, len(lines) - n + 1) if lines[i:i + n] == want), None)
        if found is None:
            return False
        start = found + n
    return True


def _excerpts() -> list[tuple]:
    return [(page, path, code) for page in PAGES
            for path, code in EXCERPT.findall(page.read_text(encoding="utf-8"))]


@pytest.mark.parametrize(("page", "path", "code"), _excerpts(),
                         ids=[f"{p.name}:{path}:{i}" for i, (p, path, _) in enumerate(_excerpts())])
def test_code_excerpts_are_copies_of_the_source(page, path, code):
    source = ROOT / path
    assert source.is_file(), f"{page.name} quotes {path}, which does not exist"
    assert _excerpt_in_source(code, source.read_text(encoding="utf-8")), (
        f"{page.name} quotes lines of {path} that are not (or no longer) in it:\n{code}")


def test_excerpt_checker_catches_a_changed_line():
    source = "def f(x):\n    y = x + 1\n\n    return y * 2\n"
    assert _excerpt_in_source("y = x + 1\nreturn y * 2", source)
    assert not _excerpt_in_source("y = x + 1\nreturn y * 3", source)
    assert not _excerpt_in_source("return y * 2\ny = x + 1", source)
    assert not _excerpt_in_source("", source)
    assert _excerpt_in_source("def f(x):\n    ...  # (one line)\n    return y * 2", source)
    assert not _excerpt_in_source("return y * 2\n...\ndef f(x):", source)


def test_optimizers_page_quotes_every_optimizer_file():
    quoted = {path for _, path, _ in _excerpts()}
    for name in ("sgd", "adagrad", "rmsprop", "adadelta", "adam", "newton", "optimizer"):
        assert f"tinygrad_lite/optim/{name}.py" in quoted


# ------------------------------------------------------------------- the griffe extension ----
def _load_docs_module(name: str):
    """A build-machinery file of docs/ (griffe_doctest.py, hooks.py) as a module."""
    spec = importlib.util.spec_from_file_location(f"docs_{name}", DOCS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _griffe_doctest():
    pytest.importorskip("griffe")
    return _load_docs_module("griffe_doctest")


def test_griffe_extension_fences_doctests():
    fence = _griffe_doctest().fence_doctests
    text = ("A sum.\n\n>>> x = 1  # doctest: +ELLIPSIS\n>>> print(x)\n1\n<BLANKLINE>\n\nMore text.\n"
            "```python\n>>> inside_a_fence\n```")
    assert fence(text) == ("A sum.\n\n```pycon\n>>> x = 1\n>>> print(x)\n1\n\n```\n\nMore text.\n"
                           "```python\n>>> inside_a_fence\n```")
    assert fence("Text\n>>> 1 + 1\n2") == "Text\n\n```pycon\n>>> 1 + 1\n2\n```"
    assert fence("No examples here.") == "No examples here."


# ---------------------------------------------------------------------------- strict build ----
def _have_mkdocs() -> bool:
    return all(importlib.util.find_spec(m) is not None
               for m in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python",
                         "mkdocs_jupyter"))


@functools.cache
def built_site() -> Path:
    """`mkdocs build --strict` of the whole site, once per test session (tests/test_docs_browser.py
    opens the same build), into a temporary folder removed at exit."""
    if not _have_mkdocs():
        pytest.skip("mkdocs, mkdocs-material, mkdocstrings[python] or mkdocs-jupyter is not "
                    "installed (pip install -e '.[docs]')")
    out = Path(tempfile.mkdtemp(prefix="tinygrad_lite_site_"))
    atexit.register(shutil.rmtree, out, ignore_errors=True)
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                          str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert run.returncode == 0, f"mkdocs build --strict failed:\n{run.stdout}\n{run.stderr}"
    return out


@pytest.fixture(scope="module")
def site():
    return built_site()


def _built(site: Path, page: str) -> Path:
    """Where mkdocs (use_directory_urls) writes a page: a.md (or a.ipynb) -> a/index.html,
    a/index.md stays."""
    if page == "index.md" or page.endswith("/index.md"):
        return site / (page[:-3] + ".html")
    return site / page.rsplit(".", 1)[0] / "index.html"


def test_mkdocs_build_strict_succeeds(site):
    for page in _nav_pages():
        assert _built(site, page).is_file(), f"{page} was not built"


def test_built_site_has_the_pictures_and_the_math(site):
    assert (site / "img" / "chain.svg").is_file()
    lesson = (site / "lesson" / "index.html").read_text(encoding="utf-8")
    assert 'class="arithmatex"' in lesson  # equations are handed to KaTeX
    for name in ("katex.min.js", "katex.min.css", "auto-render.min.js", "LICENSE"):
        assert (site / "javascripts" / "katex" / name).is_file(), f"KaTeX's {name} not published"
    assert (site / "javascripts" / "katex.js").is_file()
    assert not list(site.glob("**/*.py")), "build machinery (*.py) was published"


def test_built_pages_load_nothing_from_the_network(site):
    """The site works offline: no page fetches a script, stylesheet, font or image from another
    host (docs/hooks.py refuses to build one that would; this reads what was built)."""
    hooks = _load_docs_module("hooks")
    remote = {str(page.relative_to(site)): hooks.remote_resources(page.read_text(encoding="utf-8"))
              for page in site.glob("**/*.html")}
    assert not {page: urls for page, urls in remote.items() if urls}


# --------------------------------------------------------------------- the shipped KaTeX ----
KATEX = DOCS / "javascripts" / "katex"


def test_vendored_katex_is_the_recorded_release():
    """docs/javascripts/katex holds KaTeX's files unchanged: each one's sha256 is in VERSION."""
    import hashlib

    version = (KATEX / "VERSION").read_text(encoding="utf-8")
    recorded = dict(line.split()[::-1] for line in version.splitlines()
                    if re.fullmatch(r"[0-9a-f]{64}  \S+", line))
    shipped = {str(p.relative_to(KATEX)) for p in KATEX.glob("**/*") if p.is_file()} - {"VERSION"}
    assert set(recorded) == shipped, "VERSION must list every shipped KaTeX file, and only those"
    for name, digest in recorded.items():
        assert hashlib.sha256((KATEX / name).read_bytes()).hexdigest() == digest, (
            f"javascripts/katex/{name} differs from the release recorded in VERSION")
    css = (KATEX / "katex.min.css").read_text(encoding="utf-8")
    fonts = set(re.findall(r"url\((fonts/[\w-]+\.woff2)\)", css))
    assert fonts and all((KATEX / f).is_file() for f in fonts), "katex.min.css names missing fonts"


def test_mkdocs_config_loads_katex_and_no_cdn():
    text = CONFIG.read_text(encoding="utf-8")
    for name in ("javascripts/katex/katex.min.js", "javascripts/katex/auto-render.min.js",
                 "javascripts/katex.js", "javascripts/katex/katex.min.css"):
        assert name in text
    assert not re.search(r"^\s*-\s*https?://", text, re.M), "mkdocs.yml loads a file from a CDN"


def test_offline_check_finds_remote_resources_and_strips_notebook_loaders():
    hooks = _load_docs_module("hooks")
    page = ('<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Roboto">'
            '<script src="../js/local.js"></script><script src="//cdn.example/x.js"></script>'
            '<a href="https://example.org/">a link is not a load</a>'
            '<img src="data:image/png;base64,AAAA"><img alt="" src=https://example.org/i.png>'
            '<script>import("https://cdn.example/m.mjs")</script>')
    assert hooks.remote_resources(page) == ["https://fonts.googleapis.com/css?family=Roboto",
                                            "//cdn.example/x.js", "https://example.org/i.png",
                                            "https://cdn.example/m.mjs"]
    notebook = ('<p>a</p><!-- Load mathjax -->\n<script src=""> </script>\n<script type="text/x-'
                'mathjax-config">init()</script>\n<!-- End of mathjax configuration -->'
                '<script type="module">\n const d = document.querySelectorAll(".jp-Mermaid > pre");'
                '\n await import("https://cdnjs.example/mermaid.mjs");\n</script><p>b</p>')
    assert hooks.strip_notebook_loaders(notebook) == "<p>a</p><p>b</p>"
    assert hooks.remote_resources(hooks.strip_notebook_loaders(notebook)) == []


def test_notebook_pages_show_their_outputs(site):
    """mkdocs-jupyter renders each notebook with its stored outputs, the .ipynb beside it."""
    notebooks = sorted((DOCS / "notebooks").glob("*.ipynb"))
    assert len(notebooks) == 4
    for nb in notebooks:
        html = (site / "notebooks" / nb.stem / "index.html").read_text(encoding="utf-8")
        assert html.count('class="jp-Cell jp-CodeCell') >= 5, f"{nb.name}: code cells missing"
        assert "jp-OutputArea-output" in html and "data:image/png;base64," in html, (
            f"{nb.name} is shown without its outputs (store them: tests/test_notebooks.py)")
        assert "Load mathjax" not in html and "$$" in html  # KaTeX typesets its formulas
        assert (site / "notebooks" / nb.stem / nb.name).read_bytes() == nb.read_bytes()
        assert f'href="{nb.name}" download' in html, f"{nb.name}: no download button"


def test_api_reference_documents_every_public_name(site):
    import tinygrad_lite as tg

    anchors = set()
    for page in (site / "api").glob("*/index.html"):
        anchors |= set(re.findall(r'id="(tinygrad_lite\.[\w.]+)"', page.read_text(encoding="utf-8")))
    names = {a.rsplit(".", 1)[-1] for a in anchors}
    modules = {"tinygrad_lite": tg, "nn": tg.nn, "optim": tg.optim, "data": tg.data, "viz": tg.viz}
    missing = []
    for label, module in modules.items():
        for name in module.__all__:
            obj = getattr(module, name)
            if isinstance(obj, type(tg)) or not callable(obj) or (
                    isinstance(obj, type) and issubclass(obj, np.generic)):
                continue  # submodules (documented by their members), dtypes, constants
            if name not in names:
                missing.append(f"{label}.{name}")
    assert not missing, f"public names without an entry in the API reference: {missing}"


def test_api_reference_renders_doctests_as_code(site):
    html = (site / "api" / "nn" / "index.html").read_text(encoding="utf-8")
    assert "&gt;&gt;&gt;" in html
    assert "<blockquote>" not in html, "a >>> example was rendered as a block quote"


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` not installed")
def test_pictures_script_draws_what_the_pages_show(tmp_path):
    """docs/img/make_images.py writes the SVG files the pages show (into a copy of docs/img)."""
    script = tmp_path / "make_images.py"
    shutil.copy(DOCS / "img" / "make_images.py", script)
    run = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    made = {p.name for p in tmp_path.glob("*.svg")}
    shown = {p.name for p in (DOCS / "img").glob("*.svg")}
    assert made == shown
