/* The Reports page (templates/trading/portfolio/reports.html): metric cards and charts read from the analytics API
   (/api/v1/analytics/metrics|equity|attribution/) for the filter the page was rendered with (#report-config).
   Equity and drawdown with lightweight-charts; daily PnL, monthly returns, the attribution waterfall and the two
   histograms with ECharts. Every part shows "loading" until its answer arrives and says so when it has no data.
   The charts are kept on window.quantarbReports (the browser tests read the plotted series from there). */
(function () {
  "use strict";
  const configNode = document.getElementById("report-config");
  if (!configNode) return;
  const config = JSON.parse(configNode.textContent);
  const L = config.labels;
  const reports = (window.quantarbReports = { ready: false, charts: {}, series: {} });
  const echartsInstances = [];

  const cssColour = window.qaColours.theme;
  const fade = window.qaColours.fade;
  function palette() {
    return {
      text: cssColour("--tblr-secondary", "#9198a1"),
      grid: fade(cssColour("--tblr-border-color", "#30363d"), 0.5),
      line: cssColour("--qa-chart-basis", "#58a6ff"),
      pos: cssColour("--qa-pos", "#3fb950"),
      neg: cssColour("--qa-neg", "#ff7b72"),
      total: cssColour("--qa-chart-net", "#f0883e"),
    };
  }
  const colours = palette();
  const mono = "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace";

  function overlay(el, text) {
    let note = el.querySelector(".qa-chart-empty");
    if (!text) { if (note) note.remove(); return; }
    if (!note) {
      note = document.createElement("div");
      note.className = "qa-chart-empty";
      note.style.position = "absolute"; note.style.inset = "0"; note.style.zIndex = "3";
      el.appendChild(note);
    }
    note.textContent = text;
  }

  function query(extra) {
    const params = Object.assign({}, config.params, extra || {});
    Object.keys(params).forEach(function (key) { if (params[key] === null) delete params[key]; });
    return new URLSearchParams(params).toString();
  }
  function fetchJson(url, extra) {
    return fetch(url + "?" + query(extra), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (answer) {
        return answer.json().then(function (body) {
          if (!answer.ok) throw new Error(body.detail || Object.values(body).flat().join(" "));
          return body;
        });
      });
  }

  // --- formatting -------------------------------------------------------------------------------------------------
  function signed(text, value) { return (value > 0 ? "+" : "") + text; }
  function percent(value) {
    const p = value * 100, size = Math.abs(p);
    return p.toFixed(size >= 1 || size === 0 ? 2 : size >= 0.01 ? 3 : 4) + " %";
  }
  function pct(value) { return signed(percent(value), value); }
  function share(value) { return percent(value); }
  function ratio(value) { return value.toFixed(2); }
  function usd(value) { const n = Number(value); return signed(n.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 }), n); }
  function whole(value) { return String(value); }
  function duration(seconds) {
    if (seconds < 60) return seconds.toFixed(0) + " " + L.seconds;
    if (seconds < 3600) return (seconds / 60).toFixed(1) + " " + L.minutes;
    return (seconds / 3600).toFixed(1) + " " + L.hours;
  }
  function format(formatter, value) {
    if (value === null || value === undefined) return L.undefined;
    return formatter(typeof value === "string" ? Number(value) : value);
  }

  // --- metric cards -------------------------------------------------------------------------------------------------
  // [API key, label, formatter, coloured by sign]: returns and money are green/red with their sign; shares,
  // counts and durations are plain.
  const CARDS = [
    ["twr", "twr", pct, true], ["mwr", "mwr", pct, true], ["cagr", "cagr", pct, true],
    ["volatility", "volatility", share, false], ["sharpe", "sharpe", ratio, true], ["sortino", "sortino", ratio, true],
    ["calmar", "calmar", ratio, true], ["max_drawdown", "max_drawdown", pct, true], ["var", "var", pct, true],
    ["win_rate", "win_rate", share, false], ["profit_factor", "profit_factor", ratio, false],
    ["expectancy", "expectancy", usd, true], ["hedges", "hedges", whole, false],
    ["median_holding_s", "median_holding", duration, false], ["time_in_market_share", "time_in_market", share, false],
    ["pnl", "pnl", usd, true],
  ];
  function renderCards(metrics) {
    const box = document.getElementById("metric-cards");
    box.textContent = "";
    CARDS.forEach(function (card) {
      const value = metrics[card[0]];
      const col = document.createElement("div");
      col.className = "col-6 col-md-3 col-xl-2";
      const number = value === null || value === undefined ? null : Number(value);
      const tone = number === null || !card[3] ? "" : number > 0 ? " qa-pos" : number < 0 ? " qa-neg" : "";
      col.innerHTML = '<div class="card card-sm"><div class="card-body"><div class="subheader"></div><div class="qa-metric-value"></div></div></div>';
      col.querySelector(".subheader").textContent = L[card[1]];
      const shown = col.querySelector(".qa-metric-value");
      shown.textContent = format(card[2], value);
      shown.className += tone;
      shown.dataset.metric = card[0];
      shown.dataset.value = value === null || value === undefined ? "" : String(value);
      box.appendChild(col);
    });
    box.setAttribute("aria-busy", "false");
    const basis = metrics.basis;
    document.getElementById("report-basis").textContent = L.basis
      .replace("%(days)s", basis.annualisation_days)
      .replace("%(frequency)s", L["frequency_" + basis.return_frequency] || basis.return_frequency)
      .replace("%(clock)s", L["clock_" + basis.clock] || basis.clock);
  }

  // --- equity and drawdown (lightweight-charts) ---------------------------------------------------------------
  function timeChart(el, asPercent) {
    const LC = window.LightweightCharts;
    return LC.createChart(el, {
      autoSize: true,
      layout: { background: { color: "transparent" }, textColor: colours.text, fontSize: 11, fontFamily: mono, attributionLogo: false },
      grid: { vertLines: { color: colours.grid }, horzLines: { color: colours.grid } },
      timeScale: { timeVisible: true, secondsVisible: false, borderColor: colours.grid },
      rightPriceScale: { borderColor: colours.grid, minimumWidth: 84 },
      localization: {
        timeFormatter: function (t) { return new Date(t * 1000).toISOString().substring(0, 16).replace("T", " ") + " UTC"; },
        priceFormatter: asPercent ? percent : function (p) { return p.toFixed(2); },
      },
    });
  }
  function renderEquity(body) {
    const equityEl = document.getElementById("chart-equity");
    const underEl = document.getElementById("chart-underwater");
    overlay(equityEl, null); overlay(underEl, null);
    if (body.unavailable || body.points.length < 2) {
      overlay(equityEl, body.points.length < 2 ? L.no_equity : body.unavailable);
      overlay(underEl, " ");
      return;
    }
    const LC = window.LightweightCharts;
    const top = timeChart(equityEl, false);
    const bottom = timeChart(underEl, true);
    const equity = top.addSeries(LC.LineSeries, { color: colours.line, lineWidth: 2, priceLineVisible: false, title: L.equity });
    const under = bottom.addSeries(LC.AreaSeries, { lineColor: colours.neg, topColor: colours.neg, bottomColor: "transparent", lineWidth: 1, priceLineVisible: false, title: L.underwater });
    equity.setData(body.points.map(function (p) { return { time: p.t, value: Number(p.equity) }; }));
    under.setData(body.points.map(function (p) { return { time: p.t, value: p.underwater }; }));
    top.timeScale().fitContent(); bottom.timeScale().fitContent();
    top.timeScale().subscribeVisibleLogicalRangeChange(function (range) { if (range) bottom.timeScale().setVisibleLogicalRange(range); });
    reports.charts.equity = top; reports.charts.underwater = bottom;
    reports.series.equity = equity; reports.series.underwater = under;
  }

  // --- ECharts ------------------------------------------------------------------------------------------------
  function echart(el) {
    const chart = window.echarts.init(el, null, { renderer: "canvas" });
    echartsInstances.push(chart);
    return chart;
  }
  function axis(extra) {
    return Object.assign({ axisLabel: { color: colours.text, fontFamily: mono }, axisLine: { lineStyle: { color: colours.grid } }, splitLine: { lineStyle: { color: colours.grid } } }, extra || {});
  }
  const grid = { left: 64, right: 16, top: 16, bottom: 40 };
  const byValue = function (params) { return params.value >= 0 ? colours.pos : colours.neg; };

  function renderDaily(body) {
    const el = document.getElementById("chart-daily");
    overlay(el, null);
    if (!body.daily.length) { overlay(el, L.no_equity); return; }
    const chart = echart(el);
    chart.setOption({
      animation: false, grid: grid, tooltip: { trigger: "axis" },
      xAxis: axis({ type: "category", data: body.daily.map(function (d) { return d.day; }) }),
      yAxis: axis({ type: "value", name: "" }),
      series: [{ name: L.daily_pnl, type: "bar", data: body.daily.map(function (d) { return Number(d.pnl); }), itemStyle: { color: byValue } }],
    });
    reports.charts.daily = chart;
  }

  function renderMonthly(body) {
    const el = document.getElementById("chart-monthly");
    overlay(el, null);
    if (!body.monthly.length) { overlay(el, L.no_equity); return; }
    const years = Array.from(new Set(body.monthly.map(function (m) { return m.year; }))).sort();
    const data = body.monthly.map(function (m) { return [m.month - 1, years.indexOf(m.year), m.ret]; });
    const extreme = Math.max.apply(null, body.monthly.map(function (m) { return Math.abs(m.ret); })) || 0.01;
    const chart = echart(el);
    chart.setOption({
      animation: false, grid: { left: 56, right: 16, top: 16, bottom: 64 },
      tooltip: { formatter: function (p) { return years[p.value[1]] + "-" + String(p.value[0] + 1).padStart(2, "0") + ": " + pct(p.value[2]); } },
      xAxis: axis({ type: "category", data: L.months.split(" "), splitArea: { show: true } }),
      yAxis: axis({ type: "category", data: years.map(String), splitArea: { show: true } }),
      visualMap: { min: -extreme, max: extreme, calculable: false, orient: "horizontal", left: "center", bottom: 0, itemHeight: 120, textStyle: { color: colours.text }, inRange: { color: [colours.neg, "#888888", colours.pos] }, formatter: function (v) { return pct(v); } },
      series: [{ name: L.monthly, type: "heatmap", data: data, label: { show: true, color: "#ffffff", fontFamily: mono, formatter: function (p) { return (p.value[2] * 100).toFixed(1); } } }],
    });
    reports.charts.monthly = chart;
  }

  function renderWaterfall(body) {
    const el = document.getElementById("chart-waterfall");
    overlay(el, null);
    if (!body.hedges) { overlay(el, L.no_hedges); return; }
    const names = body.lines.map(function (row) { return L[row.line]; }).concat([L.total]);
    const base = [], height = [], signs = [];
    let running = 0;
    body.lines.forEach(function (row) {
      const value = Number(row.usd);
      base.push(Math.min(running, running + value));
      height.push(Math.abs(value));
      signs.push(value);
      running += value;
    });
    const total = Number(body.total);
    base.push(Math.min(0, total)); height.push(Math.abs(total)); signs.push(total);
    const chart = echart(el);
    chart.setOption({
      animation: false, grid: { left: 64, right: 16, top: 16, bottom: 56 },
      tooltip: { trigger: "axis", formatter: function (params) { const i = params[0].dataIndex; return names[i] + ": " + usd(signs[i]); } },
      xAxis: axis({ type: "category", data: names, axisLabel: { color: colours.text, interval: 0, rotate: 30 } }),
      yAxis: axis({ type: "value" }),
      series: [
        // stackStrategy "all": a bar stacks on its base whatever their signs (a loss below zero starts there).
        { name: "base", type: "bar", stack: "waterfall", stackStrategy: "all", silent: true, itemStyle: { color: "transparent" }, data: base },
        { name: L.total, type: "bar", stack: "waterfall", stackStrategy: "all", data: height, itemStyle: { color: function (p) { return p.dataIndex === names.length - 1 ? colours.total : signs[p.dataIndex] >= 0 ? colours.pos : colours.neg; } } },
      ],
    });
    reports.charts.waterfall = chart;
    reports.series.waterfall = signs;
  }

  function renderHistogram(id, histogram, key, label) {
    const el = document.getElementById(id);
    overlay(el, null);
    if (!histogram.buckets.length) { overlay(el, L.no_hedges); return; }
    const chart = echart(el);
    chart.setOption({
      animation: false, grid: grid, tooltip: { trigger: "axis" },
      xAxis: axis({ type: "category", data: histogram.buckets.map(function (b) { return label(b); }) }),
      yAxis: axis({ type: "value", minInterval: 1 }),
      series: [{ name: L.count, type: "bar", barCategoryGap: "5%", data: histogram.buckets.map(function (b) { return b.count; }), itemStyle: { color: colours.line } }],
    });
    reports.charts[key] = chart;
  }

  // Strategies side by side, each over the page's own period (config.params' since and until); each cell keeps the
  // API's figure in data-value (what the browser tests compare). Resolves once every row is filled.
  function renderStrategies() {
    return Promise.all(config.strategies.map(function (strategy) {
      const row = document.querySelector('[data-testid="strategy-comparison"] tr[data-strategy="' + strategy.id + '"]');
      if (!row) return null;
      return fetchJson(config.urls.metrics, { scope: "strategy", id: strategy.id }).then(function (m) {
        const cells = row.querySelectorAll("td.qa-num");
        [["twr", pct], ["sharpe", ratio], ["max_drawdown", pct], ["win_rate", share], ["hedges", whole], ["pnl", usd]].forEach(function (pair, i) {
          const value = m[pair[0]];
          cells[i].classList.remove("placeholder-glow");
          cells[i].dataset.strategyMetric = pair[0];
          cells[i].dataset.value = value === null || value === undefined ? "" : String(value);
          cells[i].textContent = format(pair[1], value);
        });
      }).catch(function () { row.querySelectorAll("td.qa-num").forEach(function (cell) { cell.textContent = L.undefined; }); });
    }));
  }

  function failed(error) {
    const box = document.getElementById("report-status");
    box.textContent = L.failed.replace("%(reason)s", error.message);
    box.classList.remove("d-none");
  }

  ["chart-equity", "chart-underwater", "chart-daily", "chart-monthly", "chart-waterfall", "chart-entry-edge", "chart-holding"].forEach(function (id) {
    overlay(document.getElementById(id), L.loading);
  });
  // Each part on its own: one that fails says so and leaves the others drawn.
  function each(parts) {
    return function (body) {
      parts.forEach(function (part) { try { part(body); } catch (error) { failed(error); } });
    };
  }
  const work = [
    fetchJson(config.urls.metrics).then(each([renderCards])),
    fetchJson(config.urls.equity).then(each([renderEquity, renderDaily, renderMonthly])),
    fetchJson(config.urls.attribution).then(each([
      renderWaterfall,
      function (body) { renderHistogram("chart-entry-edge", body.entry_edge, "entryEdge", function (b) { return Number(b.lower).toFixed(2); }); },
      function (body) { renderHistogram("chart-holding", body.holding_time, "holding", function (b) { return duration(Number(b.lower)); }); },
    ])),
  ];
  Promise.all(work.map(function (p) { return p.catch(function (error) { failed(error); }); })).then(renderStrategies).then(function () {
    reports.ready = true;
    document.body.dataset.reportsReady = "1";
  });
  window.addEventListener("resize", function () { echartsInstances.forEach(function (chart) { chart.resize(); }); });
})();
