// /my: a grid staff member's own area on a phone (web/my). Plain JavaScript on the
// Leaflet map folium drew (window.gridgis); nothing from another host.
//
// Reading: the incidents of the area (/api/v1/incidents), the households due a visit
// (/my/households.json), the team (in the page). The service worker (/my/sw.js) keeps
// the page and the last answers, so all of it reads offline.
//
// Acting: every action (a new incident, a move, a note, a photo, a visit, a round) goes into a
// queue kept in IndexedDB first, then is sent; offline it waits for the network. Each
// entry carries a client-made id so that sending it again after a lost answer does not
// act twice (web/my/__init__.py says how, per kind). An entry the server refuses stays
// on the page with the server's reason until dismissed: never silently lost.
(function () {
  "use strict";
  const script = document.currentScript;
  const DATA = JSON.parse(document.getElementById("gg-my-data").textContent);
  const urls = Object.assign({}, script.dataset);
  const words = {};
  document.getElementById("gg-words").content.querySelectorAll("[data-k]").forEach((el) => {
    words[el.dataset.k] = el.textContent;
  });
  const map = window.gridgis && window.gridgis.map;
  const layers = (window.gridgis && window.gridgis.layers) || {};
  const zone = script.dataset.zone || "Asia/Shanghai";
  const timeFormat = new Intl.DateTimeFormat(DATA.lang === "en" ? "en-GB" : "zh-CN", {
    timeZone: zone, month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit"
  });
  const dateFormat = new Intl.DateTimeFormat(DATA.lang === "en" ? "en-GB" : "zh-CN", {
    timeZone: zone, month: "numeric", day: "numeric"
  });
  const STATUS_COLOURS = {
    received: "#1f77b4", registered: "#17becf", dispatched: "#ff7f0e",
    in_progress: "#bcbd22", checked: "#9467bd", parked: "#7f7f7f"
  };
  const SOON_MS = 2 * 3600 * 1000;  // a deadline this close is shown as urgent
  const RETRY_MS = 30000;
  const $ = (id) => document.getElementById(id);

  let incidents = [];  // the open incidents of the area (GeoJSON features)
  let households = {due: [], buildings: []};  // the households due a visit, counts by building
  let position = null;  // the phone's last position {lat, lon, accuracy}
  let sortBy = "urgent";
  // The team's work first: what was dispatched to it; the rest of the area on request
  // (grid staff are the office's sentinels, they may know of a report not yet dispatched).
  let showAll = false;
  let opened = null;  // the incident whose card is open
  const drafts = {};  // incident id -> the note being typed: cards are redrawn as the queue moves

  // -- small helpers ----------------------------------------------------------------

  function say(key, values) {
    return (words[key] || key).replace(/\{(\w+)\}/g, (m, k) => (values && k in values ? values[k] : m));
  }

  function el(tag, props, children) {
    const node = document.createElement(tag);
    Object.entries(props || {}).forEach(([k, v]) => {
      if (v == null) { return; }
      if (k === "text") { node.textContent = String(v); } else if (k === "class") { node.className = v; } else if (k in node && typeof v !== "string") { node[k] = v; } else { node.setAttribute(k, v); }
    });
    (children || []).forEach((c) => { if (c) { node.append(c); } });
    return node;
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    // Plain HTTP on an intranet has no randomUUID; getRandomValues is there everywhere.
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return [h.slice(0, 8), h.slice(8, 12), h.slice(12, 16), h.slice(16, 20), h.slice(20)].join("-");
  }

  // The server's clock minus the phone's: times the phone records are sent in the
  // server's terms (a phone running fast must not log a visit "in the future").
  // Known once /my/token.json has answered (at start, and before every sending).
  let skew = 0;

  // An ISO time with the display zone's offset, for the moment `ms` (server time).
  function iso(ms) {
    const parts = {};
    new Intl.DateTimeFormat("en-GB", {
      timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit"
    }).formatToParts(new Date(ms)).forEach((p) => { parts[p.type] = p.value; });
    const wall = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second);
    const offset = Math.round((wall - (ms - (ms % 1000))) / 60000);
    const sign = offset < 0 ? "-" : "+";
    const abs = Math.abs(offset);
    const pad = (n) => String(n).padStart(2, "0");
    return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}` +
      `.${String(ms % 1000).padStart(3, "0")}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
  }

  // A datetime-local value ("2026-05-06T09:30"), read as a wall time of the display zone.
  function isoFromInput(value) {
    const [d, t] = value.split("T");
    const [y, mo, da] = d.split("-").map(Number);
    const [h, mi] = t.split(":").map(Number);
    const guess = Date.UTC(y, mo - 1, da, h, mi);
    // The zone's offset at that moment, found from the formatter (no time-zone library).
    const probe = iso(guess);
    const m = probe.match(/([+-])(\d\d):(\d\d)$/);
    const offset = (m[1] === "-" ? -1 : 1) * (+m[2] * 60 + +m[3]);
    return iso(guess - offset * 60000);
  }

  function countdown(isoDue) {
    if (!isoDue) { return ""; }
    let left = (Date.parse(isoDue) - (Date.now() + skew)) / 60000;
    const late = left < 0;
    left = Math.abs(left);
    const h = Math.floor(left / 60), m = Math.floor(left % 60);
    const span = h >= 48 ? Math.floor(h / 24) + words.d + " " + (h % 24) + words.h
      : (h ? h + words.h + " " : "") + m + words.min;
    return (late ? words.overdue : words.due) + " " + span;
  }

  function metres(a, b) {
    const rad = Math.PI / 180, r = 6371008.8;
    const dLat = (b.lat - a.lat) * rad, dLon = (b.lon - a.lon) * rad;
    const s = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
    return 2 * r * Math.asin(Math.sqrt(s));
  }

  function distanceText(m) {
    return m < 1000 ? Math.round(m) + " m" : (m / 1000).toFixed(1) + " km";
  }

  // -- the network ------------------------------------------------------------------

  class Offline extends Error {}
  class LoginNeeded extends Error {}
  class ServerTrouble extends Error {}
  class Refused extends Error {
    constructor(message, status) { super(message); this.status = status; }
  }

  let lastSavedAt = null;  // when the answers shown were saved, when they came from the cache

  // A GET for reading: the answer (from the network, or the service worker's saved copy).
  async function read(url) {
    const response = await fetch(url, {headers: {Accept: "application/json"}, credentials: "same-origin"});
    const saved = response.headers.get("X-Gridgis-Saved-At");
    if (saved) { lastSavedAt = saved; }
    if (response.status === 401) { throw new LoginNeeded(); }
    if (!response.ok) { throw new Offline(String(response.status)); }
    showNet();
    return response.json();
  }

  let csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  let tokenUser = null;

  // A fresh CSRF token before sending: the page may be hours old, from the cache.
  async function refreshToken() {
    let response;
    try {
      response = await fetch(urls.token, {headers: {Accept: "application/json"}, credentials: "same-origin", cache: "no-store"});
    } catch (e) { throw new Offline(e.message); }
    if (response.status === 401 || response.redirected) { throw new LoginNeeded(); }
    if (!response.ok) { throw new ServerTrouble(String(response.status)); }
    const answer = await response.json();
    csrf = answer.csrf_token;
    tokenUser = answer.user;
    skew = Date.parse(answer.now) - Date.now();
  }

  // A write: the answer's JSON, or one of the errors above saying what to do next.
  async function send(method, url, body, retried) {
    const headers = {Accept: "application/json", "X-CSRF-Token": csrf};
    let payload = body;
    if (body && !(body instanceof FormData)) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, {method: method, headers: headers, body: payload, credentials: "same-origin"});
    } catch (e) { throw new Offline(e.message); }
    if (response.status === 401 || response.redirected) { throw new LoginNeeded(); }
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    const message = data && data.error && data.error.message;
    if (response.status === 403 && message && message.indexOf("CSRF") >= 0 && !retried) {
      await refreshToken();
      return send(method, url, body, true);
    }
    if (response.status >= 500 || response.status === 429) { throw new ServerTrouble(message || String(response.status)); }
    if (!response.ok) { throw new Refused(message || String(response.status), response.status); }
    return data;
  }

  const fill = (template, id, action) => template.replace(/0(?=\/|\.json|$)/, String(id)).replace("ACTION", action || "");

  // -- the queue (IndexedDB) ---------------------------------------------------------

  const store = (() => {
    let opened = null;
    function open() {
      if (!opened) {
        opened = new Promise((resolve, reject) => {
          const request = indexedDB.open("gridgis-my", 1);
          request.onupgradeneeded = () => request.result.createObjectStore("queue", {keyPath: "id"});
          request.onsuccess = () => resolve(request.result);
          request.onerror = () => reject(request.error);
        });
      }
      return opened;
    }
    async function run(mode, work) {
      const db = await open();
      return new Promise((resolve, reject) => {
        const tx = db.transaction("queue", mode);
        const request = work(tx.objectStore("queue"));
        tx.oncomplete = () => resolve(request.result);
        tx.onerror = () => reject(tx.error);
      });
    }
    return {
      all: () => run("readonly", (s) => s.getAll()),
      put: (entry) => run("readwrite", (s) => s.put(entry)),
      remove: (id) => run("readwrite", (s) => s.delete(id))
    };
  })();

  let entries = [];
  let flushing = false;
  let loginNeeded = false;
  let retryTimer = null;

  async function enqueue(entry) {
    Object.assign(entry, {id: entry.id || uuid(), user: DATA.user, created: Date.now(), status: "pending"});
    await store.put(entry);
    entries.push(entry);
    renderQueue();
    flush();
  }

  async function save(entry) {
    await store.put(entry);
    renderQueue();
  }

  async function flush() {
    if (flushing) { return; }
    flushing = true;
    try {
      const mine = () => entries.filter((e) => e.status === "pending" && e.user === DATA.user)
        .sort((a, b) => a.created - b.created);
      if (!mine().length) { return; }
      await refreshToken();
      loginNeeded = false;
      if (tokenUser !== DATA.user) { return; }  // another account on this phone: not theirs to send
      for (const entry of mine()) {
        entry.status = "sending";
        renderQueue();
        try {
          entry.result = await deliver(entry);
          entry.status = "done";
          entry.reason = null;
          await save(entry);
          afterDelivery(entry);
        } catch (e) {
          if (e instanceof Refused) {
            entry.status = "refused";
            entry.reason = e.message;
            await save(entry);
            continue;
          }
          entry.status = "pending";
          // Its own field: a move's `note` is the reason it carries, and must survive a retry.
          entry.retry = e instanceof ServerTrouble;
          await save(entry);
          throw e;
        }
      }
    } catch (e) {
      if (e instanceof LoginNeeded) { loginNeeded = true; }
      if (!(e instanceof Offline || e instanceof ServerTrouble || e instanceof LoginNeeded)) { throw e; }
    } finally {
      flushing = false;
      renderQueue();
      clearTimeout(retryTimer);
      if (entries.some((e) => e.status === "pending" && e.user === DATA.user) && !loginNeeded) {
        retryTimer = setTimeout(flush, RETRY_MS);
      }
    }
  }

  async function deliver(entry) {
    if (entry.kind === "report") { return deliverReport(entry); }
    if (entry.kind === "move") { return deliverMove(entry); }
    if (entry.kind === "note") { return deliverNote(entry); }
    if (entry.kind === "photo") { return deliverPhoto(entry, entry.incidentId); }
    if (entry.kind === "visit") { return send("POST", urls.visits, entry.body); }
    if (entry.kind === "round") { return send("POST", urls.rounds, entry.body); }
    throw new Refused("unknown action " + entry.kind, 400);
  }

  async function deliverReport(entry) {
    if (!entry.incidentId) {
      // external_id on channel "visit": a second delivery gets the first incident back.
      const answer = await send("POST", urls.incidents, Object.assign({external_id: entry.id}, entry.body));
      entry.incidentId = answer.id;
      entry.visible = "routing" in answer;  // a receipt: the incident lies outside the area
      await save(entry);
    }
    if (entry.photo && !entry.photoDone) {
      if (!entry.visible) {
        entry.photoDone = true;
        return {id: entry.incidentId, note: "outsideArea"};
      }
      await deliverPhoto(entry, entry.incidentId);
    }
    return {id: entry.incidentId};
  }

  // A photo is sent again only if the incident does not have it yet: the photos this
  // account added are counted before the first try, and again before any later one.
  async function deliverPhoto(entry, incidentId) {
    const photosUrl = fill(urls.photos, incidentId);
    const mine = async () => {
      const listed = await send("GET", photosUrl);
      return listed.photos.filter((p) => p.uploaded_by === DATA.actor).length;
    };
    if (entry.photosBefore == null) {
      entry.photosBefore = await mine();
      await save(entry);
    } else if (entry.photoTried && (await mine()) > entry.photosBefore) {
      entry.photoDone = true;
      return {id: incidentId};
    }
    entry.photoTried = true;
    await save(entry);
    const form = new FormData();
    form.append("file", entry.photo, "photo.jpg");
    await send("POST", photosUrl, form);
    entry.photoDone = true;
    return {id: incidentId};
  }

  // A move refused as a conflict may be this account's own move, delivered before its
  // answer was lost: then the move out of the state it saw is its own, in the history.
  async function deliverMove(entry) {
    const url = fill(urls.move, entry.incidentId, entry.action);
    try {
      await send("POST", url, entry.note ? {reason: entry.note} : null);
    } catch (e) {
      if (!(e instanceof Refused) || e.status !== 409) { throw e; }
      const detail = await send("GET", fill(urls.incident, entry.incidentId));
      if (!movedByMe(detail.history || [], entry)) { throw e; }
    }
    return {id: entry.incidentId};
  }

  // The entry's id goes as the note's client_id: the server keeps it with the note and
  // answers a second delivery (the first's answer lost) with the note it already has,
  // so a note is never added twice. Unlike a move, a note has no state that refuses
  // a repeat, and unlike a photo, counting notes cannot tell a repeat from a second one.
  async function deliverNote(entry) {
    await send("POST", fill(urls.notes, entry.incidentId), {note: entry.text, client_id: entry.id});
    return {id: entry.incidentId};
  }

  function movedByMe(history, entry) {
    let mine = -1;
    history.forEach((h, i) => {
      if (h.action === entry.action && h.actor === DATA.actor && h.from === entry.from) { mine = i; }
    });
    if (mine < 0) { return false; }
    return !history.slice(mine + 1).some((h) => h.to === entry.from && h.from !== h.to);
  }

  function afterDelivery(entry) {
    if (entry.kind === "visit" || entry.kind === "round") { loadHouseholds(); }
    loadIncidents();
  }

  function entryTitle(entry) {
    if (entry.kind === "report") { return say("reportTitle"); }
    if (entry.kind === "move") { return say("moveTitle", {action: entry.label, id: entry.incidentId}); }
    if (entry.kind === "photo") { return say("photoTitle", {id: entry.incidentId}); }
    if (entry.kind === "note") { return say("noteTitle", {id: entry.incidentId}); }
    if (entry.kind === "visit") { return say("visitFor", {household: entry.label}); }
    return say("roundTitle") + " · " + (entry.label || "");
  }

  function entryState(entry) {
    if (entry.user !== DATA.user) { return say("otherUser"); }
    if (entry.status === "sending") { return say("sending"); }
    if (entry.status === "refused") { return say("refused", {reason: entry.reason}); }
    if (entry.status === "done") {
      const result = entry.result || {};
      let text = say("delivered");
      const id = result.id || (result.incident_id) || null;
      if (entry.kind === "report" && id) { text += " · " + say("incidentN", {id: id}); }
      if (entry.kind === "visit" && result.incident_id) { text += " · " + say("incidentN", {id: result.incident_id}); }
      if (entry.kind === "round" && result.incidents && result.incidents.length) {
        text += " · " + result.incidents.map((i) => say("incidentN", {id: i})).join(", ");
      }
      if (result.note) { text += " · " + say(result.note); }
      return text;
    }
    if (loginNeeded) { return say("login"); }
    return entry.retry ? say("retry") : say("pending");
  }

  function renderQueue() {
    const list = $("gg-queue-list");
    const shown = entries.slice().sort((a, b) => b.created - a.created);
    list.replaceChildren(...shown.map((entry) => {
      const item = el("li", {class: "gg-card-i gg-q gg-q-" + entry.status, "data-id": entry.id}, [
        el("p", {class: "gg-q-title", text: entryTitle(entry)}),
        el("p", {class: "gg-q-state", text: entryState(entry)})
      ]);
      if (entry.status === "refused" || entry.status === "done") {
        const dismiss = el("button", {type: "button", class: "gg-btn gg-btn-2", text: say("dismiss")});
        dismiss.addEventListener("click", async () => {
          await store.remove(entry.id);
          entries = entries.filter((e) => e.id !== entry.id);
          renderQueue();
        });
        item.append(dismiss);
      }
      return item;
    }));
    $("gg-queue").hidden = !shown.length;
    showNet();
    renderIncidents();
    renderDue();
  }

  function showNet() {
    const waiting = entries.filter((e) => e.status === "pending" || e.status === "sending").length;
    const parts = [];
    const offline = !navigator.onLine;
    if (offline) {
      const at = lastSavedAt || DATA.renderedAt;
      parts.push(say("offline", {time: timeFormat.format(new Date(at))}));
    } else {
      parts.push(say("online"));
    }
    if (waiting) { parts.push(say("waiting", {n: waiting})); }
    if (loginNeeded) { parts.push(say("login")); }
    const net = $("gg-net");
    net.textContent = parts.join(" · ");
    net.classList.toggle("gg-offline", offline || loginNeeded);
  }

  // -- the map ----------------------------------------------------------------------

  const markers = map ? L.layerGroup().addTo(map) : null;
  const renderer = map ? L.canvas({padding: 0.5}) : null;
  let me = null;  // the phone's position on the map
  let pick = null;  // the new incident's place on the map
  let picking = false;

  function areaBounds() {
    const bounds = L.latLngBounds([]);
    ["grids", "buildings", "units"].forEach((key) => {
      if (layers[key] && layers[key].getLayers().length) { bounds.extend(layers[key].getBounds()); }
    });
    return bounds;
  }

  function eachBuilding(fn) {
    if (!layers.buildings) { return; }
    layers.buildings.eachLayer((geojson) => {
      if (geojson.eachLayer) { geojson.eachLayer((shape) => fn(shape, shape.feature && shape.feature.id)); }
    });
  }

  // Buildings coloured by what is open in them: overdue work red, open work orange.
  function colourBuildings() {
    if (!map) { return; }
    const open = {}, late = {};
    incidents.forEach((f) => {
      const b = f.properties.building;
      if (!b) { return; }
      open[b] = (open[b] || 0) + 1;
      if (f.properties.overdue) { late[b] = true; }
    });
    const visits = {};
    (households.buildings || []).forEach((c) => { visits[c.code] = c; });
    eachBuilding((shape, code) => {
      if (!shape.ggStyle) { shape.ggStyle = Object.assign({}, shape.options); shape.ggPopup = shape.getPopup() && shape.getPopup().getContent(); }
      const v = visits[code] || {due: 0, overdue: 0};
      const state = late[code] || v.overdue ? "late" : open[code] || v.due ? "open" : "clear";
      shape.ggState = state;
      if (state === "clear") {
        shape.setStyle({fillColor: shape.ggStyle.fillColor, color: shape.ggStyle.color, weight: shape.ggStyle.weight});
      } else {
        shape.setStyle({fillColor: state === "late" ? "#c62828" : "#ef8f00", color: "#5a1010", weight: 2});
      }
      if (shape.ggPopup != null) {
        const line = el("p", {class: "gg-popup-state", text: say("buildingState", {incidents: open[code] || 0, due: v.due, overdue: v.overdue})});
        shape.setPopupContent(shape.ggPopup + line.outerHTML);
      }
    });
  }

  function drawIncidents() {
    if (!markers) { return; }
    markers.clearLayers();
    const now = Date.now() + skew;
    shown().forEach((f) => {
      if (!f.geometry) { return; }
      const p = f.properties;
      const due = nextDeadline(p);
      const soon = due && Date.parse(due) - now < SOON_MS;
      const c = f.geometry.coordinates;
      L.circleMarker([c[1], c[0]], {
        renderer: renderer, radius: 9, weight: p.overdue ? 4 : soon ? 3 : 1.5,
        color: p.overdue ? "#b71c1c" : soon ? "#ef6c00" : "#333",
        fillColor: STATUS_COLOURS[p.status] || "#999", fillOpacity: 0.95
      }).bindTooltip("#" + p.id + " · " + p.status_name + (p.overdue ? " · " + words.overdue : ""))
        .on("click", (e) => {
          L.DomEvent.stopPropagation(e);
          if (picking) { return; }
          openIncident(p.id);
        })
        .addTo(markers);
    });
  }

  function locateControl() {
    const control = L.control({position: "topright"});
    control.onAdd = () => {
      const bar = L.DomUtil.create("div", "leaflet-bar gg-locate");
      const button = L.DomUtil.create("a", "", bar);
      button.href = "#";
      button.setAttribute("role", "button");
      button.setAttribute("aria-label", words.locate);
      button.title = words.locate;
      button.textContent = "◎";
      L.DomEvent.on(button, "click", (e) => { L.DomEvent.preventDefault(e); L.DomEvent.stopPropagation(e); locate(true); });
      return bar;
    };
    control.addTo(map);
  }

  function legendControl() {
    const control = L.control({position: "bottomright"});
    control.onAdd = () => {
      const box = L.DomUtil.create("div", "gg-my-legend leaflet-control");
      [["late", "legendOverdue"], ["open", "legendOpen"]].forEach(([cls, key]) => {
        box.append(el("span", {class: "gg-lg gg-lg-" + cls, text: say(key)}));
      });
      return box;
    };
    control.addTo(map);
  }

  function locateMessage(text, kind) {
    const box = $("gg-locate-msg");
    box.hidden = false;
    box.textContent = text;
    box.className = "gg-locate-msg gg-lm-" + (kind || "info");
  }

  // The phone's position (WGS-84, as browsers give it); online, PostGIS says whether it
  // lies in the area (/my/where.json: the rule that decides which incidents are theirs).
  function locate(centre) {
    return new Promise((resolve) => {
      if (!navigator.geolocation) { locateMessage(say("noPosition", {reason: "—"}), "warn"); resolve(null); return; }
      locateMessage(say("locating"));
      navigator.geolocation.getCurrentPosition(async (pos) => {
        position = {lat: pos.coords.latitude, lon: pos.coords.longitude, accuracy: pos.coords.accuracy};
        if (map) {
          if (me) { me.remove(); }
          me = L.layerGroup([
            L.circle([position.lat, position.lon], {radius: Math.min(position.accuracy || 0, 500), color: "#1565c0", weight: 1, fillOpacity: 0.1, interactive: false}),
            L.circleMarker([position.lat, position.lon], {radius: 8, color: "#fff", weight: 3, fillColor: "#1565c0", fillOpacity: 1, interactive: false})
          ]).addTo(map);
          // Brought into view if it is not; the area stays as framed otherwise.
          if (centre && !map.getBounds().contains([position.lat, position.lon])) {
            map.setView([position.lat, position.lon], Math.max(map.getZoom(), 16));
          }
        }
        resolve(position);
        await checkInside(position);
        if (sortBy === "near") { renderIncidents(); }
      }, (err) => {
        locateMessage(say("noPosition", {reason: err.message}), "warn");
        resolve(null);
      }, {enableHighAccuracy: true, timeout: 20000, maximumAge: 30000});
    });
  }

  async function checkInside(at) {
    try {
      const answer = await read(`${urls.where}?lon=${at.lon.toFixed(7)}&lat=${at.lat.toFixed(7)}`);
      if (answer.inside) { locateMessage(say("inside", {place: answer.place}), "in"); }
      else if (answer.near) { locateMessage(say("near", {distance: answer.distance_m}), "warn"); }
      else { locateMessage(say("outside"), "out"); }
    } catch (e) {
      locateMessage(say("cannotCheck"), "warn");
    }
  }

  // -- incidents --------------------------------------------------------------------

  function nextDeadline(p) {
    if (p.status === "received" || p.status === "registered" || p.status === "dispatched") {
      return p.response_due_at || p.resolution_due_at;
    }
    return p.resolution_due_at;
  }

  async function loadIncidents() {
    const params = new URLSearchParams();
    DATA.openStatuses.forEach((s) => params.append("status", s));
    params.set("limit", "500");
    params.set("lang", DATA.lang);
    try {
      const doc = await read(urls.incidents + "?" + params.toString());
      incidents = doc.features;
    } catch (e) {
      if (e instanceof LoginNeeded) { loginNeeded = true; }
    }
    renderIncidents();
    drawIncidents();
    colourBuildings();
  }

  function shown() {
    return showAll ? incidents : incidents.filter((f) => DATA.assignedStatuses.indexOf(f.properties.status) >= 0);
  }

  function sorted() {
    const list = shown().slice();
    if (sortBy === "near" && position) {
      const d = (f) => (f.geometry ? metres(position, {lon: f.geometry.coordinates[0], lat: f.geometry.coordinates[1]}) : Infinity);
      return list.sort((a, b) => d(a) - d(b));
    }
    const due = (f) => Date.parse(nextDeadline(f.properties) || "") || Infinity;
    return list.sort((a, b) => (!!b.properties.overdue - !!a.properties.overdue) || due(a) - due(b) || a.id - b.id);
  }

  function pendingMoves(id) {
    return entries.filter((e) => e.kind === "move" && e.incidentId === id && (e.status === "pending" || e.status === "sending"));
  }

  function renderIncidents() {
    const list = $("gg-incidents");
    const assigned = incidents.filter((f) => DATA.assignedStatuses.indexOf(f.properties.status) >= 0);
    $("gg-n-incidents").textContent = assigned.length ? String(assigned.length) : "";
    if (!shown().length) {
      const text = incidents.length ? say("noneAssigned", {n: incidents.length}) : say("none");
      list.replaceChildren(el("li", {class: "gg-empty", text: text}));
      return;
    }
    list.replaceChildren(...sorted().map((f) => incidentCard(f)));
  }

  function incidentCard(f) {
    const p = f.properties;
    const due = nextDeadline(p);
    const soon = due && Date.parse(due) - (Date.now() + skew) < SOON_MS;
    const item = el("li", {class: "gg-card-i gg-incident" + (p.overdue ? " gg-is-late" : soon ? " gg-is-soon" : ""), "data-id": p.id}, [
      el("div", {class: "gg-line"}, [
        el("strong", {text: "#" + p.id + " " + (p.category_name || "—")}),
        el("span", {class: "gg-badge gg-st-" + p.status, text: p.status_name})
      ]),
      el("p", {class: "gg-where", text: [p.building, p.address].filter(Boolean).join(" · ") || p.grid_name || ""}),
      el("p", {class: "gg-due", text: countdown(due)})
    ]);
    if (position && f.geometry) {
      const d = metres(position, {lon: f.geometry.coordinates[0], lat: f.geometry.coordinates[1]});
      item.append(el("p", {class: "gg-away", text: say("away", {distance: distanceText(d)})}));
    }
    pendingMoves(p.id).forEach((e) => item.append(el("p", {class: "gg-q-inline", text: say("queuedMove", {action: e.label})})));
    const more = el("button", {type: "button", class: "gg-btn gg-btn-2", "aria-expanded": String(opened === p.id), text: say("more")});
    more.addEventListener("click", () => openIncident(opened === p.id ? null : p.id));
    item.append(el("div", {class: "gg-row"}, [...moveButtons(p), more]));
    if (opened === p.id) { item.append(incidentDetail(p)); }
    return item;
  }

  // The moves grid staff make (accept, report done) from this status; the server decides again.
  function moveButtons(p) {
    if (pendingMoves(p.id).length) { return []; }
    return DATA.moves.filter((m) => m.from.indexOf(p.status) >= 0).map((m) => {
      const button = el("button", {type: "button", class: "gg-btn gg-btn-main", "data-move": m.name, text: m.label});
      button.addEventListener("click", () => {
        const card = button.closest(".gg-incident");
        const note = card.querySelector("textarea[name=note]");
        delete drafts[p.id];  // the note goes with the move
        enqueue({kind: "move", incidentId: p.id, action: m.name, from: p.status, label: m.label, note: note ? note.value.trim() : ""});
      });
      return button;
    });
  }

  function incidentDetail(p) {
    const box = el("div", {class: "gg-detail"});
    const note = el("textarea", {name: "note", rows: "2", maxlength: "2000"});
    note.value = drafts[p.id] || "";
    note.addEventListener("input", () => { drafts[p.id] = note.value; });
    box.append(el("label", {text: say("note")}, [note]));
    // A note on its own (处置进展): into the history, the status unchanged.
    const addNote = el("button", {type: "button", class: "gg-btn gg-btn-2", "data-note": "add", text: say("addNote")});
    const noteHint = el("p", {class: "gg-hint", hidden: true, text: say("needNote")});
    addNote.addEventListener("click", () => {
      const text = note.value.trim();
      noteHint.hidden = !!text;
      if (!text) { note.focus(); return; }
      delete drafts[p.id];
      enqueue({kind: "note", incidentId: p.id, text: text});
    });
    box.append(el("div", {class: "gg-row"}, [addNote]), noteHint);
    // One tap: the button opens the camera or the gallery, and the photo chosen is queued.
    // The native input stays hidden (its button speaks the browser's language, not ours).
    const file = el("input", {type: "file", class: "gg-file-input", accept: "image/jpeg,image/png", capture: "environment", "aria-label": say("photo")});
    const add = el("button", {type: "button", class: "gg-btn gg-btn-2", text: say("addPhoto")});
    add.addEventListener("click", () => file.click());
    file.addEventListener("change", async () => {
      if (!file.files.length) { return; }
      const photo = await shrink(file.files[0]);
      file.value = "";
      enqueue({kind: "photo", incidentId: p.id, photo: photo});
    });
    box.append(el("div", {class: "gg-row"}, [file, add]));
    const more = el("div", {class: "gg-more", text: "…"});
    box.append(more);
    read(fill(urls.incident, p.id)).then((d) => {
      // The server decides again; this only spares a note it would refuse (another team's).
      if (d.may_note === false) { addNote.hidden = true; }
      const team = (d.routing && d.routing.team) || [];
      more.replaceChildren(
        el("p", {class: "gg-description", text: d.description || ""}),
        el("p", {class: "gg-hint", text: say("team") + ": " + team.map((m) => m.name).join("、")}),
        el("p", {class: "gg-subhead", text: say("history")}),
        el("ol", {class: "gg-history"}, d.history.slice(-5).map((h) =>
          el("li", {text: timeFormat.format(new Date(h.at)) + " " + h.action_name + (h.note ? ": " + h.note : "")})))
      );
    }).catch(() => more.replaceChildren(el("p", {class: "gg-hint", text: say("notSaved")})));
    return box;
  }

  function openIncident(id) {
    opened = id;
    showTab("incidents");
    renderIncidents();
    if (id != null) {
      const card = document.querySelector(`.gg-incident[data-id="${id}"]`);
      if (card) { card.scrollIntoView({block: "nearest"}); }
    }
  }

  // A phone photo is often 4–8 MB: re-encoded at 1600 px it is a few hundred KB, which a
  // weak network can carry (the server re-encodes it anyway, dropping EXIF).
  async function shrink(file) {
    try {
      const bitmap = await createImageBitmap(file);
      const scale = Math.min(1, 1600 / Math.max(bitmap.width, bitmap.height));
      if (scale === 1 && file.size < 600 * 1024) { return file; }
      const canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      return await new Promise((resolve) => canvas.toBlob((b) => resolve(b || file), "image/jpeg", 0.85));
    } catch (e) {
      return file;
    }
  }

  // -- reporting a new incident -----------------------------------------------------

  const reportForm = $("gg-report-form");
  let reportAt = null;

  function setReportPlace(at) {
    reportAt = at;
    if (map) {
      if (pick) { pick.setLatLng([at.lat, at.lon]); } else {
        pick = L.circleMarker([at.lat, at.lon], {radius: 10, color: "#b71c1c", weight: 3, fillColor: "#fff", fillOpacity: 0.9, interactive: false}).addTo(map);
      }
    }
    $("gg-report-where").textContent = say("placeSet", {lat: at.lat.toFixed(6), lon: at.lon.toFixed(6)});
    checkInside(at);
  }

  $("gg-here").addEventListener("click", async () => {
    const at = await locate(true);
    if (at) { setReportPlace(at); }
  });

  $("gg-pick").addEventListener("click", () => {
    picking = !picking;
    $("gg-pick").setAttribute("aria-pressed", String(picking));
    if (picking) { $("gg-report-where").textContent = say("pickHint"); }
  });

  if (map) {
    map.on("click", (e) => {
      if (!picking) { return; }
      map.closePopup();
      picking = false;
      $("gg-pick").setAttribute("aria-pressed", "false");
      setReportPlace({lat: e.latlng.lat, lon: e.latlng.lng});
    });
  }

  reportForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!reportAt) { $("gg-report-where").textContent = say("needPlace"); return; }
    const fields = new FormData(reportForm);
    const file = reportForm.elements.photo.files[0];
    const entry = {
      kind: "report",
      body: {
        channel: "visit",
        lon: Number(reportAt.lon.toFixed(7)),
        lat: Number(reportAt.lat.toFixed(7)),
        crs: "EPSG:4326",
        category: fields.get("category") || null,
        description: String(fields.get("description") || ""),
        reported_at: iso(Date.now() + skew)
      },
      photo: file ? await shrink(file) : null
    };
    reportForm.reset();
    $("gg-r-photo-name").textContent = "";
    reportAt = null;
    if (pick) { pick.remove(); pick = null; }
    await enqueue(entry);
    showTab("incidents");
  });

  // -- households and visits --------------------------------------------------------

  async function loadHouseholds() {
    try {
      households = await read(urls.households);
    } catch (e) {
      if (e instanceof LoginNeeded) { loginNeeded = true; }
    }
    renderDue();
    colourBuildings();
  }

  function householdLabel(h) {
    return [h.building.name || h.building.code, h.unit ? say("unit", {number: h.unit.number}) : null, h.room]
      .filter(Boolean).join(" ");
  }

  function renderDue() {
    const list = $("gg-due");
    const due = households.due || [];
    const overdue = due.filter((h) => h.status === "overdue").length;
    $("gg-n-visits").textContent = due.length ? String(due.length) : "";
    $("gg-due-summary").textContent = due.length ? say("dueSummary", {due: due.length - overdue, overdue: overdue}) : say("noDue");
    list.replaceChildren(...due.map((h) => {
      const queued = entries.some((e) => e.kind === "visit" && e.body.household_id === h.id && e.status !== "refused" && e.status !== "done");
      const flags = h.flags.map((f) => el("span", {class: "gg-flag gg-flag-" + f.code, text: DATA.lang === "en" ? f.en : f.zh}));
      const when = h.status === "overdue" ? say("overdueDays", {days: h.overdue_days})
        : say("dueToday", {date: dateFormat.format(new Date(h.due_on + "T12:00:00Z"))});
      const last = h.last_visit_at ? say("lastVisit", {date: dateFormat.format(new Date(h.last_visit_at))}) : say("never");
      const item = el("li", {class: "gg-card-i gg-household" + (h.status === "overdue" ? " gg-is-late" : ""), "data-id": h.id}, [
        el("div", {class: "gg-line"}, [el("strong", {text: householdLabel(h)}), el("span", {class: "gg-flags"}, flags)]),
        el("p", {class: "gg-where"}, [
          document.createTextNode((h.head_name || "—") + " "),
          h.phone && !h.masked ? el("a", {class: "gg-call", href: "tel:" + h.phone, text: h.phone}) : document.createTextNode(h.phone || "")
        ]),
        el("p", {class: "gg-due", text: when + " · " + last})
      ]);
      if (queued) {
        item.append(el("p", {class: "gg-q-inline", text: say("visitQueued")}));
      } else {
        const log = el("button", {type: "button", class: "gg-btn gg-btn-main", text: say("logVisit")});
        log.addEventListener("click", () => openVisit(h));
        item.append(el("div", {class: "gg-row"}, [log]));
      }
      return item;
    }));
  }

  const visitForm = $("gg-visit-form");

  function openVisit(h) {
    visitForm.reset();
    visitForm.elements.household_id.value = String(h.id);
    visitForm.dataset.label = householdLabel(h);
    $("gg-visit-title").textContent = say("visitFor", {household: householdLabel(h)});
    visitForm.hidden = false;
    visitForm.scrollIntoView({block: "start"});
    visitForm.elements.findings.focus();
  }

  $("gg-visit-cancel").addEventListener("click", () => { visitForm.hidden = true; });

  visitForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = visitForm.elements;
    if (!f.findings.value.trim()) { f.findings.setCustomValidity(say("needFindings")); f.findings.reportValidity(); return; }
    const body = {
      household_id: Number(f.household_id.value),
      // The moment it was logged (or the time chosen), fixed now: it is the visit's identity.
      visited_at: f.visited_at.value ? isoFromInput(f.visited_at.value) : iso(Date.now() + skew),
      findings: f.findings.value.trim(),
      follow_up: f.follow_up.value.trim() || null,
      category: f.follow_up.value.trim() ? f.category.value || null : null
    };
    visitForm.hidden = true;
    await enqueue({kind: "visit", body: body, label: visitForm.dataset.label});
  });

  visitForm.elements.findings.addEventListener("input", (e) => e.target.setCustomValidity(""));

  // -- rounds -----------------------------------------------------------------------

  const roundForm = $("gg-round-form");
  $("gg-o-add").addEventListener("click", () => {
    const row = $("gg-finding").content.firstElementChild.cloneNode(true);
    row.querySelector(".gg-remove").addEventListener("click", () => row.remove());
    $("gg-o-incidents").append(row);
  });

  roundForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = roundForm.elements;
    const body = {
      kind: f.kind.value,
      started_at: f.started_at.value ? isoFromInput(f.started_at.value) : iso(Date.now() + skew),
      participants: Array.from(roundForm.querySelectorAll("input[name=participants]:checked")).map((c) => Number(c.value)),
      others: f.others.value.trim() || null,
      findings: f.findings.value.trim(),
      incidents: Array.from($("gg-o-incidents").querySelectorAll(".gg-finding")).map((row) => ({
        description: row.querySelector("textarea").value.trim(),
        category: row.querySelector("select").value || null
      })).filter((x) => x.description)
    };
    const [kind, id] = f.place.value.split(":");
    if (kind === "here") {
      const at = position || (await locate(false));
      if (!at) { return; }
      body.lon = Number(at.lon.toFixed(7));
      body.lat = Number(at.lat.toFixed(7));
    } else {
      body[kind + "_id"] = Number(id);
    }
    const label = f.kind.options[f.kind.selectedIndex].text;
    roundForm.reset();
    $("gg-o-incidents").replaceChildren();
    await enqueue({kind: "round", body: body, label: label});
  });

  // -- tabs -------------------------------------------------------------------------

  function showTab(name) {
    document.querySelectorAll(".gg-tabs [role=tab]").forEach((tab) => {
      const on = tab.id === "gg-t-" + name;
      tab.setAttribute("aria-selected", String(on));
      $(tab.getAttribute("aria-controls")).hidden = !on;
    });
  }

  document.querySelectorAll(".gg-tabs [role=tab]").forEach((tab) => {
    tab.addEventListener("click", () => showTab(tab.id.replace("gg-t-", "")));
  });

  document.querySelectorAll(".gg-sort [data-show]").forEach((chip) => {
    chip.addEventListener("click", () => {
      showAll = chip.dataset.show === "all";
      document.querySelectorAll(".gg-sort [data-show]").forEach((c) => c.setAttribute("aria-pressed", String(c === chip)));
      renderIncidents();
      drawIncidents();
    });
  });
  document.querySelectorAll(".gg-sort [data-sort]").forEach((chip) => {
    chip.addEventListener("click", async () => {
      sortBy = chip.dataset.sort;
      document.querySelectorAll(".gg-sort [data-sort]").forEach((c) => c.setAttribute("aria-pressed", String(c === chip)));
      if (sortBy === "near" && !position) { await locate(false); }
      renderIncidents();
    });
  });

  // -- the service worker and logging out -------------------------------------------

  // After the first screen (the worker's install fetches what it keeps): service workers
  // need HTTPS or localhost; on plain HTTP the page works, online only.
  if ("serviceWorker" in navigator && window.isSecureContext) {
    window.addEventListener("load", () => {
      navigator.serviceWorker.register(urls.sw, {scope: urls.page}).then(() => navigator.serviceWorker.ready)
        .then((registration) => {
          // The first visit was not the worker's to save: have it keep this page and its data now.
          const keep = [location.pathname + location.search, incidentsUrl(), urls.households];
          (navigator.serviceWorker.controller || registration.active).postMessage({keep: keep});
        })
        .catch(() => { /* no offline copy: the page still works online */ });
    });
  }

  const reportPhoto = $("gg-r-photo");
  if (reportPhoto) {
    reportPhoto.addEventListener("change", () => {
      const chosen = reportPhoto.files[0];
      $("gg-r-photo-name").textContent = chosen ? say("photoChosen", {name: chosen.name}) : "";
    });
  }

  function incidentsUrl() {
    const params = new URLSearchParams();
    DATA.openStatuses.forEach((s) => params.append("status", s));
    params.set("limit", "500");
    params.set("lang", DATA.lang);
    return urls.incidents + "?" + params.toString();
  }

  // What this account saw leaves the phone with it; what it queued waits for it to return.
  document.querySelectorAll(".gg-logout").forEach((form) => {
    form.addEventListener("submit", (e) => {
      if (form.dataset.forgotten) { return; }
      e.preventDefault();
      const done = () => { form.dataset.forgotten = "1"; form.submit(); };
      if (!window.caches) { done(); return; }
      caches.delete("gridgis-my-data").then(done, done);
    });
  });

  window.addEventListener("online", () => { showNet(); flush(); loadIncidents(); loadHouseholds(); });
  window.addEventListener("offline", showNet);

  // -- start ------------------------------------------------------------------------

  if (map) {
    const bounds = areaBounds();
    if (bounds.isValid()) { map.fitBounds(bounds, {padding: [12, 12]}); }
    locateControl();
    legendControl();
  }
  setInterval(() => document.querySelectorAll(".gg-incident").length && renderIncidents(), 60000);
  store.all().then((saved) => {
    const hour = 3600 * 1000;
    entries = saved.filter((e) => !(e.status === "done" && Date.now() - e.created > hour));
    saved.filter((e) => entries.indexOf(e) < 0).forEach((e) => store.remove(e.id));
    entries.forEach((e) => { if (e.status === "sending") { e.status = "pending"; } });
    renderQueue();
    flush();
  }).catch(() => renderQueue());
  loadIncidents();
  loadHouseholds();
  refreshToken().catch(() => { /* offline: the phone's clock until the network is back */ });
  // The test and other scripts can see the state.
  window.gridgis.my = {entries: () => entries, flush: flush, incidents: () => incidents, households: () => households};
})();
