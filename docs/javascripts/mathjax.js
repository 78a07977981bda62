// MathJax configuration. The renderer ships with the site (javascripts/mathjax/, MathJax 3 es5
// build and its CommonHTML fonts), so formulas render with no network access: the font URL is
// the vendored folder beside this file, resolved from this script's own address.
const mathjaxBase = document.currentScript.src.replace(/mathjax\.js(\?.*)?$/, "mathjax/");
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true
  },
  chtml: {
    fontURL: mathjaxBase + "output/chtml/fonts/woff-v2"
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex"
  }
};
document$.subscribe(() => { MathJax.typesetPromise && MathJax.typesetPromise(); });
