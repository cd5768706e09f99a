/* The risk centre's history chart (templates/risk/_centre.html): one figure of one scope over a window, read from
   /api/v1/risk/history/ and drawn with lightweight-charts (the hourly rows' lowest and highest as a faint band).
   The chart is kept on window.quantarbRisk (the browser tests read the plotted points from there). */
(function () {
  "use strict";
  const configNode = document.getElementById("risk-history-config");
  const el = document.getElementById("risk-history-chart");
  if (!configNode || !el || !window.LightweightCharts) return;
  const config = JSON.parse(configNode.textContent);
  const metricSelect = document.getElementById("risk-history-metric");
  const scopeSelect = document.getElementById("risk-history-scope");
  const windowSelect = document.getElementById("risk-history-window");
  const state = (window.quantarbRisk = { ready: false, points: [] });

  function fill(select, options) {
    options.forEach(function (option) {
      const node = document.createElement("option");
      node.value = option.value;
      node.textContent = option.label;
      select.appendChild(node);
    });
  }
  fill(metricSelect, config.metrics);
  fill(scopeSelect, config.scopes);

  const colour = window.qaColours.theme;
  const text = colour("--tblr-secondary", "#9198a1");
  const grid = colour("--tblr-border-color", "#30363d");
  const line = colour("--qa-chart-basis", "#58a6ff");

  const LC = window.LightweightCharts;
  const chart = LC.createChart(el, {
    autoSize: true,
    layout: { background: { color: "transparent" }, textColor: text, fontSize: 11, attributionLogo: false },
    grid: { vertLines: { color: grid }, horzLines: { color: grid } },
    timeScale: { timeVisible: true, secondsVisible: false, borderColor: grid },
    rightPriceScale: { borderColor: grid, minimumWidth: 84 },
    localization: {
      timeFormatter: function (t) { return new Date(t * 1000).toISOString().substring(0, 16).replace("T", " ") + " UTC"; },
    },
  });
  const series = chart.addSeries(LC.LineSeries, { color: line, lineWidth: 2, priceLineVisible: false });
  const low = chart.addSeries(LC.LineSeries, { color: grid, lineWidth: 1, priceLineVisible: false, lastValueVisible: false });
  const high = chart.addSeries(LC.LineSeries, { color: grid, lineWidth: 1, priceLineVisible: false, lastValueVisible: false });

  function note(message) {
    let node = el.querySelector(".qa-chart-empty");
    if (!message) { if (node) node.remove(); return; }
    if (!node) {
      node = document.createElement("div");
      node.className = "qa-chart-empty";
      node.style.position = "absolute"; node.style.inset = "0"; node.style.zIndex = "3";
      el.appendChild(node);
    }
    node.textContent = message;
  }

  function load() {
    const until = new Date();
    const since = new Date(until.getTime() - Number(windowSelect.value) * 3600 * 1000);
    const params = new URLSearchParams({
      metric: metricSelect.value, scope: scopeSelect.value, since: since.toISOString(), until: until.toISOString(),
    });
    note(config.labels.loading);
    state.ready = false;
    fetch(config.url + "?" + params.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (answer) { if (!answer.ok) throw new Error(String(answer.status)); return answer.json(); })
      .then(function (body) {
        const seen = new Set();
        const points = body.points.filter(function (p) { return p.value !== null; }).map(function (p) {
          return { time: Math.floor(Date.parse(p.at) / 1000), value: Number(p.value), low: Number(p.low), high: Number(p.high) };
        }).filter(function (p) { if (seen.has(p.time)) return false; seen.add(p.time); return true; });
        series.setData(points.map(function (p) { return { time: p.time, value: p.value }; }));
        const band = body.resolution === "1h";
        low.setData(band ? points.map(function (p) { return { time: p.time, value: p.low }; }) : []);
        high.setData(band ? points.map(function (p) { return { time: p.time, value: p.high }; }) : []);
        chart.timeScale().fitContent();
        state.points = points;
        note(points.length ? "" : config.labels.empty);
        state.ready = true;
      })
      .catch(function () { note(config.labels.failed); state.ready = true; });
  }
  [metricSelect, scopeSelect, windowSelect].forEach(function (select) { select.addEventListener("change", load); });
  load();
})();
