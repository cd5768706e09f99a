/* The risk centre, live (templates/risk/risk.html). On a `risk.changed` push (static/js/live.js turns the socket's
   frame into a `risk-changed` event on <body>) the page re-fetches its live part (/risk/figures/, risk.views
   .risk_figures) and puts each region marked data-risk-live in place of its own, by id, without a reload:
   - at most one refresh every REFRESH_GAP_MS (a burst of pushes makes one refresh, and the last change is
     always fetched: a push during the wait is covered by the refresh that follows it);
   - while the socket is not live, a refresh every FALLBACK_MS, and one when it comes back (pushes were missed);
   - the tables keep the reader's sort (tablesort: static/js/tables.js), their horizontal scroll and the page its
     scroll; a dialog that is open (a reset note being typed) holds the refresh until it closes;
   - "updated HH:MM:SS UTC" beside the title says how fresh the figures are (their time on the server), and says
     so when a refresh fails.
   window.qaRisk counts the refreshes (for the browser tests). */
(function () {
  "use strict";
  const stamp = document.getElementById("risk-updated");
  if (!stamp || !stamp.dataset.url) return;
  const REFRESH_GAP_MS = 5000;
  const FALLBACK_MS = 30000;
  const state = (window.qaRisk = { refreshes: 0, failures: 0, pushes: 0 });
  let last = Date.now();
  let timer = null;
  let inflight = false;
  let again = false;
  let heldByDialog = false;

  function utc(iso) {
    const at = new Date(iso);
    return isNaN(at) ? null : at;
  }

  function showStamp(failed) {
    const figures = document.getElementById("risk-figures");
    const at = figures && utc(figures.dataset.at);
    if (!at) return;
    const time = at.toISOString().substring(11, 19);
    const label = failed ? stamp.dataset.labelFailed : stamp.dataset.label;
    stamp.textContent = (label || "{time}").replace("{time}", time);
    stamp.title = at.toISOString().replace("T", " ").substring(0, 19) + " UTC · " + at.toLocaleString();
    stamp.classList.toggle("text-warning", !!failed);
    stamp.classList.toggle("text-secondary", !failed);
  }

  // What the reader set on the old region, to set again on the new one.
  function remember(region) {
    const kept = { sorts: {}, scrolls: [], focus: null };
    region.querySelectorAll("table[data-sortable][data-testid]").forEach(function (table) {
      const th = table.querySelector("thead th[aria-sort]");
      if (th) kept.sorts[table.dataset.testid] = { index: th.cellIndex, order: th.getAttribute("aria-sort") };
    });
    region.querySelectorAll(".table-responsive").forEach(function (box) { kept.scrolls.push(box.scrollLeft); });
    const active = document.activeElement;
    if (active && region.contains(active)) {
      const table = active.closest("table[data-testid]");
      if (active.id) kept.focus = { id: active.id };
      else if (table && active.tagName === "TH") kept.focus = { table: table.dataset.testid, index: active.cellIndex };
    }
    return kept;
  }

  function restore(region, kept) {
    Object.keys(kept.sorts).forEach(function (testid) {
      const sort = kept.sorts[testid];
      const table = region.querySelector('table[data-sortable][data-testid="' + testid + '"]');
      const th = table && table.tHead && table.tHead.rows[0] && table.tHead.rows[0].cells[sort.index];
      if (!th) return;
      // tablesort sorts a `data-sort-default` header when it takes the table, turning its aria-sort over once.
      th.setAttribute("data-sort-default", "");
      th.setAttribute("aria-sort", sort.order === "ascending" ? "descending" : "ascending");
    });
    if (window.qaTables) window.qaTables.enhance(region);
    region.querySelectorAll(".table-responsive").forEach(function (box, i) {
      if (kept.scrolls[i]) box.scrollLeft = kept.scrolls[i];
    });
    if (kept.focus) {
      const target = kept.focus.id ? document.getElementById(kept.focus.id)
        : region.querySelector('table[data-testid="' + kept.focus.table + '"] thead th:nth-child(' + (kept.focus.index + 1) + ")");
      if (target) target.focus({ preventScroll: true });
    }
  }

  function swap(html) {
    const parsed = new DOMParser().parseFromString(html, "text/html");
    const x = window.scrollX, y = window.scrollY;
    parsed.querySelectorAll("[data-risk-live][id]").forEach(function (fresh) {
      const old = document.getElementById(fresh.id);
      if (!old) return;
      const kept = remember(old);
      const node = document.importNode(fresh, true);
      old.replaceWith(node);
      restore(node, kept);
      if (window.htmx) window.htmx.process(node);
    });
    window.scrollTo(x, y);
    state.refreshes += 1;
    showStamp(false);
  }

  function run() {
    timer = null;
    if (document.querySelector(".modal.show")) { heldByDialog = true; return; }
    if (inflight) { again = true; return; }
    inflight = true;
    last = Date.now();
    fetch(stamp.dataset.url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (answer) { if (!answer.ok) throw new Error(String(answer.status)); return answer.text(); })
      .then(swap)
      .catch(function () { state.failures += 1; showStamp(true); })
      .finally(function () {
        inflight = false;
        if (again) { again = false; refresh(); }
      });
  }

  function refresh() {
    if (timer) return; // a refresh is already due: it fetches this change too
    timer = setTimeout(run, Math.max(0, last + REFRESH_GAP_MS - Date.now()));
  }
  state.refresh = refresh;

  document.body.addEventListener("risk-changed", function () { state.pushes += 1; refresh(); });
  document.addEventListener("hidden.bs.modal", function () {
    if (heldByDialog) { heldByDialog = false; refresh(); }
  });

  function live() { return document.documentElement.dataset.live === "live"; }
  setInterval(function () {
    if (!live() && Date.now() - last >= FALLBACK_MS) refresh();
  }, 1000);
  // Back on the socket after an outage: what was pushed meanwhile was lost, so fetch once.
  const status = document.getElementById("live-status");
  if (status && window.MutationObserver) {
    let previous = status.dataset.state;
    new MutationObserver(function () {
      const now = status.dataset.state;
      if (now === "live" && previous !== "live" && previous !== "connecting") refresh();
      previous = now;
    }).observe(status, { attributes: true, attributeFilter: ["data-state"] });
  }
  showStamp(false);
})();
