"""The dashboard state of a pair: one JSON-ready shape, built from the running engine (live pushes) or from
the store (the first page load), so both render the same partials (templates/trading/partials/)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from trading.domain.calendar import SessionStatus
from trading.domain.spread import Edges, to_bps

HUNDREDTH = Decimal("0.01")
# The USDT/USD rate is polled every few seconds: it is stale — and prices nothing — when no answer came for this long.
RATE_STALE_AFTER_MS = 15_000


def plain(value: Decimal) -> str:
    """A Decimal without exponent or trailing zeros: 100.000 → "100", 0.010 → "0.01"."""
    return f"{value.normalize():f}"


def short_rate(value: Decimal | None) -> str | None:
    """A rate without trailing zeros but with one decimal at least: 1.000000 → "1.0", 0.999650 → "0.99965"."""
    if value is None:
        return None
    text = plain(value)
    return text if "." in text else f"{text}.0"


def to_ms(value: Any) -> int | None:
    return int(value.timestamp() * 1000) if value is not None else None


def quote_state(label: str, places: int, bid: Decimal | None, ask: Decimal | None, ts_ms: int | None) -> dict[str, Any]:
    """A venue card: prices to the venue's tick (`places`), mid one place finer."""
    if bid is None or ask is None:
        return {"label": label, "places": places, "bid": None, "ask": None, "ts_ms": ts_ms}
    tick = Decimal(1).scaleb(-places)
    return {
        "label": label,
        "places": places,
        "bid": str(bid.quantize(tick)),
        "ask": str(ask.quantize(tick)),
        "mid": str(((bid + ask) / 2).quantize(tick / 10)),
        "spread": str((ask - bid).quantize(tick)),
        "ts_ms": ts_ms,
    }


def sample_state(
    *,
    ts_ms: int,
    edges: Edges,
    net: Edges,
    basis: Decimal,
    cfd_mid: Decimal,
    basis_mean: float | None,
    basis_std: float | None,
    zscore: float | None,
) -> dict[str, Any]:
    """Both edges and net edges in USD/oz and in bps of the CFD mid, and the basis statistics."""

    def bps(edge: Decimal) -> str:
        return str(to_bps(edge, cfd_mid).quantize(HUNDREDTH))

    return {
        "ts_ms": ts_ms,
        "sell_perp": str(edges.sell_perp),
        "buy_perp": str(edges.buy_perp),
        "net_sell_perp": str(net.sell_perp),
        "net_buy_perp": str(net.buy_perp),
        "sell_perp_bps": bps(edges.sell_perp),
        "buy_perp_bps": bps(edges.buy_perp),
        "net_sell_perp_bps": bps(net.sell_perp),
        "net_buy_perp_bps": bps(net.buy_perp),
        "basis": str(basis),
        "basis_mean": basis_mean,
        "basis_std": basis_std,
        "zscore": zscore,
    }


def pair_state(
    *,
    pair_id: int,
    name: str,
    at_ms: int,
    stale_after_ms: int,
    perp: dict[str, Any],
    cfd: dict[str, Any],
    cfd_lot_ounces: Decimal,
    session: SessionStatus,
    usd_per_usdt: Decimal | None,
    rate_ts_ms: int | None,
    rate_source: str,
    rate_assumed: bool,
    entry_threshold: Decimal,
    exit_threshold: Decimal,
    dropped: int,
    sample: dict[str, Any] | None,
    opportunity: dict[str, Any] | None,
    rate_problem: str | None = None,
) -> dict[str, Any]:
    """`rate_problem` ("missing", "stale" or None): why usd_per_usdt may not price now; then `sample` is None —
    edges priced with a rate nobody vouches for are not shown as current."""
    return {
        "pair_id": pair_id,
        "name": name,
        "at_ms": at_ms,
        "stale_after_ms": stale_after_ms,
        "perp": perp,
        "cfd": cfd,
        "cfd_lot_ounces": plain(cfd_lot_ounces),
        "session": {
            "state": session.state.value,
            "demo": session.demo,
            "closes_at_ms": to_ms(session.closes_at),
            "opens_at_ms": to_ms(session.opens_at),
        },
        "rate": {
            "usd_per_usdt": str(usd_per_usdt) if usd_per_usdt is not None else None,
            "short": short_rate(usd_per_usdt),
            "ts_ms": rate_ts_ms,
            "assumed": rate_assumed,
            "source": rate_source,
            "problem": rate_problem,
        },
        "thresholds": {"entry": str(entry_threshold), "exit": str(exit_threshold)},
        "dropped": dropped,
        "sample": sample,
        "opportunity": opportunity,
    }
