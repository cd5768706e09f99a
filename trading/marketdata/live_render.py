"""The dashboard's two live partials (`_venues.html`, `_edges.html`) rendered without the template engine.

Every spread update is rendered once per process and language before it is pushed (trading/marketdata/consumers.py), and
the templates cost 2–5 ms per update and language, about half of it in `{% translate %}`: more than the rest
of the push path. This module writes the same bytes with string formatting: the translated labels are
rendered once per language *by the template engine itself* (the same tags as in the partials, so the same
catalog lookups and the same escaping), and the values go through the same filters (`floatformat`,
`conditional_escape`) and the same arithmetic as `{% widthratio %}` and `|add:0`.

The templates stay the source: the page load renders them, and so does the live push whenever this module is
off. tests/trading/marketdata/test_live_render.py compares both outputs byte for byte over generated states in every
language (each branch of the partials), and at run time `render_partials` checks itself against the templates
on the first update of each language and then every CHECK_EVERY updates: on a difference it logs an error and
the process goes back to the templates for good (a template edited without this module is a slower push, not
a wrong page).
"""

from __future__ import annotations

import logging
from typing import Any

from django.template import Context, Template
from django.template.defaultfilters import floatformat
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.html import conditional_escape

log = logging.getLogger(__name__)

CHECK_EVERY = 500
CLOSED_ATTRIBUTE = 'data-closed="1"'
MARK = "\x00"  # stands for a value inside a translated sentence; no translation contains it

# The label tags of the partials, exactly as they are written there (the value of a `with` is MARK).
LABEL_TAGS: dict[str, str] = {
    # _venue_card.html
    "open_demo": '{% translate "open · demo session" %}',
    "open": '{% translate "open" context "market session" %}',
    "break": '{% translate "closed · daily break" %}',
    "weekend": '{% translate "closed · weekend" %}',
    "holiday": '{% translate "closed · holiday" %}',
    "always": '{% translate "24/7" %}',
    "s_ago": "{% translate 's ago' %}",
    "stale": "{% translate 'stale' %}",
    "closed": "{% translate 'closed' %}",
    "no_quote": "{% translate 'no quote yet' %}",
    "bid": '{% translate "Bid" %}',
    "ask": '{% translate "Ask" %}',
    "mid": '{% translate "Mid" %}',
    "spread": '{% translate "Spread" %}',
    "perp_units": "{% blocktranslate %}Prices in USDT per troy ounce; quantity in ounces.{% endblocktranslate %}",
    "cfd_units": "{% blocktranslate with oz=mark %}Prices in USD per troy ounce; 1.00 lot = {{ oz }} oz."
    "{% endblocktranslate %}",
    "market_closed": '{% translate "Market closed: no quotes until it reopens." %}',
    "first_quote": '{% translate "Waiting for the first quote…" %}',
    "reopens": "{% blocktranslate with when='{when}' left='{left}' %}Reopens {{ when }} ({{ left }})."
    "{% endblocktranslate %}",
    # _edge_card.html
    "net": '{% translate "net" context "edge" %}',
    "net_title": "{% translate 'Net of fees, slippage and expected carry' %}",
    "usd_oz": '{% translate "USD/oz" %}',
    "bps": '{% translate "bps" %}',
    "raw": '{% translate "raw" %}',
    "meter": "{% translate 'Net edge as a share of the entry threshold' %}",
    "entry": '{% translate "entry" %}',
    "opportunity_open": '{% translate "opportunity open" %}',
    "peak": '{% translate "peak" %}',
    "reached": '{% translate "at or above entry" %}',
    "no_edge": '{% translate "no edge" %}',
    "of_entry": "{% blocktranslate with pct=mark %}{{ pct }}% of entry{% endblocktranslate %}",
    # _edges.html
    "sell_perp": '{% translate "Sell perp / buy CFD" %}',
    "buy_perp": '{% translate "Buy perp / sell CFD" %}',
    "cfd_closed": '{% translate "The CFD market is closed: no spread is priced until it reopens." %}',
    "fresh_quotes": '{% translate "Waiting for fresh quotes on both legs…" %}',
    "rate_missing": '{% translate "No current edges: no USDT/USD rate has come from its source yet." %}',
    "rate_stale": '{% translate "No current edges: the USDT/USD rate is stale — its source stopped answering." %}',
    "thresholds": '{% translate "Thresholds (net)" %}',
    "exit": '{% translate "exit" %}',
    "basis": '{% translate "basis" %}',
    "fixed": "{% blocktranslate with rate=mark %}fixed {{ rate }} (assumption){% endblocktranslate %}",
    "no_rate": "{% translate 'no rate yet' %}",
    "simulated": '{% translate "simulated source" %}',
    "usdc_title": "{% translate 'One USDC taken as one US dollar' %}",
    "usdc": '{% translate "Binance USDC/USDT" %}',
}

