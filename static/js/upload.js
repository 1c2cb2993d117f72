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
        const tpl = document.createElement("template");
        tpl.innerHTML = html.trim();
        const tile = tpl.content.firstElementChild;
        grid.prepend(tile);
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

  function start(job) {
    running++;
    const form = new FormData();
    form.append("file", job.file, job.file.name);
    form.append("folder", zone.dataset.folder);
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
      if (xhr.status === 201) {
        job.bar.value = 100;
        setState(job, "done", "Uploaded");
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

  function enqueue(files) {
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
      const job = { file, row, bar, status, cancel, loaded: 0, state: "queued", xhr: null };
      cancel.addEventListener("click", () => {
        if (job.xhr) job.xhr.abort();
        else setState(job, "cancelled", "Cancelled");
      });
      jobs.push(job);
      queue.push(job);
    });
    updateTotal();
    pump();
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
  input.addEventListener("change", () => { enqueue(input.files); input.value = ""; });
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
    enqueue(e.dataTransfer.files);
  });
})();
