/* Keeps the new-application form as a draft on this phone (localStorage, one per letter type)
   while the resident types, restores it on the next visit, and keeps it when sending fails
   because the phone is offline. The form has no NIK; the CSRF token is never saved. The draft
   is forgotten after the application is created (static/pwa.js, on the next page). */
(function () {
  "use strict";
  var form = document.querySelector("form[data-draf]");
  if (!form) { return; }
  var key = "smartdesa:draf:" + form.getAttribute("data-draf");
  var notice = document.getElementById("draf-pesan");

  function show(text, kind) {
    if (!notice) { return; }
    notice.textContent = text;
    notice.className = "pesan pesan-" + kind;
    notice.setAttribute("role", kind === "galat" ? "alert" : "status");
  }

  function inputs() {
    return Array.prototype.filter.call(form.elements, function (el) {
      return el.name && el.name !== "csrf_token" && el.type !== "hidden" &&
        el.type !== "submit" && el.type !== "file";
    });
  }

  function read() {
    try {
      var saved = JSON.parse(window.localStorage.getItem(key) || "null");
      return saved && typeof saved === "object" ? saved : null;
    } catch (e) { return null; }
  }

  function save() {
    var values = {};
    var any = false;
    inputs().forEach(function (el) {
      values[el.name] = el.value;
      if (el.value) { any = true; }
    });
    try {
      if (any) { window.localStorage.setItem(key, JSON.stringify(values)); }
      else { window.localStorage.removeItem(key); }
    } catch (e) { /* storage full or refused: the form still works */ }
  }

  // A form the server sent back with errors already holds what was typed.
  var saved = form.hasAttribute("data-draf-dari-server") ? null : read();
  if (saved) {
    var restored = false;
    inputs().forEach(function (el) {
      if (typeof saved[el.name] === "string" && saved[el.name] !== "" && !el.value) {
        el.value = saved[el.name];
        restored = true;
      }
    });
    if (restored) { show("Draf tersimpan dipulihkan.", "ok"); }
  }

  form.addEventListener("input", save);
  form.addEventListener("change", save);
  form.addEventListener("submit", function (event) {
    save();
    if (navigator.onLine === false) {
      event.preventDefault();
      show("Anda sedang luring; draf disimpan, kirim lagi saat tersambung.", "galat");
    }
  });
})();
