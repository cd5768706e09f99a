/* quantarb: form behaviours bound by data attributes, never inline handlers (the Content-Security-Policy runs no
   `onchange=`/`onsubmit=` attribute). Delegated from the document, so forms that htmx swaps in work too.
   - `<select data-autosubmit>`: choosing an option submits its form (the tenant, language and filter pickers).
   - `<form data-confirm="…">`: submitting asks that question first; Cancel sends nothing.
   - `<input data-select-on-focus>`: focusing selects the whole value. */
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    var select = event.target;
    if (!(select instanceof HTMLSelectElement) || !select.hasAttribute("data-autosubmit") || !select.form) return;
    if (typeof select.form.requestSubmit === "function") select.form.requestSubmit();
    else select.form.submit();
  });

  /* `<input data-select-on-focus>`: focusing selects its whole value (a link to copy). focusin bubbles. */
  document.addEventListener("focusin", function (event) {
    var input = event.target;
    if (input instanceof HTMLInputElement && input.hasAttribute("data-select-on-focus")) input.select();
  });

  /* Capture phase: asked before anything else handles the submit (htmx included), and a refusal stops it there. */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-confirm")) return;
    if (!window.confirm(form.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopPropagation();
    }
  }, true);
})();
