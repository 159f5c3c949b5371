"""The built documentation site, opened page by page in a real browser (headless Chromium).

The site (`mkdocs build --strict`, shared with tests/test_docs_site.py) is served from 127.0.0.1,
with no network beyond it, and every page is opened once. The checks: no console errors and no
failed request; nothing fetched from another host; every image loads; every formula is typeset
by the KaTeX shipped with the site (and none is left as raw TeX or shown as a KaTeX error); every
code block has its copy button; the search box finds "backward". A screenshot of each page is kept
under build/docs-screenshots/ (or $DOCS_SCREENSHOTS) as a CI artifact.

Needs Playwright (pip) and Chromium (Debian's `chromium`, installed by .ci/run): Playwright drives
the system's browser (executable_path), it never downloads one. Skipped cleanly where either is
missing.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import shutil
import threading
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.test_docs_site import ROOT, built_site

CHROMIUM = next((p for p in (shutil.which("chromium"), "/usr/bin/chromium") if p and
                 Path(p).is_file()), None)
# Chromium as root in a container, on a machine whose network is closed: no sandbox, no GPU, and
# none of its own background traffic (first-run page, component updates, sync, QUIC probes)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(os.environ.get("DOCS_SCREENSHOTS", ROOT / "build" / "docs-screenshots"))
SCREENSHOT_MAX_HEIGHT = 8000  # pixels: the top of the longest pages (the API reference) is enough
VIEWPORT = {"width": 1280, "height": 900}

# What the page reports about itself once loaded (run in the page).
INSPECT = r"""() => {
  const text = (el) => {  // visible text without code (code may legitimately show TeX or $)
    const copy = el.cloneNode(true);
    copy.querySelectorAll("pre, code, .katex").forEach((c) => c.remove());
    return copy.textContent;
  };
  const content = document.querySelector("article") || document.body;
  const images = [...document.images].map((img) => ({
    src: img.getAttribute("src").slice(0, 120),
    ok: img.complete && img.naturalWidth > 0 && img.naturalHeight > 0}));
  const arithmatex = [...content.querySelectorAll(".arithmatex")];
  const markdownCells = [...content.querySelectorAll(".jp-MarkdownCell .jp-RenderedMarkdown")];
  const toc = [...document.querySelectorAll(".md-nav--secondary .md-nav__link")];
  const rawTex = [...arithmatex, ...markdownCells, ...toc]
    .map(text).filter((t) => /\\[()[\]]|\$\$|\$[^$\s][^$]*\$|\\frac|\\sigma/.test(t))
    .map((t) => t.trim().slice(0, 100));
  const blocks = [...content.querySelectorAll("pre > code")];
  const cells = [...content.querySelectorAll(".jp-CodeCell .jp-InputArea")];
  return {
    title: document.title,
    images,
    formulas: arithmatex.length,
    katex: content.querySelectorAll(".katex").length,
    untypeset: arithmatex.filter((el) => !el.querySelector(".katex")).map(
      (el) => el.textContent.trim().slice(0, 100)),
    katexErrors: [...content.querySelectorAll(".katex-error")].map(
      (el) => (el.getAttribute("title") || el.textContent).slice(0, 160)),
    rawTex,
    codeBlocks: blocks.length,
    blocksWithoutCopy: blocks.filter(
      (code) => !code.parentElement.querySelector("button[data-clipboard-target]")).map(
      (code) => code.textContent.trim().slice(0, 80)),
    notebookCells: cells.length,
    cellsWithoutCopy: cells.filter((cell) => !cell.querySelector("clipboard-copy")).length,
    copyElementDefined: customElements.get("clipboard-copy") !== undefined,
    downloads: [...content.querySelectorAll("a[download]")].map((a) => a.href),
  };
}"""


def _chromium_and_playwright():
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return pytest.importorskip("playwright.sync_api")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the test reports failures itself
        pass


@contextlib.contextmanager
def serve(folder: Path):
    """The folder over HTTP on 127.0.0.1 (search fetches its index, which file:// forbids)."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _page_paths(site: Path) -> list[str]:
    """Every page of the built site, as a URL path ('', 'lesson/', 'api/nn/', '404.html')."""
    paths = []
    for html in sorted(site.glob("**/*.html")):
        rel = html.relative_to(site).as_posix()
        paths.append(rel[: -len("index.html")] if rel.endswith("index.html") else rel)
    return paths


def open_page(page, url: str, screenshot: Path | None = None) -> dict:
    """Load one page; what it logged, what failed to load, what it fetched, what it shows."""
    events = {"console": [], "errors": [], "failed": [], "requests": []}
    on_console = lambda m: m.type == "error" and events["console"].append(m.text)  # noqa: E731
    on_error = lambda e: events["errors"].append(str(e))  # noqa: E731
    on_failed = lambda r: events["failed"].append(f"{r.url} ({r.failure})")  # noqa: E731
    on_request = lambda r: events["requests"].append(r.url)  # noqa: E731
    on_response = lambda r: r.status >= 400 and events["failed"].append(  # noqa: E731
        f"{r.url} (HTTP {r.status})")
    handlers = {"console": on_console, "pageerror": on_error, "requestfailed": on_failed,
                "request": on_request, "response": on_response}
    for name, handler in handlers.items():
        page.on(name, handler)
    try:
        page.goto(url, wait_until="load")
        page.wait_for_load_state("networkidle")
        report = page.evaluate(INSPECT)
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            height = min(page.evaluate("document.documentElement.scrollHeight"),
                         SCREENSHOT_MAX_HEIGHT)
            page.screenshot(path=str(screenshot), full_page=True,
                            clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": height})
    finally:
        for name, handler in handlers.items():
            page.remove_listener(name, handler)
    report.update(events)
    report["remote"] = [u for u in events["requests"]
                        if urlsplit(u).scheme in ("http", "https", "ws", "wss")
                        and urlsplit(u).hostname != "127.0.0.1"]
    return report


@pytest.fixture(scope="module")
def browser():
    sync_api = _chromium_and_playwright()
    with sync_api.sync_playwright() as playwright:
        # Playwright starts each launch with a fresh temporary profile (--user-data-dir)
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def served_site(browser):
    site = built_site()
    with serve(site) as base:
        yield site, base


@pytest.fixture(scope="module")
def reports(browser, served_site) -> dict:
    """Every page opened once, in one browser context; a screenshot of each kept."""
    site, base = served_site
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        out = {}
        for path in _page_paths(site):
            name = (path.rstrip("/").replace("/", "__").removesuffix(".html") or "home") + ".png"
            out[path or "/"] = open_page(page, base + path, SCREENSHOTS / name)
        return out
    finally:
        context.close()


def _problems(reports: dict, key: str) -> dict:
    return {page: r[key] for page, r in reports.items() if r[key]}


# ------------------------------------------------------------------------------------ pages ----
def test_every_page_is_opened(reports, served_site):
    site, _ = served_site
    assert len(reports) == len(list(site.glob("**/*.html")))
    for page in ("/", "lesson/", "api/nn/", "notebooks/01-lesson-network/"):
        assert page in reports, f"the site has no page {page}"
    assert all(r["title"] for r in reports.values())


def test_no_console_errors_or_failed_requests(reports):
    problems = {page: r["failed"] + r["errors"] + r["console"] for page, r in reports.items()}
    assert not {page: p for page, p in problems.items() if p}, (
        "failed requests, uncaught JavaScript errors and console errors")


def test_nothing_is_fetched_from_another_host(reports):
    assert not _problems(reports, "remote")


def test_every_image_loads(reports):
    broken = {page: [i["src"] for i in r["images"] if not i["ok"]] for page, r in reports.items()}
    assert not {page: srcs for page, srcs in broken.items() if srcs}
    shown = {Path(urlsplit(i["src"]).path).name for r in reports.values() for i in r["images"]}
    pictures = {p.name for p in (ROOT / "docs" / "img").iterdir() if p.suffix in (".svg", ".png")}
    assert pictures <= shown, f"pictures of docs/img no page showed: {sorted(pictures - shown)}"


def test_formulas_are_typeset_by_katex(reports):
    assert not _problems(reports, "untypeset"), "formulas KaTeX did not typeset"
    assert not _problems(reports, "katexErrors"), "formulas KaTeX could not read"
    assert not _problems(reports, "rawTex"), "raw TeX left in the text"
    for page in ("lesson/", "optimizers/"):
        assert reports[page]["formulas"] >= 10, f"{page} lost its formulas"
        assert reports[page]["katex"] >= reports[page]["formulas"]


def test_code_blocks_have_copy_buttons(reports):
    assert not _problems(reports, "blocksWithoutCopy")
    assert reports["getting-started/"]["codeBlocks"] >= 5
    notebooks = {p: r for p, r in reports.items() if r["notebookCells"]}
    assert notebooks, "no notebook page has code cells"
    for page, r in notebooks.items():
        assert r["cellsWithoutCopy"] == 0, f"{page}: code cells without a copy button"
        assert r["copyElementDefined"], f"{page}: the copy button's script did not load"


def test_notebook_pages_offer_their_notebook_for_download(reports):
    notebooks = {p: r for p, r in reports.items() if r["notebookCells"]}
    assert len(notebooks) == 4
    for page, r in notebooks.items():
        assert len(r["downloads"]) == 1, f"{page}: {r['downloads']}"
        with urllib.request.urlopen(r["downloads"][0], timeout=30) as response:
            nb = json.loads(response.read())
        assert nb["nbformat"] == 4 and nb["cells"], f"{page}: the download is not the notebook"


def test_screenshots_are_kept(reports):
    shots = [p for p in SCREENSHOTS.glob("*.png") if p.name != "search_backward.png"]
    assert len(shots) == len(reports)
    for shot in shots:
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5_000


# ----------------------------------------------------------------------------------- search ----
def test_search_finds_backward(browser, served_site):
    _, base = served_site
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    try:
        page.goto(base, wait_until="load")
        page.click("input.md-search__input")
        page.keyboard.type("backward")
        page.wait_for_selector(".md-search-result__item", timeout=20_000)
        results = page.locator(".md-search-result__item")
        links = [results.nth(i).locator("a").first.get_attribute("href")
                 for i in range(results.count())]
        marked = page.locator(".md-search-result mark").all_text_contents()
        page.screenshot(path=str(SCREENSHOTS / "search_backward.png"))
    finally:
        context.close()
    assert not errors
    assert any("autograd/" in link for link in links), links
    assert any(m.lower() == "backward" for m in marked), marked


# ------------------------------------------------------------------- the checks can fail ----
BAD_PAGE = """<!doctype html><html><head><title>bad</title>
<link rel="stylesheet" href="katex.min.css"></head><body><article>
<p>A formula nobody typeset: <span class="arithmatex">\\(a = \\sigma(z)\\)</span></p>
<pre><code>x = 1</code></pre>
<img src="missing.png" alt="a picture that is not there">
<div class="jp-Cell jp-CodeCell"><div class="jp-InputArea">no copy button</div></div>
<script>console.error("something broke")</script>
</article></body></html>
"""


def test_page_checks_catch_a_broken_page(browser, tmp_path):
    """A page with an untypeset formula, a code block without a copy button, a missing picture,
    a notebook cell without its button and a console error: every check reports it."""
    (tmp_path / "bad.html").write_text(BAD_PAGE, encoding="utf-8")
    context = browser.new_context(viewport=VIEWPORT)
    try:
        with serve(tmp_path) as base:
            r = open_page(context.new_page(), base + "bad.html", tmp_path / "bad.png")
    finally:
        context.close()
    assert any("something broke" in message for message in r["console"])
    assert any("missing.png" in f for f in r["failed"]) and any("katex.min.css" in f
                                                                 for f in r["failed"])
    assert [i["ok"] for i in r["images"]] == [False]
    assert r["untypeset"] == ["\\(a = \\sigma(z)\\)"] and r["rawTex"]
    assert r["blocksWithoutCopy"] == ["x = 1"]
    assert r["cellsWithoutCopy"] == 1 and not r["copyElementDefined"]
    assert (tmp_path / "bad.png").read_bytes()[:4] == b"\x89PNG"
