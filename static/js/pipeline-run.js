// A pipeline run's step panel (templates/jobs/pipeline_run.html, and the Designer's run view).
// Clicking a node, or Enter on it (nodes are links), loads the step's panel into #step-panel
// by HTMX; this module only keeps the page's URL (?step=, ?step_tab=) in step with the panel
// so a link to a step can be shared and Back/Forward move between steps, marks the selected
// node (again after each status poll redraws the graph), and closes the panel on Escape or
// its close button, giving the focus back to the node.
(function () {
  "use strict";

  function panel() {
    return document.getElementById("step-panel");
  }

  function openStep() {
    const body = panel() && panel().querySelector(".step-panel-body");
    return body ? { step: body.dataset.step, tab: body.dataset.tab } : null;
  }

  function nodeOf(step) {
    return Array.from(document.querySelectorAll(".pipeline-node")).find(
      (el) => el.dataset.step === step);
  }

  function mark() {
    const open = openStep();
    document.querySelectorAll(".pipeline-node").forEach(function (el) {
      const selected = Boolean(open) && el.dataset.step === open.step;
      el.classList.toggle("selected", selected);
      if (selected) el.setAttribute("aria-current", "true");
      else el.removeAttribute("aria-current");
    });
    const box = panel();
    if (box) box.classList.toggle("open", Boolean(open));
  }

  function urlFor(open) {
    const url = new URL(window.location.href);
    url.searchParams.delete("step");
    url.searchParams.delete("step_tab");
    if (open) {
      url.searchParams.set("step", open.step);
      if (open.tab && open.tab !== "overview") url.searchParams.set("step_tab", open.tab);
    }
    return url.pathname + url.search + url.hash;
  }

  function remember() {
    const url = urlFor(openStep());
    const here = window.location.pathname + window.location.search + window.location.hash;
    if (url !== here) window.history.pushState({ stepPanel: true }, "", url);
  }

  function close(push) {
    const box = panel();
    const open = openStep();
    if (!box || !open) return;
    box.innerHTML = "";
    mark();
    if (push) remember();
    const node = nodeOf(open.step);
    if (node) node.focus();
  }

  function load(step, tab) {
    const box = panel();
    if (!box || typeof htmx === "undefined") return;
    const query = "?step=" + encodeURIComponent(step) + "&tab=" + encodeURIComponent(tab || "");
    htmx.ajax("GET", box.dataset.stepUrl + query, { target: box, swap: "innerHTML" })
      .then(function () { box.dataset.fromHistory = ""; });
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target !== panel()) return;
    mark();
    if (panel().dataset.fromHistory !== "true") remember();
  });
  document.addEventListener("htmx:load", mark);

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-step-close]")) close(true);
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !openStep() || event.defaultPrevented) return;
    close(true);
  });

  // Back and Forward: the URL says which step is open (none, or another one).
  window.addEventListener("popstate", function () {
    if (!panel()) return;
    const params = new URLSearchParams(window.location.search);
    const step = params.get("step");
    const open = openStep();
    if (!step) return close(false);
    if (open && open.step === step && open.tab === (params.get("step_tab") || "overview")) return;
    panel().dataset.fromHistory = "true";
    load(step, params.get("step_tab") || "");
  });

  document.addEventListener("DOMContentLoaded", mark);
})();
