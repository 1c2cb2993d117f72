// The automation rule form: show only the chosen trigger's parameters and the
// parameters of the chosen actions. Without JavaScript everything stays visible.
(function () {
  const form = document.querySelector("[data-automation-form]");
  if (!form) return;

  function update() {
    const chosen = form.querySelector('input[name="trigger"]:checked');
    form.querySelectorAll("[data-trigger]").forEach((box) => {
      box.hidden = !chosen || box.dataset.trigger !== chosen.value;
    });
    form.querySelectorAll("[data-action-params]").forEach((box) => {
      const toggle = form.querySelector(`input[name="${box.dataset.actionParams}"]`);
      box.hidden = !(toggle && toggle.checked);
    });
    const group = form.querySelector('input[name="email_to"][value="group"]');
    const picker = form.querySelector('[name="email_group"]');
    if (group && picker) picker.closest(".field").hidden = !group.checked;
  }

  form.addEventListener("change", update);
  update();
})();
