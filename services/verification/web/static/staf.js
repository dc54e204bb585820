/* The staff client's behaviour (no inline script: the CSP forbids it).
   - Inbox: refreshes its list by itself when the desa's tasks change (server-sent events from
     /kotak-masuk/kejadian), announcing it to screen readers; j/k or arrows move, Enter opens.
   - Application page: images zoom on click; s/p/t for the decision; confirmation to approve.
   - Everywhere: ? shows or hides the list of shortcuts. No shortcut fires while typing. */
(function () {
  "use strict";

  function typing(event) {
    var el = event.target;
    if (!el || !el.tagName) return false;
    var tag = el.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || el.isContentEditable;
  }

  function modified(event) {
    return event.ctrlKey || event.metaKey || event.altKey;
  }

  var shortcuts = document.getElementById("pintasan");

  function toggleShortcuts() {
    if (!shortcuts) return;
    shortcuts.classList.toggle("disorot");
    shortcuts.scrollIntoView({ block: "nearest" });
    var heading = document.getElementById("judul-pintasan");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
  }

  /* ---------------- inbox ---------------- */
  var region = document.getElementById("wilayah-daftar");
  var announce = document.getElementById("pengumuman");
  var selected = -1;

  function items() {
    return region ? Array.prototype.slice.call(region.querySelectorAll("li.tugas")) : [];
  }

  function select(index) {
    var list = items();
    if (!list.length) return;
    index = Math.max(0, Math.min(list.length - 1, index));
    list.forEach(function (li, i) {
      li.classList.toggle("terpilih", i === index);
      if (i === index) li.setAttribute("aria-current", "true");
      else li.removeAttribute("aria-current");
    });
    selected = index;
    var link = list[index].querySelector("a");
    if (link) link.focus();
  }

  function selectedId() {
    var list = items();
    return selected >= 0 && list[selected] ? list[selected].getAttribute("data-id") : null;
  }

  function formBeingFilled() {
    var el = document.activeElement;
    return !!el && el !== document.body && typing({ target: el });
  }

  function refreshList() {
    var keep = selectedId();
    var hadFocus = !!region && region.contains(document.activeElement);
    var before = items().length;
    return fetch(window.location.href, {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
      cache: "no-store",
    })
      .then(function (response) {
        if (response.redirected || !response.ok) throw new Error("status " + response.status);
        return response.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("wilayah-daftar");
        if (!fresh || !region) return;
        region.innerHTML = fresh.innerHTML;
        var after = items().length;
        selected = -1;
        if (keep) {
          items().forEach(function (li, i) {
            if (li.getAttribute("data-id") === keep) {
              li.classList.add("terpilih");
              li.setAttribute("aria-current", "true");
              selected = i;
            }
          });
        }
        // Keyboard users keep their place: focus stays on the same task (or the first one).
        if (hadFocus) {
          var target = items()[selected >= 0 ? selected : 0];
          var link = target && target.querySelector("a");
          if (link) link.focus();
        }
        if (announce) {
          var text =
            after > before
              ? "Kotak masuk diperbarui: ada " + (after - before) + " tugas baru. Jumlah tugas: " + after + "."
              : "Kotak masuk diperbarui. Jumlah tugas: " + after + ".";
          announce.textContent = text;
        }
        region.setAttribute("data-diperbarui", String(Date.now()));
      })
      .catch(function () {
        // A failed refresh leaves the list as it was; the next notice tries again. With no
        // form being filled, a full reload is the fallback.
        if (!formBeingFilled()) window.location.reload();
      });
  }

  if (region && region.getAttribute("data-kejadian") && window.EventSource) {
    var source = new EventSource(region.getAttribute("data-kejadian"));
    var pending = null;
    source.addEventListener("tugas", function () {
      // Several notices in a burst make one refresh.
      if (pending) return;
      pending = window.setTimeout(function () {
        pending = null;
        refreshList();
      }, 300);
    });
    var connectedBefore = false;
    source.addEventListener("open", function () {
      region.setAttribute("data-tersambung", "ya");
      // Back after a dropped connection (or another replica took over): notices may have been
      // missed meanwhile, so fetch the list once.
      if (connectedBefore) refreshList();
      connectedBefore = true;
    });
    window.addEventListener("pagehide", function () {
      source.close();
    });
  }

  /* ---------------- application page ---------------- */
  var form = document.getElementById("form-keputusan");
  var reason = document.getElementById("f-alasan");
  var chosen = null;

  Array.prototype.forEach.call(document.querySelectorAll("button.lampiran-gambar"), function (button) {
    button.addEventListener("click", function () {
      var zoomed = button.classList.toggle("diperbesar");
      button.setAttribute("aria-pressed", zoomed ? "true" : "false");
    });
  });

  if (form) {
    Array.prototype.forEach.call(form.querySelectorAll("button[data-konfirmasi]"), function (button) {
      button.addEventListener("click", function (event) {
        if (!window.confirm(button.getAttribute("data-konfirmasi"))) event.preventDefault();
      });
    });
    if (reason) {
      reason.addEventListener("keydown", function (event) {
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && chosen) {
          event.preventDefault();
          chosen.click();
        }
      });
    }
  }

  function choose(id) {
    if (!form || !reason) return;
    var button = document.getElementById(id);
    if (!button) return;
    if (chosen) chosen.classList.remove("dipilih");
    chosen = button;
    button.classList.add("dipilih");
    reason.focus();
  }

  // Back with "reason required": the decision picked before stays picked, the reason focused.
  if (form && form.getAttribute("data-dipilih")) choose(form.getAttribute("data-dipilih"));

  /* ---------------- keys ---------------- */
  document.addEventListener("keydown", function (event) {
    if (typing(event) || modified(event) || event.defaultPrevented) return;
    var key = event.key;
    if (key === "?") {
      event.preventDefault();
      toggleShortcuts();
      return;
    }
    if (region) {
      if (key === "j" || key === "ArrowDown") {
        event.preventDefault();
        select(selected + 1);
      } else if (key === "k" || key === "ArrowUp") {
        event.preventDefault();
        select(selected < 0 ? 0 : selected - 1);
      } else if (key === "Enter" && selected >= 0) {
        var link = items()[selected] && items()[selected].querySelector("a");
        if (link && document.activeElement !== link) {
          event.preventDefault();
          link.click();
        }
      }
      return;
    }
    if (key === "u" && !region && document.body.classList.contains("halaman-permohonan")) {
      event.preventDefault();
      window.location.href = "/kotak-masuk";
      return;
    }
    if (form) {
      if (key === "s") {
        event.preventDefault();
        var approve = document.getElementById("tombol-setujui");
        if (approve) approve.click();
      } else if (key === "p") {
        event.preventDefault();
        choose("tombol-perbaikan");
      } else if (key === "t") {
        event.preventDefault();
        choose("tombol-tolak");
      }
    }
  });
})();
