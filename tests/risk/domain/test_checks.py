"""Pre-trade checks: one violation per broken rule, only reducing orders through a halt, and a pure
sliding-window order rate limiter."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk.domain.checks import (
    BINANCE_ORDER_WINDOWS,
    Check,
    ExpectedSettings,
    Leg,
    OrderIntent,
    OrderRateLimiter,
    RiskContext,
    Side,
    pre_trade,
)
from tests.risk.domain.helpers import FLAT, HOUR, LIMITS, MINUTE, NOW, PRICE, codes, hedged
from trading.domain.calendar import SessionView


def opening(leg: Leg = Leg.PERP, side: Side = Side.SELL, quantity: str = "1") -> OrderIntent:
    q = Decimal(quantity)
    signed = q if side is Side.BUY else -q
    return OrderIntent(leg, side, q, PRICE, reducing=False, companion_oz=-signed)


def test_an_order_within_all_limits_passes() -> None:
    assert pre_trade(opening(), FLAT) == []
    assert pre_trade(opening(Leg.CFD, Side.BUY), FLAT) == []


def test_each_check_refuses_with_its_code() -> None:
    session_closing = replace(FLAT, session=SessionView(True, NOW - HOUR, NOW + 5 * MINUTE))
    cases = [
        (opening(), replace(FLAT, halted=True), {Check.KILL_SWITCH}),
        (opening(), replace(FLAT, perp_quote_ts_ms=NOW - 2_001), {Check.STALE_QUOTE}),
        (opening(), replace(FLAT, cfd_quote_ts_ms=None), {Check.STALE_QUOTE}),
        (opening(Leg.CFD, Side.BUY), replace(FLAT, session=SessionView(False)), {Check.MARKET_CLOSED}),
        (opening(), replace(FLAT, perp_open=False), {Check.MARKET_CLOSED}),
        (opening(), session_closing, {Check.SESSION_WINDOW}),
        (opening(), replace(FLAT, cfd_bid=Decimal("4599.00")), {Check.CFD_SPREAD}),
        (opening(quantity="4"), FLAT, {Check.MAX_POSITION}),
        (opening(), replace(FLAT, limits=replace(LIMITS, max_notional_usd=Decimal(4_000))), {Check.MAX_NOTIONAL}),
        (replace(opening(), companion_oz=Decimal(0)), FLAT, {Check.MAX_UNHEDGED}),
        (opening(), replace(FLAT, perp=replace(FLAT.perp, available_margin_usdt=Decimal(500))), {Check.MARGIN}),
        (opening(Leg.CFD, Side.BUY), replace(FLAT, cfd_margin_per_oz=None), {Check.MARGIN}),
        (
            opening(),
            replace(FLAT, perp=replace(hedged().perp, liquidation_price=Decimal(4_800))),
            {Check.LIQUIDATION_DISTANCE},
        ),
        (
            opening(Leg.CFD, Side.BUY),
            replace(FLAT, cfd=replace(FLAT.cfd, margin_level_pct=Decimal(90))),
            {Check.STOP_OUT},
        ),
        (opening(), replace(FLAT, perp=replace(FLAT.perp, one_way_mode=False)), {Check.ACCOUNT_SETTINGS}),
        (opening(), replace(FLAT, expected=ExpectedSettings(perp_leverage=Decimal(5))), {Check.ACCOUNT_SETTINGS}),
        (
            opening(Leg.CFD, Side.BUY),
            replace(FLAT, cfd=replace(FLAT.cfd, trade_allowed=False)),
            {Check.ACCOUNT_SETTINGS},
        ),
        (
            opening(Leg.CFD, Side.BUY),
            replace(FLAT, cfd=replace(FLAT.cfd, hedging_account=False)),
            {Check.ACCOUNT_SETTINGS},
        ),
        (OrderIntent(Leg.PERP, Side.BUY, Decimal(0), PRICE, reducing=False), FLAT, {Check.INVALID_QUANTITY}),
    ]
    for intent, ctx, expected in cases:
        violations = pre_trade(intent, ctx)
        assert {v.code for v in violations} == expected, (intent, expected)
        assert all(v.message and "%(" not in v.message for v in violations)


def test_a_reducing_flag_must_be_true() -> None:
    # Buying to "reduce" a long is not reducing: refused, and as an opening order it then meets the halt.
    lie = OrderIntent(Leg.CFD, Side.BUY, Decimal(1), PRICE, reducing=True, companion_oz=Decimal(-1))
    assert codes(lie, replace(hedged(), halted=True)) == {Check.NOT_REDUCING, Check.KILL_SWITCH}
    too_much = OrderIntent(Leg.PERP, Side.BUY, Decimal(2), PRICE, reducing=True, companion_oz=Decimal(-2))
    assert Check.NOT_REDUCING in codes(too_much, hedged())


def test_reducing_orders_pass_a_halt_and_the_entry_windows() -> None:
    close_perp = OrderIntent(Leg.PERP, Side.BUY, Decimal(1), PRICE, reducing=True, companion_oz=Decimal(-1))
    ctx = replace(
        hedged(),
        halted=True,
        session=SessionView(True, NOW - HOUR, NOW + MINUTE),
        cfd_bid=Decimal(4_500),
        perp=replace(hedged().perp, available_margin_usdt=Decimal(0)),
    )
    assert pre_trade(close_perp, ctx) == []


def test_the_perp_can_be_unwound_while_the_cfd_market_is_closed() -> None:
    # A legged hedge: short perp, no CFD. The CFD is closed (its quotes are closed, not stale).
    ctx = replace(
        FLAT,
        perp=replace(FLAT.perp, position_oz=Decimal(-1)),
        session=SessionView(False),
        cfd_quote_ts_ms=NOW - HOUR,
    )
    unwind = OrderIntent(Leg.PERP, Side.BUY, Decimal(1), PRICE, reducing=True)
    assert pre_trade(unwind, ctx) == []
    cfd_close = OrderIntent(Leg.CFD, Side.SELL, Decimal(1), PRICE, reducing=True)
    assert Check.MARKET_CLOSED in codes(cfd_close, replace(hedged(), session=SessionView(False)))


def test_unhedged_exposure_may_shrink_but_not_grow_past_the_limit() -> None:
    legged = replace(FLAT, perp=replace(FLAT.perp, position_oz=Decimal(-2)))
    complete_cfd = OrderIntent(Leg.CFD, Side.BUY, Decimal(1), PRICE, reducing=False)  # −2 → −1: better, allowed
    assert Check.MAX_UNHEDGED not in codes(complete_cfd, legged)
    more_perp = OrderIntent(Leg.PERP, Side.SELL, Decimal(1), PRICE, reducing=False)
    assert Check.MAX_UNHEDGED in codes(more_perp, legged)


def test_the_rate_limit_refuses_every_order() -> None:
    limiter = OrderRateLimiter({"perp": [(2, 1_000)]})
    limiter.record("perp", NOW - 500)
    limiter.record("perp", NOW - 10)
    ctx = replace(FLAT, rate_limiter=limiter)
    assert codes(opening(), ctx) == {Check.RATE_LIMIT}
    reducing = OrderIntent(Leg.PERP, Side.BUY, Decimal(1), PRICE, reducing=True, companion_oz=Decimal(-1))
    assert codes(reducing, replace(hedged(), rate_limiter=limiter)) == {Check.RATE_LIMIT}
    assert pre_trade(opening(Leg.CFD, Side.BUY), ctx) == []  # another venue


# --- properties -------------------------------------------------------------------------------------------------
quantities = st.decimals(min_value=Decimal("0.001"), max_value=Decimal(3), places=3)
positions = st.decimals(min_value=Decimal(-3), max_value=Decimal(3), places=3)


@st.composite
def intents(draw: st.DrawFn) -> tuple[OrderIntent, RiskContext]:
    """A clean context around an existing hedge and an order that opens or reduces it with its companion leg."""
    held = draw(positions)
    ctx = hedged(str(held))
    leg = draw(st.sampled_from(Leg))
    position = ctx.position(leg)
    reduce = position != 0 and draw(st.booleans())
    if reduce:
        quantity = min(draw(quantities), abs(position))
        side = Side.BUY if position < 0 else Side.SELL
    else:
        quantity = draw(quantities)
        side = draw(st.sampled_from(Side))
    signed = quantity if side is Side.BUY else -quantity
    return OrderIntent(leg, side, quantity, PRICE, reducing=reduce, companion_oz=-signed), ctx


@settings(max_examples=400, deadline=None)
@given(intents())
def test_a_halted_context_passes_exactly_the_reducing_intents(case: tuple[OrderIntent, RiskContext]) -> None:
    intent, ctx = case
    # Room for any opening order, so the halt is the only thing that can refuse one.
    ctx = replace(ctx, limits=replace(LIMITS, max_position_oz=Decimal(10), max_notional_usd=None), halted=True)
    assert (pre_trade(intent, ctx) == []) is intent.reducing


@settings(max_examples=400, deadline=None)
@given(intents(), st.integers(1, 10 * HOUR), st.booleans())
def test_a_stale_quote_always_yields_a_violation(
    case: tuple[OrderIntent, RiskContext], extra_ms: int, perp_stale: bool
) -> None:
    intent, ctx = case
    stale_ts = NOW - ctx.limits.max_quote_age_ms - extra_ms
    own_stale = (intent.leg is Leg.PERP) == perp_stale
    ctx = replace(ctx, perp_quote_ts_ms=stale_ts) if perp_stale else replace(ctx, cfd_quote_ts_ms=stale_ts)
    if own_stale or not intent.reducing:
        assert Check.STALE_QUOTE in codes(intent, ctx)


@settings(max_examples=400, deadline=None)
@given(intents())
def test_an_intent_within_all_limits_yields_none(case: tuple[OrderIntent, RiskContext]) -> None:
    intent, ctx = case
    after = abs(ctx.position(intent.leg) + intent.signed_oz)
    if after <= ctx.limits.max_position_oz and (ctx.limits.max_notional_usd or 0) >= after * PRICE:
        assert pre_trade(intent, ctx) == []


# --- rate limiter -------------------------------------------------------------------------------------------------
def test_binance_windows_allow_300_per_10_seconds() -> None:
    limiter = OrderRateLimiter({"perp": BINANCE_ORDER_WINDOWS})
    for i in range(300):
        assert limiter.try_acquire("perp", NOW + i)
    assert not limiter.try_acquire("perp", NOW + 300)
    assert limiter.try_acquire("perp", NOW + 10_000)  # the first order left the 10 s window
    assert limiter.allows("cfd", NOW)  # no windows: unlimited


def test_the_limiter_refuses_bad_input() -> None:
    with pytest.raises(ValueError):
        OrderRateLimiter({"perp": [(0, 1_000)]})
    limiter = OrderRateLimiter({"perp": [(5, 1_000)]})
    limiter.record("perp", NOW)
    with pytest.raises(ValueError):
        limiter.record("perp", NOW - 1)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 200), min_size=1, max_size=200),
    st.integers(1, 10),
    st.integers(1, 2_000),
)
def test_the_limiter_never_lets_more_than_the_limit_into_any_window(gaps: list[int], limit: int, window: int) -> None:
    limiter = OrderRateLimiter({"v": [(limit, window)]})
    now, sent = NOW, list[int]()
    for gap in gaps:
        now += gap
        allowed = limiter.try_acquire("v", now)
        in_window = [ts for ts in sent if now - window < ts <= now]
        # Exactly the brute-force answer: allowed iff fewer than `limit` orders in the window ending now.
        assert allowed is (len(in_window) < limit)
        if allowed:
            sent.append(now)
