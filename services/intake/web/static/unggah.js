/* Resumable uploads of syarat documents on /permohonan/{id}.
 *
 * Progressive enhancement: without this script every syarat is a plain multipart form. With
 * it, a chosen file (the phone offers its camera from the same control) is shown beside the
 * control (the photo small, or the file's name) and sent in chunks to intake's resumable
 * upload API (POST /api/v1/applications/{id}/uploads, then PUT /api/v1/uploads/{upload_id}
 * with Upload-Offset), with a progress bar and a politely announced text. On a network error
 * it waits (1 s, 2 s, 4 s … up to 30 s), asks the server where it stands (HEAD) and carries
 * on from there. The upload id is kept in localStorage, so after a reload choosing the same
 * file again resumes it. Writes carry the session's CSRF token (X-CSRF-Token, from the
 * page's <meta name="csrf-token">); the session cookie does the rest.
 */
(function () {
  "use strict";

  var meta = document.querySelector('meta[name="csrf-token"]');
  var CSRF = meta ? meta.getAttribute("content") : "";
  var STORE = "sd-unggah:";
  var MAX_RETRIES = 8;
  var MAX_DELAY_MS = 30000;
  var TYPES = { "image/jpeg": "foto JPEG", "image/png": "gambar PNG", "application/pdf": "PDF" };

  function size(bytes) {
    if (bytes < 1024 * 1024) return Math.max(1, Math.round(bytes / 1024)) + " KB";
    return (bytes / (1024 * 1024)).toFixed(1).replace(".", ",") + " MB";
  }

  function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  /* What identifies "the same file" chosen again after a reload: its size and a hash (FNV-1a)
     of its first and last 64 KB (names repeat on phones: image.jpg). */
  async function fingerprint(file) {
    var part = 64 * 1024;
    var pieces = [new Uint8Array(await file.slice(0, part).arrayBuffer())];
    if (file.size > part) pieces.push(new Uint8Array(await file.slice(Math.max(part, file.size - part)).arrayBuffer()));
    var hash = 0x811c9dc5;
    pieces.forEach(function (bytes) {
      for (var i = 0; i < bytes.length; i++) {
        hash ^= bytes[i];
        hash = Math.imul(hash, 0x01000193) >>> 0;
      }
    });
    return file.size + "-" + hash.toString(16);
  }

  async function storeKey(applicationId, kind, file) {
    return STORE + applicationId + ":" + kind + ":" + (await fingerprint(file)) + ":" + file.name;
  }

  function recall(key) {
    try { return JSON.parse(window.localStorage.getItem(key) || "null"); } catch (e) { return null; }
  }

  function remember(key, value) {
    try { window.localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* private mode */ }
  }

  function forget(key) {
    try { window.localStorage.removeItem(key); } catch (e) { /* private mode */ }
  }

  /* One HTTP request by XMLHttpRequest (fetch has no upload progress). Resolves with
     {status, body, offset}; status 0 means the network failed. */
  function send(method, url, options) {
    options = options || {};
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      xhr.open(method, url, true);
      xhr.withCredentials = true;
      xhr.timeout = options.timeout || 120000;
      var headers = options.headers || {};
      Object.keys(headers).forEach(function (name) { xhr.setRequestHeader(name, headers[name]); });
      if (options.onprogress && xhr.upload) {
        xhr.upload.onprogress = function (event) { options.onprogress(event.loaded); };
      }
      function done() {
        var body = null;
        try { body = xhr.responseText ? JSON.parse(xhr.responseText) : null; } catch (e) { body = null; }
        var offset = xhr.getResponseHeader("Upload-Offset");
        resolve({ status: xhr.status, body: body, offset: offset === null ? null : parseInt(offset, 10) });
      }
      xhr.onload = done;
      xhr.onerror = function () { resolve({ status: 0, body: null, offset: null }); };
      xhr.ontimeout = xhr.onerror;
      xhr.onabort = xhr.onerror;
      xhr.send(options.body === undefined ? null : options.body);
    });
  }

  function retryable(status) {
    return status === 0 || status === 408 || status === 429 || status >= 500;
  }

  function Refused(message) { this.message = message; }

  function refusal(response) {
    var detail = response.body && response.body.detail;
    return new Refused(detail || "Berkas tidak dapat diunggah. Silakan coba lagi.");
  }

  /* The form of one syarat and its progress display. */
  function Syarat(form) {
    this.form = form;
    this.applicationId = form.getAttribute("data-permohonan");
    this.kind = form.getAttribute("data-jenis");
    this.name = form.getAttribute("data-nama");
    this.fileInput = form.querySelector('input[type="file"][name="file"]');
    this.sent = form.querySelector(".unggah-terkirim");
    this.progressBox = form.querySelector(".unggah-kemajuan");
    this.progress = form.querySelector("progress");
    this.text = form.querySelector(".unggah-teks");
    this.badge = document.querySelector('[data-keadaan="' + this.kind + '"]');
    this.error = document.getElementById("galat-" + this.kind);
    this.lastSaid = -100;
    this.busy = false;
  }

  Syarat.prototype.say = function (message) {
    this.text.textContent = message;
  };

  Syarat.prototype.showError = function (message) {
    if (!this.error) {
      this.error = document.createElement("p");
      this.error.className = "galat";
      this.error.id = "galat-" + this.kind;
      this.error.setAttribute("role", "alert");
      this.form.parentNode.insertBefore(this.error, this.form);
    }
    this.error.hidden = false;
    this.error.textContent = message;
  };

  Syarat.prototype.clearError = function () {
    if (this.error) { this.error.hidden = true; this.error.textContent = ""; }
  };

  Syarat.prototype.show = function (sent, total, force) {
    var percent = total ? Math.min(100, Math.floor((sent * 100) / total)) : 0;
    this.progress.value = percent;
    this.progress.setAttribute("aria-valuetext", percent + "%");
    // The text is a polite live region: it changes in steps of 10%, not on every event.
    if (force || percent === 100 || percent - this.lastSaid >= 10) {
      this.lastSaid = percent;
      this.say(percent + "% \u2014 " + size(sent) + " dari " + size(total));
    }
  };

  /* What was chosen, beside the control: the photo small and the file's name. */
  Syarat.prototype.preview = function (file) {
    if (!this.sent) return;
    this.sent.textContent = "";
    if (/^image\/(jpeg|png)$/.test(file.type) && window.URL && URL.createObjectURL) {
      var img = document.createElement("img");
      img.className = "unggah-gambar";
      img.alt = "Foto yang dipilih: " + this.name;
      img.src = URL.createObjectURL(file);
      img.onload = function () { URL.revokeObjectURL(img.src); };
      this.sent.appendChild(img);
    }
    var name = document.createElement("p");
    name.className = "unggah-nama";
    name.textContent = file.name + " (" + size(file.size) + ")";
    this.sent.appendChild(name);
  };

  Syarat.prototype.setBusy = function (busy) {
    this.busy = busy;
    var inputs = this.form.querySelectorAll('input[type="file"]');
    for (var i = 0; i < inputs.length; i++) inputs[i].disabled = busy;
  };

  Syarat.prototype.finished = function (file, attachment) {
    this.show(file.size, file.size, true);
    this.say("100% \u2014 " + size(file.size) + " dari " + size(file.size) + ". Berkas terunggah.");
    if (this.badge) {
      var type = attachment ? (TYPES[attachment.content_type] || attachment.content_type) : "berkas";
      this.badge.textContent = "Sudah diunggah: " + type + ", " + size(file.size);
      // The name stored with the replaced file; the new file's name is shown below the control.
      var stored = document.querySelector('[data-nama-berkas="' + this.kind + '"]');
      if (stored) stored.parentNode.removeChild(stored);
      this.badge.className = "lencana lencana-ok";
    }
    var label = this.form.querySelector('label[for="' + this.fileInput.id + '"]');
    if (label) label.textContent = "Ganti berkas: " + this.name;
    this.fileInput.value = "";
  };

  /* Opens an upload, or finds the one this file started before (a reload, a dropped
     connection): {id, offset, chunk, complete, attachment}. */
  Syarat.prototype.openUpload = async function (file, key) {
    var known = recall(key);
    if (known && known.id) {
      var state = await send("GET", "/api/v1/uploads/" + encodeURIComponent(known.id));
      if (state.status === 200 && state.body) {
        return { id: known.id, offset: state.body.offset, chunk: state.body.chunk_size,
                 complete: state.body.complete, attachment: state.body.attachment };
      }
      if (retryable(state.status)) throw state;
      forget(key); // expired or gone: start again
    }
    var opened = await send("POST", "/api/v1/applications/" + encodeURIComponent(this.applicationId) + "/uploads", {
      headers: { "Content-Type": "application/json", "X-CSRF-Token": CSRF },
      body: JSON.stringify({ kind: this.kind, filename: file.name, size_bytes: file.size,
                             content_type: file.type || "" })
    });
    if (opened.status === 201 && opened.body) {
      remember(key, { id: opened.body.id, name: file.name });
      return { id: opened.body.id, offset: 0, chunk: opened.body.chunk_size, complete: false, attachment: null };
    }
    if (retryable(opened.status)) throw opened;
    throw refusal(opened);
  };

  /* Sends the chunks from the server's offset to the end; resolves with the attachment. */
  Syarat.prototype.sendChunks = async function (file, upload) {
    var self = this;
    while (!upload.complete) {
      var start = upload.offset;
      var end = Math.min(file.size, start + upload.chunk);
      var response = await send("PUT", "/api/v1/uploads/" + encodeURIComponent(upload.id), {
        headers: { "Content-Type": "application/offset+octet-stream", "Upload-Offset": String(start),
                   "X-CSRF-Token": CSRF },
        body: file.slice(start, end),
        onprogress: function (loaded) { self.show(start + Math.min(loaded, end - start), file.size); }
      });
      if (response.status === 200 || response.status === 201) {
        upload.offset = response.body.offset;
        upload.complete = response.body.complete;
        upload.attachment = response.body.attachment;
        self.show(upload.offset, file.size);
      } else if (response.status === 409 && response.body && typeof response.body.offset === "number") {
        upload.offset = response.body.offset; // the server is elsewhere: carry on from there
        if (upload.offset >= file.size) {
          var state = await send("GET", "/api/v1/uploads/" + encodeURIComponent(upload.id));
          if (state.status !== 200 || !state.body) throw state;
          upload.complete = state.body.complete;
          upload.attachment = state.body.attachment;
        }
      } else if (response.status === 404) {
        upload.gone = true;
        throw response;
      } else if (retryable(response.status)) {
        throw response;
      } else {
        throw refusal(response);
      }
    }
    return upload.attachment;
  };

  Syarat.prototype.upload = async function (file) {
    if (this.busy || !file) return;
    this.setBusy(true);
    this.clearError();
    this.preview(file);
    this.progressBox.hidden = false;
    this.lastSaid = -100;
    this.show(0, file.size, true);
    var upload = null;
    var failures = 0;
    try {
      var key = await storeKey(this.applicationId, this.kind, file);
      for (;;) {
        try {
          if (upload === null) upload = await this.openUpload(file, key);
          this.show(upload.offset, file.size, true);
          var attachment = upload.complete ? upload.attachment : await this.sendChunks(file, upload);
          forget(key);
          this.finished(file, attachment);
          return;
        } catch (problem) {
          if (problem instanceof Refused) {
            forget(key);
            this.say("");
            this.progressBox.hidden = true;
            this.showError(problem.message);
            return;
          }
          if (upload && upload.gone) { forget(key); upload = null; }
          failures += 1;
          if (failures > MAX_RETRIES) {
            this.showError("Koneksi terputus. Pilih berkas yang sama lagi untuk melanjutkan unggahan dari bagian terakhir.");
            return;
          }
          var delay = Math.min(MAX_DELAY_MS, 1000 * Math.pow(2, failures - 1));
          this.say("Koneksi terputus. Mencoba lagi dalam " + Math.round(delay / 1000) + " detik\u2026");
          await sleep(delay);
          if (upload) {
            // Where does the server stand? Carry on from there.
            var head = await send("HEAD", "/api/v1/uploads/" + encodeURIComponent(upload.id));
            if (head.status === 200 && head.offset !== null) {
              upload.offset = head.offset;
              this.show(upload.offset, file.size, true);
            } else if (head.status === 404) {
              forget(key);
              upload = null;
            }
          }
        }
      }
    } finally {
      this.setBusy(false);
    }
  };

  /* After a reload: say which uploads of this syarat wait for the same file to be chosen. */
  Syarat.prototype.mentionUnfinished = function () {
    var prefix = STORE + this.applicationId + ":" + this.kind + ":";
    try {
      for (var i = 0; i < window.localStorage.length; i++) {
        var key = window.localStorage.key(i);
        if (key && key.indexOf(prefix) === 0) {
          var known = recall(key);
          if (known && known.name) {
            this.say("Unggahan \u201c" + known.name + "\u201d belum selesai. Pilih berkas yang sama untuk melanjutkannya.");
          }
        }
      }
    } catch (e) { /* private mode */ }
  };

  function enhance(form) {
    var syarat = new Syarat(form);
    if (!syarat.fileInput || !syarat.progress || !syarat.text) return;
    var button = form.querySelector(".unggah-tombol");
    if (button) button.hidden = true;
    function chosen(event) {
      var input = event.target;
      if (input.files && input.files.length) syarat.upload(input.files[0]);
    }
    syarat.fileInput.addEventListener("change", chosen);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (syarat.fileInput.files && syarat.fileInput.files.length) syarat.upload(syarat.fileInput.files[0]);
    });
    syarat.mentionUnfinished();
  }

  // The notice after an action (?pesan=...) is shown once: a reload must not repeat it.
  if (window.history && window.history.replaceState && /[?&]pesan=/.test(window.location.search)) {
    window.history.replaceState(null, "", window.location.pathname);
  }

  if (!window.XMLHttpRequest || !window.Promise || !window.Blob || !Blob.prototype.slice ||
      !Blob.prototype.arrayBuffer) return;
  var forms = document.querySelectorAll("form.unggah");
  for (var i = 0; i < forms.length; i++) enhance(forms[i]);
})();
