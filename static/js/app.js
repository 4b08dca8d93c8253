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
  // Uploads show their progress. An htmx form that sends files (hx-encoding multipart) gets a
  // bar from htmx's own progress events; a plain multipart form marked data-upload-progress is
  // sent by XMLHttpRequest when a file is chosen, then the page goes where the server sent it
  // (a redirect: the new asset or job), or shows the form again with its errors.
  function hasFile(form) {
    return Array.prototype.some.call(form.querySelectorAll("input[type=file]"), function (i) {
      return i.files && i.files.length > 0;
    });
  }
  function progressBar(form) {
    var bar = form.querySelector("progress.upload-progress");
    if (!bar) {
      bar = document.createElement("progress");
      bar.className = "upload-progress";
      bar.max = 1;
      bar.value = 0;
      var status = document.createElement("span");
      status.className = "muted upload-status";
      status.setAttribute("role", "status");
      var before = form.querySelector("button[type=submit]") || null;
      form.insertBefore(bar, before);
      form.insertBefore(status, before);
    }
    bar.hidden = false;
    return bar;
  }
  function showProgress(form, loaded, total) {
    var bar = progressBar(form);
    bar.max = total || 1;
    bar.value = loaded;
    var status = form.querySelector(".upload-status");
    if (status && total) {
      status.textContent = loaded < total
        ? " Uploading " + Math.floor((100 * loaded) / total) + "%"
        : " Uploaded; the studio is checking the files…";
    }
  }
  document.addEventListener("htmx:xhr:progress", function (evt) {
    var form = evt.target.closest ? evt.target.closest("form") : null;
    if (!form || form.getAttribute("hx-encoding") !== "multipart/form-data") return;
    if (!evt.detail.lengthComputable || !hasFile(form)) return;
    showProgress(form, evt.detail.loaded, evt.detail.total);
  });
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (!form.matches || !form.matches("form[data-upload-progress]") || !hasFile(form)) return;
    evt.preventDefault();
    var target = form.action || window.location.href;
    var buttons = form.querySelectorAll("button");
    buttons.forEach(function (b) { b.disabled = true; });
    var xhr = new XMLHttpRequest();
    xhr.open("POST", target);
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) showProgress(form, e.loaded, e.total);
    };
    xhr.onload = function () {
      if (xhr.responseURL && xhr.responseURL !== target && xhr.status < 400) {
        window.location.assign(xhr.responseURL);
        return;
      }
      var page = new DOMParser().parseFromString(xhr.responseText, "text/html");
      document.title = page.title;
      document.body.replaceWith(page.body);
      if (window.htmx) htmx.process(document.body);
    };
    xhr.onerror = function () {
      buttons.forEach(function (b) { b.disabled = false; });
      var status = form.querySelector(".upload-status");
      if (status) status.textContent = " The upload failed: the connection was lost. Try again.";
    };
    xhr.send(new FormData(form, evt.submitter || undefined));
  });
  // The workspace switcher's list closes when focus leaves it.
  document.addEventListener("click", function (evt) {
    var results = document.getElementById("ws-switch-results");
    if (results && !evt.target.closest(".switcher")) results.innerHTML = "";
  });
})();
