// Confirmation before a destructive form is sent (no inline script: the page's CSP allows scripts from this site only).
document.addEventListener('submit', (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});
document.addEventListener('click', (event) => {
  if (event.target instanceof HTMLElement && event.target.matches('[data-select-all]')) {
    const boxes = [...document.querySelectorAll('input[type=checkbox][name=ids]')];
    const check = boxes.some((box) => !box.checked);
    boxes.forEach((box) => { box.checked = check; });
  }
});
