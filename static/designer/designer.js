// The Designer's canvas: gestures only. The server holds the graph; each finished gesture
// (drop from the palette, move, connect, delete, undo, redo, layout) is one POST to the
// draft's gesture URL, answered with the re-rendered pieces (nodes as HTML, edges as SVG
// paths, #dz-meta) or 422 with the reason, shown at the port. Edges are drawn here from
// the ports' positions. Pan: drag the background; zoom: wheel or the +/− buttons.
(function () {
  "use strict";
  var root, stage, world, nodesBox, svg, temp, minimap;
  var view = { x: 0, y: 0, k: 1 };
  var selected = { nodes: new Set(), edge: null };
  var editable = false;

  function csrf() {
    var h = document.body.getAttribute("hx-headers");
    try { return JSON.parse(h)["X-CSRFToken"]; } catch (e) { return ""; }
  }

  function post(data) {
    var body = new URLSearchParams();
    Object.keys(data).forEach(function (k) {
      var v = data[k];
      if (Array.isArray(v)) v.forEach(function (i) { body.append(k, i); });
      else body.append(k, v);
    });
    return fetch(root.dataset.gestureUrl, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRFToken": csrf(), "HX-Request": "true" },
    }).then(function (r) { return r.text().then(function (t) { return { status: r.status, html: t }; }); });
  }

  function parse(html) {
    var t = document.createElement("template");
    t.innerHTML = html;
    return t.content;
  }

  function apply(res, where) {
    var frag = parse(res.html);
    if (res.status === 422) {
      var ref = frag.querySelector('[data-dz="refusal"]');
      refuse(ref ? ref.textContent : "Refused.", where);
      return false;
    }
    if (res.status >= 400) { refuse("The request failed (" + res.status + ").", where); return false; }
    var canvas = frag.querySelector('[data-dz="canvas"]');
    if (canvas) {
      nodesBox.innerHTML = "";
      Array.from(canvas.children).forEach(function (n) { nodesBox.appendChild(n); });
      selected.nodes.clear(); selected.edge = null;
    }
    frag.querySelectorAll('[data-dz="node"]').forEach(function (n) {
      var old = document.getElementById(n.id);
      if (old) old.replaceWith(n); else nodesBox.appendChild(n);
    });
    frag.querySelectorAll('[data-dz="remove"]').forEach(function (r) {
      var old = document.getElementById("node-" + r.dataset.node);
      if (old) old.remove();
      selected.nodes.delete(r.dataset.node);
    });
    var edges = frag.querySelector('[data-dz="edges"]');
    if (edges) document.getElementById("dz-edges").replaceWith(document.importNode(edges, true));
    var meta = frag.querySelector('[data-dz="meta"]');
    if (meta) { document.getElementById("dz-meta").replaceWith(meta); }
    var hint = document.getElementById("dz-hint");
    if (hint && nodesBox.children.length) hint.remove();
    refresh();
    document.body.dispatchEvent(new CustomEvent("dz-changed"));
    return true;
  }

  function refresh() {
    var meta = document.getElementById("dz-meta");
    if (meta) {
      document.getElementById("dz-undo").disabled = !editable || meta.dataset.canUndo !== "true";
      document.getElementById("dz-redo").disabled = !editable || meta.dataset.canRedo !== "true";
    }
    markSelection();
    drawEdges();
    drawMinimap();
  }

  // Geometry -----------------------------------------------------------------------------
  function applyView() {
    world.style.transform = "translate(" + view.x + "px," + view.y + "px) scale(" + view.k + ")";
    drawMinimap();
  }

  function toWorld(clientX, clientY) {
    var r = stage.getBoundingClientRect();
    return { x: (clientX - r.left - view.x) / view.k, y: (clientY - r.top - view.y) / view.k };
  }

  function portPoint(nodeId, port, dir) {
    var node = document.getElementById("node-" + nodeId);
    if (!node) return null;
    var el = node.querySelector(".dz-" + dir + '[data-port="' + CSS.escape(port) + '"] i');
    if (!el) return null;
    var r = el.getBoundingClientRect();
    return toWorld(r.left + r.width / 2, r.top + r.height / 2);
  }

  function curve(a, b) {
    var mid = Math.max(40, Math.abs(b.x - a.x) / 2);
    return "M" + a.x + "," + a.y + " C" + (a.x + mid) + "," + a.y + " " + (b.x - mid) + "," + b.y + " " + b.x + "," + b.y;
  }

  function drawEdges() {
    var maxX = 0, maxY = 0;
    nodesBox.querySelectorAll(".dz-node").forEach(function (n) {
      maxX = Math.max(maxX, n.offsetLeft + n.offsetWidth);
      maxY = Math.max(maxY, n.offsetTop + n.offsetHeight);
    });
    svg.setAttribute("width", maxX + 400);
    svg.setAttribute("height", maxY + 400);
    svg.querySelectorAll("path.dz-edge[data-edge]").forEach(function (p) {
      var s = p.dataset.source.split(":"), t = p.dataset.target.split(":");
      var a = portPoint(s[0], s.slice(1).join(":"), "out"), b = portPoint(t[0], t.slice(1).join(":"), "in");
      if (a && b) p.setAttribute("d", curve(a, b));
      p.classList.toggle("selected", selected.edge === p.dataset.edge);
    });
  }

  function drawMinimap() {
    if (!minimap) return;
    var nodes = Array.from(nodesBox.querySelectorAll(".dz-node"));
    var maxX = 400, maxY = 300;
    nodes.forEach(function (n) { maxX = Math.max(maxX, n.offsetLeft + n.offsetWidth); maxY = Math.max(maxY, n.offsetTop + n.offsetHeight); });
    var s = Math.min(160 / maxX, 110 / maxY);
    var parts = nodes.map(function (n) {
      return '<rect x="' + n.offsetLeft * s + '" y="' + n.offsetTop * s + '" width="' + Math.max(2, n.offsetWidth * s) + '" height="' + Math.max(2, n.offsetHeight * s) + '"/>';
    });
    var r = stage.getBoundingClientRect();
    parts.push('<rect class="dz-viewport" x="' + (-view.x / view.k) * s + '" y="' + (-view.y / view.k) * s + '" width="' + (r.width / view.k) * s + '" height="' + (r.height / view.k) * s + '"/>');
    minimap.innerHTML = parts.join("");
    minimap.dataset.scale = s;
  }

  function fit() {
    var nodes = Array.from(nodesBox.querySelectorAll(".dz-node"));
    if (!nodes.length) { view = { x: 0, y: 0, k: 1 }; applyView(); return; }
    var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    nodes.forEach(function (n) {
      x0 = Math.min(x0, n.offsetLeft); y0 = Math.min(y0, n.offsetTop);
      x1 = Math.max(x1, n.offsetLeft + n.offsetWidth); y1 = Math.max(y1, n.offsetTop + n.offsetHeight);
    });
    var r = stage.getBoundingClientRect(), pad = 30;
    var k = Math.min(1.5, (r.width - 2 * pad) / (x1 - x0), (r.height - 2 * pad) / (y1 - y0));
    view = { k: k, x: pad - x0 * k + ((r.width - 2 * pad) - (x1 - x0) * k) / 2, y: pad - y0 * k };
    applyView(); drawEdges();
  }

  function zoom(factor, cx, cy) {
    var r = stage.getBoundingClientRect();
    cx = cx === undefined ? r.left + r.width / 2 : cx; cy = cy === undefined ? r.top + r.height / 2 : cy;
    var p = toWorld(cx, cy);
    view.k = Math.max(0.2, Math.min(2.5, view.k * factor));
    view.x = cx - r.left - p.x * view.k; view.y = cy - r.top - p.y * view.k;
    applyView();
  }

  // Refusals -----------------------------------------------------------------------------
  function refuse(reason, where) {
    var box = document.getElementById("dz-refusal-box");
    box.textContent = reason;
    box.hidden = false;
    var r = stage.getBoundingClientRect(), x = 20, y = 20;
    if (where && where.el) {
      var pr = where.el.getBoundingClientRect();
      x = pr.left - r.left + 12; y = pr.bottom - r.top + 4;
      where.el.classList.add("refused");
      where.el.setAttribute("data-refusal", reason);
      setTimeout(function () { where.el.classList.remove("refused"); }, 4000);
    }
    box.style.left = x + "px"; box.style.top = y + "px";
    clearTimeout(refuse.timer);
    refuse.timer = setTimeout(function () { box.hidden = true; }, 6000);
  }

  // Selection and the properties panel ---------------------------------------------------
  function markSelection() {
    nodesBox.querySelectorAll(".dz-node").forEach(function (n) {
      n.classList.toggle("selected", selected.nodes.has(n.dataset.node));
    });
  }

  function showPanel(nodeId) {
    var url = nodeId ? root.dataset.nodeUrl + encodeURIComponent(nodeId) + "/" : root.dataset.settingsUrl;
    if (window.htmx) htmx.ajax("GET", url, { target: "#dz-props", swap: "innerHTML" });
  }

  function select(nodeId, add) {
    if (!add) selected.nodes.clear();
    selected.edge = null;
    if (nodeId) selected.nodes.add(nodeId);
    markSelection(); drawEdges();
    showPanel(selected.nodes.size === 1 ? nodeId : null);
  }

  // Gestures -----------------------------------------------------------------------------
  function onPointerDown(evt) {
    if (evt.button !== 0) return;
    var port = evt.target.closest(".dz-port.dz-out");
    var node = evt.target.closest(".dz-node");
    var edge = evt.target.closest("path.dz-edge[data-edge]");
    if (port && editable) return startConnect(evt, port);
    if (node) return startMove(evt, node);
    if (edge) {
      selected.nodes.clear(); selected.edge = edge.dataset.edge; markSelection(); drawEdges();
      return;
    }
    startPan(evt);
  }

  function track(evt, move, up) {
    evt.preventDefault();
    function mm(e) { move(e); }
    function mu(e) {
      document.removeEventListener("pointermove", mm);
      document.removeEventListener("pointerup", mu);
      up(e);
    }
    document.addEventListener("pointermove", mm);
    document.addEventListener("pointerup", mu);
  }

  function startPan(evt) {
    var sx = evt.clientX, sy = evt.clientY, vx = view.x, vy = view.y, moved = false;
    track(evt, function (e) {
      moved = moved || Math.abs(e.clientX - sx) + Math.abs(e.clientY - sy) > 3;
      view.x = vx + e.clientX - sx; view.y = vy + e.clientY - sy; applyView();
    }, function () { if (!moved) select(null); });
  }

  function startMove(evt, node) {
    var id = node.dataset.node, sx = evt.clientX, sy = evt.clientY;
    var ox = node.offsetLeft, oy = node.offsetTop, moved = false;
    stage.focus({ preventScroll: true });
    track(evt, function (e) {
      var dx = (e.clientX - sx) / view.k, dy = (e.clientY - sy) / view.k;
      moved = moved || Math.abs(dx) + Math.abs(dy) > 2;
      if (!moved || !editable) return;
      node.style.left = Math.round(ox + dx) + "px"; node.style.top = Math.round(oy + dy) + "px";
      drawEdges();
    }, function (e) {
      if (!moved || !editable) return select(id, e.shiftKey || e.ctrlKey || e.metaKey);
      post({ op: "move", node: id, x: node.offsetLeft, y: node.offsetTop }).then(function (res) {
        if (!apply(res, { el: node })) { node.style.left = ox + "px"; node.style.top = oy + "px"; drawEdges(); }
      });
    });
  }

  function startConnect(evt, port) {
    var from = port.closest(".dz-node").dataset.node, name = port.dataset.port;
    var a = portPoint(from, name, "out");
    track(evt, function (e) {
      temp.setAttribute("d", curve(a, toWorld(e.clientX, e.clientY)));
      document.querySelectorAll(".dz-port.dz-in.hover").forEach(function (p) { p.classList.remove("hover"); });
      var over = document.elementFromPoint(e.clientX, e.clientY);
      var target = over && over.closest(".dz-port.dz-in");
      if (target) target.classList.add("hover");
    }, function (e) {
      temp.setAttribute("d", "");
      var over = document.elementFromPoint(e.clientX, e.clientY);
      var target = over && over.closest(".dz-port.dz-in");
      if (!target) return;
      target.classList.remove("hover");
      var to = target.closest(".dz-node").dataset.node;
      post({ op: "connect", source: from + ":" + name, target: to + ":" + target.dataset.port })
        .then(function (res) { apply(res, { el: target }); });
    });
  }

  function onDrop(evt) {
    evt.preventDefault();
    if (!editable) return;
    var data;
    try { data = JSON.parse(evt.dataTransfer.getData("application/x-designer") || evt.dataTransfer.getData("text/plain")); } catch (e) { return; }
    var p = toWorld(evt.clientX, evt.clientY);
    post({ op: "add", kind: data.kind, ref: data.ref, x: Math.round(p.x - 20), y: Math.round(p.y - 15) }).then(function (res) {
      if (apply(res)) {
        var nodes = nodesBox.querySelectorAll(".dz-node");
        var added = nodes[nodes.length - 1];
        if (added) select(added.dataset.node);
      }
    });
  }

  function onDragStart(evt) {
    var item = evt.target.closest(".dz-item");
    if (!item) return;
    var version = item.querySelector(".dz-version");
    var payload = JSON.stringify({ kind: item.dataset.kind, ref: version ? version.value : item.dataset.ref });
    evt.dataTransfer.setData("application/x-designer", payload);
    evt.dataTransfer.setData("text/plain", payload);
    evt.dataTransfer.effectAllowed = "copy";
  }

  function deleteSelection() {
    if (!editable || (!selected.nodes.size && !selected.edge)) return;
    post({ op: "delete", nodes: Array.from(selected.nodes), edges: selected.edge ? [selected.edge] : [] })
      .then(function (res) { if (apply(res)) { selected.edge = null; showPanel(null); } });
  }

  function op(name) {
    if (!editable) return;
    post({ op: name }).then(function (res) { if (apply(res)) showPanel(null); });
  }

  function onKey(evt) {
    if (evt.target.closest("input, textarea, select")) return;
    var mod = evt.ctrlKey || evt.metaKey;
    if (evt.key === "Delete" || evt.key === "Backspace") { evt.preventDefault(); deleteSelection(); }
    else if (mod && evt.key.toLowerCase() === "z" && evt.shiftKey) { evt.preventDefault(); op("redo"); }
    else if (mod && evt.key.toLowerCase() === "z") { evt.preventDefault(); op("undo"); }
    else if (mod && evt.key.toLowerCase() === "y") { evt.preventDefault(); op("redo"); }
  }

  function markIssues(box) {
    nodesBox.querySelectorAll(".dz-node.dz-invalid").forEach(function (n) { n.classList.remove("dz-invalid"); });
    var marks = {};
    try { marks = JSON.parse(box.dataset.marks || "{}"); } catch (e) { marks = {}; }
    Object.keys(marks).forEach(function (id) {
      var n = document.getElementById("node-" + id);
      if (n) { n.classList.add("dz-invalid"); n.setAttribute("data-issues", marks[id].join("\n")); }
    });
  }

  function init() {
    root = document.getElementById("dz");
    if (!root) return;
    stage = document.getElementById("dz-stage");
    world = document.getElementById("dz-world");
    nodesBox = document.getElementById("dz-nodes");
    svg = document.getElementById("dz-svg");
    temp = document.getElementById("dz-temp");
    minimap = document.getElementById("dz-minimap");
    editable = root.dataset.editable === "true";
    stage.addEventListener("pointerdown", onPointerDown);
    stage.addEventListener("dragover", function (e) { e.preventDefault(); e.dataTransfer.dropEffect = "copy"; });
    stage.addEventListener("drop", onDrop);
    stage.addEventListener("wheel", function (e) { e.preventDefault(); zoom(e.deltaY < 0 ? 1.1 : 1 / 1.1, e.clientX, e.clientY); }, { passive: false });
    document.querySelector(".dz-palette").addEventListener("dragstart", onDragStart);
    document.addEventListener("keydown", onKey);
    ["undo", "redo", "layout"].forEach(function (name) {
      document.getElementById("dz-" + name).addEventListener("click", function () { op(name); });
    });
    document.getElementById("dz-fit").addEventListener("click", fit);
    document.getElementById("dz-zoom-in").addEventListener("click", function () { zoom(1.2); });
    document.getElementById("dz-zoom-out").addEventListener("click", function () { zoom(1 / 1.2); });
    minimap.addEventListener("click", function (e) {
      var s = parseFloat(minimap.dataset.scale || "1"), r = minimap.getBoundingClientRect(), sr = stage.getBoundingClientRect();
      view.x = sr.width / 2 - ((e.clientX - r.left) / s) * view.k;
      view.y = sr.height / 2 - ((e.clientY - r.top) / s) * view.k;
      applyView();
    });
    document.addEventListener("click", function (e) {
      var link = e.target.closest("#dz-issues a[data-node]");
      if (link) { e.preventDefault(); select(link.dataset.node); var n = document.getElementById("node-" + link.dataset.node); if (n) n.focus(); }
      if (e.target.closest("[data-dz-deselect]")) select(null);
    });
    document.body.addEventListener("htmx:afterSwap", function (e) {
      var box = e.detail.target.querySelector && e.detail.target.querySelector(".dz-issues");
      if (box) markIssues(box);
      if (e.detail.target.id === "dz-props") refresh();
    });
    document.body.addEventListener("htmx:oobAfterSwap", refresh);
    applyView();
    refresh();
    window.addEventListener("resize", drawMinimap);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