_labels: dict[str, dict[str, str]] = {}


def labels(language: str) -> dict[str, str]:
    """The partials' labels in `language`, rendered once by the template engine (cached per language)."""
    table = _labels.get(language)
    if table is None:
        separator = "\x01"
        template = Template("{% load i18n %}" + separator.join(LABEL_TAGS.values()))
        with translation.override(language):
            rendered = template.render(Context({"mark": MARK})).split(separator)
        if len(rendered) != len(LABEL_TAGS):
            raise ValueError("a translated label contains the separator")
        table = _labels[language] = dict(zip(LABEL_TAGS, rendered, strict=True))
    return table


def _e(value: Any) -> str:
    """`{{ value }}` under autoescape."""
    return str(conditional_escape(value))


def _ff(value: Any) -> str:
    """`{{ value|floatformat:2 }}` (the current language's number format applies, as in the template)."""
    return str(floatformat(value, 2))


def _signed(value: str) -> str:
    """`{% if value.0 != '-' %}+{% endif %}{{ value|floatformat:2 }}`."""
    return ("" if value[:1] == "-" else "+") + _ff(value)


def _ratio(value: Any, max_value: Any) -> str:
    """`{% widthratio value max_value 100 as pct %}`."""
    try:
        return str(round(float(value) / float(max_value) * 100))
    except ZeroDivisionError:
        return "0"
    except (ValueError, TypeError, OverflowError):
        return ""


def _venue_card(state: dict[str, Any], quote: dict[str, Any], kind: str, session: Any, t: dict[str, str]) -> str:
    closed = bool(session) and session["state"] != "open"
    out = [
        "\n",
        f'<div class="card qa-venue h-100 {"qa-closed" if closed else ""}" data-testid="venue-{_e(kind)}">\n',
        '  <div class="card-header d-flex align-items-center">\n',
        f'    <h2 class="card-title mb-0">{_e(quote["label"])}</h2>\n',
        '    <div class="ms-auto d-flex gap-2 align-items-center">\n',
        "      ",
    ]
    if session:
        out.append("\n        ")
        status = session["state"]
        if status == "open":
            label = t["open_demo"] if session["demo"] else t["open"]
            out.append(
                '\n          <span class="badge bg-green-lt" data-testid="session" data-session="open">'
                f"{label}</span>\n        "
            )
        else:
            label = {"break": t["break"], "weekend": t["weekend"]}.get(status, t["holiday"])
            data = status if status in ("break", "weekend") else _e(status)
            out.append(
                f'\n          <span class="badge qa-session-closed" data-testid="session" data-session="{data}">'
                f"{label}</span>\n        "
            )
        out.append("\n      ")
    else:
        out.append(
            '\n        <span class="badge bg-green-lt" data-testid="session" data-session="open">'
            f"{t['always']}</span>\n      "
        )
    ts_ms = quote["ts_ms"]
    out.append(
        f'\n      <span class="qa-age small" data-ts-ms="{"" if ts_ms is None else _e(ts_ms)}" '
        f'data-stale-ms="{_e(state["stale_after_ms"])}" {CLOSED_ATTRIBUTE if closed else ""}\n'
        f'            data-label-ago="{t["s_ago"]}" data-label-stale="{t["stale"]}" data-label-closed="{t["closed"]}" '
        f'data-label-none="{t["no_quote"]}">—</span>\n'
        "    </div>\n"
        "  </div>\n"
        '  <div class="card-body">\n'
        "    "
    )
    if quote["bid"]:
        if kind == "perp":
            units = t["perp_units"] + "\n      "  # the template's line break before its {% else %}
        else:
            units = _e(state["cfd_lot_ounces"]).join(t["cfd_units"].split(MARK))
        out.append(
            "\n"
            '    <dl class="qa-quote">\n'
            f'      <div><dt>{t["bid"]}</dt><dd class="qa-num" data-testid="{_e(kind)}-bid">'
            f"{_e(quote['bid'])}</dd></div>\n"
            f'      <div><dt>{t["ask"]}</dt><dd class="qa-num" data-testid="{_e(kind)}-ask">'
            f"{_e(quote['ask'])}</dd></div>\n"
            f'      <div><dt>{t["mid"]}</dt><dd class="qa-num">{_e(quote["mid"])}</dd></div>\n'
            f'      <div><dt>{t["spread"]}</dt><dd class="qa-num">{_e(quote["spread"])}</dd></div>\n'
            "    </dl>\n"
            '    <div class="small text-secondary">\n'
            f"      {units}\n"
            "    </div>\n"
            "    "
        )
    else:
        waiting = t["market_closed"] if closed else t["first_quote"]
        out.append(f'\n    <p class="text-secondary mb-0">{waiting}</p>\n    ')
    out.append("\n    ")
    if closed and session["opens_at_ms"]:
        out.append(
            '\n    <p class="small mb-0 mt-1 qa-reopens" data-testid="reopens" '
            f'data-opens-ms="{_e(session["opens_at_ms"])}"\n'
            f'       data-label="{t["reopens"]}"></p>\n'
            "    "
        )
    out.append("\n  </div>\n</div>\n")
    return "".join(out)


