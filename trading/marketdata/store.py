"""Batched market-data writes, so the tick path never waits on the database.

The pipeline appends to bounded buffers; `flush()` (run off the event loop) writes them in one transaction —
PostgreSQL `COPY` for the high-volume tables, `bulk_create` elsewhere — and rolls basis candles forward.
When the database is unavailable the buffers keep at most `capacity` rows each; the oldest are dropped and
counted in `lost`, and the pipeline keeps pricing and pushing.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Q

from quantarb import clock
from trading.choices import CANDLE_SECONDS, CandleInterval
from trading.domain.engine import SpreadSample as Sample
from trading.domain.fixed import EDGE_SCALE, edge_decimal, price_decimal
from trading.domain.opportunities import Opportunity as OpportunityState
from trading.domain.quotes import Quote
from trading.models import BasisCandle, Heartbeat, Opportunity, QuoteTick, RateTick, SpreadSample

log = logging.getLogger(__name__)


def _take(buffer: deque) -> list[Any]:  # type: ignore[type-arg]
    """Remove and return what `buffer` holds now (rows appended meanwhile stay for the next flush)."""
    rows = []
    for _ in range(len(buffer)):
        rows.append(buffer.popleft())
    return rows


def ms_to_datetime(ts_ms: int) -> datetime:
    return datetime.fromtimestamp(ts_ms / 1000, UTC)


@dataclass(slots=True)
class _Candle:
    """An open basis candle, in integers: its start in epoch ms, its values in edge units (1e-16 USD/oz), turned
    into 8-dp decimals only when written (half-even rounding is monotonic, so the high of the rounded values is the
    rounded high)."""

    start_ms: int
    open: int
    high: int
    low: int
    close: int
    best_net_edge: int
    samples: int = 0


_CANDLE_SPANS_MS = tuple((interval, seconds * 1000) for interval, seconds in CANDLE_SECONDS.items())


@dataclass
class MarketStore:
    capacity: int = 200_000
    quotes: deque[tuple[int, Quote, int]] = field(default_factory=deque)
    samples: deque[tuple[int, Sample]] = field(default_factory=deque)
    rates: deque[tuple[str, Decimal, int]] = field(default_factory=deque)
    opportunities: deque[tuple[int, OpportunityState]] = field(default_factory=deque)
    lost: int = 0
    written: int = 0
    last_flush_ok: datetime | None = None
    last_error: str = ""
    _candles: dict[tuple[int, str], _Candle] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- tick path (event loop): O(1) appends -------------------------------------------------------
    def add_quote(self, source_id: int, quote: Quote, received_ms: int) -> None:
        self._append(self.quotes, (source_id, quote, received_ms))

    def add_sample(self, pair_id: int, sample: Sample) -> None:
        self._append(self.samples, (pair_id, sample))

    def add_rate(self, source: str, usd_per_usdt: Decimal, ts_ms: int) -> None:
        self._append(self.rates, (source, usd_per_usdt, ts_ms))

    def add_opportunity(self, pair_id: int, opportunity: OpportunityState) -> None:
        # Opportunities are few and must not be lost: they are never dropped for capacity.
        self.opportunities.append((pair_id, opportunity))

    def _append(self, buffer: deque, row: object) -> None:  # type: ignore[type-arg]
        if len(buffer) >= self.capacity:
            buffer.popleft()
            self.lost += 1
        buffer.append(row)

    def pending(self) -> int:
        return len(self.quotes) + len(self.samples) + len(self.rates) + len(self.opportunities)

    # --- off the loop -------------------------------------------------------------------------------
    def flush(self) -> int:
        """Write everything buffered; on failure the rows stay buffered (bounded) and the error is kept."""
        with self._lock:
            # Take rows off the left while the event loop appends on the right (each deque operation is
            # atomic; iterating a deque that another thread appends to is not).
            quotes, samples = _take(self.quotes), _take(self.samples)
            rates, opportunities = _take(self.rates), _take(self.opportunities)
            if not (quotes or samples or rates or opportunities):
                self._beat(0)
                return 0
            try:
                with transaction.atomic():
                    self._write_quotes(quotes)
                    self._write_samples(samples)
                    RateTick.objects.bulk_create(
                        RateTick(source=s, usd_per_usdt=r, ts=ms_to_datetime(t)) for s, r, t in rates
                    )
                    self._write_opportunities(opportunities)
                    candles = self._write_candles(samples)
            except Exception as exc:  # the database is down or refusing: keep the rows, report, retry later
                self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                self._put_back(self.quotes, quotes, bounded=True)
                self._put_back(self.samples, samples, bounded=True)
                self._put_back(self.rates, rates, bounded=True)
                self._put_back(self.opportunities, opportunities, bounded=False)
                log.warning("market store flush failed, %d rows buffered: %s", self.pending(), self.last_error)
                connection.close()
                return 0
            self._candles = candles
            count = len(quotes) + len(samples) + len(rates) + len(opportunities)
            self.written += count
            self.last_error = ""
            self.last_flush_ok = clock.now()
            self._beat(count)
            return count

    def _put_back(self, buffer: deque, rows: list[Any], *, bounded: bool) -> None:  # type: ignore[type-arg]
        """Return unwritten rows to the front, oldest first; beyond capacity the oldest are lost and counted."""
        buffer.extendleft(reversed(rows))
        while bounded and len(buffer) > self.capacity:
            buffer.popleft()
            self.lost += 1

    def _beat(self, count: int) -> None:
        try:
            Heartbeat.objects.update_or_create(
                component="store",
                defaults={
                    "beat_at": clock.now(),
                    "detail": {"written": self.written, "lost": self.lost, "batch": count},
                },
            )
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"[:500]
            connection.close()

    def _write_quotes(self, rows: list[tuple[int, Quote, int]]) -> None:
        if not rows:
            return
        if connection.vendor == "postgresql":
            table = QuoteTick._meta.db_table
            with (
                connection.cursor() as cursor,
                cursor.copy(f"COPY {table} (source_id, ts, bid, ask, received_at) FROM STDIN") as copy,
            ):
                for source_id, q, received_ms in rows:
                    copy.write_row(
                        (
                            source_id,
                            ms_to_datetime(q.ts_ms),
                            price_decimal(q.bid),
                            price_decimal(q.ask),
                            ms_to_datetime(received_ms),
                        )
                    )
            return
        QuoteTick.objects.bulk_create(
            (
                QuoteTick(
                    source_id=source_id,
                    ts=ms_to_datetime(q.ts_ms),
                    bid=price_decimal(q.bid),
                    ask=price_decimal(q.ask),
                    received_at=ms_to_datetime(received_ms),
                )
                for source_id, q, received_ms in rows
            ),
            batch_size=2000,
        )

    @staticmethod
    def _sample_row(pair_id: int, s: Sample) -> tuple[object, ...]:
        return (
            pair_id,
            ms_to_datetime(s.ts_ms),
            price_decimal(s.perp.bid),
            price_decimal(s.perp.ask),
            price_decimal(s.cfd.bid),
            price_decimal(s.cfd.ask),
            s.usd_per_usdt,
            edge_decimal(s.sell_perp),
            edge_decimal(s.buy_perp),
            edge_decimal(s.net_sell_perp),
            edge_decimal(s.net_buy_perp),
            edge_decimal(s.basis),
            s.basis_mean,
            s.zscore,
        )

    _SAMPLE_COLUMNS = (
        "pair_id",
        "ts",
        "perp_bid",
        "perp_ask",
        "cfd_bid",
        "cfd_ask",
        "usd_per_usdt",
        "edge_sell_perp",
        "edge_buy_perp",
        "net_sell_perp",
        "net_buy_perp",
        "basis",
        "basis_mean",
        "zscore",
    )

    def _write_samples(self, rows: list[tuple[int, Sample]]) -> None:
        if not rows:
            return
        if connection.vendor == "postgresql":
            table = SpreadSample._meta.db_table
            with (
                connection.cursor() as cursor,
                cursor.copy(f"COPY {table} ({', '.join(self._SAMPLE_COLUMNS)}) FROM STDIN") as copy,
            ):
                for pair_id, s in rows:
                    copy.write_row(self._sample_row(pair_id, s))
            return
        SpreadSample.objects.bulk_create(
            (SpreadSample(**dict(zip(self._SAMPLE_COLUMNS, self._sample_row(p, s), strict=True))) for p, s in rows),
            batch_size=2000,
        )

    def _write_opportunities(self, rows: list[tuple[int, OpportunityState]]) -> None:
        for pair_id, o in rows:
            Opportunity.objects.update_or_create(
                pair_id=pair_id,
                direction=o.direction.value,
                started_at=ms_to_datetime(o.started_ms),
                defaults={
                    "peak_net_edge": o.peak_usd,
                    "peak_at": ms_to_datetime(o.peak_ms),
                    "threshold": o.threshold_usd,
                    "ended_at": ms_to_datetime(o.ended_ms) if o.ended_ms is not None else None,
                },
            )

    def _write_candles(self, rows: list[tuple[int, Sample]]) -> dict[tuple[int, str], _Candle]:
        """Roll the candles forward over `rows` and write every candle they touched (a batch may span several).

        Works on copies and returns the open candles: the caller keeps them only once the transaction commits,
        so a failed flush that is retried does not count its samples twice.
        """
        current = {key: replace(candle) for key, candle in self._candles.items()}
        before = {key: candle.samples for key, candle in current.items()}
        touched: dict[tuple[int, str, int], _Candle] = {}
        for pair_id, s in rows:
            value, ts_ms = s.basis, s.ts_ms
            best = s.net_sell_perp if s.net_sell_perp > s.net_buy_perp else s.net_buy_perp
            for interval, span_ms in _CANDLE_SPANS_MS:
                start_ms = ts_ms - ts_ms % span_ms
                key = (pair_id, interval)
                candle = current.get(key)
                if candle is None or candle.start_ms != start_ms:
                    candle = (
                        touched.get((pair_id, interval, start_ms))
                        or self._load_candle(pair_id, interval, start_ms)
                        or _Candle(start_ms, value, value, value, value, best)
                    )
                    current[key] = candle
                    touched[(pair_id, interval, start_ms)] = candle
                if value > candle.high:
                    candle.high = value
                elif value < candle.low:
                    candle.low = value
                candle.close = value
                if best > candle.best_net_edge:
                    candle.best_net_edge = best
                candle.samples += 1
        for (carried_pair, carried_interval), candle in current.items():  # candles carried on from the last flush
            if candle.samples != before.get((carried_pair, carried_interval), candle.samples):
                touched.setdefault((carried_pair, carried_interval, candle.start_ms), candle)
        if not touched:
            return current
        BasisCandle.objects.bulk_create(
            [
                BasisCandle(
                    pair_id=pair_id,
                    interval=interval,
                    start=ms_to_datetime(c.start_ms),
                    open=edge_decimal(c.open),
                    high=edge_decimal(c.high),
                    low=edge_decimal(c.low),
                    close=edge_decimal(c.close),
                    best_net_edge=edge_decimal(c.best_net_edge),
                    samples=c.samples,
                )
                for (pair_id, interval, _start), c in touched.items()
            ],
            update_conflicts=True,
            unique_fields=["pair", "interval", "start"],
            update_fields=["high", "low", "close", "best_net_edge", "samples"],
        )
        return current

    @staticmethod
    def _load_candle(pair_id: int, interval: str, start_ms: int) -> _Candle | None:
        """A candle already in the store (the process restarted inside its interval) continues, not restarts."""
        row = BasisCandle.objects.filter(pair_id=pair_id, interval=interval, start=ms_to_datetime(start_ms)).first()
        if row is None:
            return None
        open_, high, low, close, best = (
            int(value * EDGE_SCALE) for value in (row.open, row.high, row.low, row.close, row.best_net_edge)
        )
        return _Candle(start_ms, open_, high, low, close, best, row.samples)


def close_interrupted_opportunities(*, pair_ids: list[int]) -> int:
    """End the opportunities a stopped engine left open (it cannot know when they ended: now is the honest
    bound). Called when an engine starts, before it records new ones."""
    return Opportunity.objects.filter(pair_id__in=pair_ids, ended_at__isnull=True).update(ended_at=clock.now())


def prune_market_data(*, quotes_days: int, candles_days: int) -> dict[str, int]:
    """Delete raw quotes, rates and samples older than `quotes_days` and candles older than `candles_days`."""
    now = clock.now()
    raw_cutoff = now - timedelta(days=quotes_days)
    deleted = {
        "quotes": QuoteTick.objects.filter(ts__lt=raw_cutoff).delete()[0],
        "rates": RateTick.objects.filter(ts__lt=raw_cutoff).delete()[0],
        "samples": SpreadSample.objects.filter(ts__lt=raw_cutoff).delete()[0],
        "candles": BasisCandle.objects.filter(
            Q(start__lt=now - timedelta(days=candles_days)) | Q(interval=CandleInterval.M1, start__lt=raw_cutoff)
        ).delete()[0],
        "opportunities": Opportunity.objects.filter(ended_at__lt=now - timedelta(days=candles_days)).delete()[0],
    }
    return deleted
