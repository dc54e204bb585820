/* Writes the day a date picker holds in words beside it ("15 Agustus 1990"), as the page
   does when it is rendered (_form.html's date_field). The picker itself shows the day as the
   phone's language does; the words are the same everywhere on the site. */
(function () {
  "use strict";
  var MONTHS = ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
    "September", "Oktober", "November", "Desember"];

  function words(iso) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
    if (!m) return "";
    return Number(m[3]) + " " + MONTHS[Number(m[2]) - 1] + " " + Number(m[1]);
  }

  function show(input) {
    var target = document.getElementById(input.getAttribute("data-tanggal-kata"));
    if (target && input.type === "date") target.textContent = words(input.value);
  }

  document.querySelectorAll("input[data-tanggal-kata]").forEach(function (input) {
    input.addEventListener("input", function () { show(input); });
    input.addEventListener("change", function () { show(input); });
    show(input);
  });
}());
