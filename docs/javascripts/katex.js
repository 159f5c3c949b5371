// Typesets the formulas with the KaTeX shipped in javascripts/katex/ (no network needed).
// Markdown pages: pymdownx.arithmatex (generic mode) wraps each formula in an element of class
// "arithmatex" holding \( ... \) (inline) or \[ ... \] (display). Notebook pages (mkdocs-jupyter)
// keep Jupyter's $ ... $ and $$ ... $$ in their Markdown cells. Only those elements are searched,
// so a dollar sign in ordinary text or in code is never taken for a formula.
(function () {
  "use strict";
  var PAGE = [
    { left: "\\(", right: "\\)", display: false },
    { left: "\\[", right: "\\]", display: true },
  ];
  var NOTEBOOK = [
    { left: "$$", right: "$$", display: true },
    { left: "$", right: "$", display: false },
  ].concat(PAGE);

  function render(elements, delimiters) {
    elements.forEach(function (element) {
      // throwOnError: false shows a formula KaTeX cannot read in red (class "katex-error"), with
      // the error as its tooltip, instead of leaving the rest of the page untypeset
      renderMathInElement(element, { delimiters: delimiters, throwOnError: false });
    });
  }

  function typeset(root) {
    render(root.querySelectorAll(".arithmatex"), PAGE);
    // a heading's formula reaches the table of contents as plain \( ... \) text, without the span
    render(root.querySelectorAll(".md-nav--secondary .md-nav__link"), PAGE);
    render(root.querySelectorAll(".jp-MarkdownCell .jp-RenderedMarkdown"), NOTEBOOK);
  }

  // Material's document$ fires on the first load and after each instant-navigation page change
  if (typeof document$ !== "undefined") {
    document$.subscribe(function (doc) { typeset(doc.body); });
  } else {
    document.addEventListener("DOMContentLoaded", function () { typeset(document.body); });
  }
})();
