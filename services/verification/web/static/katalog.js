// The letter catalogue's editor (kabupaten) and a desa's wording: placeholders are put at the
// caret of the text last chosen (not only at the end of a block, as the page does without
// script), and the preview follows the text: a short while after typing stops the draft is
// saved (the same post as "Simpan draf") and the preview section is taken from the answer.
(function () {
  "use strict";

  var form = document.querySelector("[data-editor-katalog]");
  if (!form) { return; }
  var last = null;

  form.addEventListener("focusin", function (event) {
    if (event.target.hasAttribute && event.target.hasAttribute("data-sisip")) {
      last = event.target;
    }
  });

  function insert(name) {
    if (!last) { return false; }
    var token = "{" + name + "}";
    var start = last.selectionStart, end = last.selectionEnd;
    if (typeof start !== "number") { start = end = last.value.length; }
    last.value = last.value.slice(0, start) + token + last.value.slice(end);
    last.focus();
    last.selectionStart = last.selectionEnd = start + token.length;
    changed();
    return true;
  }

  var palette = form.querySelector("[data-palet]");
  if (palette) {
    palette.hidden = false;
    palette.addEventListener("click", function (event) {
      var button = event.target.closest("[data-isian]");
      if (button) { insert(button.getAttribute("data-isian")); }
    });
  }
  var insertButton = form.querySelector("[data-sisip-tombol]");
  var choice = document.getElementById("f-sisip_isian");
  if (insertButton && choice) {
    insertButton.addEventListener("click", function (event) {
      if (insert(choice.value)) { event.preventDefault(); }
    });
  }

  var timer = null;
  var asked = 0;
  function changed() {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(refresh, 1200);
  }

  function refresh() {
    var body = new FormData(form);
    body.set("aksi", "simpan");
    var ask = ++asked;
    fetch(form.action, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        if (ask !== asked) { return; }
        var discard = form.querySelector("[data-buang]");
        if (discard) { discard.hidden = false; }  // there is a draft now
        var page = new DOMParser().parseFromString(html, "text/html");
        var fresh = page.querySelector(".pratinjau-surat");
        var shown = document.querySelector(".pratinjau-surat");
        if (fresh && shown) {
          var image = fresh.querySelector("[data-pratinjau]");
          if (image) { image.src = image.getAttribute("src") + "?t=" + Date.now(); }
          shown.replaceWith(fresh);
        }
      })
      .catch(function () { /* the page still saves with its own buttons */ });
  }

  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
})();
