// Evaluate Model's results on its step's job page (templates/designer/_evaluate_results.html):
// each .ev-plot names a <script type="application/json"> holding a plotly figure written by
// the component ({data, layout}); draw it once Plotly is loaded.
(function () {
  "use strict";
  function draw(root) {
    if (typeof Plotly === "undefined") return;
    (root || document).querySelectorAll(".ev-plot[data-figure]").forEach(function (el) {
      if (el.dataset.drawn) return;
      var src = document.getElementById(el.dataset.figure);
      if (!src) return;
      var figure;
      try { figure = JSON.parse(src.textContent); } catch (e) { return; }
      var layout = Object.assign({ margin: { l: 50, r: 20, t: 30, b: 45 } }, figure.layout || {});
      layout.autosize = true;
      delete layout.width;
      Plotly.newPlot(el, figure.data || [], layout, { responsive: true, displaylogo: false });
      el.dataset.drawn = "true";
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { draw(); });
  else draw();
  document.addEventListener("htmx:afterSwap", function (e) { draw(e.detail.target); });
})();
