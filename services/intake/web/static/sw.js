/* Smart Desa portal's service worker (served at /sw.js, scope /). The app shell (stylesheet,
   scripts, icons, the offline page) is cached at install; pages go to the network first and
   fall back to their cached copy, then to the offline page. Only plain HTML pages are kept:
   never the API, downloads (no-store), or responses to form posts. Signing out, and signing
   in, empty the page cache, so the next person on a shared phone finds nothing. */
"use strict";
var VERSION = "v3"; // raise when the app shell changes
var SHELL = "smartdesa-kerangka-" + VERSION;
var PAGES = "smartdesa-halaman-" + VERSION;
var OFFLINE = "/luring";
var SHELL_FILES = [
  OFFLINE,
  "/static/umum/app.css",
  "/static/pwa.js",
  "/static/draf.js",
  "/static/ikon.svg",
  "/static/ikon-192.png"
];

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(SHELL).then(function (cache) { return cache.addAll(SHELL_FILES); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (n) {
        return n !== SHELL && n !== PAGES;
      }).map(function (n) { return caches.delete(n); }));
    }).then(function () { return self.clients.claim(); })
  );
});

function keepable(response) {
  var type = response.headers.get("content-type") || "";
  var control = response.headers.get("cache-control") || "";
  return response.ok && response.type === "basic" && !response.redirected &&
    type.indexOf("text/html") === 0 && control.indexOf("no-store") === -1;
}

function page(request) {
  return fetch(request).then(function (response) {
    if (keepable(response)) {
      var copy = response.clone();
      caches.open(PAGES).then(function (cache) { return cache.put(request, copy); });
    }
    return response;
  }).catch(function () {
    return caches.match(request, { cacheName: PAGES }).then(function (cached) {
      return cached || caches.match(OFFLINE);
    });
  });
}

function shellFile(request) {
  // Stale while revalidate: the cached copy at once, a fresh one for next time.
  return caches.open(SHELL).then(function (cache) {
    return cache.match(request).then(function (cached) {
      var fresh = fetch(request).then(function (response) {
        if (response.ok) { cache.put(request, response.clone()); }
        return response;
      });
      if (cached) {
        fresh.catch(function () {});
        return cached;
      }
      return fresh;
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname.indexOf("/api/") === 0) { return; }
  if (request.mode === "navigate") {
    if (request.method === "GET") {
      event.respondWith(page(request));
    } else if (url.pathname === "/keluar" || url.pathname === "/masuk/kode") {
      // Signing out, or someone signing in (the one before may never have signed out): the
      // pages kept so far are not theirs to see offline.
      event.respondWith(caches.delete(PAGES).then(function () { return fetch(request); }));
    } else {
      event.respondWith(fetch(request).catch(function () { return caches.match(OFFLINE); }));
    }
    return;
  }
  if (request.method === "GET" && SHELL_FILES.indexOf(url.pathname) !== -1) {
    event.respondWith(shellFile(request));
  }
});
