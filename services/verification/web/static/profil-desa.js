// The desa profile form: a preview of the chosen logo, and the next letter number as the
// number format is typed (asked of the same API the page saves through).
(function () {
  "use strict";

  var logo = document.getElementById("f-logo");
  var wrap = document.getElementById("pratinjau-logo-bungkus");
  var preview = document.getElementById("pratinjau-logo");
  var shown = null;
  if (logo && wrap && preview) {
    logo.addEventListener("change", function () {
      if (shown) { URL.revokeObjectURL(shown); shown = null; }
      var file = logo.files && logo.files[0];
      if (!file) { wrap.hidden = true; return; }
      shown = URL.createObjectURL(file);
      preview.src = shown;
      wrap.hidden = false;
    });
  }

  var format = document.getElementById("f-number_format");
  var example = document.getElementById("contoh-nomor");
  if (!format || !example) { return; }
  var url = format.getAttribute("data-contoh-url");
  var timer = null;
  var asked = 0;

  function show(text, value, failed) {
    example.textContent = text;
    if (value) {
      var strong = document.createElement("strong");
      strong.id = "contoh-nomor-isi";
      strong.textContent = value;
      example.appendChild(strong);
    }
    example.classList.toggle("galat", !!failed);
  }

  function ask() {
    var mine = ++asked;
    fetch(url + "?format=" + encodeURIComponent(format.value), {
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (r) {
      return r.ok ? r.json() : Promise.reject(r.status);
    }).then(function (body) {
      if (mine !== asked) { return; }
      if (body.error) { show(body.error, "", true); }
      else { show("Contoh nomor berikutnya: ", body.example, false); }
    }).catch(function () {
      if (mine === asked) { show("Contoh nomor tidak dapat dimuat saat ini.", "", true); }
    });
  }

  format.addEventListener("input", function () {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(ask, 300);
  });
})();
