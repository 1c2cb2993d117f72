// The Moderation page: selection (checkbox per row, select all, a toolbar with the count)
// and one reject dialog for a single row or the selection, carrying the ids it rejects.
(function () {
  "use strict";
  const toolbar = document.getElementById("bulk-toolbar");
  const count = document.getElementById("bulk-count");
  const all = document.getElementById("select-all");
  const dialog = document.getElementById("reject-dialog");
  const boxes = () => Array.from(document.querySelectorAll("input.tile-select-row"));
  const chosen = () => boxes().filter((b) => b.checked).map((b) => [b.value, b.dataset.version]);

  function update() {
    const n = chosen().length;
    if (toolbar) toolbar.hidden = n === 0;
    if (count) count.textContent = `${n} selected`;
    if (all) {
      all.checked = n > 0 && n === boxes().length;
      all.indeterminate = n > 0 && n < boxes().length;
    }
  }
  document.addEventListener("change", (event) => {
    if (event.target === all) boxes().forEach((b) => { b.checked = all.checked; });
    if (event.target === all || event.target.matches("input.tile-select-row")) update();
  });

  function openReject(ids, what) {
    if (!dialog) return;
    const holder = dialog.querySelector("[data-reject-ids]");
    const hidden = (name, value) => {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = value;
      return input;
    };
    // Each id with the version the moderator saw: a newer file is not decided blindly.
    holder.replaceChildren(...ids.flatMap(([id, version]) =>
      [hidden("ids", id), hidden(`version_${id}`, version || "")]));
    dialog.querySelector("[data-reject-what]").textContent = what;
    dialog.showModal();
    dialog.querySelector("textarea").focus();
  }
  document.addEventListener("click", (event) => {
    const one = event.target.closest("[data-reject-one]");
    if (one) {
      openReject([[one.dataset.rejectOne, one.dataset.version]], `“${one.dataset.name}”`);
      return;
    }
    if (event.target.closest("[data-reject-selected]")) {
      const ids = chosen();
      openReject(ids, ids.length === 1 ? "1 asset" : `${ids.length} assets`);
    }
  });
  update();
})();
