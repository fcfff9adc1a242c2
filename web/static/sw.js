// The service worker of /my (served as /my/sw.js, scope /my): the page opens and reads
// without a network.
//
// - The scripts, styles and Leaflet are kept at install, in a cache named by the
//   version (a digest of those files, filled in by the server): cache first.
// - The page /my and the data it reads (/my/*.json, /api/v1/incidents...) go to the
//   network first; each good answer is kept, stamped with when (X-Gridgis-Saved-At).
//   Without a network, or when it has not answered in WAIT_MS, the kept copy answers.
// - Never kept: the CSRF token, "am I in my area", photos (private), writes.
// - A session that has ended (401, or the page sent to /login) empties the data cache:
//   what one account saw is not shown to whoever picks up the phone next.
"use strict";

const VERSION = "__GRIDGIS_VERSION__";
const ASSETS = "__GRIDGIS_ASSETS__";
const STATIC_CACHE = "gridgis-my-static-" + VERSION;
const DATA_CACHE = "gridgis-my-data";
const WAIT_MS = 8000;
const PAGE = self.registration.scope.replace(self.location.origin, "").replace(/\/$/, "") || "/my";
const NEVER = [/^\/my\/token\.json$/, /^\/my\/where\.json$/, /^\/my\/sw\.js$/, /^\/api\/v1\/photos\//];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(STATIC_CACHE).then((cache) => cache.addAll(ASSETS)).then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys
        .filter((k) => k.startsWith("gridgis-my-static-") && k !== STATIC_CACHE)
        .map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

// The page asks to keep what it loaded before this worker controlled it.
self.addEventListener("message", (event) => {
  const keep = (event.data && event.data.keep) || [];
  event.waitUntil(Promise.all(keep.map((url) => {
    const request = new Request(url, {credentials: "same-origin", headers: {Accept: isPage(new URL(url, self.location.origin)) ? "text/html" : "application/json"}});
    return fromNetwork(request).catch(() => null);
  })));
});

function isPage(url) {
  return url.pathname === PAGE;
}

function isData(url) {
  return (url.pathname.startsWith(PAGE + "/") && url.pathname.endsWith(".json")) ||
    url.pathname.startsWith("/api/v1/incidents");
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") { return; }
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || NEVER.some((re) => re.test(url.pathname))) { return; }
  if (ASSETS.indexOf(url.pathname) >= 0) {
    event.respondWith(caches.match(request, {ignoreVary: true}).then((hit) => hit || fetch(request)));
  } else if ((request.mode === "navigate" && isPage(url)) || isData(url)) {
    event.respondWith(networkFirst(request, isPage(url)));
  }
});

async function fromNetwork(request) {
  const response = await fetch(request);
  if (response.type === "opaqueredirect" || response.status === 401 ||
      (response.redirected && new URL(response.url).pathname === "/login")) {
    await caches.delete(DATA_CACHE);
    return response;
  }
  if (response.ok && !response.redirected) {
    const cache = await caches.open(DATA_CACHE);
    await cache.put(request.url, await stamped(response.clone()));
  }
  return response;
}

// A copy to keep, saying when it was saved; the body is kept decoded.
async function stamped(response) {
  const headers = new Headers(response.headers);
  headers.set("X-Gridgis-Saved-At", new Date().toISOString());
  headers.delete("Content-Encoding");
  headers.delete("Content-Length");
  return new Response(await response.blob(), {status: response.status, statusText: response.statusText, headers: headers});
}

async function saved(request, page) {
  const cache = await caches.open(DATA_CACHE);
  return (await cache.match(request.url, {ignoreVary: true})) ||
    (page ? cache.match(request.url, {ignoreVary: true, ignoreSearch: true}) : undefined);
}

async function networkFirst(request, page) {
  const network = fromNetwork(request);
  // A weak network: after WAIT_MS a kept copy answers (the network's answer is still kept).
  const late = new Promise((resolve) => setTimeout(async () => {
    const hit = await saved(request, page);
    if (hit) { resolve(hit); }
  }, WAIT_MS));
  try {
    return await Promise.race([network, late]);
  } catch (error) {
    const hit = await saved(request, page);
    if (hit) { return hit; }
    if (page) { throw error; }
    return new Response(JSON.stringify({error: {status: 503, message: "Offline, and not saved on this phone."}}),
      {status: 503, headers: {"Content-Type": "application/json"}});
  }
}
