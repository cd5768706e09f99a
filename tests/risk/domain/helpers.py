"""The risk contexts the pre-trade check tests share: a flat desk with room everywhere, one hedge on, and the codes
of the checks an intent breaks."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from risk.domain.checks import CfdAccount, Check, OrderIntent, PerpAccount, RiskContext, pre_trade
from strategies.domain.params import StrategyParams
from trading.domain.calendar import SessionView

NOW = 1_800_000_000_000
MINUTE = 60_000
HOUR = 60 * MINUTE
PRICE = Decimal("4600")
LIMITS = StrategyParams(max_notional_usd=Decimal(50_000)).risk_limits()
FLAT = RiskContext(
    now_ms=NOW,
    limits=LIMITS,
    perp=PerpAccount(
        position_oz=Decimal(0),
        available_margin_usdt=Decimal(10_000),
        leverage=Decimal(10),
        mark_price=PRICE,
    ),
    cfd=CfdAccount(
        position_oz=Decimal(0),
        free_margin_usd=Decimal(10_000),
        margin_level_pct=None,
        stop_out_level_pct=Decimal(50),
    ),
    perp_quote_ts_ms=NOW - 100,
    cfd_quote_ts_ms=NOW - 100,
    cfd_bid=Decimal("4599.80"),
    cfd_ask=Decimal("4600.10"),
    session=SessionView(True, NOW - 5 * HOUR, NOW + 5 * HOUR),
    cfd_margin_per_oz=Decimal(46),
)


def codes(intent: OrderIntent, ctx: RiskContext) -> set[Check]:
    return {v.code for v in pre_trade(intent, ctx)}


def hedged(perp_oz: str = "-1") -> RiskContext:
    """One sell-perp hedge on: short perp, long CFD."""
    return replace(
        FLAT,
        perp=replace(FLAT.perp, position_oz=Decimal(perp_oz)),
        cfd=replace(FLAT.cfd, position_oz=-Decimal(perp_oz)),
    )
