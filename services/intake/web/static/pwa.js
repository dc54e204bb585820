/* Smart Desa portal, on every page: registers the service worker (offline pages, installable
   app) and forgets a saved draft once the server says it became an application. */
(function () {
  "use strict";
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {});
  }
  var done = document.cookie.match(/(?:^|;\s*)sd_draf_selesai=([A-Z0-9_]+)/);
  if (done) {
    try {
      window.localStorage.removeItem("smartdesa:draf:" + done[1]);
    } catch (e) { /* storage unavailable: nothing kept either */ }
    document.cookie = "sd_draf_selesai=; Max-Age=0; path=/; SameSite=Lax";
  }
})();
