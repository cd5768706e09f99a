"""The engine around closed markets and silent feeds: closed quotes are closed, silence ends opportunities."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trading.domain.quotes import Quote, Verdict

from .builders import T0, cfd_quote, make_engine, perp_quote


def test_it_counts_quotes_from_a_closed_cfd_as_closed_not_stale_or_valid() -> None:
    engine = make_engine()
    engine.set_cfd_open(False, T0)

    result = engine.on_quote(cfd_quote("4600.00", "4600.30", T0), T0)

    assert result.verdict is Verdict.CLOSED
    assert result.sample is None
    assert engine.validator.counts[Verdict.CLOSED] == 1
    # A closed market is not an error: it is not among the dropped quotes.
    assert engine.validator.dropped() == 0


def test_it_refuses_a_quote_of_another_source_without_counting_it() -> None:
    engine = make_engine()

    with pytest.raises(ValueError, match="does not belong"):
        engine.on_quote(Quote.of("elsewhere", "1", "2", T0), T0)

    assert sum(engine.validator.counts.values()) == 0


def test_it_ends_an_open_opportunity_when_both_feeds_go_silent() -> None:
    engine = make_engine(entry_threshold=Decimal("0.01"))
    engine.on_quote(perp_quote("4610.00", "4610.01", T0), T0)
    opened = engine.on_quote(cfd_quote("4600.00", "4600.30", T0 + 1), T0 + 1)
    assert opened.opened is not None

    still_fresh = engine.check_fresh(T0 + 1_000)
    closed = engine.check_fresh(T0 + 1 + engine.validator.stale_after_ms + 1)

    assert still_fresh is None
    assert closed is not None and closed.ended_ms == T0 + 1 + engine.validator.stale_after_ms + 1
    assert engine.tracker.current is None
