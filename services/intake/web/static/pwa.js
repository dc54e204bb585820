/* Smart Desa portal, on every page: registers the service worker (offline pages, installable
   app), says so while the phone is offline, forgets a saved draft once the server says it
   became an application (cookie sd_draf_selesai, set when the draft is created), and forgets
   every saved draft when the resident signs out. */
(function () {
  "use strict";
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {});
  }

  var done = document.cookie.match(/(?:^|;\s*)sd_draf_selesai=([A-Z0-9_]+)/);
  if (done) {
    try {
      window.localStorage.removeItem("smartdesa:draf:" + done[1]);
    } catch (e) { /* storage unavailable: nothing was kept either */ }
    document.cookie = "sd_draf_selesai=; Max-Age=0; path=/; SameSite=Lax";
  }

  // Signing out forgets the drafts and unfinished uploads (file names) kept on this phone too
  // (the service worker empties its page cache): the next person on a shared phone must not
  // find what was typed or chosen.
  function forgetDrafts() {
    try {
      var store = window.localStorage;
      for (var i = store.length - 1; i >= 0; i--) {
        var name = store.key(i);
        if (name && (name.indexOf("smartdesa:draf:") === 0 || name.indexOf("sd-unggah:") === 0)) {
          store.removeItem(name);
        }
      }
    } catch (e) { /* storage unavailable: nothing was kept either */ }
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form && form.getAttribute && form.getAttribute("action") === "/keluar") { forgetDrafts(); }
  }, true);

  var banner = null;
  function offlineBanner() {
    var main = document.getElementById("isi");
    if (navigator.onLine !== false) {
      if (banner) { banner.remove(); banner = null; }
      return;
    }
    if (banner || !main || document.body.classList.contains("luring")) { return; }
    banner = document.createElement("p");
    banner.className = "pesan pesan-peringatan";
    banner.setAttribute("role", "status");
    banner.textContent = "Anda sedang luring. Yang tampil adalah salinan tersimpan di HP ini.";
    main.insertBefore(banner, main.firstChild);
  }
  window.addEventListener("online", offlineBanner);
  window.addEventListener("offline", offlineBanner);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", offlineBanner);
  } else {
    offlineBanner();
  }
})();
