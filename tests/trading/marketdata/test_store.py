"""MarketStore: batched writes of the tick path, candles rolled forward, bounded buffers while the database is
down, and retention. On PostgreSQL (the services mode) quotes and samples go through COPY.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import OperationalError, connection

from trading.domain.fixed import edge_decimal
from trading.marketdata.store import MarketStore, prune_market_data
from trading.models import BasisCandle, Heartbeat, Opportunity, QuoteTick, RateTick, SpreadSample

from ..market import CALM, DEAR_PERP, MarketTape

# 11:57:58–11:58:02 on the frozen clock's day: the ticks straddle a minute boundary.
T0 = datetime(2026, 11, 18, 11, 57, 58, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def database_down(*_args: Any, **_kwargs: Any) -> None:
    raise OperationalError("server closed the connection unexpectedly")


def basis(sample: Any) -> Decimal:
    return edge_decimal(sample.basis)


def candle(interval: str, start: datetime) -> BasisCandle:
    return BasisCandle.objects.get(interval=interval, start=start)


@pytest.mark.django_db
def test_a_flush_writes_quotes_samples_rates_opportunities_and_candles(alpha_pair: Any, frozen_clock: Any) -> None:
    tape = MarketTape(alpha_pair)
    for seconds, book in ((0, CALM), (1, DEAR_PERP), (3, DEAR_PERP), (4, CALM)):
        tape.tick(at(seconds), *book)
    pending = tape.store.pending()

    written = tape.store.flush()

    assert written == pending == 8 + len(tape.samples) + 4 + 2
    assert tape.store.pending() == 0
    assert QuoteTick.objects.count() == 8
    assert RateTick.objects.filter(usd_per_usdt=Decimal("0.9996")).count() == 4
    assert SpreadSample.objects.count() == len(tape.samples) == 7
    last = SpreadSample.objects.order_by("-ts", "-pk").first()
    assert last is not None
    assert last.net_sell_perp == tape.samples[-1].net_usd.sell_perp  # booked exactly, 8 dp
    [opportunity] = Opportunity.objects.all()
    assert (opportunity.direction, opportunity.started_at, opportunity.ended_at) == ("sell_perp", at(1), at(4))
    assert opportunity.peak_net_edge == tape.opened[0].peak_usd


@pytest.mark.django_db
def test_one_flush_rolls_every_candle_it_spans(alpha_pair: Any, frozen_clock: Any) -> None:
    tape = MarketTape(alpha_pair)
    for seconds, book in ((0, CALM), (1, DEAR_PERP), (3, DEAR_PERP), (4, CALM)):
        tape.tick(at(seconds), *book)
    before = [s for s in tape.samples if s.ts_ms < int(at(2).timestamp() * 1000)]
    after = tape.samples[len(before) :]

    tape.store.flush()

    # The 11:57 candle closes inside the batch; it must be written, not replaced by the 11:58 one.
    minute_57, minute_58 = candle("1m", at(-58)), candle("1m", at(2))
    assert (minute_57.samples, minute_58.samples) == (len(before), len(after))
    assert (minute_57.open, minute_57.close) == (basis(before[0]), basis(before[-1]))
    assert (minute_58.open, minute_58.close) == (basis(after[0]), basis(after[-1]))
    for interval, start in (("5m", datetime(2026, 11, 18, 11, 55, tzinfo=UTC)), ("1h", T0.replace(minute=0, second=0))):
        whole = candle(interval, start)
        assert whole.samples == len(tape.samples)
        assert (whole.open, whole.close) == (basis(tape.samples[0]), basis(tape.samples[-1]))
        assert whole.high == max(basis(s) for s in tape.samples)
        assert whole.low == min(basis(s) for s in tape.samples)
        assert whole.best_net_edge == max(edge_decimal(max(s.net_sell_perp, s.net_buy_perp)) for s in tape.samples)
    assert BasisCandle.objects.count() == 4


@pytest.mark.django_db
def test_a_restarted_store_continues_the_open_candle(alpha_pair: Any, frozen_clock: Any) -> None:
    before_restart = MarketTape(alpha_pair)
    before_restart.tick(at(3), *CALM)
    before_restart.tick(at(4), *DEAR_PERP)
    before_restart.store.flush()

    after_restart = MarketTape(alpha_pair)  # a new process: new engine, new store, nothing in memory
    after_restart.tick(at(10), *CALM)
    after_restart.store.flush()

    samples = before_restart.samples + after_restart.samples
    minute = candle("1m", at(2))
    assert minute.samples == len(samples) == 4
    assert minute.open == basis(before_restart.samples[0])  # kept from before the restart
    assert minute.close == basis(after_restart.samples[-1])
    assert minute.high == max(basis(s) for s in samples)
    assert minute.low == min(basis(s) for s in samples)


@pytest.mark.django_db
def test_a_candle_carried_over_two_flushes_of_one_store_counts_every_sample_once(
    alpha_pair: Any, frozen_clock: Any
) -> None:
    tape = MarketTape(alpha_pair)
    tape.tick(at(3), *CALM)
    tape.tick(at(4), *DEAR_PERP)
    tape.store.flush()
    first = len(tape.samples)
    tape.tick(at(10), *CALM)  # same minute, next flush: the open candle is carried in memory, not re-read
    tape.tick(at(11), *DEAR_PERP)
    tape.store.flush()
    tape.store.flush()  # nothing new: nothing counted again

    minute = candle("1m", at(2))
    assert first < len(tape.samples) == minute.samples
    assert (minute.open, minute.close) == (basis(tape.samples[0]), basis(tape.samples[-1]))
    assert minute.high == max(basis(s) for s in tape.samples)
    assert minute.low == min(basis(s) for s in tape.samples)
    assert minute.best_net_edge == max(edge_decimal(max(s.net_sell_perp, s.net_buy_perp)) for s in tape.samples)


@pytest.mark.django_db
def test_an_empty_flush_still_proves_the_store_is_alive(frozen_clock: Any) -> None:
    store = MarketStore()

    assert store.flush() == 0

    beat = Heartbeat.objects.get(component="store")
    assert beat.beat_at == frozen_clock.now()
    assert beat.detail == {"written": 0, "lost": 0, "batch": 0}


# The store closes the connection after a failure, so these run outside the test transaction.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_failed_flush_keeps_the_rows_and_a_later_flush_writes_them_once(
    alpha_pair: Any, frozen_clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    tape = MarketTape(alpha_pair)
    for seconds, book in ((0, CALM), (1, DEAR_PERP), (3, DEAR_PERP), (4, CALM)):
        tape.tick(at(seconds), *book)
    pending = tape.store.pending()
    # Candles are written last: quotes and samples of the same batch must roll back with them.
    monkeypatch.setattr(BasisCandle.objects, "bulk_create", database_down)

    failed = tape.store.flush()

    assert failed == 0
    assert tape.store.pending() == pending
    assert tape.store.last_error.startswith("OperationalError")
    assert (QuoteTick.objects.count(), SpreadSample.objects.count(), Opportunity.objects.count()) == (0, 0, 0)

    monkeypatch.undo()
    written = tape.store.flush()

    assert written == pending
    assert (tape.store.pending(), tape.store.last_error, tape.store.lost) == (0, "", 0)
    assert QuoteTick.objects.count() == 8
    assert SpreadSample.objects.count() == len(tape.samples)
    # The retried batch is counted once in the candles, not once per attempt.
    assert candle("1h", T0.replace(minute=0, second=0)).samples == len(tape.samples)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_while_the_database_is_down_buffers_keep_capacity_rows_and_count_the_rest_lost(
    alpha_pair: Any, frozen_clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    tape = MarketTape(alpha_pair, store=MarketStore(capacity=3))
    monkeypatch.setattr(RateTick.objects, "bulk_create", database_down)
    for seconds in range(6):
        tape.tick(at(seconds), *(DEAR_PERP if seconds in (2, 3) else CALM))
        assert tape.store.flush() == 0  # every attempt fails while the database is down

    # 12 quotes, 11 samples and 6 rates were buffered; each buffer kept its newest 3.
    assert (len(tape.store.quotes), len(tape.store.samples), len(tape.store.rates)) == (3, 3, 3)
    assert tape.store.lost == (12 - 3) + (11 - 3) + (6 - 3)
    assert len(tape.store.opportunities) == 2  # opportunities are never dropped

    monkeypatch.undo()
    written = tape.store.flush()

    assert written == 3 + 3 + 3 + 2
    assert QuoteTick.objects.count() == 3
    assert min(QuoteTick.objects.values_list("ts", flat=True)) == at(4)  # the oldest were the ones dropped
    assert SpreadSample.objects.count() == 3
    assert Opportunity.objects.get().ended_at == at(4)
    assert Heartbeat.objects.get(component="store").detail["lost"] == 20


@pytest.mark.django_db
def test_pruning_deletes_only_rows_older_than_the_retention(alpha_pair: Any, frozen_clock: Any) -> None:
    now = frozen_clock.now()
    old, recent = now - timedelta(days=8), now - timedelta(hours=1)
    for moment in (old, recent):
        tape = MarketTape(alpha_pair)
        tape.tick(moment, *CALM)
        tape.tick(moment + timedelta(seconds=1), *DEAR_PERP)
        tape.tick(moment + timedelta(seconds=2), *CALM)
        tape.store.flush()
    ancient = now - timedelta(days=401)
    BasisCandle.objects.create(
        pair=alpha_pair, interval="1h", start=ancient, open=1, high=1, low=1, close=1, best_net_edge=0, samples=1
    )
    Opportunity.objects.create(
        pair=alpha_pair, direction="buy_perp", started_at=ancient, ended_at=ancient + timedelta(minutes=1),
        peak_net_edge=1, peak_at=ancient, threshold=Decimal("0.5"),
    )  # fmt: skip
    still_open = Opportunity.objects.create(
        pair=alpha_pair, direction="sell_perp", started_at=ancient - timedelta(days=1), ended_at=None,
        peak_net_edge=1, peak_at=ancient, threshold=Decimal("0.5"),
    )  # fmt: skip

    deleted = prune_market_data(quotes_days=7, candles_days=400)

    cutoff = now - timedelta(days=7)
    assert deleted == {"quotes": 6, "rates": 3, "samples": 5, "candles": 2, "opportunities": 1}
    assert not QuoteTick.objects.filter(ts__lt=cutoff).exists()
    assert QuoteTick.objects.count() == 6
    assert not SpreadSample.objects.filter(ts__lt=cutoff).exists()
    assert SpreadSample.objects.count() == 5
    assert not RateTick.objects.filter(ts__lt=cutoff).exists()
    # Minute candles go with the raw data; longer candles stay until the candle retention.
    assert not BasisCandle.objects.filter(interval="1m", start__lt=cutoff).exists()
    assert BasisCandle.objects.filter(interval="5m", start__lt=cutoff).count() == 1
    assert BasisCandle.objects.filter(interval="1h", start__lt=cutoff).count() == 1
    assert not BasisCandle.objects.filter(start=ancient).exists()
    # Opportunities outlive raw data: only those that ended before the candle retention go, never an open one.
    assert set(Opportunity.objects.values_list("started_at", flat=True)) == {
        still_open.started_at,
        old + timedelta(seconds=1),
        recent + timedelta(seconds=1),
    }


@pytest.mark.services
@pytest.mark.django_db
def test_on_postgresql_quotes_and_samples_are_copied_not_inserted(
    alpha_pair: Any, frozen_clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the COPY path is PostgreSQL's (services mode)")
    monkeypatch.setattr(QuoteTick.objects, "bulk_create", database_down)
    monkeypatch.setattr(SpreadSample.objects, "bulk_create", database_down)
    tape = MarketTape(alpha_pair)
    for seconds, book in ((0, CALM), (1, DEAR_PERP), (3, CALM)):
        tape.tick(at(seconds), *book)

    written = tape.store.flush()

    assert written > 0
    assert tape.store.last_error == ""
    first = QuoteTick.objects.order_by("ts", "pk").first()
    assert first is not None
    assert (first.source_id, first.ts, first.bid, first.ask) == (
        alpha_pair.perp_source_id,
        at(0),
        Decimal("4602.60000000"),
        Decimal("4602.62000000"),
    )
    assert first.received_at == at(0)
    rows = list(SpreadSample.objects.order_by("ts", "pk"))
    assert [row.net_buy_perp for row in rows] == [s.net_usd.buy_perp for s in tape.samples]
    assert [row.basis_mean for row in rows] == [s.basis_mean for s in tape.samples]
    assert all(row.usd_per_usdt == Decimal("0.999600") for row in rows)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("thread_connections_closed")
def test_rows_appended_while_a_flush_runs_are_neither_lost_nor_written_twice(alpha_pair: Any) -> None:
    import threading

    from trading.domain.quotes import Quote

    store = MarketStore()
    source_id = alpha_pair.perp_source_id
    base_ms = int(T0.timestamp() * 1000)
    appended = 20_000
    done = threading.Event()

    def tick_path() -> None:
        # The event loop's side: appends without ever waiting for the writer.
        for i in range(appended):
            store.add_quote(source_id, Quote("p", 460_000_000_000 + i, 460_000_100_000 + i, base_ms + i), base_ms + i)
        done.set()

    writer = threading.Thread(target=tick_path)
    writer.start()
    while not done.is_set():
        store.flush()
    writer.join()
    store.flush()

    assert store.pending() == 0
    assert QuoteTick.objects.count() == appended
    assert QuoteTick.objects.values("ts").distinct().count() == appended
