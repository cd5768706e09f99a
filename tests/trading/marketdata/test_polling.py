"""poll_feeds: only checks freshness while the engine streams; is the quote source when it does not."""

from __future__ import annotations

from typing import Any

import pytest

from quantarb import clock
from trading.marketdata.polling import poll_feeds
from trading.models import Heartbeat, QuoteTick, SpreadSample


@pytest.mark.django_db
def test_it_only_checks_freshness_while_the_engine_streams(alpha_pair: Any, frozen_clock: Any) -> None:
    Heartbeat.objects.create(component="engine", beat_at=clock.now(), detail={})

    summary = poll_feeds()

    assert summary == {"engine_streaming": True, "polled": 0}
    assert not QuoteTick.objects.exists()


@pytest.mark.django_db
def test_it_polls_the_venues_and_prices_the_pair_when_no_engine_runs(alpha_pair: Any, frozen_clock: Any) -> None:
    Heartbeat.objects.create(component="engine", beat_at=clock.now(), detail={})
    frozen_clock.advance(30)  # the engine went away

    summary = poll_feeds()

    assert summary["engine_streaming"] is False
    assert summary["polled"] == 3  # the rate, the perp quote, the CFD quote (Wednesday noon: open)
    assert QuoteTick.objects.count() == 2
    assert SpreadSample.objects.filter(pair=alpha_pair).count() == 1
    poller = Heartbeat.objects.get(component="poller")
    assert set(poller.detail["pairs"][str(alpha_pair.pk)]["sources"]) == {
        "simulated-perp-xauusdt",
        "simulated-cfd-xauusd-s",
    }


@pytest.mark.django_db
def test_polled_quotes_continue_from_the_stored_market(alpha_pair: Any, frozen_clock: Any) -> None:
    poll_feeds()
    first = SpreadSample.objects.get()
    frozen_clock.advance(5)

    poll_feeds()

    second = SpreadSample.objects.order_by("-ts").first()
    assert second is not None and second.ts > first.ts
    # A fresh simulator starts at the seed's price; a poll carries on from the stored one instead.
    assert abs(second.cfd_bid - first.cfd_bid) < 5


@pytest.mark.django_db
def test_an_engine_start_ends_the_opportunities_a_stopped_engine_left_open(alpha_pair: Any, frozen_clock: Any) -> None:
    from trading.marketdata.store import close_interrupted_opportunities
    from trading.models import Opportunity

    left_open = Opportunity.objects.create(
        pair=alpha_pair,
        direction="sell_perp",
        started_at=clock.now(),
        peak_net_edge=1,
        peak_at=clock.now(),
        threshold=0.5,
    )
    frozen_clock.advance(60)

    closed = close_interrupted_opportunities(pair_ids=[alpha_pair.pk])

    left_open.refresh_from_db()
    assert closed == 1 and left_open.ended_at == clock.now()


@pytest.mark.django_db
def test_a_poll_never_leaves_an_opportunity_open(alpha_pair: Any, frozen_clock: Any) -> None:
    from trading.models import Opportunity

    alpha_pair.entry_threshold = -100  # every priced instant is an opportunity
    alpha_pair.exit_threshold = -101
    alpha_pair.save()
    frozen_clock.advance(30)

    poll_feeds()

    [seen] = Opportunity.objects.all()
    assert seen.ended_at is not None
