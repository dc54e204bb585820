/* Smart Desa portal, on every page: registers the service worker (offline pages, installable
   app), says so while the phone is offline, and forgets a saved draft once the server says it
   became an application (cookie sd_draf_selesai, set when the draft is created). */
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