def venues_html(state: dict[str, Any], language: str) -> str:
    """`trading/partials/_venues.html` for `state`."""
    t = labels(language)
    return (
        '\n<div class="row g-3">\n  <div class="col-md-6">\n    '
        + _venue_card(state, state["perp"], "perp", None, t)
        + '\n  </div>\n  <div class="col-md-6">\n    '
        + _venue_card(state, state["cfd"], "cfd", state["session"], t)
        + "\n  </div>\n</div>\n"
    )


def _edge_card(
    *,
    testid: str,
    title: str,
    direction: str,
    net: str,
    net_bps: str,
    raw: str,
    raw_bps: str,
    entry: Any,
    opportunity: Any,
    t: dict[str, str],
) -> str:
    pct = _ratio(net, entry)
    try:
        level: int | None = int(pct)
    except ValueError:
        level = None  # `pct|add:0` is "" and every comparison with it is false
    meter = pct if level is None else ("0" if level < 0 else "100" if level > 100 else pct)
    reached = level is not None and level >= 100
    if opportunity and opportunity.get("direction") == direction:
        badge = (
            f'<span class="badge qa-reached-badge" data-testid="opportunity-open">{t["opportunity_open"]} · '
            f'{t["peak"]} <span class="qa-num">+{_ff(opportunity.get("peak"))}</span></span>'
        )
    elif reached:
        badge = f'<span class="qa-pos fw-bold">{t["reached"]}</span>'
    elif level is not None and level <= 0:
        badge = f'<span class="text-secondary">{t["no_edge"]}</span>'
    else:
        badge = f'<span class="text-secondary">{_e(pct).join(t["of_entry"].split(MARK))}</span>'
    testid = _e(testid)
    return (
        "\n\n"
        f'<div class="card qa-edge h-100" data-testid="{testid}">\n'
        '  <div class="card-body">\n'
        f'    <div class="subheader">{title} · {t["net"]}</div>\n'
        f'    <div class="qa-num mt-1 {"qa-neg" if net[:1] == "-" else "qa-pos"}" title="{t["net_title"]}">\n'
        f'      <span class="qa-big" data-testid="{testid}-usd">{_signed(net)}</span>'
        f'<span class="qa-big-unit">{t["usd_oz"]}</span>\n'
        f'      <span class="qa-bps" data-testid="{testid}-bps">{_signed(net_bps)}</span>'
        f'<span class="qa-big-unit">{t["bps"]}</span>\n'
        "    </div>\n"
        f'    <div class="small text-secondary text-truncate">{t["raw"]} <span class="qa-num">{_signed(raw)}</span> '
        f'{t["usd_oz"]} · <span class="qa-num">{_signed(raw_bps)}</span> {t["bps"]}</div>\n'
        f'    <div class="qa-meter {"qa-reached" if reached else ""}" role="meter" aria-valuemin="0" '
        f'aria-valuemax="100" aria-valuenow="{_e(meter)}" aria-label="{t["meter"]}">\n'
        f'      <span style="width: {_e(meter)}%"></span>\n'
        "    </div>\n"
        '    <div class="small d-flex">\n'
        f'      <span class="text-secondary">{t["entry"]} <span class="qa-num">{_ff(entry)}</span></span>\n'
        f'      <span class="ms-auto">{badge}</span>\n'
        "    </div>\n"
        "  </div>\n"
        "</div>\n"
    )


