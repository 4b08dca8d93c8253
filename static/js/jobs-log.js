// The job page's log tail: keeps the newest line in view while "Follow" is checked.
// The lines themselves arrive by HTMX (the poller in jobs/_log_lines.html); this only scrolls.
(function () {
  "use strict";
  function follow() {
    const box = document.getElementById("logtail");
    const on = document.getElementById("log-follow");
    if (box && on && on.checked) box.scrollTop = box.scrollHeight;
  }
  document.addEventListener("htmx:afterSettle", follow);
  document.addEventListener("DOMContentLoaded", function () {
    const box = document.getElementById("logtail");
    const on = document.getElementById("log-follow");
    if (!box || !on) return;
    // Scrolling up pauses following; scrolling back to the end resumes it.
    box.addEventListener("scroll", function () {
      on.checked = box.scrollHeight - box.scrollTop - box.clientHeight < 24;
    });
    on.addEventListener("change", follow);
  });
})();
