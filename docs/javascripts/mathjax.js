// MathJax configuration. The renderer ships with the site (javascripts/mathjax/, MathJax 3 es5
// build and its CommonHTML fonts), so formulas render with no network access: the font URL is
// the vendored folder beside this file, resolved from this script's own address.
const mathjaxBase = document.currentScript.src.replace(/mathjax\.js(\?.*)?$/, "mathjax/");
window.MathJax = {
  tex: {
    // pages: \( \) and \[ \] from pymdownx.arithmatex; notebooks: $ $ and $$ $$ as in Jupyter
    inlineMath: [["\\(", "\\)"], ["$", "$"]],
    displayMath: [["\\[", "\\]"], ["$$", "$$"]],
    processEscapes: true,
    processEnvironments: true
  },
  chtml: {
    fontURL: mathjaxBase + "output/chtml/fonts/woff-v2"
  },
  options: {
    // only formulas are typeset: arithmatex output, and the text of notebook markdown cells
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex|notebook-math"
  }
};
document$.subscribe(() => {
  // Notebook pages: mark the text of markdown cells (never code) for typesetting.
  document
    .querySelectorAll(".jp-MarkdownOutput, .jp-MarkdownOutput *:not(code):not(pre)")
    .forEach((element) => element.classList.add("notebook-math"));
  MathJax.typesetPromise && MathJax.typesetPromise();
});
