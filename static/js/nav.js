// Navigation and small menus.
// - The Menu button (narrow screens only) opens the side navigation as a drawer: Escape, a
//   click outside or tabbing out of it closes it; Escape gives the focus back to the button.
// - Menus built on <details> (details.popover, details.user-menu, details[data-menu]) close
//   with Escape, and the focus goes back to their summary.
// - A tab bar that scrolls sideways shows its current tab.
(function () {
  "use strict";
  const MENUS = "details.popover, details.user-menu, details[data-menu]";
  const toggle = document.querySelector("[data-nav-toggle]");
  const nav = toggle ? document.getElementById(toggle.getAttribute("aria-controls")) : null;

  const navOpen = () => Boolean(nav) && nav.classList.contains("is-open");

  function setNav(open) {
    if (!nav) return;
    nav.classList.toggle("is-open", open);
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  }

  if (toggle && nav) {
    toggle.addEventListener("click", () => {
      const open = !navOpen();
      setNav(open);
      if (open) {
        const first = nav.querySelector('[aria-current="page"]') || nav.querySelector("a, button");
        if (first) first.focus();
      }
    });
    document.addEventListener("click", (event) => {
      if (navOpen() && !nav.contains(event.target) && !toggle.contains(event.target)) setNav(false);
    });
    nav.addEventListener("focusout", (event) => {
      const to = event.relatedTarget;
      if (navOpen() && to && !nav.contains(to) && !toggle.contains(to)) setNav(false);
    });
    // Back to a wide screen: the navigation is a column again, nothing to keep open.
    const narrow = window.matchMedia("(max-width: 900px)");
    const onChange = () => { if (!narrow.matches) setNav(false); };
    if (narrow.addEventListener) narrow.addEventListener("change", onChange);
  }

  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || event.defaultPrevented) return;
    if (navOpen()) {
      event.preventDefault();
      setNav(false);
      toggle.focus();
      return;
    }
    const active = document.activeElement;
    const inMenu = active && active.closest ? active.closest("details[open]") : null;
    let menus;
    if (inMenu && inMenu.matches(MENUS)) {
      menus = [inMenu];
    } else if (document.querySelector("dialog[open]")) {
      return; // Escape belongs to the dialog
    } else {
      menus = Array.from(document.querySelectorAll(MENUS)).filter((d) => d.open);
    }
    if (!menus.length) return;
    event.preventDefault();
    menus.forEach((menu) => { menu.open = false; });
    const focusIsLost = !active || active === document.body || menus.some((m) => m.contains(active));
    const summary = menus[0].querySelector(":scope > summary");
    if (focusIsLost && summary) summary.focus();
  });

  // A tab bar narrower than its tabs scrolls; bring the current tab into view.
  function showCurrentTabs() {
    document.querySelectorAll(".tabs").forEach((bar) => {
      const current = bar.querySelector('[aria-current="page"]');
      if (!current || bar.scrollWidth <= bar.clientWidth) return;
      const barBox = bar.getBoundingClientRect();
      const box = current.getBoundingClientRect();
      if (box.right > barBox.right) bar.scrollLeft += box.right - barBox.right + 24;
      else if (box.left < barBox.left) bar.scrollLeft -= barBox.left - box.left + 24;
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", showCurrentTabs);
  else showCurrentTabs();
})();
