// The desa profile form: a preview of the chosen logo, and the number format built from its
// parts with the next letter number as an example.
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

  // The number format's parts: only the input a part needs is shown, and the example follows
  // every change, asked of the same API the page saves through. Without script the page
  // works as well: every input is shown and "Perbarui contoh nomor" asks the server.
  var builder = document.getElementById("format-nomor");
  var example = document.getElementById("contoh-nomor");
  if (!builder || !example) { return; }
  var url = builder.getAttribute("data-contoh-url");
  var rows = builder.querySelectorAll("[data-bagian]");
  var placeholders = ["kode", "seq", "desa_code", "bulan_romawi", "bulan", "tahun", "jenis"];
  var timer = null;
  var asked = 0;

  function field(row, role) { return row.querySelector("[data-peran='" + role + "']"); }

  function showInputs(row) {
    var kind = field(row, "jenis").value;
    row.querySelector("[data-untuk='teks']").hidden = kind !== "teks";
    row.querySelector("[data-untuk='seq']").hidden = kind !== "seq";
  }

  // The same string services/verification/number_parts.format_of makes.
  function format() {
    var out = "";
    for (var i = 0; i < rows.length; i++) {
      var kind = field(rows[i], "jenis").value;
      if (kind === "seq") {
        var digits = parseInt(field(rows[i], "angka").value, 10);
        out += digits > 1 ? "{seq:0" + digits + "d}" : "{seq}";
      } else if (placeholders.indexOf(kind) >= 0) {
        out += "{" + kind + "}";
      } else if (kind === "teks") {
        out += field(rows[i], "teks").value.replace(/\{/g, "{{").replace(/\}/g, "}}");
      } else {
        out += kind;
      }
    }
    return out;
  }

  // As number_parts.in_words: a refusal names the parts as the builder does.
  var words = { kode: "Kode klasifikasi surat", seq: "Nomor urut surat", desa_code: "Kode desa",
    bulan_romawi: "Bulan Romawi", bulan: "Bulan (angka)", tahun: "Tahun", jenis: "Jenis surat" };
  function inWords(text) {
    return text.replace(/\{(\w+)\}/g, function (all, name) {
      return words[name] ? "bagian " + words[name] : all;
    });
  }

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
    fetch(url + "?format=" + encodeURIComponent(format()), {
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (r) {
      return r.ok ? r.json() : Promise.reject(r.status);
    }).then(function (body) {
      if (mine !== asked) { return; }
      if (body.error) { show(inWords(body.error), "", true); }
      else { show("Contoh nomor berikutnya: ", body.example, false); }
    }).catch(function () {
      if (mine === asked) { show("Contoh nomor tidak dapat dimuat saat ini.", "", true); }
    });
  }

  function changed(event) {
    var row = event.target.closest("[data-bagian]");
    if (row) { showInputs(row); }
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(ask, 250);
  }

  for (var i = 0; i < rows.length; i++) { showInputs(rows[i]); }
  builder.addEventListener("input", changed);
  builder.addEventListener("change", changed);
})();
