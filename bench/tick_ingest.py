"""Throughput of market-data ingest: our `MarketStore` vs raw psycopg `COPY` of the same rows.

    .venv/bin/python bench/tick_ingest.py [--quotes N] [--batch B] [--runs R] [--seed S] [--keep-db]

Needs the shared PostgreSQL on 127.0.0.1:5432 (trust, user postgres): the bench creates a database
`bench_tick_ingest_<pid>`, migrates it, seeds the simulated pair (`seed_demo`'s `_simulated_pair()`) and drops
it at the end.

Input: N alternating perp/CFD quotes from `bench/spread_engine.make_ticks` (same generator, same seed) run
through a real `SpreadEngine` with the pair's cost model, outside the timing; every accepted quote is a
`QuoteTick` row and every sample a `SpreadSample` row (about 2·N rows).

- **ours**: `MarketStore.add_quote` / `add_sample` in tick order, then `flush()` — as the pipeline does it:
  PostgreSQL COPY for both tables through Django's connection, in one transaction with the basis candles
  (M1, M5, H1 upserts) and the store heartbeat.
- **baseline**: one psycopg connection, one transaction, `COPY ... FROM STDIN` with `write_row` of the same
  columns, converting the same domain objects inline (the same Decimal/datetime values): no candles, no
  heartbeat, no buffers.

`--batch B` flushes (ours) / commits (baseline) every B events instead of once at the end (a 1 s flush of a
busy pair carries tens to a few thousand rows; once-at-the-end is the catch-up after a database outage).
Tables are truncated before every run; the first run checks that both paths wrote identical rows. Best of
`--runs`. Rows/s counts QuoteTick + SpreadSample rows. The last line printed is one JSON object
(bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _support
from spread_engine import CFD, PERP, USD_PER_USDT, make_ticks

Event = tuple[int, Any, int, Any]  # (source_id, quote, received_ms, sample or None)

SAMPLE_COLUMNS = (
    "pair_id, ts, perp_bid, perp_ask, cfd_bid, cfd_ask, usd_per_usdt, edge_sell_perp, edge_buy_perp, "
    "net_sell_perp, net_buy_perp, basis, basis_mean, zscore"
)


def build_events(quotes: int, seed: int) -> tuple[list[Event], int, int, int]:
    """Run the generator's ticks through a real engine for the seeded pair; returns events and the ids."""
    from quantarb.management.commands.seed_demo import Command as SeedDemo
    from trading.domain.engine import SpreadEngine
    from trading.domain.quotes import QuoteValidator

    pair = SeedDemo._simulated_pair()
    engine = SpreadEngine(
        perp_source=PERP,
        cfd_source=CFD,
        costs=pair.cost_model(),
        entry_threshold=pair.entry_threshold,
        exit_threshold=pair.exit_threshold,
        validator=QuoteValidator(),
    )
    engine.set_rate(USD_PER_USDT)
    source_ids = {PERP: pair.perp_source_id, CFD: pair.cfd_source_id}
    events: list[Event] = []
    for quote, received_ms in make_ticks(quotes, seed):
        result = engine.on_quote(quote, received_ms)
        if result.verdict != "ok":
            continue  # the pipeline stores accepted quotes only
        events.append((source_ids[quote.source], quote, received_ms, result.sample))
    return events, pair.pk, pair.perp_source_id, pair.cfd_source_id


def truncate() -> None:
    from django.db import connection

    from trading.models import BasisCandle, QuoteTick, SpreadSample

    tables = ", ".join(m._meta.db_table for m in (QuoteTick, SpreadSample, BasisCandle))
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY")


