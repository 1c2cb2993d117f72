// Metadata forms and settings: the live form asks the server to re-render (the rules
// engine runs there; there is no second engine here), pickers filter as you type, copy
// buttons copy, and lists with drag handles save their new order.
(function () {
  "use strict";
  const csrf = () => (document.cookie.match(/(?:^|; )csrftoken=([^;]+)/) || [])[1] || "";

  // -- the live form: a change to a field that rules read re-renders the fields ---------
  const timers = new WeakMap();
  const lastSent = new WeakMap();
  const TEXTUAL = ["text", "search", "number", "email", "url", ""];

  function container(el) { return el.closest("[data-md-fields]"); }

  function refresh(el) {
    const box = container(el);
    if (!box || !window.htmx) return;
    lastSent.set(el, el.type === "checkbox" ? String(el.checked) : el.value);
    // htmx binds a swapped-in element's triggers only when it settles (20 ms later); a
    // pick in between would fire into nothing. Processing twice is a no-op.
    window.htmx.process(box);
    window.htmx.trigger(box, "md-change");
  }

  document.addEventListener("input", (event) => {
    const el = event.target;
    if (el.matches("[data-md-filter]")) { filter(el); return; }
    if (!el.matches("[data-md-driver]") || !TEXTUAL.includes(el.type || "")) return;
    clearTimeout(timers.get(el));
    timers.set(el, setTimeout(() => refresh(el), 350));
  });

  // A long list's search results: what the user picks joins the chosen values, so the
  // next search (which replaces the results) cannot take it away.
  function adopt(el) {
    const results = el.closest(".md-results");
    if (!results || !el.checked) return;
    const chosen = results.closest("fieldset").querySelector("[data-md-selected]");
    if (!chosen) return;
    if (el.type === "radio") {
      chosen.querySelectorAll(".md-choice:not(.md-none)").forEach((label) => label.remove());
    }
    chosen.append(el.closest("label"));
  }

  document.addEventListener("change", (event) => {
    const el = event.target;
    const box = container(el);
    if (box && (el.type === "checkbox" || el.type === "radio")) adopt(el);
    if (box && el.type === "checkbox") countSelected(el);
    if (!el.matches("[data-md-driver]")) return;
    const now = el.type === "checkbox" ? String(el.checked) : el.value;
    if (TEXTUAL.includes(el.type || "") && lastSent.get(el) === now) return; // sent while typing
    clearTimeout(timers.get(el));
    refresh(el);
  });

  // What the user typed or picked while the server was answering stays: the answer is
  // for the values at the time of asking, the fields show the newest (and, if a rule
  // reads one of them, ask again). Values the user did not touch take the answer's.
  const isFields = (el) => el && el.matches && el.matches("[data-md-fields]");
  const checkable = (el) => el.type === "checkbox" || el.type === "radio";
  function valueOf(el) {
    if (checkable(el)) return el.checked;
    if (el.tagName === "SELECT" && el.multiple) {
      return Array.from(el.selectedOptions).map((o) => o.value).join("\u0000");
    }
    return el.value;
  }
  // Checkboxes and radios of a list are known by name and value, the rest by id.
  const keyOf = (el) => (checkable(el) ? "=" + el.name + "\u0001" + el.value : "#" + el.id);
  function find(box, key) {
    if (key[0] === "#") return document.getElementById(key.slice(1));
    const [name, value] = key.slice(1).split("\u0001");
    return Array.from(box.querySelectorAll("input[type=checkbox], input[type=radio]"))
      .find((el) => el.name === name && el.value === value) || null;
  }
  function stateOf(box) {
    const state = new Map();
    box.querySelectorAll("input, select, textarea").forEach((el) => {
      if (el.type === "hidden" || !(el.id || (checkable(el) && el.name))) return;
      state.set(keyOf(el), valueOf(el));
    });
    return state;
  }
  const asked = new Map();   // box id -> its values when the re-render was asked for
  const touched = new Map(); // box id -> [key, value] the user changed since
  document.addEventListener("htmx:beforeRequest", (event) => {
    const box = event.detail.elt;
    if (isFields(box) && box.id) asked.set(box.id, stateOf(box));
  });
  document.addEventListener("htmx:beforeSwap", (event) => {
    const box = event.detail.target;
    if (!isFields(box) || !box.id || !asked.has(box.id)) return;
    const before = asked.get(box.id);
    asked.delete(box.id);
    if (!event.detail.shouldSwap) return;
    const now = stateOf(box);
    touched.set(box.id, Array.from(now).filter(([key, value]) => before.has(key) && before.get(key) !== value));
  });
  document.addEventListener("htmx:afterSettle", () => {
    touched.forEach((changes, boxId) => {
      touched.delete(boxId);
      const box = document.getElementById(boxId);
      if (!box || !changes.length) return;
      let driver = null;
      changes.forEach(([key, value]) => {
        const el = find(box, key);
        if (!el || valueOf(el) === value) return;
        if (checkable(el)) el.checked = value;
        else if (el.tagName === "SELECT" && el.multiple) {
          const wanted = new Set(String(value).split("\u0000"));
          Array.from(el.options).forEach((o) => { o.selected = wanted.has(o.value); });
        } else if (el.tagName !== "SELECT" || Array.from(el.options).some((o) => o.value === value)) {
          el.value = value;
        } else return;
        if (el.matches("[data-md-filter]")) filter(el);
        if (el.matches("[data-md-driver]")) driver = el;
      });
      if (driver) {
        clearTimeout(timers.get(driver));
        timers.set(driver, setTimeout(() => refresh(driver), 350));
      }
    });
  });

  // -- pickers with many options: type to filter ------------------------------------------
  function filter(input) {
    const target = document.getElementById(input.dataset.mdFilter);
    if (!target) return;
    const q = input.value.trim().toLowerCase();
    const items = target.tagName === "SELECT"
      ? Array.from(target.options).filter((o) => o.value !== "")
      : Array.from(target.querySelectorAll(".md-choice"));
    items.forEach((item) => {
      const text = item.textContent.toLowerCase();
      const keep = !q || text.includes(q) || (item.tagName === "OPTION" && item.selected) ||
        (item.querySelector && item.querySelector("input:checked"));
      item.hidden = !keep;
    });
  }

  function countSelected(box) {
    const group = box.closest("fieldset");
    const counter = group && group.querySelector("[data-md-count]");
    if (counter) counter.textContent = group.querySelectorAll("input[type=checkbox]:checked").length + " selected";
  }

  // -- copy buttons ---------------------------------------------------------------------------
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const text = button.dataset.copy;
    const done = () => {
      const label = button.textContent;
      button.textContent = "Copied";
      setTimeout(() => { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, () => fallbackCopy(text, done));
    } else {
      fallbackCopy(text, done);
    }
  });

  function fallbackCopy(text, done) {
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.append(area);
    area.select();
    try { document.execCommand("copy"); done(); } catch (e) { /* nothing to do */ }
    area.remove();
  }

  // -- drag and drop to reorder (fields, rules); Move buttons do the same by keyboard ------
  let dragged = null;
  document.addEventListener("dragstart", (event) => {
    const handle = event.target.closest && event.target.closest(".drag-handle");
    if (!handle) return;
    dragged = handle.closest("[data-reorder-id]");
    if (!dragged) return;
    dragged.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", dragged.dataset.reorderId);
    event.dataTransfer.setDragImage(dragged, 20, 20);
  });
  document.addEventListener("dragover", (event) => {
    if (!dragged) return;
    const over = event.target.closest && event.target.closest("[data-reorder-id]");
    if (!over || over === dragged || over.parentElement !== dragged.parentElement) return;
    event.preventDefault();
    const box = over.getBoundingClientRect();
    const after = over.parentElement.hasAttribute("data-reorder-grid")
      ? event.clientX > box.left + box.width / 2  // a grid of tiles: left or right half
      : event.clientY > box.top + box.height / 2;
    over.parentElement.insertBefore(dragged, after ? over.nextSibling : over);
  });
  document.addEventListener("drop", (event) => { if (dragged) event.preventDefault(); });
  document.addEventListener("dragend", () => {
    if (!dragged) return;
    const list = dragged.parentElement;
    dragged.classList.remove("dragging");
    dragged = null;
    saveOrder(list);
  });

  function saveOrder(list) {
    const ids = Array.from(list.querySelectorAll(":scope > [data-reorder-id]")).map((el) =>
      list.hasAttribute("data-reorder-json-ints") ? Number(el.dataset.reorderId) : el.dataset.reorderId);
    const status = list.closest("section, .card, main").querySelector("[data-reorder-status]");
    fetch(list.dataset.reorderUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(), Accept: "application/json" },
      body: JSON.stringify({ order: ids }),
    }).then((r) => r.json().then((body) => ({ ok: r.ok, body })))
      .then(({ ok, body }) => {
        if (!ok) throw new Error(body.detail || "The new order could not be saved.");
        if (status) status.textContent = "New order saved.";
        list.querySelectorAll(":scope > [data-reorder-id] .position").forEach((cell, i) => { cell.textContent = i + 1; });
      })
      .catch((err) => {
        if (status) status.textContent = (err && err.message) || "The new order could not be saved.";
        setTimeout(() => window.location.reload(), 1500);
      });
  }
})();
