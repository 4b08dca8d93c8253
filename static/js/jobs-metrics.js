// Metric charts of a job (and of runs compared): plotly charts fed by the API's down-sampled
// series (at most ~2,000 points each, computed on the server). Options: smoothing (EMA), log
// scale, step / time / relative time on x. On a running job the metrics poller
// (#metrics-poller, HTMX every 2s) is swapped in; each swap refreshes the charts and adds one
// for each new metric. When the job ends the poller comes back without hx-get: a last refresh.
// The runner's system/* series (logged at step 0) always go against seconds since the job
// started, whatever x the user picked, in #system-charts after the user's metrics; a
// *_bytes series reads in KiB/MiB/GiB.
// The options' controls (templates/jobs/_chart_options.html) may come later than the page, in a
// fragment (a pipeline step's panel): their events are caught on the document, and a control
// swapped in takes the options already chosen. "Metrics" (#chart-pick) has a checkbox per
// chart, made as charts appear; unticking one hides its chart.
// plotly.js (1.5 MB, studio/staticfinders.py) is loaded with the page where charts show at once (a job's Metrics tab,
// Compare); a page that draws charts only on demand (a pipeline run: a step panel's Metrics tab)
// names it in this script's data-plotly instead, and it is fetched when the first chart draws.
(function () {
  "use strict";
  const plotlySrc = (document.currentScript && document.currentScript.dataset.plotly) || "";
  let plotlyScript = null;
  const opts = { smoothing: 0, log: false, x: "step" };
  const data = new WeakMap(); // chart element -> [{name, total, points: [[step, value, ts]]}]

  function seriesOf(el) {
    if (el.dataset.series) return JSON.parse(el.dataset.series);
    const charts = document.getElementById("charts");
    const url = charts.dataset.urlTemplate.replace("__KEY__", encodeURIComponent(el.dataset.key));
    const poller = document.getElementById("metrics-poller");
    const start = charts.dataset.start || (poller && poller.dataset.start) || "";
    return [{ name: charts.dataset.name || el.dataset.key, url: url, start: start ? Number(start) : null }];
  }

  function isSystem(key) {
    return key.startsWith("system/");
  }

  const BINARY = ["B", "KiB", "MiB", "GiB", "TiB"];

  // The unit a bytes series reads in (its largest value at least 1 of it) and its size.
  function bytesUnit(runs) {
    let top = 0;
    runs.forEach((run) => run.points.forEach((p) => { top = Math.max(top, Math.abs(p[1])); }));
    let i = 0;
    while (i < BINARY.length - 1 && top >= Math.pow(1024, i + 1)) i += 1;
    return { name: BINARY[i], size: Math.pow(1024, i) };
  }

  function smooth(values, weight) {
    if (!weight) return values;
    let last = 0;
    let n = 0;
    return values.map(function (v) {
      if (v === null || !isFinite(v)) return v;
      n += 1;
      last = last * weight + (1 - weight) * v;
      return last / (1 - Math.pow(weight, n)); // debiased EMA, as TensorBoard
    });
  }

  function xs(points, run, system) {
    if (system) {
      const start = run.start || (points.length ? points[0][2] : 0);
      return points.map((p) => (p[2] - start) / 1000);
    }
    if (opts.x === "time") return points.map((p) => new Date(p[2]));
    if (opts.x === "relative") return points.map((p) => (p[2] - points[0][2]) / 1000);
    return points.map((p) => p[0]);
  }

  function loadPlotly() {
    if (plotlyScript || !plotlySrc) return;
    plotlyScript = document.createElement("script");
    plotlyScript.src = plotlySrc;
    plotlyScript.addEventListener("load", redraw);
    document.head.appendChild(plotlyScript);
  }

  function draw(el) {
    const runs = data.get(el);
    if (!runs) return;
    if (typeof Plotly === "undefined") {
      loadPlotly(); // draws every chart once it has arrived
      return;
    }
    const system = isSystem(el.dataset.key);
    const unit = el.dataset.key.endsWith("_bytes") ? bytesUnit(runs) : null;
    const traces = [];
    runs.forEach(function (run, i) {
      const x = xs(run.points, run, system);
      const y = run.points.map((p) => (unit ? p[1] / unit.size : p[1]));
      if (opts.smoothing > 0) {
        traces.push({ x: x, y: y, name: run.name + " (raw)", mode: "lines", opacity: 0.25,
          showlegend: false, legendgroup: String(i), line: { width: 1 } });
      }
      const trace = { x: x, y: smooth(y, opts.smoothing), name: run.name, legendgroup: String(i),
        mode: run.points.length > 1 ? "lines" : "markers", line: { width: 1.5 } };
      if (unit) trace.hovertemplate = "%{y:.2f} " + unit.name + "<extra>" + run.name + "</extra>";
      traces.push(trace);
    });
    const xTitle = system ? "seconds since the job started"
      : { step: "step", time: "time", relative: "seconds" }[opts.x];
    Plotly.react(el, traces, {
      title: { text: el.dataset.key, font: { size: 13 } },
      margin: { l: 50, r: 10, t: 32, b: 36 },
      xaxis: { title: { text: xTitle } },
      yaxis: { type: opts.log ? "log" : "linear", title: { text: unit ? unit.name : "" } },
      showlegend: runs.length > 1,
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: { color: getComputedStyle(document.body).color },
    }, { responsive: true, displaylogo: false });
    const first = runs[0];
    el.dataset.total = String(first.total);
    el.dataset.shown = String(first.points.length);
    el.dataset.lastStep = first.points.length ? String(first.points[first.points.length - 1][0]) : "";
  }

  // One series, asked again (twice, after 0.5 s then 1 s) when the connection drops or the
  // server fails (5xx), so a passing hiccup does not leave a chart blank; a 4xx is final.
  async function fetchSeries(s) {
    const empty = { name: s.name, start: s.start, total: 0, points: [] };
    for (let attempt = 0; ; attempt++) {
      let response = null;
      try {
        response = await fetch(s.url + "?max_points=2000", {
          credentials: "same-origin", headers: { Accept: "application/json" } });
      } catch (e) { /* the connection dropped: try again below */ }
      if (response && response.ok) {
        const body = await response.json();
        return { name: s.name, start: s.start, total: body.total, points: body.points };
      }
      if ((response && response.status < 500) || attempt >= 2) return empty;
      await new Promise((resolve) => setTimeout(resolve, 500 * (attempt + 1)));
    }
  }

  async function load(el) {
    const runs = await Promise.all(seriesOf(el).map(fetchSeries));
    data.set(el, runs);
    draw(el);
    el.dataset.loads = String(Number(el.dataset.loads || 0) + 1);
  }

  function charts() {
    return Array.from(document.querySelectorAll("#charts .chart, #system-charts .chart"));
  }

  // The box of the system/* charts, made (with its heading) after #charts when first needed.
  function systemBox(box) {
    let sys = document.getElementById("system-charts");
    if (sys) return sys;
    const heading = document.createElement("h3");
    heading.id = "system-heading";
    heading.textContent = "System";
    sys = document.createElement("div");
    sys.className = box.className;
    sys.id = "system-charts";
    box.after(heading, sys);
    return sys;
  }

  function addMissing(keys) {
    const box = document.getElementById("charts");
    if (!box) return;
    const have = new Set(charts().map((el) => el.dataset.key));
    keys.forEach(function (key) {
      if (!key || have.has(key)) return;
      const el = document.createElement("div");
      el.className = "chart";
      el.dataset.key = key;
      (isSystem(key) ? systemBox(box) : box).appendChild(el);
      const empty = document.getElementById("no-metrics");
      if (empty) empty.remove();
    });
  }

  function onPoll(poller) {
    addMissing((poller.dataset.keys || "").split("\n"));
    if (poller.dataset.values && poller.dataset.values !== "0") {
      const empty = document.getElementById("no-metrics"); // the values table shows instead
      if (empty) empty.remove();
    }
    charts().forEach(load);
  }

  // The metric picker: one checkbox per chart, in the charts' order; hidden charts stay hidden.
  const hidden = new Set();

  function syncPicker() {
    const pick = document.getElementById("chart-pick");
    if (!pick) return;
    const list = pick.querySelector(".chart-pick-list");
    const have = new Set(Array.from(list.querySelectorAll("input")).map((i) => i.value));
    charts().forEach(function (el) {
      el.hidden = hidden.has(el.dataset.key);
      if (have.has(el.dataset.key)) return;
      const label = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.value = el.dataset.key;
      box.checked = !hidden.has(el.dataset.key);
      box.dataset.chartPick = "";
      label.append(box, " " + el.dataset.key);
      list.appendChild(label);
    });
    pick.hidden = list.children.length === 0;
  }

  // A control that arrives (the page, or a step panel swapped in) shows the current options.
  function syncControls() {
    const smoothing = document.getElementById("chart-smoothing");
    const shown = document.getElementById("chart-smoothing-value");
    const log = document.getElementById("chart-log");
    const x = document.getElementById("chart-x");
    if (smoothing) smoothing.value = String(opts.smoothing);
    if (shown) shown.textContent = String(opts.smoothing);
    if (log) log.checked = opts.log;
    if (x) x.value = opts.x;
    syncPicker();
  }

  function redraw() {
    charts().forEach(draw);
  }

  document.addEventListener("input", function (event) {
    if (event.target.id !== "chart-smoothing") return;
    opts.smoothing = Number(event.target.value);
    const shown = document.getElementById("chart-smoothing-value");
    if (shown) shown.textContent = event.target.value;
    redraw();
  });

  document.addEventListener("change", function (event) {
    const target = event.target;
    if (target.id === "chart-log") opts.log = target.checked;
    else if (target.id === "chart-x") opts.x = target.value;
    else if ("chartPick" in target.dataset) {
      if (target.checked) hidden.delete(target.value);
      else hidden.add(target.value);
      syncPicker();
      const shown = charts().find((el) => el.dataset.key === target.value && !el.hidden);
      if (shown) draw(shown); // drawn while hidden, it takes its real width now
      return;
    } else return;
    redraw();
  });

  document.addEventListener("htmx:load", function (event) {
    const elt = event.detail && event.detail.elt;
    if (!elt) return;
    if (elt.id === "metrics-poller") {
      onPoll(elt);
      syncPicker();
    } else if (elt.querySelector && elt.querySelector("#chart-opts")) {
      syncControls();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    syncControls();
    charts().forEach(load);
  });
})();
