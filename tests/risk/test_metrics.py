"""risk/metrics.py on hand-computed cases: a Binance account whose liquidation notional lies past a bracket boundary,
an MT5 account per margin_so_mode, one pool's exposure and carry, the weekend projection Friday close → Monday
open on simulated time, and metric_values over 200 pools in a bounded number of queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import override_settings

from risk.domain.limits import Metric, Scope, ScopeKind
from risk.metrics import desk_risk, metric_values
from tests.risk import factories as f

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # a Wednesday


def close(value: Decimal | None, expected: Decimal, places: int = 6) -> bool:
    assert value is not None
    return abs(value - expected) < Decimal(10) ** -places


@pytest.fixture
def pair(alpha_pair):  # type: ignore[no-untyped-def]
    return alpha_pair


def test_binance_liquidation_past_the_first_bracket(alice, pair) -> None:  # type: ignore[no-untyped-def]
    """Short 40 oz at 2,500 (notional 100,000: the cap of bracket 1), wallet 5,000 USDT, cross. Maintenance now:
    100,000 × 1 % = 1,000. The liquidation notional lies in bracket 2 (2.5 %, cum 1,500):
    LP = (5,000 + 1,500 + 40 × 2,500) ÷ (40 × 0.025 + 40) = 106,500 ÷ 41 = 2,597.5609756…
    (bracket 1 would say 105,000 ÷ 40.4 = 2,599.0099). Distance +97.5609756 USDT/oz = 3.9024390 %; in USD at
    0.9995 USD/USDT: 97.5122…"""
    pool = f.pool(alice.tenant, alice.user, "P1")
    f.sample(pair, NOW - timedelta(seconds=5), perp="2500", cfd="2499", rate="0.9995")
    f.snapshot(pool.perp_account, NOW, currency="USDT", balance="5000", equity="5000", quantity="-40", entry="2500")
    desk = desk_risk(alice.tenant.pk, now=NOW)
    risk = desk.pool(pool.pk)
    assert risk is not None
    perp = risk.perp
    assert perp.maintenance_margin == Decimal("1000.00")
    assert perp.margin_balance == Decimal(5000)
    assert close(perp.margin_ratio_pct, Decimal(20))
    assert close(perp.liquidation_price, Decimal(106500) / Decimal(41))
    assert perp.risk is not None and perp.risk.liquidation is not None
    assert perp.risk.liquidation.bracket.bracket == 2
    assert close(perp.distance_pct, (Decimal(106500) / 41 - 2500) / 2500 * 100)
    assert close(perp.distance_usd, (Decimal(106500) / 41 - 2500) * Decimal("0.9995"))
    # The pool: short 40 oz perp, no CFD leg: 40 oz unhedged (short), valued at the CFD mid.
    assert risk.exposure is not None
    assert risk.exposure.net_oz == Decimal(-40)
    assert risk.exposure.net_usd == Decimal(-40) * Decimal(2499)
    values = desk.values
    assert values[(Metric.UNHEDGED_OZ, Scope(ScopeKind.POOL, pool.pk))] == Decimal(40)
    assert close(
        values[(Metric.LIQUIDATION_DISTANCE_PCT, Scope(ScopeKind.ACCOUNT, pool.perp_account_id))],
        perp.distance_pct or Decimal(0),
    )
    # USDT/USD: the short perp's notional (40 × 2,500) + the margin balance 5,000 USDT.
    assert risk.exposure.usdt_exposure == Decimal(105000)
    assert values[(Metric.USDT_EXPOSURE_USD, Scope(ScopeKind.DESK, alice.tenant.pk))] == Decimal(105000) * Decimal(
        "0.9995"
    )


def test_live_binance_shows_the_venue_figures_beside_ours(alice, pair) -> None:  # type: ignore[no-untyped-def]
    pool = f.pool(alice.tenant, alice.user, "P1")
    type(pool.perp_account).objects.filter(pk=pool.perp_account_id).update(mode="live")  # priced by the simulated pair
    f.sample(pair, NOW, perp="2500", cfd="2499")
    snapshot = f.snapshot(
        pool.perp_account,
        NOW,
        currency="USDT",
        balance="5000",
        equity="5000",
        quantity="-40",
        entry="2500",
        terms={"source": "venue", "maintenance_margin": "1000"},
    )
    snapshot.positions[0]["liquidation_price"] = "2597.50"
    snapshot.save()
    perp = desk_risk(alice.tenant.pk, now=NOW).pools[0].perp
    assert perp.live and perp.venue is not None
    assert perp.venue.maintenance_margin_diff == Decimal(0)
    assert perp.venue.margin_balance_diff == Decimal(0)
    assert close(perp.venue.liquidation_price_diff, Decimal(106500) / 41 - Decimal("2597.50"))


def test_mt5_percent_mode_paper_account(alice, pair) -> None:  # type: ignore[no-untyped-def]
    """Paper CFD (the simulated terminal: CFD-leverage mode, rate 1, 1:100, levels 100 % / 50 %): long 100 oz at
    2,500 → margin 100 × P ÷ 100 = P. Equity 10,000, margin 2,500: level 400 %, 350 points above stop-out. At a
    move Δ: (10,000 + 100Δ) ÷ (2,500 + Δ) = 0.5 → Δ = (1,250 − 10,000) ÷ 99.5 = −87.9396985; margin call
    (= 1): Δ = (2,500 − 10,000) ÷ 99 = −75.7575758."""
    pool = f.pool(alice.tenant, alice.user, "P1")
    f.sample(pair, NOW, perp="2501", cfd="2500")
    f.snapshot(
        pool.cfd_account,
        NOW,
        currency="USD",
        balance="10000",
        equity="10000",
        used_margin="2500",
        quantity="100",
        entry="2500",
        mark="2500",
    )
    cfd = desk_risk(alice.tenant.pk, now=NOW).pools[0].cfd
    assert cfd.margin_level_pct == Decimal(400)
    assert cfd.level_above_stop_out == Decimal(350)
    assert close(cfd.move_to_stop_out, Decimal(-8750) / Decimal("99.5"))
    assert close(cfd.move_to_margin_call, Decimal(-7500) / Decimal(99))


@pytest.mark.parametrize(
    ("mode", "call", "stop", "move_stop", "headroom"),
    [
        # percent: margin held (no per-lot figures from the terminal): 10,000 + 100Δ = 0.5 × 2,000 → Δ = −90
        (0, "100", "50", Decimal(-90), Decimal(450)),
        # money (compared with equity): 10,000 + 100Δ = 1,500 → Δ = −85; 8,500 USD above the stop-out
        (1, "3000", "1500", Decimal(-85), Decimal(8500)),
    ],
)
def test_mt5_live_account_per_margin_so_mode(alice, pair, mode, call, stop, move_stop, headroom) -> None:  # type: ignore[no-untyped-def]
    pool = f.pool(alice.tenant, alice.user, "P1", cfd_venue="bybit-mt5", cfd_mode="live")
    f.sample(pair, NOW, perp="2501", cfd="2500")
    f.snapshot(
        pool.cfd_account,
        NOW,
        currency="USD",
        balance="10000",
        equity="10000",
        used_margin="2000",
        quantity="100",
        entry="2500",
        mark="2500",
        terms={
            "source": "terminal",
            "leverage": 100,
            "margin_so_call": call,
            "margin_so_so": stop,
            "margin_so_mode": mode,
        },
    )
    cfd = desk_risk(alice.tenant.pk, now=NOW).pools[0].cfd
    assert cfd.levels is not None and int(cfd.levels.mode) == mode
    assert cfd.margin_level_pct == Decimal(500)
    assert close(cfd.move_to_stop_out, move_stop)
    assert cfd.level_above_stop_out == headroom


def test_live_mt5_without_recorded_levels_says_so(alice, pair) -> None:  # type: ignore[no-untyped-def]
    pool = f.pool(alice.tenant, alice.user, "P1", cfd_venue="bybit-mt5", cfd_mode="live")
    f.sample(pair, NOW, perp="2501", cfd="2500")
    f.snapshot(pool.cfd_account, NOW, currency="USD", balance="10000", equity="10000", used_margin="2000")
    cfd = desk_risk(alice.tenant.pk, now=NOW).pools[0].cfd
    assert cfd.state is None and cfd.problem == "no_levels"


def test_pool_carry_and_which_leg_first(alice, pair) -> None:  # type: ignore[no-untyped-def]
    """A hedged pool: short 40 oz perp, long 40 oz CFD. Funding at the pair's expected 0.0001 per 8 h: the short
    receives 40 × 2,500 × 0.0001 = 10 USDT at 16:00 UTC. Tonight's swap (Wednesday: the pair's triple day is
    Wednesday): 0.4 lot × (−0.45 × 100) × 3 = −54 USD (pair defaults)."""
    pool = f.pool(alice.tenant, alice.user, "P1")
    f.sample(pair, NOW, perp="2500", cfd="2500")
    f.snapshot(pool.perp_account, NOW, currency="USDT", balance="5000", equity="5000", quantity="-40", entry="2500")
    f.snapshot(
        pool.cfd_account,
        NOW,
        currency="USD",
        balance="10000",
        equity="10000",
        used_margin="1000",
        quantity="40",
        entry="2500",
        mark="2500",
    )
    risk = desk_risk(alice.tenant.pk, now=NOW).pools[0]
    assert risk.exposure is not None and risk.exposure.net_oz == 0
    assert risk.exposure.gross_notional_usd == Decimal(200000)
    assert risk.funding is not None
    assert risk.funding.at == datetime(2026, 11, 18, 16, 0, tzinfo=UTC)
    assert risk.funding.amount_usdt == Decimal(40) * 2500 * pair.funding_rate
    assert risk.swap is not None
    expected_nights = 3 if pair.swap_rollover3days == 3 else 1
    assert risk.swap.nights == expected_nights
    assert risk.swap.amount == Decimal("0.4") * pair.swap_long_per_oz_night * 100 * expected_nights
    # The perp liquidates at +97.56 USD/oz; the CFD (long 40 oz, margin 40 × P ÷ 100) stops out far lower.
    assert risk.first_leg is not None and str(risk.first_leg.leg) == "perp"


@override_settings(QUANTARB_DEMO_CALENDAR=False, QUANTARB_RISK_GAP_LEAD_HOURS=12)
def test_weekend_projection_friday_close_to_monday_open(alice, pair, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    """The CFD trades Monday to Friday 01:00–23:00 UTC. Three recorded weekends moved +1 %, −2 % and +4 %:
    p95 = 0.02 + 0.9 × 0.02 = 0.038, p99 = 0.02 + 0.98 × 0.02 = 0.0396 (linear between order statistics).
    On Friday 2026-11-20 at 20:00 (three hours before the close) the projection is due: the short 40 oz perp
    (wallet 5,000) after +3.8 % sits at 2,595 against its liquidation price 106,500 ÷ 41, at 0.0986 %; after
    +3.96 % (2,599) it is past it: liquidated (distance 0)."""
    from trading.models import Instrument, SessionCalendar

    calendar = SessionCalendar.objects.create(
        name="test-weekdays",
        server_time="utc",
        weekly_hours=dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), "01:00-23:00"),
    )
    Instrument.objects.filter(pk=pair.cfd_source.instrument_id).update(calendar=calendar)
    pool = f.pool(alice.tenant, alice.user, "P1")
    # Three past weekends: Friday 22:59 close price, Monday 01:00 reopen price.
    fridays = [datetime(2026, 10, 30, 22, 59, tzinfo=UTC) + timedelta(weeks=k) for k in range(3)]
    for friday, ret in zip(fridays, ("0.01", "-0.02", "0.04"), strict=True):
        f.sample(pair, friday, perp="2000", cfd="2000")
        reopen = friday + timedelta(days=2, hours=2, minutes=1)
        f.sample(pair, reopen, perp="2000", cfd=str(Decimal(2000) * (1 + Decimal(ret))))
    now = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)
    frozen_clock.set(now)
    f.sample(pair, now - timedelta(seconds=5), perp="2500", cfd="2500")
    f.snapshot(pool.perp_account, now, currency="USDT", balance="5000", equity="5000", quantity="-40", entry="2500")
    desk = desk_risk(alice.tenant.pk, now=now)
    gap = desk.pools[0].gap
    assert gap is not None and gap.due
    assert gap.window.close_at == datetime(2026, 11, 20, 23, 0, tzinfo=UTC)
    assert gap.window.reopen_at == datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    assert gap.move.samples == 3 and str(gap.move.source) == "recorded"
    assert gap.move.p95 == Decimal("0.038") and gap.move.p99 == Decimal("0.0396")
    assert gap.projection is not None
    up95 = gap.projection.scenario(95, up=True)
    assert up95.perp_mark == Decimal("2595.000")
    assert close(up95.perp.distance.abs_percent, (Decimal(106500) / 41 - 2595) / 2595 * 100)
    assert gap.projection.scenario(99, up=True).perp_liquidated
    assert gap.projection.min_liquidation_distance_pct == 0
    pool_scope = Scope(ScopeKind.POOL, pool.pk)
    assert desk.values[(Metric.WEEKEND_GAP_LIQUIDATION_DISTANCE_PCT, pool_scope)] == 0
    # Shown from one hour before the close only: not due yet, no weekend metric for the limits.
    with override_settings(QUANTARB_RISK_GAP_LEAD_HOURS=1):
        early = desk_risk(alice.tenant.pk, now=now)
    assert early.pools[0].gap is not None and not early.pools[0].gap.due
    assert early.values[(Metric.WEEKEND_GAP_LIQUIDATION_DISTANCE_PCT, pool_scope)] is None


def test_override_and_scheduled_margin_change_apply(alice, pair, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    """An operator's override (labelled so) replaces the recorded move; a margin change effective before the reopen
    (bracket 1 at 5 % from the start) applies to the projection."""
    from risk.models import GapMoveOverride, ScheduledMarginChange
    from trading.models import Instrument, SessionCalendar

    calendar = SessionCalendar.objects.create(
        name="test-weekdays",
        server_time="utc",
        weekly_hours=dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), "01:00-23:00"),
    )
    Instrument.objects.filter(pk=pair.cfd_source.instrument_id).update(calendar=calendar)
    pool = f.pool(alice.tenant, alice.user, "P1")
    GapMoveOverride.objects.create(tenant=alice.tenant, p95=Decimal("0.01"), p99=Decimal("0.02"), note="desk view")
    ScheduledMarginChange.objects.create(
        tenant=alice.tenant,
        effective_at=datetime(2026, 11, 20, 22, 0, tzinfo=UTC),
        perp_brackets=[
            {
                "bracket": 1,
                "initialLeverage": 20,
                "notionalFloor": 0,
                "notionalCap": 50000000,
                "maintMarginRatio": 0.05,
                "cum": 0,
            }
        ],
        note="weekend",
    )
    now = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)
    f.sample(pair, now, perp="2500", cfd="2500")
    f.snapshot(pool.perp_account, now, currency="USDT", balance="5000", equity="5000", quantity="-40", entry="2500")
    with override_settings(QUANTARB_DEMO_CALENDAR=False):
        gap = desk_risk(alice.tenant.pk, now=now).pools[0].gap
    assert gap is not None and gap.projection is not None
    assert str(gap.move.source) == "override" and gap.move.note == "desk view"
    assert len(gap.projection.in_force.applied) == 1
    # Short 40 at 2,525 (+1 %) with 5 % maintenance: LP = (5,000 + 100,000) ÷ (40 × 0.05 + 40) = 2,500.
    up = gap.projection.scenario(95, up=True)
    assert up.perp is not None and up.perp.liquidation is not None
    assert up.perp.liquidation.price == Decimal(2500)
    assert up.perp_liquidated


def test_metric_values_every_scope_and_a_desk_without_pools(alice, charlie, pair) -> None:  # type: ignore[no-untyped-def]
    pool = f.pool(alice.tenant, alice.user, "P1")
    f.sample(pair, NOW, perp="2500", cfd="2500")
    values = metric_values(now=NOW)
    assert set(values) >= {alice.tenant.pk, charlie.tenant.pk}
    desk = Scope(ScopeKind.DESK, alice.tenant.pk)
    for metric in Metric:
        assert (metric, desk) in values[alice.tenant.pk]
        assert (metric, Scope(ScopeKind.POOL, pool.pk)) in values[alice.tenant.pk]
    assert values[charlie.tenant.pk][(Metric.UNHEDGED_OZ, Scope(ScopeKind.DESK, charlie.tenant.pk))] is None


def test_metric_values_of_200_pools_in_bounded_queries(alice, pair, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    from accounts.models import AccountPool, VenueAccount
    from strategies.models import Strategy

    accounts = VenueAccount.objects.bulk_create(
        [
            VenueAccount(tenant=alice.tenant, owner=alice.user, venue=venue, label=f"{venue} {i}", mode="paper")
            for i in range(200)
            for venue in ("simulated-perp", "simulated-cfd")
        ]
    )
    pools = AccountPool.objects.bulk_create(
        [
            AccountPool(
                tenant=alice.tenant,
                name=f"Pool {i}",
                perp_account=accounts[2 * i],
                cfd_account=accounts[2 * i + 1],
                perp_allocation=10000,
                cfd_allocation=10000,
            )
            for i in range(200)
        ]
    )
    Strategy.objects.bulk_create(
        [Strategy(tenant=alice.tenant, name=f"S{i}", pool=pool) for i, pool in enumerate(pools)]
    )
    f.sample(pair, NOW, perp="2500", cfd="2500")
    for account in accounts[:20]:
        currency = "USDT" if account.venue == "simulated-perp" else "USD"
        f.snapshot(
            account,
            NOW,
            currency=currency,
            balance="5000",
            equity="5000",
            quantity="-1" if currency == "USDT" else "1",
            entry="2500",
            mark="2500",
            used_margin="0" if currency == "USDT" else "25",
        )
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with django_assert_max_num_queries(30), CaptureQueriesContext(connection) as queries:
        values = metric_values([alice.tenant.pk], now=NOW)
    few = len(queries.captured_queries)
    AccountPool.objects.filter(pk__in=[pool.pk for pool in pools[100:]]).update(enabled=False)
    with CaptureQueriesContext(connection) as fewer:
        metric_values([alice.tenant.pk], now=NOW)
    assert len(fewer.captured_queries) == few  # the count does not grow with the pools
    assert len([key for key in values[alice.tenant.pk] if key[1].kind is ScopeKind.POOL]) == 200 * len(Metric)
