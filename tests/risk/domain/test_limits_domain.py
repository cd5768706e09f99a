"""The limit-evaluation core: levels and the action each calls for, hysteresis so a metric oscillating at a level
does not flap (property tests), and the loss-streak and daily-PnL metrics."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from risk.domain.limits import (
    NATURAL_DIRECTION,
    Action,
    Direction,
    Limit,
    LimitLevel,
    Metric,
    Scope,
    ScopeKind,
    daily_pnl,
    evaluate,
    longest_loss_streak,
    loss_streak,
)

D = Decimal
POOL = Scope(ScopeKind.POOL, 7)
UNHEDGED = Limit(
    key="pool-7-unhedged",
    metric=Metric.UNHEDGED_OZ,
    scope=POOL,
    warning=D(5),
    breach=D(10),
    direction=Direction.MAX,
    action=Action.BLOCK_ENTRIES,
)
DISTANCE = Limit(
    key="pool-7-liq",
    metric=Metric.LIQUIDATION_DISTANCE_PCT,
    scope=POOL,
    warning=D(10),
    breach=D(5),
    direction=Direction.MIN,
    action=Action.FLATTEN,
    confirm=True,
)


def test_levels_and_the_action_each_calls_for() -> None:
    metrics = {(Metric.UNHEDGED_OZ, POOL): D(3), (Metric.LIQUIDATION_DISTANCE_PCT, POOL): D(12)}
    ok, far = evaluate([UNHEDGED, DISTANCE], metrics)
    assert (ok.level, ok.action, far.level, far.action) == (LimitLevel.OK, None, LimitLevel.OK, None)

    # A warning alerts and never acts, whatever the limit's action.
    metrics = {(Metric.UNHEDGED_OZ, POOL): D(5), (Metric.LIQUIDATION_DISTANCE_PCT, POOL): D("9.99")}
    warned, near = evaluate([UNHEDGED, DISTANCE], metrics)
    assert (warned.level, warned.action, warned.threshold) == (LimitLevel.WARNING, Action.ALERT, D(5))
    assert (near.level, near.action, near.confirm) == (LimitLevel.WARNING, Action.ALERT, False)
    assert warned.changed and warned.worsened

    # A breach calls for the limit's own action, reached at the level itself.
    metrics = {(Metric.UNHEDGED_OZ, POOL): D(10), (Metric.LIQUIDATION_DISTANCE_PCT, POOL): D(5)}
    previous = {"pool-7-unhedged": LimitLevel.WARNING, "pool-7-liq": LimitLevel.WARNING}
    blocked, flatten = evaluate([UNHEDGED, DISTANCE], metrics, previous)
    assert (blocked.level, blocked.action, blocked.confirm) == (LimitLevel.BREACH, Action.BLOCK_ENTRIES, False)
    assert (flatten.level, flatten.action, flatten.confirm) == (LimitLevel.BREACH, Action.FLATTEN, True)
    assert flatten.previous is LimitLevel.WARNING and flatten.worsened


def test_a_metric_without_a_value_is_ok() -> None:
    # No position: no liquidation distance. Absent and None read the same.
    none, absent = evaluate([DISTANCE, UNHEDGED], {(Metric.LIQUIDATION_DISTANCE_PCT, POOL): None})
    assert none.level is absent.level is LimitLevel.OK
    assert none.value is None


def test_metrics_of_another_scope_do_not_count() -> None:
    other = Scope(ScopeKind.POOL, 8)
    (state,) = evaluate([UNHEDGED], {(Metric.UNHEDGED_OZ, other): D(100)})
    assert state.level is LimitLevel.OK


def test_a_limit_with_only_a_breach_level() -> None:
    limit = Limit("l", Metric.LOSS_STREAK, POOL, None, D(4), Direction.MAX, Action.PAUSE)
    assert limit.level(D(3)) is LimitLevel.OK
    assert limit.level(D(4)) is LimitLevel.BREACH


@pytest.mark.parametrize(
    "kwargs",
    [
        {"warning": None, "breach": None},
        {"warning": D(11)},  # warning after the breach for a max
        {"hysteresis": D(-1)},
        {"action": Action.ALERT, "confirm": True},
    ],
)
def test_invalid_limits_are_refused(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "key": "k",
        "metric": Metric.UNHEDGED_OZ,
        "scope": POOL,
        "warning": D(5),
        "breach": D(10),
        "direction": Direction.MAX,
    }
    fields.update(kwargs)
    with pytest.raises(ValueError):
        Limit(**fields)


def test_every_metric_has_a_natural_direction() -> None:
    assert set(NATURAL_DIRECTION) == set(Metric)


def test_hysteresis_holds_a_breach_until_the_metric_is_back_past_the_band() -> None:
    limit = Limit("u", Metric.UNHEDGED_OZ, POOL, D(5), D(10), Direction.MAX, Action.PAUSE, hysteresis=D(1))
    assert limit.level(D("9.5"), LimitLevel.BREACH) is LimitLevel.BREACH  # inside the band
    assert limit.level(D(9), LimitLevel.BREACH) is LimitLevel.BREACH  # at its edge: still held
    assert limit.level(D("8.99"), LimitLevel.BREACH) is LimitLevel.WARNING
    assert limit.level(D("4.5"), LimitLevel.BREACH) is LimitLevel.WARNING  # within the warning's band
    assert limit.level(D("3.9"), LimitLevel.BREACH) is LimitLevel.OK
    assert limit.level(D("9.5"), LimitLevel.OK) is LimitLevel.WARNING  # getting worse is never delayed
    minimum = Limit("m", Metric.MT5_MARGIN_LEVEL_PCT, POOL, D(150), D(100), Direction.MIN, hysteresis=D(10))
    assert minimum.level(D(105), LimitLevel.BREACH) is LimitLevel.BREACH
    assert minimum.level(D("110.01"), LimitLevel.BREACH) is LimitLevel.WARNING


values = st.decimals(min_value="0", max_value="30", places=2)
bands = st.decimals(min_value="0", max_value="5", places=2)
levels = st.sampled_from(list(LimitLevel))


def hysteretic(limit: Limit, series: list[Decimal]) -> list[LimitLevel]:
    state = LimitLevel.OK
    out = []
    for value in series:
        state = limit.level(value, state)
        out.append(state)
    return out


def changes(levels_seen: list[LimitLevel]) -> int:
    return sum(1 for before, after in pairwise(levels_seen) if before is not after)


def worsenings(levels_seen: list[LimitLevel]) -> int:
    """Entries into a worse level: what raises an alert or acts."""
    rank = {LimitLevel.OK: 0, LimitLevel.WARNING: 1, LimitLevel.BREACH: 2}
    return sum(1 for before, after in pairwise(levels_seen) if rank[after] > rank[before])


@given(
    band=st.decimals(min_value="0.01", max_value="5", places=2),
    wiggles=st.lists(st.decimals(min_value="0", max_value="1", places=3), min_size=1, max_size=50),
    direction=st.sampled_from(list(Direction)),
)
def test_a_metric_oscillating_at_the_breach_level_does_not_flap(
    band: Decimal, wiggles: list[Decimal], direction: Direction
) -> None:
    # Breach at 10; once reached, every later value stays within the band on the good side (or goes worse).
    warning = D(5) if direction is Direction.MAX else D(15)
    limit = Limit("x", Metric.UNHEDGED_OZ, POOL, warning, D(10), direction, Action.PAUSE, hysteresis=band)
    sign = 1 if direction is Direction.MAX else -1
    # Each later value backs off into the band (never to its edge), and half the time also goes past the level.
    series = [D(10)]
    for w in wiggles:
        back_off = band * w * D("0.999")
        worse = w if w > D("0.5") else D(0)
        series.append(D(10) + sign * (worse - back_off))
    seen = hysteretic(limit, series)
    assert seen == [LimitLevel.BREACH] * len(series)
    # Without hysteresis the same series does flap whenever it dips below the level.
    plain = hysteretic(Limit("x", Metric.UNHEDGED_OZ, POOL, warning, D(10), direction, Action.PAUSE), series)
    assert changes(plain) >= changes(seen)


@given(series=st.lists(values, max_size=40), band=bands, direction=st.sampled_from(list(Direction)))
def test_hysteresis_never_adds_worsenings_and_stays_between_the_raw_levels(
    series: list[Decimal], band: Decimal, direction: Direction
) -> None:
    warning, breach = (D(10), D(20)) if direction is Direction.MAX else (D(20), D(10))
    limit = Limit("x", Metric.UNHEDGED_OZ, POOL, warning, breach, direction, Action.PAUSE, hysteresis=band)
    plain = [limit.raw_level(value) for value in series]
    held = hysteretic(limit, series)
    # Alerts and actions come from worsenings, and the band never adds one. (It may add a step on the way down:
    # breach → warning → ok where the raw level jumps breach → ok, since it leaves each level only past its band.)
    assert worsenings(held) <= worsenings(plain)
    rank = {LimitLevel.OK: 0, LimitLevel.WARNING: 1, LimitLevel.BREACH: 2}
    shift = band if direction is Direction.MAX else -band
    for value, level in zip(series, held, strict=True):
        # Never better than the value says, never worse than the value moved by the band says.
        assert rank[limit.raw_level(value)] <= rank[level] <= rank[limit.raw_level(value + shift)]


@given(value=values, previous=levels, direction=st.sampled_from(list(Direction)))
def test_without_a_band_the_previous_level_does_not_matter(
    value: Decimal, previous: LimitLevel, direction: Direction
) -> None:
    warning, breach = (D(10), D(20)) if direction is Direction.MAX else (D(20), D(10))
    limit = Limit("x", Metric.UNHEDGED_OZ, POOL, warning, breach, direction)
    assert limit.level(value, previous) is limit.raw_level(value)


def test_loss_streaks() -> None:
    pnls = [D(5), D(-1), D(-2), D(3), D(-1), D(-1), D(-4)]
    assert loss_streak(pnls) == 3
    assert loss_streak([*pnls, D(0)]) == 0  # a scratch ends the streak
    assert loss_streak([]) == 0
    assert longest_loss_streak([D(-1), D(-1), D(2), D(-1)]) == 2


@given(st.lists(st.decimals(min_value="-10", max_value="10", places=2), max_size=30))
def test_the_current_streak_never_exceeds_the_longest(pnls: list[Decimal]) -> None:
    assert loss_streak(pnls) <= longest_loss_streak(pnls) <= len(pnls)


def test_daily_pnl_is_not_fooled_by_a_withdrawal() -> None:
    day = datetime(2026, 1, 8, tzinfo=UTC)
    equity = [
        (day + timedelta(hours=1), D(10_000)),
        (day + timedelta(hours=12), D(9_100)),  # 1,000 withdrawn at 11:00, 100 earned
        (day + timedelta(hours=23), D(9_050)),
        (day + timedelta(days=1, hours=2), D(9_000)),
        (day + timedelta(days=1, hours=20), D(9_500)),  # a 500 deposit
    ]
    flows = [(day + timedelta(hours=11), D(-1000)), (day + timedelta(days=1, hours=10), D(500))]
    assert daily_pnl(equity, flows) == {date(2026, 1, 8): D(50), date(2026, 1, 9): D(-50)}
    # Without the ledger's flows the withdrawal would read as a 950 loss.
    assert daily_pnl(equity)[date(2026, 1, 8)] == D(-950)


def test_daily_pnl_follows_the_timezone_given() -> None:
    # 23:00 UTC on the 8th is the 9th in Shanghai.
    equity = [
        (datetime(2026, 1, 8, 10, tzinfo=UTC), D(100)),
        (datetime(2026, 1, 8, 23, tzinfo=UTC), D(130)),
    ]
    assert daily_pnl(equity) == {date(2026, 1, 8): D(30)}
    assert daily_pnl(equity, tz=ZoneInfo("Asia/Shanghai")) == {date(2026, 1, 8): D(0), date(2026, 1, 9): D(30)}
