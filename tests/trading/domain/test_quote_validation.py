"""Quote validation on the tick path: a bad quote is dropped and counted, never priced, never raises."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading.domain.engine import SpreadEngine
from trading.domain.quotes import Quote, QuoteValidator, Verdict

from .builders import CFD, PERP, T0, cfd_quote, make_engine, perp_quote

EXAMPLES = settings(max_examples=200, deadline=None)


def priced_engine(validator: QuoteValidator | None = None) -> SpreadEngine:
    """An engine that has priced one sample from a perp and a CFD quote at T0."""
    engine = make_engine(validator=validator)
    engine.on_quote(perp_quote("4600.10", "4600.12", T0), now_ms=T0)
    assert engine.on_quote(cfd_quote("4599.90", "4600.20", T0), now_ms=T0).sample is not None
    return engine


# --- each kind of bad quote -----------------------------------------------------------------------------
BAD_QUOTES = [
    pytest.param(Quote(PERP, 0, 460_012_000_000, T0 + 100), Verdict.NON_POSITIVE, id="zero-bid"),
    pytest.param(Quote(CFD, -1, 460_020_000_000, T0 + 100), Verdict.NON_POSITIVE, id="negative-bid"),
    pytest.param(Quote(PERP, 460_010_000_000, 0, T0 + 100), Verdict.NON_POSITIVE, id="zero-ask"),
    pytest.param(perp_quote("4600.12", "4600.10", T0 + 100), Verdict.CROSSED, id="crossed"),
    pytest.param(cfd_quote("4600.00", "4600.00", T0 + 100), Verdict.LOCKED, id="locked"),
    pytest.param(perp_quote("4600.11", "4600.13", T0 - 1), Verdict.OUT_OF_ORDER, id="out-of-order"),
    pytest.param(cfd_quote("4600.00", "4600.30", T0 + 100 - 5_001), Verdict.OUT_OF_ORDER, id="older-than-last"),
    pytest.param(perp_quote("4692.10", "4692.12", T0 + 100), Verdict.OUTLIER, id="outlier-2pct"),
    pytest.param(cfd_quote("4576.00", "4576.30", T0 + 100), Verdict.OUTLIER, id="outlier-0.5pct"),
]


@pytest.mark.parametrize(("quote", "verdict"), BAD_QUOTES)
def test_it_drops_and_counts_an_invalid_quote(quote: Quote, verdict: Verdict) -> None:
    engine = priced_engine()
    oks = engine.validator.counts[Verdict.OK]

    result = engine.on_quote(quote, now_ms=T0 + 100)

    assert result.verdict is verdict
    assert result.sample is None
    assert engine.validator.counts[verdict] == 1
    assert engine.validator.counts[Verdict.OK] == oks
    assert engine.validator.dropped() == 1


def test_it_rejects_stale_quotes() -> None:
    engine = priced_engine()
    late = perp_quote("4600.11", "4600.13", T0 + 1_000)

    result = engine.on_quote(late, now_ms=T0 + 1_000 + 5_001)

    assert result.verdict is Verdict.STALE
    assert result.sample is None
    assert engine.validator.counts[Verdict.STALE] == 1


def test_a_quote_exactly_at_the_staleness_limit_is_still_fresh() -> None:
    engine = priced_engine()

    result = engine.on_quote(perp_quote("4600.11", "4600.13", T0 + 1_000), now_ms=T0 + 1_000 + 5_000)

    assert result.verdict is Verdict.OK


def test_a_dropped_quote_keeps_the_last_good_quote_in_use() -> None:
    engine = priced_engine()

    engine.on_quote(perp_quote("4692.10", "4692.12", T0 + 100), now_ms=T0 + 100)  # outlier
    sample = engine.on_quote(cfd_quote("4599.95", "4600.25", T0 + 200), now_ms=T0 + 200).sample

    assert sample is not None
    assert sample.perp.bid_price == Decimal("4600.10")


def test_a_quote_from_a_foreign_source_is_refused() -> None:
    engine = priced_engine()

    with pytest.raises(ValueError, match="does not belong"):
        engine.on_quote(Quote.of("okx:XAUUSDT", "4600.1", "4600.2", T0 + 100), now_ms=T0 + 100)


# --- properties -----------------------------------------------------------------------------------------
ANY_INT = st.integers(min_value=-(2**70), max_value=2**70)
SMALL_INT = st.integers(min_value=-5, max_value=460_100_000_000)


@st.composite
def arbitrary_quotes(draw: st.DrawFn) -> tuple[Quote, int]:
    """Any quote on either leg: mostly near the market (so some pass), some anything at all."""
    source = draw(st.sampled_from([PERP, CFD]))
    if draw(st.booleans()):
        bid = draw(st.integers(459_000_000_000, 461_000_000_000))
        ask = bid + draw(st.integers(-3_000_000, 60_000_000))
    else:
        bid, ask = draw(SMALL_INT), draw(SMALL_INT)
    ts = T0 + draw(st.integers(-2_000, 20_000))
    now = ts + draw(st.integers(-100, 7_000))
    return Quote(source, bid, ask, ts), now


@EXAMPLES
@given(st.lists(arbitrary_quotes(), min_size=1, max_size=40))
def test_an_invalid_quote_never_produces_a_spread_sample(feed: list[tuple[Quote, int]]) -> None:
    engine = make_engine()
    seen: Counter[Verdict] = Counter()

    for quote, now in feed:
        result = engine.on_quote(quote, now_ms=now)
        seen[result.verdict] += 1

        if result.verdict is not Verdict.OK:
            assert result.sample is None
            assert result.opened is None
        else:
            # Whatever is priced was built from quotes that passed validation.
            assert result.sample is None or (
                0 < result.sample.perp.bid < result.sample.perp.ask
                and 0 < result.sample.cfd.bid < result.sample.cfd.ask
            )

    # Every quote is counted exactly once, under the verdict it got.
    assert sum(engine.validator.counts.values()) == len(feed)
    assert dict(seen) == {verdict: count for verdict, count in engine.validator.counts.items() if count}


@EXAMPLES
@given(
    st.lists(st.tuples(st.sampled_from(["a", "b"]), ANY_INT, ANY_INT, ANY_INT, ANY_INT), min_size=1, max_size=30),
    st.integers(0, 10_000),
    st.integers(-(2**40), 2**40),
    st.integers(0, 10),
)
def test_the_validator_never_raises_on_any_integers(
    feed: list[tuple[str, int, int, int, int]], max_jump_bps: int, stale_after_ms: int, confirmations: int
) -> None:
    validator = QuoteValidator(max_jump_bps=max_jump_bps, stale_after_ms=stale_after_ms, confirmations=confirmations)

    verdicts = [validator.check(Quote(source, bid, ask, ts), now_ms=now) for source, bid, ask, ts, now in feed]

    assert all(isinstance(verdict, Verdict) for verdict in verdicts)
    assert sum(validator.counts.values()) == len(feed)


# --- outliers, reopen gaps and real level shifts ---------------------------------------------------------
def test_a_reopen_gap_after_a_cfd_close_is_accepted() -> None:
    engine = priced_engine()
    engine.set_cfd_open(False, T0 + 1_000)
    engine.set_cfd_open(True, T0 + 3_600_000)
    reopen = T0 + 3_600_000 + 10
    for step in range(1, 6):  # the 24/7 perp drifts up by 2 % in steps while the CFD is closed
        ts = T0 + step * 600_000
        perp = perp_quote(str(Decimal("4600.10") + 18 * step), str(Decimal("4600.12") + 18 * step), ts)
        assert engine.on_quote(perp, now_ms=ts).verdict is Verdict.OK
    engine.on_quote(perp_quote("4692.10", "4692.12", reopen), now_ms=reopen)
    gapped = cfd_quote("4692.00", "4692.35", reopen)  # +2 % on the last CFD quote before the close

    result = engine.on_quote(gapped, now_ms=reopen)

    assert result.verdict is Verdict.OK
    assert result.sample is not None
    assert result.sample.cfd is gapped


def test_the_same_cfd_jump_without_a_close_is_an_outlier() -> None:
    engine = priced_engine()

    result = engine.on_quote(cfd_quote("4692.00", "4692.35", T0 + 100), now_ms=T0 + 100)

    assert result.verdict is Verdict.OUTLIER
    assert result.sample is None


def test_quotes_seen_while_the_cfd_is_closed_do_not_turn_the_reopen_gap_into_an_outlier() -> None:
    # A feed may keep delivering the last pre-close level during the break; the filter must still reset
    # "after a closed session" (ARCHITECTURE.md "Sessions and time").
    engine = priced_engine()
    engine.set_cfd_open(False, T0 + 1_000)
    during_break = T0 + 1_800_000
    closed_result = engine.on_quote(cfd_quote("4599.90", "4600.20", during_break), now_ms=during_break)
    engine.set_cfd_open(True, T0 + 3_600_000)
    reopen = T0 + 3_600_000 + 10

    result = engine.on_quote(cfd_quote("4692.00", "4692.35", reopen), now_ms=reopen)

    assert closed_result.sample is None
    assert result.verdict is Verdict.OK


@pytest.mark.parametrize("confirmations", [1, 2, 3, 5])
def test_a_persistent_level_shift_is_accepted_after_confirmations_quotes(confirmations: int) -> None:
    engine = priced_engine(QuoteValidator(confirmations=confirmations))
    ts = T0

    verdicts = []
    for step in range(confirmations):
        ts += 100
        # The new level wobbles by a cent: still the same level, not a new jump.
        verdicts.append(engine.on_quote(cfd_quote(f"4692.0{step}", f"4692.3{step}", ts), now_ms=ts).verdict)

    assert verdicts == [Verdict.OUTLIER] * (confirmations - 1) + [Verdict.OK]
    assert engine.cfd is not None and engine.cfd.bid_price == Decimal(f"4692.0{confirmations - 1}")


def test_a_single_bad_print_does_not_move_the_reference() -> None:
    validator = QuoteValidator(confirmations=3)
    engine = priced_engine(validator)

    bad = engine.on_quote(cfd_quote("4692.00", "4692.35", T0 + 100), now_ms=T0 + 100)
    back = engine.on_quote(cfd_quote("4599.95", "4600.25", T0 + 200), now_ms=T0 + 200)
    # The earlier bad print must not count towards confirming a later jump to the same level.
    again = [
        engine.on_quote(cfd_quote("4692.00", "4692.35", T0 + ts), now_ms=T0 + ts).verdict for ts in (300, 400, 500)
    ]

    assert bad.verdict is Verdict.OUTLIER
    assert back.verdict is Verdict.OK
    assert again == [Verdict.OUTLIER, Verdict.OUTLIER, Verdict.OK]


def test_a_jump_to_a_different_level_restarts_the_confirmation_count() -> None:
    engine = priced_engine(QuoteValidator(confirmations=2))

    first = engine.on_quote(cfd_quote("4692.00", "4692.35", T0 + 100), now_ms=T0 + 100)
    elsewhere = engine.on_quote(cfd_quote("4508.00", "4508.35", T0 + 200), now_ms=T0 + 200)
    confirmed = engine.on_quote(cfd_quote("4508.01", "4508.36", T0 + 300), now_ms=T0 + 300)

    assert [first.verdict, elsewhere.verdict, confirmed.verdict] == [
        Verdict.OUTLIER,
        Verdict.OUTLIER,
        Verdict.OK,
    ]


def test_a_move_inside_the_jump_limit_is_accepted() -> None:
    engine = priced_engine()  # 50 bps: about 23 USD/oz at 4600

    result = engine.on_quote(cfd_quote("4622.00", "4622.30", T0 + 100), now_ms=T0 + 100)

    assert result.verdict is Verdict.OK
    assert result.sample is not None


def test_sources_are_filtered_independently() -> None:
    validator = QuoteValidator()
    validator.check(perp_quote("4600.10", "4600.12", T0), now_ms=T0)

    # The CFD has no reference of its own yet, so its first quote is accepted whatever the perp's level.
    verdict = validator.check(cfd_quote("4692.00", "4692.35", T0 - 10), now_ms=T0)

    assert verdict is Verdict.OK
