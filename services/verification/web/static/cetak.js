// The receipt's print button: shown only where script runs (Ctrl+P works without it).
(function () {
  "use strict";
  var button = document.getElementById("cetak-tanda-terima");
  if (!button) return;
  button.hidden = false;
  button.addEventListener("click", function () { window.print(); });
})();
