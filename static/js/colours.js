/* Theme colours for the chart libraries. Tabler's colours are CSS custom properties holding light-dark() or
   oklch() expressions, which neither lightweight-charts nor ECharts parses (one threw and took the live socket
   with it): the browser resolves the variable, the colour is painted on a one-pixel canvas and read back as
   rgba(). Loaded by the base template before any page script; the pages call window.qaColours. */
(function () {
  "use strict";

  let probe;

  function theme(name, fallback) {
    if (probe === undefined) probe = document.createElement("canvas").getContext("2d", { willReadFrequently: true });
    const el = document.createElement("span");
    el.style.display = "none";
    el.style.color = "var(" + name + ", " + fallback + ")";
    document.body.appendChild(el);
    const computed = getComputedStyle(el).color;
    el.remove();
    if (!probe || !computed) return fallback;
    probe.clearRect(0, 0, 1, 1);
    probe.fillStyle = fallback;
    probe.fillStyle = computed;
    probe.fillRect(0, 0, 1, 1);
    const d = probe.getImageData(0, 0, 1, 1).data;
    return "rgba(" + d[0] + "," + d[1] + "," + d[2] + "," + (d[3] / 255).toFixed(3) + ")";
  }

  // An rgba() colour (as `theme` returns) with another alpha.
  function fade(rgba, alpha) { return rgba.replace(/,[^,]*\)$/, "," + alpha + ")"); }

  window.qaColours = { theme: theme, fade: fade };
})();
