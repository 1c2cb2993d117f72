// The grid's selection: a checkbox per tile (form="bulk-form"), "select all on this page",
// and a toolbar with the count that appears once something is selected. Tiles come and
// go (uploads, htmx), so everything is looked up when it changes.
(function () {
  "use strict";
  const form = document.getElementById("bulk-form");
  if (!form) return;
  const toolbar = document.getElementById("bulk-toolbar");
  const count = document.getElementById("bulk-count");
  const all = document.getElementById("select-all");
  const boxes = () => Array.from(document.querySelectorAll("input.tile-select"));

  function update() {
    const list = boxes();
    const n = list.filter((b) => b.checked).length;
    toolbar.hidden = n === 0;
    const label = n === 1 ? "1 asset" : `${n} assets`;
    count.textContent = `${n} selected`;
    document.querySelectorAll("[data-bulk-count]").forEach((el) => {
      el.textContent = label;
    });
    list.forEach((b) => b.closest(".tile")?.classList.toggle("selected", b.checked));
    // Dialogs with their own form (bulk metadata) carry the selection as hidden inputs.
    document.querySelectorAll("[data-bulk-ids]").forEach((box) => {
      box.replaceChildren(...list.filter((b) => b.checked).map((b) => {
        const input = document.createElement("input");
        input.type = "hidden";
        input.name = "ids";
        input.value = b.value;
        return input;
      }));
    });
    all.checked = n > 0 && n === list.length;
    all.indeterminate = n > 0 && n < list.length;
    all.disabled = list.length === 0;
  }

  document.addEventListener("change", (event) => {
    if (event.target === all) {
      boxes().forEach((b) => {
        b.checked = all.checked;
      });
    }
    if (event.target === all || event.target.matches("input.tile-select")) update();
  });
  document.addEventListener("htmx:afterSwap", update);
  update();
})();
