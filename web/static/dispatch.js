// The dispatch console: incidents on the map and in the list, refreshed without
// reloading; a new incident previewed (team, deadlines, duplicates) before saving.
// Plain JavaScript on the Leaflet map folium drew (window.gridgis), no framework,
// nothing from another host (the page's Content-Security-Policy allows none).
(function () {
  "use strict";
  var script = document.currentScript;
  var urls = {
    incidents: script.dataset.incidents,
    preview: script.dataset.preview,
    page: script.dataset.incidentPage,
    map: script.dataset.map
  };
  var lang = script.dataset.lang || "zh";
  // Times in the office's zone (the server's display zone), whatever the PC's clock says.
  var timeFormat = new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "zh-CN", {
    timeZone: script.dataset.zone || "Asia/Shanghai", dateStyle: "short", timeStyle: "short"
  });
  function showTime(iso) { return timeFormat.format(new Date(iso)); }
  var words = {};
  document.getElementById("gg-words").content.querySelectorAll("[data-k]").forEach(function (el) {
    words[el.dataset.k] = el.textContent;
  });
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var map = window.gridgis && window.gridgis.map;
  var list = document.getElementById("gg-list");
  var count = document.getElementById("gg-count");
  var filters = document.getElementById("gg-filters");
  var form = document.getElementById("gg-new-form");
  var previewBox = document.getElementById("gg-preview");
  var save = document.getElementById("gg-save");
  var REFRESH_MS = 30000;
  // The list shows the most urgent first; the map shows everything in view (clustered).
  var LIMIT = 200;
  var COLOURS = {
    received: "#1f77b4", registered: "#17becf", dispatched: "#ff7f0e",
    in_progress: "#bcbd22", checked: "#9467bd", parked: "#7f7f7f",
    closed: "#2ca02c", rejected: "#8c564b", merged: "#8c564b"
  };
  var renderer = map ? L.canvas({padding: 0.5}) : null;
  var layer = map ? L.layerGroup().addTo(map) : null;
  if (layer) { window.gridgis.incidents = layer; }  // what the map shows, for other scripts
  var pick = null;
  var statusNames = {};
  document.querySelectorAll('#gg-filters select[name="status"] option').forEach(function (o) {
    statusNames[o.value] = o.textContent;
  });

  function text(tag, value, cls) {
    var el = document.createElement(tag);
    el.textContent = value == null ? "" : String(value);
    if (cls) { el.className = cls; }
    return el;
  }

  function query() {
    var params = new URLSearchParams();
    new FormData(filters).forEach(function (value, key) {
      if (!value) { return; }
      if (key === "status" && value === "open") {
        ["received", "registered", "dispatched", "in_progress", "checked"].forEach(function (s) {
          params.append("status", s);
        });
      } else {
        params.append(key, value);
      }
    });
    if (map) {
      var b = map.getBounds();
      params.set("bbox", [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
        .map(function (v) { return v.toFixed(6); }).join(","));
    }
    params.set("limit", String(LIMIT));
    return params;
  }

  function countdown(iso) {
    if (!iso) { return ""; }
    var left = (Date.parse(iso) - Date.now()) / 60000;
    var late = left < 0;
    left = Math.abs(left);
    var h = Math.floor(left / 60), m = Math.floor(left % 60);
    // Days past two: minutes no longer matter to anyone reading the list.
    var span = h >= 48 ? Math.floor(h / 24) + words.d + " " + (h % 24) + words.h
      : (h ? h + words.h + " " : "") + m + words.min;
    return late ? words.overdue + " " + span : words.due + " " + span;
  }

  function nextDeadline(p) {
    if (p.status === "received" || p.status === "registered" || p.status === "dispatched") {
      return p.response_due_at || p.resolution_due_at;
    }
    return p.resolution_due_at;
  }

  function drawList(features) {
    list.replaceChildren();
    features.forEach(function (f) {
      var p = f.properties;
      var item = document.createElement("li");
      item.className = "gg-item" + (p.overdue ? " gg-is-overdue" : "");
      var link = text("a", "#" + p.id + " " + (p.category_name || "—"));
      link.href = urls.page.replace(/0$/, String(p.id));
      item.appendChild(link);
      item.appendChild(text("span", p.status_name, "gg-badge gg-st-" + p.status));
      item.appendChild(text("div", (p.grid_name || p.grid || "") + " · " + (p.address || ""), "gg-where"));
      var clock = text("div", countdown(nextDeadline(p)), "gg-due");
      clock.dataset.due = nextDeadline(p) || "";
      item.appendChild(clock);
      list.appendChild(item);
    });
  }

  function drawMap(doc) {
    if (!layer) { return; }
    layer.clearLayers();
    doc.features.forEach(function (f) {
      var p = f.properties, c = f.geometry.coordinates, at = [c[1], c[0]];
      if (p.kind === "cluster") {
        // Many in one place: a circle sized by its count, red when any is late.
        var size = Math.min(48, 22 + 6 * Math.log10(p.count));
        L.marker(at, {
          icon: L.divIcon({
            className: "gg-cluster" + (p.overdue ? " gg-cluster-late" : ""),
            html: "<span>" + p.count + "</span>", iconSize: [size, size]
          }),
          keyboard: false
        }).bindTooltip(p.count + (p.overdue ? " · " + words.overdue + " " + p.overdue : ""))
          .on("click", function (e) {
            L.DomEvent.stopPropagation(e);
            map.setView(at, Math.min(map.getZoom() + 2, 20));
          })
          .addTo(layer);
        return;
      }
      L.circleMarker(at, {
        renderer: renderer, radius: p.overdue ? 8 : 6, weight: p.overdue ? 3 : 1,
        color: p.overdue ? "#b71c1c" : "#333", fillColor: COLOURS[p.status] || "#999",
        fillOpacity: 0.9
      }).bindTooltip("#" + p.id + " · " + (statusNames[p.status] || p.status) +
                     (p.overdue ? " · " + words.overdue : ""))
        .on("click", function (e) {
          L.DomEvent.stopPropagation(e);  // opening it, not placing a new one here
          window.location.href = urls.page.replace(/0$/, String(p.id));
        })
        .addTo(layer);
    });
  }

  function refresh() {
    var params = query();
    fetch(urls.incidents + "?" + params.toString(), {headers: {Accept: "application/geo+json"}})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (doc) {
        count.textContent = "(" + doc.numberMatched + ")";
        drawList(doc.features);
      })
      .catch(function () { count.textContent = words.failed; });
    if (!map) { return; }
    params.set("zoom", String(map.getZoom()));
    params.delete("limit");
    fetch(urls.map + "?" + params.toString(), {headers: {Accept: "application/geo+json"}})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(drawMap)
      .catch(function () { count.textContent = words.failed; });
  }

  function tick() {
    list.querySelectorAll(".gg-due").forEach(function (el) {
      el.textContent = countdown(el.dataset.due);
    });
  }

  function showPreview(answer) {
    previewBox.replaceChildren();
    var r = answer.routing;
    previewBox.appendChild(text("p", lang === "en" ? r.explanation_en : r.explanation_zh, "gg-explain"));
    previewBox.appendChild(text("p", words.team, "gg-subhead"));
    var team = document.createElement("ul");
    (r.team || []).forEach(function (m) {
      team.appendChild(text("li", (m.role_name || m.role) + ": " + m.name + " " + (m.phone || "")));
    });
    previewBox.appendChild(team);
    if ((r.departments || []).length) {
      previewBox.appendChild(text("p", words.departments + ": " +
        r.departments.map(function (d) { return d.name; }).join("、")));
    }
    if (answer.deadlines) {
      previewBox.appendChild(text("p", words.deadlines + ": " + words.response + " " +
        showTime(answer.deadlines.response_due_at) + " · " + words.resolution + " " +
        showTime(answer.deadlines.resolution_due_at) +
        (answer.deadlines.assumed ? " (" + words.assumed + ")" : "")));
    }
    previewBox.appendChild(text("p", words.duplicates + ": " + (answer.duplicates.length ? "" : words.none)));
    if (answer.duplicates.length) {
      var dups = document.createElement("ul");
      answer.duplicates.forEach(function (d) {
        var li = document.createElement("li");
        var a = text("a", "#" + d.id + " " + (d.address || "") + " · " + d.status_name);
        a.href = urls.page.replace(/0$/, String(d.id));
        li.appendChild(a);
        dups.appendChild(li);
      });
      previewBox.appendChild(dups);
    }
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      headers: {"Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) { throw new Error((data.error && data.error.message) || r.status); }
        return data;
      });
    });
  }

  function fields() {
    var data = {};
    new FormData(form).forEach(function (value, key) { if (value) { data[key] = value; } });
    if (data.lon) { data.lon = Number(data.lon); data.lat = Number(data.lat); }
    return data;
  }

  function askPreview() {
    var data = fields();
    if (!data.lon && !data.address) { return; }
    save.disabled = true;
    post(urls.preview, data).then(function (answer) {
      showPreview(answer);
      save.disabled = false;
    }).catch(function (err) {
      previewBox.replaceChildren(text("p", err.message, "gg-form-error"));
    });
  }

  if (map) {
    // Here a click on the map places a new incident: the community map's popups
    // (which would swallow the click) give way to tooltips naming the place.
    Object.keys(window.gridgis.layers).forEach(function (key) {
      window.gridgis.layers[key].eachLayer(function (geojson) {
        geojson.eachLayer(function (shape) {
          shape.unbindPopup();
        });
      });
    });
    map.on("click", function (e) {
      form.elements.lon.value = e.latlng.lng.toFixed(7);
      form.elements.lat.value = e.latlng.lat.toFixed(7);
      if (pick) { pick.setLatLng(e.latlng); } else { pick = L.marker(e.latlng).addTo(map); }
      askPreview();
    });
    map.on("moveend", refresh);
  }
  form.elements.category.addEventListener("change", askPreview);
  form.elements.address.addEventListener("change", function () {
    if (!form.elements.lon.value) { askPreview(); }
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    save.disabled = true;
    post(urls.incidents, fields()).then(function (incident) {
      var link = text("a", words.saved + " #" + incident.id);
      link.href = urls.page.replace(/0$/, String(incident.id));
      previewBox.replaceChildren(link);
      form.reset();
      if (pick) { pick.remove(); pick = null; }
      refresh();
    }).catch(function (err) {
      previewBox.appendChild(text("p", err.message, "gg-form-error"));
      save.disabled = false;
    });
  });
  filters.addEventListener("change", refresh);
  refresh();
  setInterval(refresh, REFRESH_MS);
  setInterval(tick, 1000);
})();
