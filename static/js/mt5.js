// The MT5 terminal page's latency chart (mt5ops/pages.py): the bridge round trip per health check, p50 and p99 in
// milliseconds, from the page's json_script data. No inline script: the template loads this file.
(function () {
  "use strict";

  const cssColour = window.qaColours.theme;

  function draw(el) {
    const source = document.getElementById(el.dataset.source);
    if (!source) { return; }
    if (!window.LightweightCharts) { el.textContent = el.dataset.labelUnavailable; return; }
    const LC = window.LightweightCharts;
    const points = JSON.parse(source.textContent);
    const text = cssColour("--tblr-secondary", "#9198a1");
    const grid = cssColour("--tblr-border-color", "#30363d");
    const chart = LC.createChart(el, {
      autoSize: true,
      layout: { background: { color: "transparent" }, textColor: text, fontSize: 11, fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace", attributionLogo: false },
      grid: { vertLines: { color: grid }, horzLines: { color: grid } },
      timeScale: { timeVisible: true, secondsVisible: true, borderColor: grid },
      rightPriceScale: { visible: true, borderColor: grid },
      localization: {
        timeFormatter: function (t) { return new Date(t * 1000).toISOString().substring(11, 19) + " UTC"; },
        priceFormatter: function (p) { return p.toFixed(1) + " ms"; },
      },
    });
    const p99 = chart.addSeries(LC.LineSeries, { color: cssColour("--qa-chart-net", "#f0883e"), lineWidth: 1, title: el.dataset.labelP99 });
    const p50 = chart.addSeries(LC.LineSeries, { color: cssColour("--qa-chart-basis", "#58a6ff"), lineWidth: 2, title: el.dataset.labelP50 });
    const seen = new Set();
    const rows = points.filter(function (point) {
      if (seen.has(point.time)) { return false; }  // one point per second: the chart's time scale is in seconds
      seen.add(point.time);
      return true;
    });
    p50.setData(rows.map(function (point) { return { time: point.time, value: point.p50 }; }));
    p99.setData(rows.map(function (point) { return { time: point.time, value: point.p99 }; }));
    chart.timeScale().fitContent();
    el.dataset.drawn = String(rows.length);
  }

  document.querySelectorAll("[data-source='mt5-latency-data']").forEach(draw);
})();
