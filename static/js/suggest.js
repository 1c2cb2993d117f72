// The top bar's search box as a combobox: htmx fills #topbar-suggest while typing;
// arrow keys move through the suggestions, Enter opens the chosen one (or searches),
// Escape or leaving the box closes them.
(function () {
  "use strict";
  const input = document.getElementById("topbar-q");
  const list = document.getElementById("topbar-suggest");
  const status = document.getElementById("topbar-suggest-status");
  if (!input || !list) return;
  let active = -1;

  function follow(option) {
    if (option && option.dataset.href) window.location.assign(option.dataset.href);
  }

  const options = () =>
    Array.from(list.querySelectorAll('[role="option"]:not([aria-disabled="true"])'));

  function choose(index) {
    const all = options();
    all.forEach((o, i) => o.setAttribute("aria-selected", i === index ? "true" : "false"));
    active = index;
    if (index >= 0 && all[index]) {
      input.setAttribute("aria-activedescendant", all[index].id);
      all[index].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function show(open) {
    const wanted = open && list.children.length > 0;
    list.hidden = !wanted;
    input.setAttribute("aria-expanded", wanted ? "true" : "false");
    if (!wanted) choose(-1);
  }

  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.target !== list) return;
    choose(-1);
    show(document.activeElement === input && input.value.trim() !== "");
    if (status) {  // said once per answer, for screen readers
      const found = list.querySelectorAll("[data-href]").length - 1;
      status.textContent = list.children.length === 0 ? ""
        : found > 0 ? `${found} suggestion${found === 1 ? "" : "s"}, arrow keys to choose`
        : "No suggestions";
    }
  });

  input.addEventListener("input", () => {
    if (input.value.trim() === "") {
      list.replaceChildren();
      show(false);
    }
  });

  input.addEventListener("keydown", (event) => {
    const all = options();
    if (event.key === "ArrowDown" && all.length) {
      event.preventDefault();
      show(true);
      choose((active + 1) % all.length);
    } else if (event.key === "ArrowUp" && all.length) {
      event.preventDefault();
      show(true);
      choose(active <= 0 ? all.length - 1 : active - 1);
    } else if (event.key === "Escape" && !list.hidden) {
      event.preventDefault();
      show(false);
    } else if (event.key === "Enter" && !list.hidden && active >= 0 && all[active]) {
      event.preventDefault();
      follow(all[active]);
    }
  });

  // A click on a suggestion keeps the focus in the box, then opens it.
  list.addEventListener("mousedown", (event) => event.preventDefault());
  list.addEventListener("click", (event) => follow(event.target.closest("[data-href]")));
  input.addEventListener("blur", () => show(false));
  input.addEventListener("focus", () => show(input.value.trim() !== ""));
})();
