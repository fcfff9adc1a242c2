// The planning workspace: paint a draft's buildings into grids, watch the tallies and
// checks change, undo and redo, lock grids, preview and publish, rebalance.
// Plain JavaScript on the Leaflet map folium drew (window.gridgis), no framework,
// nothing from another host (the page's Content-Security-Policy allows none).
// Box and lasso selection are a few lines over the buildings' points here: the
// Leaflet plugins for them come from npm only, and this page needs no more than
// "which points fall in this shape".
(function () {
  "use strict";
  var script = document.currentScript;
  var urls = JSON.parse(script.dataset.urls);
  var kinds = JSON.parse(script.dataset.kinds);
  var editable = script.dataset.editable === "true";
  var words = {};
  document.getElementById("gg-words").content.querySelectorAll("[data-k]").forEach(function (el) {
    words[el.dataset.k] = el.textContent;
  });
  function say(key, values) {
    return (words[key] || key).replace(/\{(\w+)\}/g, function (m, k) {
      return values && k in values ? String(values[k]) : m;
    });
  }
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var map = window.gridgis && window.gridgis.map;
  // The community map's palette (gridgis.maps.popups.GRID_COLOURS), by grid code.
  var COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"];
  var NO_GRID = "#7f0000";
  var $ = function (id) { return document.getElementById(id); };
  var message = $("gg-message");

  var grids = {};      // code -> {feature, layer}
  var buildings = {};  // code -> {props, layer}
  var selected = {};   // code -> true
  var tallies = {};    // code -> tally
  var renderer = L.canvas({padding: 0.5});
  var gridLayer = L.layerGroup().addTo(map);
  var buildingLayer = L.layerGroup().addTo(map);
  var markLayer = L.layerGroup().addTo(map);
  window.gridgis.plan = {grids: grids, buildings: buildings, selected: selected, tallies: tallies};

  // A grid keeps its colour while the page is open (colours by position would
  // shift when a grid leaves); a new grid takes the colour used least.
  var palette = {};
  function colour(code) {
    if (!code) { return NO_GRID; }
    if (!palette[code]) {
      var used = COLOURS.map(function (c) {
        return Object.keys(palette).filter(function (k) { return palette[k] === c && grids[k]; }).length;
      });
      palette[code] = COLOURS[used.indexOf(Math.min.apply(null, used))];
    }
    return palette[code];
  }
  function escape(s) {
    return String(s).replace(/[<>&"]/g, function (c) {
      return {"<": "&lt;", ">": "&gt;", "&": "&amp;", "\"": "&quot;"}[c];
    });
  }
  function text(tag, value, cls) {
    var el = document.createElement(tag);
    if (value !== undefined && value !== null) { el.textContent = String(value); }
    if (cls) { el.className = cls; }
    return el;
  }

  // --- drawing ---
  function gridStyle(code) {
    var g = grids[code];
    var locked = g && g.feature.properties.locked;
    return {renderer: renderer, color: colour(code), weight: locked ? 4 : 3, fill: false,
      dashArray: locked ? "2 6" : null, interactive: false};
  }
  function buildingStyle(code) {
    var b = buildings[code];
    var on = !!selected[code];
    return {renderer: renderer, color: on ? "#000" : "#333", weight: on ? 3 : 1,
      fillColor: colour(b.props.grid), fillOpacity: on ? 0.95 : 0.55};
  }
  function drawGrid(feature) {
    var code = feature.properties.code;
    if (grids[code] && grids[code].layer) { gridLayer.removeLayer(grids[code].layer); }
    grids[code] = {feature: feature, layer: null};
    grids[code].layer = L.geoJSON(feature, {style: function () { return gridStyle(code); }})
      .addTo(gridLayer);
  }
  function restyleAll() {
    Object.keys(grids).forEach(function (c) { grids[c].layer.setStyle(gridStyle(c)); });
    Object.keys(buildings).forEach(function (c) { buildings[c].layer.setStyle(buildingStyle(c)); });
  }
  function drawBuilding(feature) {
    var p = feature.properties;
    buildings[p.code] = {props: p, layer: null};  // the style below reads it
    var layer = L.geoJSON(feature, {style: function () { return buildingStyle(p.code); }});
    layer.bindTooltip(function () {
      return [p.name || p.code, p.code, say("households") + " " + p.households,
        say("grid") + " " + (buildings[p.code].props.grid || say("none")),
        p.compound ? say("compound") + " " + p.compound : ""].filter(Boolean).map(escape).join("<br>");
    }, {sticky: true});
    layer.on("click", function (e) {
      L.DomEvent.stopPropagation(e);
      if (mode !== "click") { return; }
      toggle(p.code);
    });
    layer.addTo(buildingLayer);
    buildings[p.code].layer = layer;
  }

  // --- selection ---
  var mode = "click";
  function toggle(code) {
    if (selected[code]) { delete selected[code]; } else { selected[code] = true; }
    buildings[code].layer.setStyle(buildingStyle(code));
    showSelection();
  }
  function addAll(codes) {
    codes.forEach(function (c) { selected[c] = true; buildings[c].layer.setStyle(buildingStyle(c)); });
    showSelection();
  }
  function clearSelection() {
    Object.keys(selected).forEach(function (c) {
      delete selected[c];
      if (buildings[c]) { buildings[c].layer.setStyle(buildingStyle(c)); }
    });
    showSelection();
  }
  function showSelection() {
    var codes = Object.keys(selected);
    var households = codes.reduce(function (s, c) { return s + buildings[c].props.households; }, 0);
    $("gg-sel-count").textContent = codes.length ? say("selected", {n: codes.length, h: households}) : "";
    var btn = $("gg-assign-btn");
    if (btn) { btn.disabled = !codes.length; }
  }
  function inside(pt, ring) {  // ray casting on lon/lat: fine at a community's size
    var x = pt[0], y = pt[1], hit = false;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var xi = ring[i].lng, yi = ring[i].lat, xj = ring[j].lng, yj = ring[j].lat;
      if ((yi > y) !== (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) { hit = !hit; }
    }
    return hit;
  }
  function setMode(next) {
    mode = next;
    ["click", "box", "lasso"].forEach(function (m) {
      var b = $("gg-mode-" + m);
      b.classList.toggle("gg-on", m === next);
      b.setAttribute("aria-pressed", m === next ? "true" : "false");
    });
    if (next === "click") { map.dragging.enable(); } else { map.dragging.disable(); }
    map.getContainer().classList.toggle("gg-drawing", next !== "click");
  }
  ["click", "box", "lasso"].forEach(function (m) {
    var b = $("gg-mode-" + m);
    L.DomEvent.disableClickPropagation(b);
    b.addEventListener("click", function () { setMode(m); });
  });
  var drawing = null;
  map.on("mousedown", function (e) {
    if (mode === "click") { return; }
    drawing = {start: e.latlng, points: [e.latlng], shape: null};
  });
  map.on("mousemove", function (e) {
    if (!drawing) { return; }
    if (drawing.shape) { markLayer.removeLayer(drawing.shape); }
    var style = {color: "#000", weight: 1, dashArray: "4 4", fillOpacity: 0.08, interactive: false};
    if (mode === "box") {
      drawing.shape = L.rectangle(L.latLngBounds(drawing.start, e.latlng), style);
    } else {
      drawing.points.push(e.latlng);
      drawing.shape = L.polygon(drawing.points, style);
    }
    drawing.shape.addTo(markLayer);
    drawing.end = e.latlng;
  });
  map.on("mouseup", function (e) {
    if (!drawing) { return; }
    var d = drawing;
    drawing = null;
    if (d.shape) { markLayer.removeLayer(d.shape); }
    // Where the button came up, not the last mousemove: Leaflet may not have
    // passed the last moves on yet.
    if (e.latlng && !e.latlng.equals(d.start)) { d.end = e.latlng; d.points.push(e.latlng); }
    if (!d.end) { return; }
    var hit = [];
    if (mode === "box") {
      var box = L.latLngBounds(d.start, d.end);
      Object.keys(buildings).forEach(function (c) {
        var p = buildings[c].props.point;
        if (box.contains(L.latLng(p[1], p[0]))) { hit.push(c); }
      });
    } else if (d.points.length > 2) {
      Object.keys(buildings).forEach(function (c) {
        if (inside(buildings[c].props.point, d.points)) { hit.push(c); }
      });
    }
    addAll(hit);
  });
  $("gg-compound").addEventListener("change", function () {
    var wanted = this.value;
    if (!wanted) { return; }
    addAll(Object.keys(buildings).filter(function (c) { return buildings[c].props.compound === wanted; }));
    this.value = "";
  });
  $("gg-clear").addEventListener("click", clearSelection);

  // --- panels ---
  function fillTargets() {
    var select = $("gg-target");
    if (!select) { return; }
    var keep = select.value;
    select.textContent = "";
    Object.keys(grids).sort().forEach(function (c) {
      var o = text("option", c + " " + grids[c].feature.properties.name);
      o.value = c;
      select.appendChild(o);
    });
    var o = text("option", say("new"));
    o.value = "__new__";
    select.appendChild(o);
    if (keep) { select.value = keep; }
    $("gg-new-grid").hidden = select.value !== "__new__";
  }
  function tallyRow(t) {
    var tr = document.createElement("tr");
    tr.dataset.grid = t.code;
    var off = t.deviation !== 0;
    var th = text("th", null);
    th.scope = "row";
    var a = text("a", t.code + " " + t.name);
    a.href = "#";
    a.addEventListener("click", function (e) {
      e.preventDefault();
      if (grids[t.code]) { map.fitBounds(grids[t.code].layer.getBounds(), {padding: [24, 24]}); }
    });
    th.appendChild(a);
    tr.appendChild(th);
    [[t.households, off ? "gg-off" : ""], [t.deviation > 0 ? "+" + t.deviation : t.deviation, off ? "gg-off" : ""],
      [t.units], [t.buildings], [t.staff], [t.open_incidents], [t.recent_incidents],
      [t.parts, t.parts > 1 ? "gg-off" : ""], [t.compactness.toFixed(2)],
      [t.split_compounds.join("、")]].forEach(function (cell) {
      tr.appendChild(text("td", cell[0], "gg-num " + (cell[1] || "")));
    });
    var td = document.createElement("td");
    var box = document.createElement("input");
    box.type = "checkbox";
    box.setAttribute("aria-label", say("locked") + " " + t.code);
    box.checked = !!(grids[t.code] && grids[t.code].feature.properties.locked);
    box.disabled = !editable;
    box.addEventListener("change", function () { lockGrid(t.code, box.checked, box); });
    td.appendChild(box);
    tr.appendChild(td);
    return tr;
  }
  function showTallies() {
    var body = $("gg-tallies").tBodies[0];
    body.textContent = "";
    Object.keys(tallies).sort().forEach(function (c) { body.appendChild(tallyRow(tallies[c])); });
  }
  function showFigures(data) {
    (data.tallies || []).forEach(function (t) { tallies[t.code] = t; });
    if (data.band) { $("gg-band").textContent = say("band", {low: data.band[0], high: data.band[1]}); }
    if (data.unplaced) {
      $("gg-unplaced").textContent = data.unplaced.buildings
        ? say("unplaced", {n: data.unplaced.buildings, h: data.unplaced.households}) : "";
    }
    showTallies();
    if (data.problems) { showProblems(data.problems); }
    if (data.edits) { showLog(data); }
  }
  function showProblems(problems) {
    var list = $("gg-problems");
    list.textContent = "";
    var errors = problems.filter(function (p) { return p.severity === "error"; }).length;
    $("gg-check-count").textContent = say("errors", {e: errors, w: problems.length - errors});
    if (!problems.length) { list.appendChild(text("li", say("ok"), "gg-item")); }
    problems.forEach(function (p) {
      var li = text("li", null, "gg-item gg-problem gg-" + p.severity);
      li.dataset.kind = p.kind;
      li.appendChild(text("strong", kinds[p.kind] || p.title));
      if (p.area_m2 !== null) { li.appendChild(text("span", " " + p.area_m2 + " m²")); }
      li.appendChild(text("div", p.message, "gg-where"));
      if (p.bbox) {
        var b = text("button", say("zoom"), "gg-zoom");
        b.type = "button";
        b.addEventListener("click", function () {
          var bounds = L.latLngBounds([p.bbox[1], p.bbox[0]], [p.bbox[3], p.bbox[2]]);
          map.fitBounds(bounds.pad(0.5), {maxZoom: 19});
          markLayer.clearLayers();
          L.rectangle(bounds, {color: "#d62728", weight: 2, fill: false, interactive: false})
            .addTo(markLayer);
        });
        li.appendChild(b);
      }
      list.appendChild(li);
    });
  }
  function showLog(data) {
    var list = $("gg-log");
    list.textContent = "";
    data.edits.forEach(function (e) {
      var li = text("li", "#" + e.seq + " " + e.at + " " + e.actor + ": " +
        say("logline", {n: e.buildings.length, h: e.households, grid: e.grid}) +
        (e.undone ? " " + say("undonemark") : ""), "gg-item" + (e.undone ? " gg-undone" : ""));
      list.appendChild(li);
    });
    if ($("gg-undo")) {
      $("gg-undo").disabled = !data.can_undo;
      $("gg-redo").disabled = !data.can_redo;
    }
  }

  // --- talking to the server ---
  var busy = false;
  function post(url, body) {
    busy = true;
    message.textContent = say("working");
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify(body || {})
    }).then(answer).finally(function () { busy = false; });
  }
  function answer(r) {
    return r.json().catch(function () { return {}; }).then(function (data) {
      if (!r.ok) {
        var text = (data.error && data.error.message) || say("failed");
        message.textContent = text;
        throw new Error(text);
      }
      message.textContent = "";
      return data;
    }, function () { message.textContent = say("failed"); throw new Error("network"); });
  }
  function applyChange(data) {
    var gone = {};
    (data.removed || []).forEach(function (c) {
      gone[c] = true;
      if (grids[c]) { gridLayer.removeLayer(grids[c].layer); delete grids[c]; }
      delete tallies[c];
    });
    (data.touched || []).forEach(function (c) { gone[c] = true; });
    (data.grids.features || []).forEach(drawGrid);
    // A building changes grid only if a grid it was in or is in now changed.
    Object.keys(buildings).forEach(function (c) {
      var b = buildings[c].props;
      if (gone[b.grid] || data.placed[c] !== undefined) { b.grid = data.placed[c] || null; }
    });
    fillTargets();
    showFigures(data);
    restyleAll();
    // A tooltip open through the edit says the grid it was opened with: close it.
    buildingLayer.eachLayer(function (l) { l.closeTooltip(); });
  }
  function lockGrid(code, locked, box) {
    post(urls.lock, {grid: code, locked: locked}).then(function (data) {
      data.grids.features.forEach(drawGrid);
      restyleAll();
    }, function () { box.checked = !locked; });
  }
  function undoRedo(url, key) {
    if (busy) { return; }
    post(url, {}).then(function (data) { applyChange(data); message.textContent = say(key); },
      function () {});
  }
  if (editable) {
    $("gg-target").addEventListener("change", function () {
      $("gg-new-grid").hidden = this.value !== "__new__";
    });
    $("gg-assign").addEventListener("submit", function (e) {
      e.preventDefault();
      if (busy) { return; }
      var codes = Object.keys(selected).sort();
      var target = $("gg-target").value;
      var body = {buildings: codes, grid: target};
      if (target === "__new__") {
        body.grid = $("gg-new-code").value.trim();
        body.new_name = $("gg-new-name").value.trim();
      }
      post(urls.assign, body).then(function (data) {
        clearSelection();
        applyChange(data);
        if (target === "__new__") { $("gg-target").value = body.grid; $("gg-new-grid").hidden = true; }
        message.textContent = say("assigned", {n: codes.length, grid: body.grid});
      }, function () {});
    });
    $("gg-undo").addEventListener("click", function () { undoRedo(urls.undo, "undone"); });
    $("gg-redo").addEventListener("click", function () { undoRedo(urls.redo, "redone"); });
    document.addEventListener("keydown", function (e) {
      if (!(e.ctrlKey || e.metaKey) || /INPUT|TEXTAREA|SELECT/.test(e.target.tagName)) { return; }
      var k = e.key.toLowerCase();
      if (k === "z" && !e.shiftKey) { e.preventDefault(); $("gg-undo").click(); }
      if ((k === "z" && e.shiftKey) || k === "y") { e.preventDefault(); $("gg-redo").click(); }
    });
  }

  // --- dialogs ---
  function lines(box, items) {
    box.textContent = "";
    items.forEach(function (item) { if (item) { box.appendChild(text("p", item)); } });
  }
  var rebalance = $("gg-rebalance");
  if (rebalance) {
    $("gg-open-rebalance").addEventListener("click", function () {
      $("gg-rb-result").textContent = "";
      rebalance.showModal();
    });
    $("gg-rb-run").addEventListener("click", function () {
      var box = $("gg-rb-result");
      var run = this;
      run.disabled = true;
      box.textContent = say("working");
      var form = $("gg-rebalance-form");
      post(urls.rebalance, {band: form.band.value, grids: form.grids.value,
        seed: form.seed.value, time_limit: form.time_limit.value}).then(function (r) {
        lines(box, [say("rb_done", {name: r.layout, "in": r.after.in_band, n: r.after.grids,
          in0: r.before.in_band, n0: r.before.grids, b: r.moved_buildings, h: r.moved_households})]
          .concat(r.reasons).concat(r.notes));
        var a = text("a", say("rb_open"));
        a.href = r.url;
        a.id = "gg-rb-open";
        box.appendChild(a);
      }, function (err) { box.textContent = err.message; }).finally(function () { run.disabled = false; });
    });
  }
  var publish = $("gg-publish");
  if (publish) {
    var published = false;
    $("gg-open-publish").addEventListener("click", function () {
      var from = $("gg-pub-from");
      if (!from.value) {  // the first day of next month, 00:00 (the office's zone)
        var d = new Date();
        var next = new Date(d.getFullYear(), d.getMonth() + 1, 1);
        from.value = next.getFullYear() + "-" + String(next.getMonth() + 1).padStart(2, "0") + "-01T00:00";
      }
      $("gg-pub-preview").textContent = "";
      $("gg-pub-go").disabled = true;
      publish.showModal();
    });
    var describe = function (p) {
      var out = [];
      if (p.replaces) { out.push(say("pub_replaces", {old: p.replaces, from: p.from})); }
      if (p.moved) { out.push(say("pub_moved", {b: p.moved.buildings, u: p.moved.units, h: p.moved.households})); }
      if (p.grids_changing.length) { out.push(say("pub_grids", {list: p.grids_changing.join("、")})); }
      out.push(say("pub_incidents", {n: p.incidents.length}) + (p.incidents.length
        ? " " + say($("gg-pub-reroute").checked ? "pub_rerouted" : "pub_kept") : ""));
      out.push(say("pub_staff", {n: p.staff.length}));
      if (p.left_without_grid.length) { out.push(say("pub_left", {list: p.left_without_grid.join("、")})); }
      if (p.recoded.length) {
        out.push(say("pub_recoded", {list: p.recoded.map(function (r) { return r.before + " → " + r.after; }).join("、")}));
      }
      if (p.errors.length) {
        out.push(say("pub_errors"));
        p.errors.forEach(function (e) { out.push("· " + (kinds[e.kind] || e.title) + ": " + e.message); });
      }
      return out;
    };
    var params = function () {
      return "&from=" + encodeURIComponent($("gg-pub-from").value) +
        "&reroute_open=" + ($("gg-pub-reroute").checked ? "1" : "");
    };
    $("gg-pub-check").addEventListener("click", function () {
      var box = $("gg-pub-preview");
      box.textContent = say("working");
      fetch(urls.cutover + params(), {credentials: "same-origin", headers: {Accept: "application/json"}})
        .then(answer).then(function (p) {
          lines(box, describe(p));
          $("gg-pub-go").disabled = p.errors.length > 0;
        }, function (err) { box.textContent = err.message; });
    });
    $("gg-pub-go").addEventListener("click", function () {
      var box = $("gg-pub-preview");
      this.disabled = true;
      post(urls.publish, {from: $("gg-pub-from").value, reroute_open: $("gg-pub-reroute").checked})
        .then(function (p) {
          published = true;
          lines(box, [say("pub_done", {from: p.from})].concat(describe(p)));
        }, function (err) { box.textContent = err.message; });
    });
    publish.addEventListener("close", function () { if (published) { window.location.reload(); } });
  }

  // --- start ---
  fetch(urls.state, {credentials: "same-origin", headers: {Accept: "application/json"}})
    .then(answer).then(function (data) {
      data.grids.features.forEach(function (f) { grids[f.id] = {feature: f}; });
      Object.keys(grids).sort().forEach(colour);  // the community map's order at first
      data.grids.features.forEach(drawGrid);
      data.buildings.features.forEach(drawBuilding);
      fillTargets();
      showFigures(data);
      restyleAll();
      showSelection();
      document.body.dataset.ready = "true";  // for tests and for people: the map is drawn
    });
})();
