/* quantarb: mark the requests a page makes by itself, so they do not keep an idle session alive.
   htmx polls (`hx-trigger="every …"`) carry no triggering event, and `load`/`revealed`/`intersect` triggers fire
   without a person acting: both get `X-Quantarb-Background: 1`, which accounts/sessions.py does not count as
   activity. Clicks, submits and changes are a person's, and count. */
(function () {
  "use strict";
  var BACKGROUND = { load: true, revealed: true, intersect: true };
  document.addEventListener("htmx:configRequest", function (event) {
    var trigger = event.detail && event.detail.triggeringEvent;
    if (!trigger || BACKGROUND[trigger.type]) {
      event.detail.headers["X-Quantarb-Background"] = "1";
    }
  });
})();
