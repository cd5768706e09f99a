/* Client-side sorting for the tables that are not paginated (`<table data-sortable>`), with tablesort from npm.
   Paginated tables sort on the server (`?sort=`), so their order holds across pages and refreshes.
   A numeric column says `data-sort-method="number"` on its header and gives each cell its plain value in
   `data-sort` (the text shows grouped thousands, signs and units). Tablesort makes the headers focusable and sorts on Enter. */
(function () {
  "use strict";

  function enhance(root) {
    if (typeof Tablesort === "undefined") return;
    root.querySelectorAll("table[data-sortable]:not([data-sort-ready])").forEach(function (table) {
      if (!table.tHead || !table.tBodies.length) return;
      table.setAttribute("data-sort-ready", "");
      table.querySelectorAll("thead th").forEach(function (th) {
        if (!th.textContent.trim()) th.setAttribute("data-sort-method", "none");  /* an actions column */
        if (th.getAttribute("data-sort-method") !== "none") th.classList.add("qa-sortable", "qa-sortable-client");
      });
      new Tablesort(table);  /* binds click and Enter on each sortable header, sets aria-sort */
    });
  }

  window.qaTables = { enhance: enhance };  /* for regions put in place by a page's own script (static/js/risk_live.js) */
  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  document.addEventListener("htmx:afterSettle", function (event) { enhance(event.target); });
})();
