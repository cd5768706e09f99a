/* quantarb live dashboard: one WebSocket (/ws/spreads/), server-rendered partials swapped by id, a basis chart
   that loads history from the page and appends live points, quote ages that tick locally. The risk centre uses the
   same socket for its control messages only (`risk.changed`).
   The socket reconnects with exponential backoff and jitter; the top bar says live / reconnecting / offline. */
(function () {
  "use strict";

  const status = document.getElementById("live-status");
  const state = { socket: null, attempt: 0, lastMessage: 0, clockOffset: 0, messages: 0, charts: {}, timer: null };
  window.qaLive = state; // for operators' consoles and the browser tests

  function setStatus(kind) {
    if (!status) return;
    status.dataset.state = kind;
    // Off the live feed, everything pushed (quotes, edges, chart) is last known, not current: the page says so.
    document.documentElement.dataset.live = kind;
    const text = status.querySelector(".qa-live-text");
    if (text) text.textContent = text.dataset["label" + kind.charAt(0).toUpperCase() + kind.slice(1)] || kind;
  }

  // ---- ages ------------------------------------------------------------------------------------------
  function serverNow() { return Date.now() + state.clockOffset; }

  function renderAges() {
    const now = serverNow();
    document.querySelectorAll(".qa-age").forEach(function (el) {
      const ts = parseInt(el.dataset.tsMs, 10);
      const staleMs = parseInt(el.dataset.staleMs, 10) || 5000;
      el.classList.remove("qa-stale", "qa-fresh", "qa-closed-text");
      if (el.dataset.closed) {
        el.textContent = el.dataset.labelClosed || "closed";
        el.classList.add("qa-closed-text");
        return;
      }
      if (!ts) { el.textContent = el.dataset.labelNone || "—"; return; }
      const age = Math.max(0, now - ts);
      const seconds = age < 10000 ? (age / 1000).toFixed(1) : Math.round(age / 1000).toString();
      el.textContent = seconds + " " + (el.dataset.labelAgo || "s ago") + (age > staleMs ? " · " + (el.dataset.labelStale || "stale") : "");
      el.classList.add(age > staleMs ? "qa-stale" : "qa-fresh");
      el.title = new Date(ts).toISOString() + " UTC · " + new Date(ts).toLocaleString();
    });
  }
  // A closed market says when it reopens, in UTC and as a countdown in the page's language.
  function renderReopens() {
    const lang = document.documentElement.lang || "en";
    const relative = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(lang, { numeric: "auto" }) : null;
    document.querySelectorAll(".qa-reopens[data-opens-ms]").forEach(function (el) {
      const at = parseInt(el.dataset.opensMs, 10);
      if (!at) return;
      const left = Math.max(0, at - serverNow());
      const minutes = Math.round(left / 60000);
      const countdown = !relative ? minutes + " min"
        : minutes >= 120 ? relative.format(Math.round(minutes / 60), "hour") : relative.format(minutes, "minute");
      const when = new Date(at).toISOString().replace("T", " ").substring(0, 16) + " UTC";
      el.textContent = (el.dataset.label || "{when} ({left})").replace("{when}", when).replace("{left}", countdown);
      el.title = new Date(at).toLocaleString();
    });
  }

  function renderTimes() { renderAges(); renderReopens(); }
  setInterval(renderAges, 200);
  setInterval(renderReopens, 5000);
  renderReopens();
  renderAges();

  // ---- clock and times ------------------------------------------------------------------------------
  // The top bar shows platform time in UTC; every <time datetime> gets the reader's local time on hover.
  const clock = document.getElementById("utc-clock");
  function renderClock() {
    if (clock) clock.textContent = new Date(serverNow()).toISOString().substring(11, 19) + " UTC";
  }
  function localTitles(root) {
    (root || document).querySelectorAll("time[datetime]").forEach(function (el) {
      const at = new Date(el.getAttribute("datetime"));
      if (!isNaN(at)) el.title = at.toISOString().replace("T", " ").substring(0, 19) + " UTC · " + at.toLocaleString();
    });
  }
  setInterval(renderClock, 1000);
  renderClock();
  localTitles(document);
  // A polled region (health strip, opportunities) whose refresh fails keeps its last content, marked outdated
  // with the time it was last fresh, instead of showing old green lights as if they were current.
  function markOutdated(event, outdated) {
    const region = event.target && event.target.closest && event.target.closest("[data-label-outdated]");
    if (!region) return;
    region.classList.toggle("qa-outdated", outdated);
    if (!outdated) { region.dataset.freshAt = String(serverNow()); region.removeAttribute("data-outdated-text"); return; }
    const since = new Date(parseInt(region.dataset.freshAt || String(serverNow()), 10)).toISOString().substring(11, 19);
    region.dataset.outdatedText = region.dataset.labelOutdated.replace("{time}", since + " UTC");
  }
  document.body.addEventListener("htmx:afterSwap", function (event) { localTitles(event.target); markOutdated(event, false); });
  document.body.addEventListener("htmx:sendError", function (event) { markOutdated(event, true); });
  document.body.addEventListener("htmx:responseError", function (event) { markOutdated(event, true); });

  const cssColour = window.qaColours.theme;
  const fade = window.qaColours.fade;

  function palette() {
    const mean = cssColour("--qa-chart-mean", "#9198a1");
    return {
      text: cssColour("--tblr-secondary", "#9198a1"),
      grid: fade(cssColour("--tblr-border-color", "#30363d"), 0.5),
      basis: cssColour("--qa-chart-basis", "#58a6ff"),
      mean: mean,
      band: fade(mean, 0.6),
      net: cssColour("--qa-chart-net", "#f0883e"),
      pos: cssColour("--qa-pos", "#3fb950"),
      neg: cssColour("--qa-neg", "#ff7b72"),
    };
  }

  function overlay(el, text) {
    let note = el.querySelector(".qa-chart-empty");
    if (!text) { if (note) note.remove(); return; }
    if (!note) {
      note = document.createElement("div");
      note.className = "qa-chart-empty";
      note.style.position = "absolute"; note.style.inset = "0"; note.style.zIndex = "3"; note.style.pointerEvents = "none";
      el.style.position = "relative";
      el.appendChild(note);
    }
    note.textContent = text;
  }

  function makeChart(el) {
    if (!window.LightweightCharts) { overlay(el, el.dataset.labelUnavailable); return null; }
    const LC = window.LightweightCharts;
    const pairId = el.id.replace("chart-", "");
    const colours = palette();
    // One price scale: basis, band and net edge are all USD/oz, so the lines can be compared by eye and the
    // entry/exit lines read against the net edge without a second axis.
    const chart = LC.createChart(el, {
      autoSize: true,
      // The TradingView attribution the licence asks for is a link under the chart (dashboard.html), not a logo
      // over the oldest points.
      layout: { background: { color: "transparent" }, textColor: colours.text, fontSize: 11, fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace", attributionLogo: false },
      grid: { vertLines: { color: colours.grid }, horzLines: { color: colours.grid } },
      timeScale: { timeVisible: true, secondsVisible: true, rightOffset: 4, barSpacing: 2, minBarSpacing: 0.5, borderColor: colours.grid },
      rightPriceScale: { visible: true, borderColor: colours.grid, scaleMargins: { top: 0.08, bottom: 0.08 } },
      leftPriceScale: { visible: false },
      crosshair: { mode: 1 },
      localization: {
        timeFormatter: function (t) { return new Date(t * 1000).toISOString().substring(11, 19) + " UTC"; },
        priceFormatter: function (p) { return (p > 0 ? "+" : "") + p.toFixed(2); },
      },
    });
    const line = LC.LineSeries;
    const quiet = { lastValueVisible: false, priceLineVisible: false, crosshairMarkerVisible: false };
    const upper = chart.addSeries(line, Object.assign({ color: colours.band, lineWidth: 1, lineStyle: 2 }, quiet));
    const lower = chart.addSeries(line, Object.assign({ color: colours.band, lineWidth: 1, lineStyle: 2 }, quiet));
    const mean = chart.addSeries(line, Object.assign({ color: colours.mean, lineWidth: 1 }, quiet));
    const basis = chart.addSeries(line, { color: colours.basis, lineWidth: 2, priceLineVisible: false });
    const net = chart.addSeries(line, { color: colours.net, lineWidth: 2, priceLineVisible: false });
    const entry = parseFloat(el.dataset.entry), exit = parseFloat(el.dataset.exit);
    if (!isNaN(entry)) net.createPriceLine({ price: entry, color: colours.pos, lineWidth: 1, lineStyle: 0, axisLabelVisible: true, title: el.dataset.labelEntry || "entry" });
    if (!isNaN(exit)) net.createPriceLine({ price: exit, color: colours.neg, lineWidth: 1, lineStyle: 2, axisLabelVisible: true, title: el.dataset.labelExit || "exit" });
    const markers = LC.createSeriesMarkers ? LC.createSeriesMarkers(net, []) : null;
    const c = { chart: chart, basis: basis, mean: mean, upper: upper, lower: lower, net: net, markers: markers, markerList: [], lastT: 0, points: 0, el: el, colours: colours };

    const history = JSON.parse((document.getElementById("history-" + pairId) || {}).textContent || "[]");
    c.lines = { basis: basis, mean: mean, upper: upper, lower: lower, net: net };
    c.last = {};
    SERIES.forEach(function (key) {
      const data = seedSeries(history, key);
      c.lines[key].setData(key === "basis" ? withGaps(data) : data);
      if (data.length) c.last[key] = data[data.length - 1];
    });
    if (history.length) { c.lastT = history[history.length - 1].t; c.points = history.length; }
    else overlay(el, el.dataset.labelWaiting);
    const stored = JSON.parse((document.getElementById("markers-" + pairId) || {}).textContent || "[]");
    stored.forEach(function (m) { addMarker(c, Math.floor(m.started_ms / 1000), true); if (m.ended_ms) addMarker(c, Math.floor(m.ended_ms / 1000), false); });
    el.dataset.points = String(c.points);
    ["wheel", "mousedown", "touchstart"].forEach(function (kind) {
      el.addEventListener(kind, function () { c.userMoved = true; }, { passive: true });
    });
    fitSpacing(c);
    return c;
  }

  const SERIES = ["basis", "mean", "upper", "lower", "net"];
  function isGap(from, to) { return from && to - from > 2; }

  // A series' points from the page's history; the point before a gap draws no line across it.
  function seedSeries(history, key) {
    const out = [];
    history.forEach(function (p) {
      const value = p[key];
      if (value === null || value === undefined) return;
      const prev = out[out.length - 1];
      if (prev && isGap(prev.time, p.t)) prev.color = "transparent";
      out.push({ time: p.t, value: value });
    });
    return out;
  }

  // The time scale spaces points by index, not time: without blanks a stretch with no samples (server down,
  // market closed) would vanish. Blank seconds keep it visible, up to half an hour per gap.
  const MAX_BLANKS = 1800;
  function blanks(from, to) {
    const out = [];
    for (let t = from + 1; t < to && out.length < MAX_BLANKS; t++) out.push({ time: t });
    return out;
  }
  function withGaps(data) {
    const out = [];
    data.forEach(function (p, i) {
      if (i && isGap(data[i - 1].time, p.time)) Array.prototype.push.apply(out, blanks(data[i - 1].time, p.time));
      out.push(p);
    });
    return out;
  }

  // While the points fit at 2 px or more each, the chart shows them all across its width (a fresh history
  // grows from the left instead of sitting in a corner); beyond that it scrolls, about ten minutes on a
  // laptop. Once the reader zooms or drags, the view is theirs.
  function fitSpacing(c) {
    if (c.userMoved || !c.points) return;
    const scale = c.chart.timeScale();
    const width = Math.max(100, c.el.clientWidth - 70);
    if (c.points * 2 <= width) {
      scale.fitContent();
    } else if (!c.scrolling) {
      c.scrolling = true;
      scale.applyOptions({ barSpacing: 2 });
      scale.scrollToRealTime();
    }
  }

  function showMarkers(c) {
    const all = c.markerList.concat(c.hedgeMarkers || []);
    all.sort(function (a, b) { return a.time - b.time; });
    try { c.markers.setMarkers(all); } catch (e) { /* a marker before the first point is ignored */ }
  }

  function addMarker(c, t, opened) {
    if (!c.markers) return;
    const shape = opened ? "arrowUp" : "arrowDown";
    // The page's stored markers and the live state can both name the opportunity that is open at load time.
    if (c.markerList.some(function (m) { return m.time === t && m.shape === shape; })) return;
    c.markerList.push(opened
      ? { time: t, position: "belowBar", color: c.colours.pos, shape: "arrowUp", size: 1 }
      : { time: t, position: "aboveBar", color: c.colours.neg, shape: "arrowDown", size: 1 });
    c.markerList.sort(function (a, b) { return a.time - b.time; });
    if (c.markerList.length > 200) c.markerList.splice(0, c.markerList.length - 200);
    showMarkers(c);
  }

  // The trading strip (strategies/strip.py) carries the hedges opened and closed in the chart's window, per pair:
  // each swap of the strip replaces the hedge markers.
  function hedgeMarkers(strip) {
    const data = document.getElementById("hedge-markers-data");
    if (!data) return;
    let perPair;
    try { perPair = JSON.parse(data.textContent || "{}"); } catch (e) { return; }
    const opened = strip.dataset.labelHedgeOpen || "hedge opened", closed = strip.dataset.labelHedgeClose || "hedge closed";
    Object.keys(state.charts).forEach(function (pairId) {
      const c = state.charts[pairId];
      if (!c.markers) return;
      c.hedgeMarkers = (perPair[pairId] || []).map(function (m) {
        return m.kind === "open"
          ? { time: m.t, position: "belowBar", color: c.colours.pos, shape: "circle", size: 1, text: opened + " H" + m.hedge }
          : { time: m.t, position: "aboveBar", color: c.colours.neg, shape: "square", size: 1, text: closed + " H" + m.hedge };
      });
      c.el.dataset.hedgeMarkers = String(c.hedgeMarkers.length);
      showMarkers(c);
    });
  }
  document.body.addEventListener("htmx:afterSwap", function (event) {
    const strip = event.target && event.target.closest && event.target.closest("#trading-strip");
    if (strip) hedgeMarkers(strip);
  });

  function appendPoint(c, point, live) {
    if (!point || point.t < c.lastT) return;
    const t = point.t;
    const gap = isGap(c.lastT, t);
    SERIES.forEach(function (key) {
      const value = point[key];
      if (value === null || value === undefined) return;
      const series = c.lines[key], last = c.last[key];
      if (gap && last) series.update({ time: last.time, value: last.value, color: "transparent" });
      if (gap && key === "basis" && t - c.lastT <= MAX_BLANKS) blanks(c.lastT, t).forEach(function (b) { series.update(b); });
      series.update({ time: t, value: value });
      c.last[key] = { time: t, value: value };
    });
    if (t > c.lastT || c.points === 0) {
      c.points += 1; c.el.dataset.points = String(c.points); overlay(c.el, null);
      fitSpacing(c);
    }
    c.lastT = t;
    const opportunity = live && live.opportunity;
    const openKey = opportunity ? opportunity.started_ms : null;
    if (openKey && c.openKey !== openKey) addMarker(c, Math.floor(openKey / 1000), true);
    if (!openKey && c.openKey) addMarker(c, t, false);
    c.openKey = openKey;
  }

  document.querySelectorAll(".qa-chart").forEach(function (el) {
    try {
      const c = makeChart(el);
      if (c) state.charts[el.id.replace("chart-", "")] = c;
    } catch (e) {
      // A chart that cannot draw must not stop the live quotes.
      overlay(el, el.dataset.labelUnavailable || (e && e.message) || String(e));
      if (window.console) console.error(e);
    }
  });

  // ---- socket --------------------------------------------------------------------------------------------
  function onMessage(event) {
    state.lastMessage = Date.now();
    state.messages += 1;
    let msg;
    try { msg = JSON.parse(event.data); } catch (e) { return; }
    if (msg.ts_ms) state.clockOffset = msg.ts_ms - Date.now();
    if (msg.type === "alerts.changed") {
      // The alert badge and list listen for this (hx-trigger "alerts-changed from:body") and re-fetch.
      document.body.dispatchEvent(new CustomEvent("alerts-changed"));
      return;
    }
    if (msg.type === "trading.changed") {
      // The dashboard's trading strip listens for this (hx-trigger "trading-changed from:body") and re-fetches.
      document.body.dispatchEvent(new CustomEvent("trading-changed"));
      return;
    }
    if (msg.type === "risk.changed") {
      // The risk centre (static/js/risk_live.js) listens for this and re-fetches its figures.
      document.body.dispatchEvent(new CustomEvent("risk-changed"));
      return;
    }
    if (msg.type === "spread") {
      Object.keys(msg.html || {}).forEach(function (id) {
        const target = document.getElementById(id);
        if (target) target.innerHTML = msg.html[id];
      });
      if (msg.state && msg.state.at_ms) state.clockOffset = msg.state.at_ms - Date.now();
      const c = state.charts[String(msg.pair_id)];
      if (c) appendPoint(c, msg.point, msg.state);
      renderTimes();
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    let socket;
    // A page without quotes asks for the control messages only (data-socket="/ws/spreads/?controls=1").
    const path = (status && status.dataset.socket) || "/ws/spreads/";
    try { socket = new WebSocket(scheme + location.host + path); } catch (e) { scheduleReconnect(); return; }
    state.socket = socket;
    socket.onopen = function () { state.attempt = 0; state.lastMessage = Date.now(); setStatus("live"); };
    socket.onmessage = onMessage;
    socket.onclose = function () { if (state.socket === socket) { state.socket = null; scheduleReconnect(); } };
    socket.onerror = function () { /* onclose follows */ };
  }

  function scheduleReconnect() {
    state.attempt += 1;
    setStatus(state.attempt > 6 ? "offline" : "reconnecting");
    const delay = Math.min(10000, 500 * Math.pow(2, state.attempt - 1)) * (0.75 + Math.random() * 0.5);
    clearTimeout(state.timer);
    state.timer = setTimeout(connect, delay);
  }

  // A socket that stays silent past two heartbeats is dead even if the browser has not noticed.
  setInterval(function () {
    if (state.socket && state.socket.readyState === WebSocket.OPEN && Date.now() - state.lastMessage > 12000) {
      const dead = state.socket; state.socket = null; try { dead.close(); } catch (e) { /* already gone */ }
      scheduleReconnect();
    }
  }, 2000);

  if (status) connect();
})();
