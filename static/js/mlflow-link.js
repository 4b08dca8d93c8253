// MLflow's UI links (`…/mlflow/<workspace>/#/experiments/<id>/runs/<run>`) carry the run in
// the part after '#', which the browser never sends: ask the studio again with it as a query.
(function () {
  "use strict";
  var page = document.getElementById("mlflow-link");
  if (!page) return;
  var m = /^#\/experiments\/([^/?#]+)(?:\/runs\/([^/?#]+))?/.exec(window.location.hash);
  if (!m) {
    window.location.replace(page.dataset.experiments);
    return;
  }
  var query = "?experiment=" + encodeURIComponent(m[1]);
  if (m[2]) query += "&run=" + encodeURIComponent(m[2]);
  window.location.replace(window.location.pathname + query);
})();