def digest() -> tuple[int, str, int, str]:
    """Row counts and an md5 over every stored column (ids aside) of both tables, in time order."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), md5(string_agg(concat_ws('|', source_id, ts, bid, ask, received_at), ','"
            " ORDER BY ts, source_id, received_at, bid, ask)) FROM trading_quotetick"
        )
        quotes, quotes_md5 = cursor.fetchone()
        cursor.execute(
            f"SELECT count(*), md5(string_agg(concat_ws('|', {SAMPLE_COLUMNS}), ',' ORDER BY ts, id))"  # noqa: S608
            " FROM trading_spreadsample"
        )
        samples, samples_md5 = cursor.fetchone()
    return quotes, quotes_md5, samples, samples_md5


def run_ours(events: list[Event], pair_id: int, batch: int) -> tuple[float, int]:
    from trading.marketdata.store import MarketStore

    store = MarketStore(capacity=max(200_000, 2 * len(events)))  # never drop: the bench counts every row
    add_quote, add_sample, flush = store.add_quote, store.add_sample, store.flush
    written = 0
    started = time.perf_counter()
    for index, (source_id, quote, received_ms, sample) in enumerate(events, 1):
        add_quote(source_id, quote, received_ms)
        if sample is not None:
            add_sample(pair_id, sample)
        if batch and index % batch == 0:
            written += flush()
    written += flush()
    seconds = time.perf_counter() - started
    if store.last_error:
        raise SystemExit(f"our store failed: {store.last_error}")
    return seconds, written


_Q8 = Decimal("0.00000001")


def run_baseline(events: list[Event], pair_id: int, batch: int, conninfo: str) -> tuple[float, int]:
    import psycopg

    def ts(ms: int) -> datetime:
        return datetime.fromtimestamp(ms / 1000, UTC)

    def price(units: int) -> Decimal:
        return Decimal(units).scaleb(-8)

    def edge(units: int) -> Decimal:
        return Decimal(units).scaleb(-16).quantize(_Q8, rounding=ROUND_HALF_EVEN)

    chunks = [events[i : i + batch] for i in range(0, len(events), batch)] if batch else [events]
    written = 0
    with psycopg.connect(conninfo) as conn:
        started = time.perf_counter()
        for chunk in chunks:
            with conn.transaction(), conn.cursor() as cursor:
                with cursor.copy("COPY trading_quotetick (source_id, ts, bid, ask, received_at) FROM STDIN") as copy:
                    for source_id, q, received_ms, _sample in chunk:
                        copy.write_row((source_id, ts(q.ts_ms), price(q.bid), price(q.ask), ts(received_ms)))
                        written += 1
                with cursor.copy(f"COPY trading_spreadsample ({SAMPLE_COLUMNS}) FROM STDIN") as copy:
                    for _source_id, _q, _received_ms, s in chunk:
                        if s is None:
                            continue
                        copy.write_row(
                            (
                                pair_id,
                                ts(s.ts_ms),
                                price(s.perp.bid),
                                price(s.perp.ask),
                                price(s.cfd.bid),
                                price(s.cfd.ask),
                                Decimal(s.rate).scaleb(-6),
                                edge(s.sell_perp),
                                edge(s.buy_perp),
                                edge(s.net_sell_perp),
                                edge(s.net_buy_perp),
                                edge(s.basis),
                                s.basis_mean,
                                s.zscore,
                            )
                        )
                        written += 1
        seconds = time.perf_counter() - started
    return seconds, written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quotes", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=0, help="flush/commit every B events (0: once at the end)")
    parser.add_argument("--seed", type=int, default=20_260_305)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--profile", choices=("ours", "baseline"), help="cProfile one run, print the top 25")
    args = parser.parse_args()

    with _support.scratch_database("bench_tick_ingest", keep=args.keep_db) as db_name:
        _support.setup_django(db_name)
        conninfo = _support.database_url(db_name).replace("postgres://", "postgresql://")
        events, pair_id, _perp_id, _cfd_id = build_events(args.quotes, args.seed)
        rows = len(events) + sum(1 for e in events if e[3] is not None)

        if args.profile:
            import cProfile
            import pstats

            truncate()
            profiler = cProfile.Profile()
            profiler.enable()
            if args.profile == "ours":
                run_ours(events, pair_id, args.batch)
            else:
                run_baseline(events, pair_id, args.batch, conninfo)
            profiler.disable()
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)

        ours_s = baseline_s = float("inf")
        for run in range(args.runs):
            truncate()
            seconds, written = run_ours(events, pair_id, args.batch)
            assert written == rows, (written, rows)
            ours_s = min(ours_s, seconds)
            ours_digest = digest() if run == 0 else None
            truncate()
            seconds, written = run_baseline(events, pair_id, args.batch, conninfo)
            assert written == rows, (written, rows)
            baseline_s = min(baseline_s, seconds)
            if ours_digest is not None:
                baseline_digest = digest()
                if ours_digest != baseline_digest:
                    raise SystemExit(f"ours and baseline wrote different rows: {ours_digest} vs {baseline_digest}")
        truncate()

    ours = rows / ours_s
    baseline = rows / baseline_s
    quotes = len(events)
    batch = f"flush every {args.batch:,} events" if args.batch else "one flush"
    python = sys.version.split()[0]
    print(
        f"tick ingest: {quotes:,} quotes + {rows - quotes:,} samples = {rows:,} rows (seed {args.seed}), {batch}, "
        f"best of {args.runs} runs, Python {python}, PostgreSQL 127.0.0.1"
    )
    print(f"  ours      {ours:>12,.0f} rows/s  ({ours_s * 1e3:,.1f} ms; MarketStore + COPY + candles + heartbeat)")
    print(f"  baseline  {baseline:>12,.0f} rows/s  ({baseline_s * 1e3:,.1f} ms; raw psycopg COPY, same rows)")
    print(f"  ratio     {ours / baseline:.3f}  (target >= 0.7); rows identical: yes")
    print(
        json.dumps(
            {
                "name": "tick_ingest",
                "ours": round(ours, 1),
                "baseline": round(baseline, 1),
                "ratio": round(ours / baseline, 4),
                "unit": "rows/s",
                "rows": rows,
                "batch": args.batch,
            }
        )
    )


if __name__ == "__main__":
    main()
