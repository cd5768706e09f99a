/* quantarb strategy page: one WebSocket (/ws/strategies/<id>/) that says `strategy.changed`; the status panel
   then refreshes itself over HTMX (it also polls every few seconds, so a lost socket only slows it down). */
(function () {
  "use strict";
  const holder = document.querySelector("[data-strategy-socket]");
  if (!holder) return;
  const strategyId = holder.dataset.strategySocket;
  const status = document.getElementById("live-status");
  const text = status ? status.querySelector(".qa-live-text") : null;
  let socket = null;
  let attempts = 0;

  function show(state) {
    if (!status) return;
    status.dataset.state = state;
    if (text && text.dataset["label" + state.charAt(0).toUpperCase() + state.slice(1)]) {
      text.textContent = text.dataset["label" + state.charAt(0).toUpperCase() + state.slice(1)];
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    try { socket = new WebSocket(scheme + location.host + "/ws/strategies/" + strategyId + "/"); } catch (e) { retry(); return; }
    socket.onopen = function () { attempts = 0; show("live"); };
    socket.onmessage = function (event) {
      let message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (message.type === "strategy.changed" && window.htmx) {
        window.htmx.trigger(document.body, "strategy-changed");
      }
    };
    socket.onclose = function (event) {
      if (event.code === 4403) { show("offline"); return; }
      retry();
    };
  }

  function retry() {
    attempts += 1;
    show(attempts > 5 ? "offline" : "reconnecting");
    setTimeout(connect, Math.min(30000, 500 * Math.pow(2, attempts)));
  }

  connect();
})();
