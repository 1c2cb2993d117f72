// Dialogs: buttons with data-dialog-open="ID" open <dialog id=ID> as a modal; elements with
// data-dialog-close close their dialog. Opening fires "dialog-opened" for htmx to load content.
// Closing gives the focus back to the button that opened it, or to the summary of the menu
// it was in when that menu is closed by now.
(function () {
  "use strict";
  const openers = new WeakMap();

  function shown(el) {
    if (!el || !el.isConnected) return false;
    if (typeof el.checkVisibility === "function") return el.checkVisibility();
    const closed = el.closest("details:not([open])");
    if (closed && !(el.closest("summary") && el.closest("summary").parentElement === closed)) return false;
    return el.getClientRects().length > 0;
  }
  document.addEventListener("click", (event) => {
    const opener = event.target.closest("[data-dialog-open]");
    if (opener) {
      const dialog = document.getElementById(opener.dataset.dialogOpen);
      if (!dialog) return;
      const menu = opener.closest("details");
      openers.set(dialog, [opener, menu ? menu.querySelector(":scope > summary") : null]);
      if (menu) menu.open = false;
      dialog.showModal();
      dialog.querySelectorAll("[hx-trigger~='dialog-opened']").forEach((el) => {
        if (window.htmx) window.htmx.trigger(el, "dialog-opened");
      });
      return;
    }
    const closer = event.target.closest("[data-dialog-close]");
    if (closer) {
      const dialog = closer.closest("dialog");
      if (dialog) dialog.close();
    }
  });
  // "close" does not bubble: listen while it goes down to the dialog.
  document.addEventListener("close", (event) => {
    const dialog = event.target;
    const from = openers.get(dialog);
    if (!from) return;
    openers.delete(dialog);
    const active = document.activeElement;
    if (active && active !== document.body && !dialog.contains(active)) return; // already placed
    const target = from.find(shown);
    if (target) target.focus();
  }, true);
  // A page re-rendered with a dialog's form errors marks that dialog data-open.
  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("dialog[data-open]").forEach((dialog) => {
      if (!dialog.open) dialog.showModal();
    });
  });
  // Copy buttons for read-only inputs: data-copy-from="#input-id".
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-copy-from]");
    if (!button) return;
    const input = document.querySelector(button.dataset.copyFrom);
    if (!input) return;
    input.select();
    const done = () => {
      const label = button.textContent;
      button.textContent = "Copied";
      setTimeout(() => { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, () => { document.execCommand("copy"); done(); });
    } else {
      try { document.execCommand("copy"); done(); } catch (e) { /* nothing to do */ }
    }
  });
  // htmx answers 422 with the form and its errors: swap it in like a success.
  document.addEventListener("htmx:beforeSwap", (event) => {
    if (event.detail.xhr.status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
