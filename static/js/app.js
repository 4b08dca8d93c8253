// Small behaviours for every page. htmx itself comes from django-htmx's {% htmx_script %}.
(function () {
  "use strict";
  if (window.htmx) {
    // Forms re-render with 422 on error: swap those like a success, flag other errors.
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "422", swap: true, error: false },
      { code: "[45]..", swap: false, error: true },
    ];
  }
  document.addEventListener("htmx:responseError", function (evt) {
    var status = evt.detail.xhr.status;
    var text = status === 403 ? "Not allowed." : status === 404 ? "Not found." : "The request failed (" + status + ").";
    var box = document.createElement("div");
    box.className = "msg msg-error";
    box.setAttribute("role", "alert");
    box.textContent = text;
    var main = document.getElementById("main");
    if (main) main.prepend(box);
  });
  // The workspace switcher's list closes when focus leaves it.
  document.addEventListener("click", function (evt) {
    var results = document.getElementById("ws-switch-results");
    if (results && !evt.target.closest(".switcher")) results.innerHTML = "";
  });
})();
