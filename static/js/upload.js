// Uploads: pick or drop many files; each gets a progress bar, a cancel button and a
// clear error. Files go to the JSON API with the session's CSRF token.
(function () {
  "use strict";
  const zone = document.getElementById("drop-zone");
  const input = document.getElementById("upload-input");
  const panel = document.getElementById("upload-panel");
  const list = document.getElementById("upload-list");
  const total = document.getElementById("upload-total");
  const totalText = document.getElementById("upload-total-text");
  const pickButton = document.getElementById("upload-button");
  const clearButton = document.getElementById("upload-clear");
  if (!zone || !input || !panel) return;

  const MAX_PARALLEL = 3;
  const csrf = (document.cookie.match(/(?:^|; )csrftoken=([^;]+)/) || [])[1] || "";
  const queue = [];
  const jobs = [];
  let running = 0;

  function formatBytes(n) {
    if (n < 1024) return n + " B";
    const units = ["KB", "MB", "GB", "TB"];
    let i = -1;
    do { n /= 1024; i++; } while (n >= 1024 && i < units.length - 1);
    return n.toFixed(1) + " " + units[i];
  }

  function updateTotal() {
    const counted = jobs.filter((j) => j.state !== "error" && j.state !== "cancelled");
    const size = counted.reduce((s, j) => s + j.file.size, 0) || 1;
    const loaded = counted.reduce((s, j) => s + (j.state === "done" ? j.file.size : j.loaded), 0);
    const done = jobs.filter((j) => j.state === "done").length;
    const failed = jobs.filter((j) => j.state === "error" || j.state === "cancelled").length;
    total.value = Math.round((loaded / size) * 100);
    let text = done + " of " + jobs.length + " uploaded";
    if (failed) text += ", " + failed + " not uploaded";
    totalText.textContent = text;
    const finished = jobs.length > 0 && jobs.every((j) => !["queued", "uploading"].includes(j.state));
    if (clearButton) clearButton.hidden = !finished;
  }

  function addTile(assetId) {
    fetch(zone.dataset.tileUrl.replace("/0/", "/" + assetId + "/"), { credentials: "same-origin" })
      .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
      .then((html) => {
        const grid = document.getElementById("asset-grid");
        const empty = document.getElementById("grid-empty");
        if (empty) empty.remove();
        const selectAll = document.querySelector(".select-all");
        if (selectAll) selectAll.hidden = false;
        const tpl = document.createElement("template");
        tpl.innerHTML = html.trim();
        const tile = tpl.content.firstElementChild;
        const existing = document.getElementById(tile.id);
        if (existing) existing.replaceWith(tile);
        else grid.prepend(tile);
        if (window.htmx) window.htmx.process(tile);
      })
      .catch(() => {});
  }

  function setState(job, state, message) {
    job.state = state;
    job.row.dataset.state = state;
    job.status.textContent = message;
    if (state !== "uploading" && state !== "queued") job.cancel.hidden = true;
    updateTotal();
  }

  // Tags typed next to the Upload button go with every file of this batch.
  function uploadTags() {
    const input = document.getElementById("upload-tags");
    return input ? input.value.trim() : "";
  }

  // Upload presets: the chosen one, or ("auto") the default preset of the file's type.
  function presetFor(file) {
    const select = document.getElementById("upload-preset");
    if (!select) return "";
    if (select.value !== "auto") return select.value;
    const kind = /^image\//.test(file.type) ? "Image" : /^video\//.test(file.type) ? "Video" : "Raw";
    return select.dataset["default" + kind] || "";
  }

  // Large files go through the resumable API (/api/v1/uploads) in chunks: a dropped
  // connection or a failed chunk is retried with backoff from the offset the server has.
  // data-chunk-threshold / data-chunk-size on the drop zone override the defaults.
  const chunkThreshold = () => parseInt(zone.dataset.chunkThreshold || "", 10) || 8 * 1024 * 1024;
  const chunkSize = () => parseInt(zone.dataset.chunkSize || "", 10) || 0;
  const UPLOADS_URL = zone.dataset.resumableUrl || "/api/v1/uploads";
  const MAX_RETRIES = 8;

  function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

  // "Upload options" says, closed, what the next uploads will get: ": 2 tags, preset web".
  const optionsState = document.querySelector("[data-upload-options-state]");
  function showOptions() {
    if (!optionsState) return;
    const tags = uploadTags().split(",").map((t) => t.trim()).filter(Boolean).length;
    const select = document.getElementById("upload-preset");
    const parts = [];
    if (tags) parts.push(tags === 1 ? "1 tag" : `${tags} tags`);
    if (select && select.value !== "auto") parts.push(select.value ? `preset ${select.value}` : "no preset");
    optionsState.textContent = parts.length ? `: ${parts.join(", ")}` : "";
  }
  ["upload-tags", "upload-preset"].forEach((id) => {
    const field = document.getElementById(id);
    if (field) ["input", "change"].forEach((type) => field.addEventListener(type, showOptions));
  });
  showOptions();  // a browser may have restored the fields with the page
  window.addEventListener("pageshow", showOptions);

  function backoff(failures) {
    const base = Math.min(15000, 500 * Math.pow(2, failures - 1));
    return base / 2 + Math.random() * (base / 2);
  }

  // One request; resolves {status, body} (any HTTP status), rejects on a network error
  // ({network: true}) or a cancel ({aborted: true}).
  function send(job, method, url, body, headers, onprogress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      job.xhr = xhr;
      xhr.open(method, url);
      xhr.setRequestHeader("X-CSRFToken", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      Object.entries(headers || {}).forEach(([k, v]) => xhr.setRequestHeader(k, v));
      if (onprogress) xhr.upload.onprogress = onprogress;
      xhr.onload = () => {
        let parsed = {};
        try { parsed = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
        resolve({ status: xhr.status, body: parsed });
      };
      xhr.onerror = () => reject({ network: true });
      xhr.onabort = () => reject({ aborted: true });
      xhr.onloadend = () => { if (job.xhr === xhr) job.xhr = null; };
      xhr.send(body === undefined ? null : body);
    });
  }

  function showProgress(job, loaded) {
    job.loaded = Math.min(loaded, job.file.size);
    job.bar.value = Math.floor((job.loaded / job.file.size) * 100);
    updateTotal();
  }

  async function startChunked(job) {
    running++;
    job.chunked = true;
    setState(job, "uploading", "Uploading…");
    const size = job.file.size;
    try {
      const payload = { filename: job.file.name, size: size, folder: Number(zone.dataset.folder) };
      if (job.metadata) payload.metadata = JSON.parse(job.metadata);
      const preset = typeof presetFor === "function" ? presetFor(job.file) : "";
      if (preset) payload.preset = preset;
      if (uploadTags()) payload.tags = uploadTags();
      const created = await send(job, "POST", UPLOADS_URL, JSON.stringify(payload),
        { "Content-Type": "application/json" });
      if (created.status !== 201) {
        setState(job, "error", created.body.detail || "Upload failed (HTTP " + created.status + ").");
        return;
      }
      job.sessionUrl = UPLOADS_URL + "/" + created.body.id;
      if (job.state === "cancelled") { cancelSession(job); return; }
      const chunk = Math.min(created.body.chunk_size, chunkSize() || Infinity);
      let offset = created.body.offset;
      let failures = 0;
      for (;;) {
        if (job.state === "cancelled") return;
        let res = null;
        try {
          const start = offset;
          res = await send(job, "PUT", job.sessionUrl, job.file.slice(start, Math.min(start + chunk, size)),
            { "Upload-Offset": String(start), "Content-Type": "application/octet-stream" },
            (e) => showProgress(job, start + e.loaded));
        } catch (err) {
          if (err.aborted || job.state === "cancelled") return;
        }
        if (res && res.status === 201) {
          job.bar.value = 100;
          const asset = res.body.asset || {};
          setState(job, "done", asset.version > 1 ? "Uploaded as version " + asset.version : "Uploaded");
          addTile(asset.id);
          return;
        }
        if (res && res.status === 200) {
          const moved = res.body.offset > offset;
          offset = res.body.offset;
          showProgress(job, offset);
          if (moved) { failures = 0; job.status.textContent = "Uploading…"; continue; }
        } else if (res && res.status >= 400 && res.status < 500 && ![408, 409, 429].includes(res.status)) {
          setState(job, "error", res.body.detail || "Upload failed (HTTP " + res.status + ").");
          return;
        }
        // A network error, a server error, a busy or mismatched offset: wait, ask the
        // server where the file stands, and go on from there.
        failures++;
        if (failures > MAX_RETRIES) {
          setState(job, "error", "The upload kept failing; check your connection and try again.");
          return;
        }
        job.status.textContent = "Connection problem; retrying…";
        await sleep(backoff(failures));
        if (job.state === "cancelled") return;
        try {
          const where = await send(job, "GET", job.sessionUrl);
          if (where.status === 200) {
            offset = where.body.offset;
            showProgress(job, offset);
          } else if (where.status === 404) {
            setState(job, "error", "The upload expired on the server; try again.");
            return;
          }
        } catch (err) {
          if (err.aborted || job.state === "cancelled") return;
        }
      }
    } catch (err) {
      if (!err || !err.aborted) {
        setState(job, "error", "Network error: the upload did not reach the server.");
      }
    } finally {
      running--;
      pump();
    }
  }

  function cancelSession(job) {
    if (!job.sessionUrl) return;
    fetch(job.sessionUrl, {
      method: "DELETE",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, Accept: "application/json" },
    }).catch(() => {});
  }

  function cancelChunked(job) {
    if (!["queued", "uploading"].includes(job.state)) return;
    setState(job, "cancelled", "Cancelled");
    if (job.xhr) job.xhr.abort();
    cancelSession(job);
  }

  function start(job) {
    if (job.file.size > chunkThreshold()) { startChunked(job); return; }
    running++;
    const form = new FormData();
    form.append("file", job.file, job.file.name);
    form.append("folder", zone.dataset.folder);
    form.append("preset", presetFor(job.file));
    if (uploadTags()) form.append("tags", uploadTags());
    if (job.metadata) form.append("metadata", job.metadata);
    const xhr = new XMLHttpRequest();
    job.xhr = xhr;
    xhr.open("POST", zone.dataset.uploadUrl);
    xhr.setRequestHeader("X-CSRFToken", csrf);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (e) => {
      if (!e.lengthComputable) return;
      job.loaded = e.loaded;
      job.bar.value = Math.round((e.loaded / e.total) * 100);
      updateTotal();
    };
    xhr.onload = () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      if (xhr.status === 201 || xhr.status === 200) {
        job.bar.value = 100;
        // 200: the preset overwrote an existing asset with a new version.
        setState(job, "done", xhr.status === 200 ? "Uploaded as version " + body.version : "Uploaded");
        addTile(body.id);
      } else {
        setState(job, "error", body.detail || "Upload failed (HTTP " + xhr.status + ").");
      }
    };
    xhr.onerror = () => setState(job, "error", "Network error: the upload did not reach the server.");
    xhr.onabort = () => setState(job, "cancelled", "Cancelled");
    xhr.onloadend = () => { running--; pump(); };
    setState(job, "uploading", "Uploading…");
    xhr.send(form);
  }

  function pump() {
    while (running < MAX_PARALLEL && queue.length) {
      const job = queue.shift();
      if (job.state === "queued") start(job);
    }
  }

  function enqueue(files, metadata) {
    if (!files || !files.length) return;
    panel.hidden = false;
    Array.from(files).forEach((file) => {
      const row = document.createElement("li");
      row.className = "upload-row";
      const name = document.createElement("span");
      name.className = "upload-name";
      name.textContent = file.name;
      const size = document.createElement("span");
      size.className = "muted small";
      size.textContent = formatBytes(file.size);
      const bar = document.createElement("progress");
      bar.max = 100;
      bar.value = 0;
      bar.setAttribute("aria-label", "Upload progress for " + file.name);
      const status = document.createElement("span");
      status.className = "upload-status";
      status.setAttribute("role", "status");
      status.textContent = "Waiting…";
      const cancel = document.createElement("button");
      cancel.type = "button";
      cancel.className = "btn btn-small";
      cancel.textContent = "Cancel";
      cancel.setAttribute("aria-label", "Cancel upload of " + file.name);
      row.append(name, size, bar, status, cancel);
      list.append(row);
      const job = { file, row, bar, status, cancel, loaded: 0, state: "queued", xhr: null, metadata: metadata || "" };
      cancel.addEventListener("click", () => {
        if (job.chunked) { cancelChunked(job); return; }
        if (job.xhr) job.xhr.abort();
        else setState(job, "cancelled", "Cancelled");
      });
      jobs.push(job);
      queue.push(job);
    });
    updateTotal();
    pump();
  }

  // With metadata fields (and edit access), files first go through the upload dialog:
  // the user describes the batch, the server checks the values with the rules engine,
  // and every file of the batch is sent with them.
  const mdDialog = zone.dataset.metadataDialog ? document.getElementById(zone.dataset.metadataDialog) : null;
  let pending = [];

  function accept(files) {
    if (!files || !files.length) return;
    if (!mdDialog) { enqueue(files); return; }
    pending = Array.from(files);
    const list = mdDialog.querySelector("[data-upload-files]");
    list.replaceChildren(...pending.map((f) => {
      const li = document.createElement("li");
      li.textContent = f.name + " (" + formatBytes(f.size) + ")";
      return li;
    }));
    const count = mdDialog.querySelector("[data-upload-count]");
    if (count) count.textContent = pending.length === 1 ? "1 file" : pending.length + " files";
    if (!mdDialog.open) mdDialog.showModal();
    const first = mdDialog.querySelector("[data-md-fields] input:not([type=hidden]), [data-md-fields] select");
    if (first) first.focus();
  }

  if (mdDialog) {
    const form = mdDialog.querySelector("form");
    mdDialog.addEventListener("close", () => { pending = []; });
    const errorBox = form.querySelector("[data-upload-error]");
    function showError(text) {
      if (!errorBox) return;
      errorBox.textContent = text;
      errorBox.hidden = !text;
    }
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      showError("");
      const submit = form.querySelector("button[type=submit]");
      submit.disabled = true;
      fetch(form.action, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrf, Accept: "application/json" },
        body: new FormData(form),
      }).then((response) => {
        if (response.ok) {
          return response.json().then((body) => {
            const files = pending;
            mdDialog.close();
            enqueue(files, JSON.stringify(body.metadata || {}));
          });
        }
        return response.text().then((html) => {
          const fields = form.querySelector("[data-md-fields]");
          if (response.status === 422 && fields && html.trim().startsWith("<")) {
            const tpl = document.createElement("template");
            tpl.innerHTML = html.trim();
            const fresh = tpl.content.firstElementChild;
            fields.replaceWith(fresh);
            if (window.htmx) window.htmx.process(fresh);
            const invalid = fresh.querySelector("[aria-invalid=true]");
            if (invalid) invalid.focus();
          } else {
            showError("The upload could not start (HTTP " + response.status + "). Reload the page and try again.");
          }
        });
      }).catch(() => {
        showError("Network error: the upload could not start. Check your connection and try again.");
      }).finally(() => { submit.disabled = false; });
    });
  }

  if (pickButton) pickButton.addEventListener("click", () => input.click());
  if (clearButton) {
    clearButton.addEventListener("click", () => {
      for (let i = jobs.length - 1; i >= 0; i--) {
        if (!["queued", "uploading"].includes(jobs[i].state)) {
          jobs[i].row.remove();
          jobs.splice(i, 1);
        }
      }
      if (!jobs.length) panel.hidden = true;
      updateTotal();
      pickButton && pickButton.focus();
    });
  }
  input.addEventListener("change", () => { accept(input.files); input.value = ""; });
  ["dragenter", "dragover"].forEach((type) =>
    zone.addEventListener(type, (e) => {
      if (!e.dataTransfer || !Array.from(e.dataTransfer.types).includes("Files")) return;
      e.preventDefault();
      zone.classList.add("dragging");
    })
  );
  ["dragleave", "drop"].forEach((type) =>
    zone.addEventListener(type, (e) => {
      if (type === "dragleave" && zone.contains(e.relatedTarget)) return;
      zone.classList.remove("dragging");
    })
  );
  zone.addEventListener("drop", (e) => {
    if (!e.dataTransfer || !e.dataTransfer.files.length) return;
    e.preventDefault();
    accept(e.dataTransfer.files);
  });
})();
