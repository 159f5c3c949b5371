"""mkdocs hooks: the built site loads nothing from the network, so it works offline and in CI.

KaTeX ships with the site (docs/javascripts/katex/). mkdocs-jupyter's notebook pages carry
nbconvert's loaders for MathJax 2 (an empty `<script src="">` plus its configuration: our KaTeX
typesets the notebooks' formulas instead) and for mermaid from a CDN (the notebooks draw no mermaid
diagrams); both are removed here, and a button to download the notebook is added. Then every
page is checked: a script, stylesheet, font, image or frame fetched from another host fails the
build, naming the page and the address.
"""

from __future__ import annotations

import re

from mkdocs.exceptions import PluginError

# nbconvert's base/mathjax.html.j2 macro, between the comments it writes around itself
_MATHJAX = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S)
# nbconvert's lab template: a module script that imports mermaid from a CDN when a page has diagrams
_MERMAID = re.compile(r'<script type="module">(?:(?!</script>).)*?\.jp-Mermaid.*?</script>', re.S)
# what the browser fetches by itself: src= of script/img/iframe/source/audio/video/embed, href= of
# link (stylesheets, fonts, preconnect, icons), url() and import() in inline CSS and scripts
_REMOTE = re.compile(
    r"""<(?:script|img|iframe|source|audio|video|embed)\b[^>]*?\ssrc=["']?((?:https?:)?//[^"'\s>]+)"""
    r"""|<link\b[^>]*?\shref=["']?((?:https?:)?//[^"'\s>]+)"""
    r"""|\b(?:url|import)\(\s*["']?((?:https?:)?//[^"')\s]+)""",
    re.I,
)


def remote_resources(html: str) -> list[str]:
    """The addresses on other hosts that a browser would fetch to show this page."""
    return [next(g for g in m.groups() if g) for m in _REMOTE.finditer(html)]


def strip_notebook_loaders(html: str) -> str:
    """A notebook page without nbconvert's MathJax and mermaid loaders."""
    return _MERMAID.sub("", _MATHJAX.sub("", html))


def add_download_button(html: str, name: str) -> str:
    """A download button at the top of the notebook's page, for the .ipynb that mkdocs-jupyter's
    include_source copies next to the page."""
    # Material's look for a page action (like its "edit this page" button): an icon at the right
    # of the title; the icon is Material Design's "download"
    button = (f'<a href="{name}" download class="md-content__button md-icon" title="Download '
              f'{name}"><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path d="M5 '
              '20h14v-2H5m14-9h-4V3H9v6H5l7 7 7-7Z"/></svg></a>\n')
    if html.count('<div class="jupyter-wrapper">') != 1:
        raise PluginError(f"{name}: mkdocs-jupyter's page has no single jupyter-wrapper: where "
                          "does the download button go? (docs/hooks.py)")
    return html.replace('<div class="jupyter-wrapper">', button + '<div class="jupyter-wrapper">')


def on_post_page(output: str, *, page, config) -> str:
    if page.file.src_uri.endswith(".ipynb"):
        output = strip_notebook_loaders(output)
        output = add_download_button(output, page.file.src_uri.rsplit("/", 1)[-1])
    remote = remote_resources(output)
    if remote:
        raise PluginError(
            f"{page.file.src_uri} would load {', '.join(sorted(set(remote)))} from the network; the "
            "site must work offline: ship the file with the site (as javascripts/katex/ is) or "
            "remove it (docs/hooks.py)")
    return output
