/* quantarb live dashboard: one WebSocket (/ws/spreads/), server-rendered partials swapped by id, a basis chart
   that loads history from the page and appends live points, quote ages that tick locally.
   The socket reconnects with exponential backoff and jitter; the top bar says live / reconnecting / offline. */
(function () {
  "use strict";

  const status = document.getElementById("live-status");
  const state = { socket: null, attempt: 0, lastMessage: 0, clockOffset: 0, messages: 0, charts: {}, timer: null };
  window.qaLive = state; // for operators' consoles and the browser tests

  function setStatus(kind) {
    if (!status) return;
    status.dataset.state = kind;
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
  setInterval(renderAges, 200);
  renderAges();

  // ---- chart -------------------------------------------------------------------------------------------
  // Chart colours per theme. Read from the theme attribute, not from CSS variables: Tabler's use
  // light-dark()/oklch(), which the chart library cannot parse.
  function palette() {
    const light = document.documentElement.dataset.bsTheme === "light";
    return light
      ? { text: "#1d273b", grid: "#e6e7e9", basis: "#206bc4", mean: "#626976", band: "rgba(98,105,118,0.45)", net: "#b35900" }
      : { text: "#c8d3e1", grid: "#263042", basis: "#4299e1", mean: "#a0aec0", band: "rgba(160,174,192,0.45)", net: "#f59f00" };
  }

  function makeChart(el) {
    if (!window.LightweightCharts) return null;
    const LC = window.LightweightCharts;
    const pairId = el.id.replace("chart-", "");
    const colours = palette();
    const chart = LC.createChart(el, {
      autoSize: true,
      layout: { background: { color: "transparent" }, textColor: colours.text, fontFamily: "ui-monospace, SFMono-Regular, Menlo, monospace" },
      grid: { vertLines: { color: colours.grid }, horzLines: { color: colours.grid } },
      timeScale: { timeVisible: true, secondsVisible: true, rightOffset: 4 },
      rightPriceScale: { visible: true },
      leftPriceScale: { visible: true },
      localization: { timeFormatter: function (t) { return new Date(t * 1000).toISOString().substring(11, 19) + " UTC"; } },
    });
    const line = LC.LineSeries;
    const basis = chart.addSeries(line, { color: colours.basis, lineWidth: 2, priceScaleId: "right", title: "" });
    const mean = chart.addSeries(line, { color: colours.mean, lineWidth: 1, priceScaleId: "right", lastValueVisible: false, priceLineVisible: false });
    const upper = chart.addSeries(line, { color: colours.band, lineWidth: 1, lineStyle: 2, priceScaleId: "right", lastValueVisible: false, priceLineVisible: false });
    const lower = chart.addSeries(line, { color: colours.band, lineWidth: 1, lineStyle: 2, priceScaleId: "right", lastValueVisible: false, priceLineVisible: false });
    const net = chart.addSeries(line, { color: colours.net, lineWidth: 1, priceScaleId: "left" });
    const entry = parseFloat(el.dataset.entry), exit = parseFloat(el.dataset.exit);
    net.createPriceLine({ price: entry, color: "#2fb344", lineWidth: 1, lineStyle: 0, axisLabelVisible: true, title: el.dataset.labelEntry || "entry" });
    net.createPriceLine({ price: exit, color: "#d63939", lineWidth: 1, lineStyle: 2, axisLabelVisible: true, title: el.dataset.labelExit || "exit" });
    const markers = LC.createSeriesMarkers ? LC.createSeriesMarkers(net, []) : null;
    const c = { chart: chart, basis: basis, mean: mean, upper: upper, lower: lower, net: net, markers: markers, markerList: [], lastT: 0, points: 0, el: el };

    const history = JSON.parse((document.getElementById("history-" + pairId) || {}).textContent || "[]");
    const seed = function (key) { return history.filter(function (p) { return p[key] !== null && p[key] !== undefined; }).map(function (p) { return { time: p.t, value: p[key] }; }); };
    basis.setData(seed("basis"));
    mean.setData(seed("mean"));
    net.setData(seed("net"));
    if (history.length) { c.lastT = history[history.length - 1].t; c.points = history.length; }
    const stored = JSON.parse((document.getElementById("markers-" + pairId) || {}).textContent || "[]");
    stored.forEach(function (m) { addMarker(c, Math.floor(m.started_ms / 1000), true); if (m.ended_ms) addMarker(c, Math.floor(m.ended_ms / 1000), false); });
    el.dataset.points = String(c.points);
    return c;
  }

  function addMarker(c, t, opened) {
    if (!c.markers) return;
    c.markerList.push(opened
      ? { time: t, position: "belowBar", color: "#2fb344", shape: "arrowUp", text: c.el.dataset.labelOpened || "open" }
      : { time: t, position: "aboveBar", color: "#d63939", shape: "arrowDown", text: c.el.dataset.labelClosed || "end" });
    c.markerList.sort(function (a, b) { return a.time - b.time; });
    if (c.markerList.length > 200) c.markerList.splice(0, c.markerList.length - 200);
    try { c.markers.setMarkers(c.markerList); } catch (e) { /* a marker before the first point is ignored */ }
  }

  function appendPoint(c, point, live) {
    if (!point || point.t < c.lastT) return;
    const t = point.t;
    c.basis.update({ time: t, value: point.basis });
    c.net.update({ time: t, value: point.net });
    if (point.mean !== null && point.mean !== undefined) c.mean.update({ time: t, value: point.mean });
    if (point.upper !== null && point.upper !== undefined) { c.upper.update({ time: t, value: point.upper }); c.lower.update({ time: t, value: point.lower }); }
    if (t > c.lastT) { c.points += 1; c.el.dataset.points = String(c.points); }
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
      el.textContent = e && e.message ? e.message : String(e);
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
    if (msg.type === "spread") {
      Object.keys(msg.html || {}).forEach(function (id) {
        const target = document.getElementById(id);
        if (target) target.innerHTML = msg.html[id];
      });
      if (msg.state && msg.state.at_ms) state.clockOffset = msg.state.at_ms - Date.now();
      const c = state.charts[String(msg.pair_id)];
      if (c) appendPoint(c, msg.point, msg.state);
      renderAges();
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    let socket;
    try { socket = new WebSocket(scheme + location.host + "/ws/spreads/"); } catch (e) { scheduleReconnect(); return; }
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
