// The data create page: stream the chosen file, or each file of the chosen folder, to the
// studio with its own PUT (no size limit, nothing held in memory), then submit the form with
// the upload's token. Without this script only datastore paths and URLs can be registered.
(function () {
  "use strict";
  function csrf() {
    var el = document.querySelector("[name=csrfmiddlewaretoken]");
    return el ? el.value : "";
  }
  function send(method, url, body, onProgress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open(method, url);
      xhr.setRequestHeader("X-CSRFToken", csrf());
      xhr.setRequestHeader("Accept", "application/json");
      if (xhr.upload && onProgress) xhr.upload.onprogress = function (e) { onProgress(e.loaded); };
      xhr.onload = function () {
        var data = {};
        try { data = JSON.parse(xhr.responseText || "{}"); } catch (e) { /* not JSON */ }
        if (xhr.status >= 200 && xhr.status < 300) resolve(data);
        else reject(new Error(data.message || ("HTTP " + xhr.status)));
      };
      xhr.onerror = function () { reject(new Error("the connection failed")); };
      xhr.send(body);
    });
  }
  function showSource(form) {
    var checked = form.querySelector("[name=source]:checked");
    var source = checked ? checked.value : "upload";
    form.querySelectorAll(".for-source").forEach(function (fs) {
      fs.hidden = !fs.classList.contains("for-" + source);
    });
  }
  function chosen(form) {
    return form.querySelector("#data-file").files.length > 0 ||
      form.querySelector("#data-folder").files.length > 0;
  }
  async function upload(form) {
    var file = form.querySelector("#data-file").files;
    var folder = form.querySelector("#data-folder").files;
    var isFolder = folder.length > 0 && file.length === 0;
    var files = isFolder ? Array.from(folder) : Array.from(file).slice(0, 1);
    var status = form.querySelector("#data-status");
    var bar = form.querySelector("#data-progress");
    var total = files.reduce(function (n, f) { return n + f.size; }, 0) || 1;
    var done = 0;
    bar.hidden = false; bar.max = total; bar.value = 0;
    var start = await send("POST", form.dataset.uploadStart, null);
    var base = form.dataset.uploadStart + encodeURIComponent(start.upload) + "/";
    for (var i = 0; i < files.length; i++) {
      var f = files[i];
      // A folder's files carry "folder/sub/x.csv": keep the path below the chosen folder.
      var rel = isFolder ? f.webkitRelativePath.split("/").slice(1).join("/") : f.name;
      status.textContent = "Uploading " + rel + " (" + (i + 1) + " of " + files.length + ")";
      var url = base + "?path=" + encodeURIComponent(rel) + (isFolder ? "&folder=1" : "");
      await send("PUT", url, f, function (loaded) { bar.value = done + loaded; });
      done += f.size; bar.value = done;
    }
    status.textContent = "Uploaded " + files.length + " file(s).";
    return start.upload;
  }
  function bind(form) {
    if (!form || form.dataset.bound) return;
    form.dataset.bound = "1";
    showSource(form);
    form.querySelectorAll("[name=source]").forEach(function (r) {
      r.addEventListener("change", function () { showSource(form); });
    });
    form.addEventListener("submit", function (event) {
      var checked = form.querySelector("[name=source]:checked");
      if (!checked || checked.value !== "upload" || form.dataset.uploaded) return;
      // Nothing chosen: let the form go to the server as it is, which names each missing
      // field (the name, the files) at the field.
      if (!chosen(form)) return;
      event.preventDefault();
      event.stopImmediatePropagation();
      upload(form).then(function (token) {
        form.querySelector("[name=upload]").value = token;
        form.dataset.uploaded = "1";
        form.requestSubmit();
      }).catch(function (err) {
        form.querySelector("#data-status").textContent = "Upload failed: " + err.message;
      });
    }, true);
  }
  document.addEventListener("DOMContentLoaded", function () { bind(document.getElementById("data-create")); });
  document.addEventListener("htmx:afterSwap", function () { bind(document.getElementById("data-create")); });
})();