def edges_html(state: dict[str, Any], language: str) -> str:
    """`trading/partials/_edges.html` for `state`."""
    t = labels(language)
    s = state["sample"]
    entry = state["thresholds"]["entry"]
    out = ['\n\n<div class="row g-3">\n  ']
    if s:
        for testid, title, direction in (
            ("edge-sell-perp", t["sell_perp"], "sell_perp"),
            ("edge-buy-perp", t["buy_perp"], "buy_perp"),
        ):
            card = _edge_card(
                testid=testid,
                title=title,
                direction=direction,
                net=s[f"net_{direction}"],
                net_bps=s[f"net_{direction}_bps"],
                raw=s[direction],
                raw_bps=s[f"{direction}_bps"],
                entry=entry,
                opportunity=state["opportunity"],
                t=t,
            )
            out.append(f'\n  <div class="col-md-4">\n    \n    {card}\n  </div>')
        out.append("\n  ")
    else:
        problem = state["rate"].get("problem")
        if state["session"]["state"] != "open":
            waiting = t["cfd_closed"]
        elif problem == "missing":
            waiting = t["rate_missing"]
        elif problem == "stale":
            waiting = t["rate_stale"]
        else:
            waiting = t["fresh_quotes"]
        out.append(
            '\n  <div class="col-md-8">\n'
            '    <div class="card h-100" data-testid="no-edges" '
            f'data-rate-problem="{_e("" if problem is None else problem)}"><div class="card-body d-flex '
            'align-items-center text-secondary">\n'
            f"      {waiting}\n"
            "    </div></div>\n"
            "  </div>\n"
            "  "
        )
    rate = state["rate"]
    if s:
        basis = f"{_signed(s['basis'])} {t['usd_oz']}"
        zscore = s["zscore"]
        z = "" if zscore is None else f' · z <span class="qa-num">{_ff(zscore)}</span>'
    else:
        basis, z = "—", ""
    out.append(
        "\n"
        '  <div class="col-md-4">\n'
        '    <div class="card qa-threshold h-100">\n'
        '      <div class="card-body">\n'
        f'        <div class="subheader">{t["thresholds"]}</div>\n'
        f'        <div class="mt-1"><span class="qa-num h2 mb-0">{_ff(entry)}</span><span class="qa-big-unit">'
        f"{t['usd_oz']} · {t['entry']}</span>\n"
        f'          <span class="qa-num ms-3">{_ff(state["thresholds"]["exit"])}</span><span class="qa-big-unit">'
        f"{t['exit']}</span></div>\n"
        f'        <div class="small text-secondary mt-1">{t["basis"]} <span class="qa-num" data-testid="basis">'
        f"{basis}</span>{z}</div>\n"
        '        <div class="small mt-1" data-testid="rate">\n'
        f'          <span class="text-secondary">USD/USDT</span> <span class="qa-num">'
        f"{_e(rate['usd_per_usdt']) if rate['usd_per_usdt'] else '—'}</span>\n"
        "          "
    )
    if rate["assumed"]:
        fixed = _e(rate.get("short") or "1.0").join(t["fixed"].split(MARK))
        out.append(f'<span class="badge bg-yellow-lt" data-testid="rate-assumed">{fixed}</span>\n          ')
    else:
        ts_ms = rate["ts_ms"]
        out.append(
            f'· <span class="qa-age" data-ts-ms="{"" if ts_ms is None else _e(ts_ms)}" data-stale-ms="15000" '
            f'data-label-ago="{t["s_ago"]}" data-label-stale="{t["stale"]}" data-label-none="{t["no_rate"]}">—</span>\n'
            "          "
        )
        if rate["source"] == "simulated":
            out.append(f'<span class="text-secondary">({t["simulated"]})</span>')
        elif rate["source"] == "binance-usdcusdt":
            out.append(f'<span class="text-secondary" title="{t["usdc_title"]}">({t["usdc"]})</span>')
    out.append("\n        </div>\n      </div>\n    </div>\n  </div>\n</div>\n\n")
    return "".join(out)


def template_partials(state: dict[str, Any], language: str) -> tuple[str, str]:
    """The two partials as the templates render them (the page load's way, and the reference)."""
    with translation.override(language):
        context = {"state": state}
        return (
            render_to_string("trading/partials/_venues.html", context),
            render_to_string("trading/partials/_edges.html", context),
        )


class PartialRenderer:
    """`render(state, language)` → (venues, edges): this module's rendering, checked against the templates on
    the first update of each language and every `check_every` updates; the templates for good after a
    difference (or an error) in this module."""

    def __init__(self, check_every: int = CHECK_EVERY) -> None:
        self.check_every = check_every
        self.enabled = True
        self.rendered = 0
        self.checked: set[str] = set()

    def render(self, state: dict[str, Any], language: str) -> tuple[str, str]:
        if not self.enabled:
            return template_partials(state, language)
        try:
            with translation.override(language):  # floatformat formats numbers for the current language
                html = (venues_html(state, language), edges_html(state, language))
        except Exception:
            log.exception("live partials: fast rendering failed; using the templates from now on")
            self.enabled = False
            return template_partials(state, language)
        self.rendered += 1
        if language not in self.checked or self.rendered % self.check_every == 0:
            self.checked.add(language)
            reference = template_partials(state, language)
            if reference != html:
                log.error(
                    "live partials: fast rendering differs from the templates (pair %s, %s); using the "
                    "templates from now on",
                    state.get("pair_id"),
                    language,
                )
                self.enabled = False
                return reference
        return html
