"""Signal → both leg requests on the wire, against fake venues with fixed one-way latencies.

    .venv/bin/python bench/order_legs.py [--hedges 1000] [--perp-ms 10] [--cfd-ms 17.5] [--django-connection]

Needs the shared PostgreSQL on 127.0.0.1:5432 (trust, user postgres): the bench creates `bench_order_legs_<pid>`,
migrates it, seeds the demo tenant with its paper pool and a running strategy whose runner holds the lease, and
drops the database at the end.

Each round is the runner's real path for one hedge once its decision says open (`StrategyRunner.open_hedge`, after
the lease renewal and the pre-trade state the runner reads each step before deciding): the pre-trade checks, the
hedge and both orders persisted as `submitting` with the lease's fencing check in one durable PostgreSQL commit
(through the runner's own order connection, as `runengine` does; `--django-connection` for Django's), both legs
handed to two fake venues concurrently, both answers applied through the order machine and the hedge moved to open.

- **ours**: the overhead beyond the slower venue's latency. A venue `L` ms away receives a request `L` ms after it
  is handed over, so the slower leg arrives at max(handed_leg + L_leg) and the overhead is that minus the signal
  and minus the larger `L`: our own time from the signal to the requests on the wire.
- **baseline**: the same for the two fake venues called concurrently with nothing around them (`asyncio.gather` of
  the two sends): the least any implementation pays.
- Also printed: the arrival as the fake venues' own timers see it (`asyncio.sleep(L)` wakes late by ~1 ms on
  these machines, for us and the baseline alike), and the round trip to both answers recorded, minus 2 × L.

Target: overhead p99 ≤ 5 ms. Last line: one JSON object (bench/README.md), `ours`/`baseline` the p99
overhead in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _support


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


class FixedLatencyVenue:
    """A venue `latency_s` away (one way): a request reaches it `latency_s` after it was sent (noted), and its answer
    (a complete fill) comes back `latency_s` later."""

    def __init__(self, latency_s: float, price: Decimal) -> None:
        self.latency_s = latency_s
        self.price = price
        self.arrived: dict[str, float] = {}
        self.handed: dict[str, float] = {}

    async def place(self, request: Any) -> Any:
        from trading.domain import orders as order_rules
        from trading.venues.base import VenueAnswer

        self.handed[request.client_order_id] = time.perf_counter()  # the request leaves for the venue
        await asyncio.sleep(self.latency_s)  # on the wire
        self.arrived[request.client_order_id] = time.perf_counter()
        await asyncio.sleep(self.latency_s)  # the answer's way back
        report = order_rules.VenueOrderReport(
            found=True, status=order_rules.OrderStatus.FILLED, filled=request.quantity_oz, avg_price=self.price
        )
        return VenueAnswer(report=report, venue_order_id=request.client_order_id)

    async def lookup(self, client_order_id: str) -> Any:
        raise AssertionError("the bench never loses an answer")

    async def cancel(self, client_order_id: str) -> Any:
        raise AssertionError("not used")

    async def position_oz(self) -> Decimal:
        return Decimal(0)

    async def open_orders(self) -> list[Any]:
        return []

    async def mark_price(self) -> Decimal | None:
        return self.price

    def backoff_s(self) -> float:
        return 0.0


class BareRequest:
    def __init__(self, client_order_id: str) -> None:
        self.client_order_id = client_order_id
        self.quantity_oz = Decimal(1)


def prepare() -> tuple[Any, Any]:
    """The demo tenant, its paper pool and a strategy that may open many hedges (limits out of the way)."""
    from django.core.management import call_command

    from strategies.domain.params import FundingSource, StrategyParams
    from strategies.models import Strategy
    from strategies.services import strategy_create, strategy_request

    call_command("seed_demo", verbosity=0)
    strategy = Strategy.objects.select_related("pool").get(name="Demo basis")
    params = StrategyParams(
        size_oz=Decimal(1),
        max_open_hedges=1_000_000,
        max_position_oz=Decimal(1_000_000),
        max_unhedged_oz=Decimal(1_000_000),
        funding_source=FundingSource.FIXED,
        funding_rate_fixed=Decimal("0.0001"),
    )
    bench = strategy_create(
        tenant=strategy.tenant, name="Bench", pool=strategy.pool, mode="paper", params=params, actor=None
    )
    strategy_request(strategy=bench, action="start", actor=None)
    pool = bench.pool
    pool.perp_allocation = pool.cfd_allocation = Decimal(10**12)
    pool.save(update_fields=["perp_allocation", "cfd_allocation"])
    return bench, params


async def run(hedges: int, perp_s: float, cfd_s: float, writer: bool = True) -> dict[str, Any]:
    from asgiref.sync import sync_to_async

    from quantarb import gc_tuning
    from strategies.domain.decision import Open, Reason, ReasonCode
    from strategies.runner import MarketSnapshot, StrategyRunner
    from strategies.services import lease_acquire, lease_renew
    from trading.domain.calendar import SessionView
    from trading.domain.quotes import Quote
    from trading.domain.spread import Direction
    from trading.execution.executor import Executor
    from trading.execution.order_writer import OrderWriter
    from trading.models import Hedge

    strategy, params = await sync_to_async(prepare)()
    gc_tuning.settle()  # as `runengine` does once started
    perp = FixedLatencyVenue(perp_s, Decimal("4600.10"))
    cfd = FixedLatencyVenue(cfd_s, Decimal("4595.05"))
    venues: dict[int, Any] = {strategy.pool.perp_account_id: perp, strategy.pool.cfd_account_id: cfd}

    class Market:
        def snapshot(self, pair_id: int) -> MarketSnapshot:
            from quantarb import clock

            now_ms = int(clock.now().timestamp() * 1000)
            return MarketSnapshot(
                perp=Quote.of("perp", "4600.10", "4600.12", now_ms),
                cfd=Quote.of("cfd", "4594.90", "4595.05", now_ms),
                usd_per_usdt=Decimal(1),
                rate_ts_ms=None,
                session=SessionView(is_open=True),
            )

    market = Market()
    runner = StrategyRunner(
        strategy_id=strategy.pk, runner_id="bench", market=market, venues_factory=lambda pool, pair_id: venues
    )
    runner.lease = await sync_to_async(lease_acquire)(strategy_id=strategy.pk, runner_id="bench", ttl=runner.lease_ttl)
    assert runner.lease is not None
    runner.executor = Executor(venues=venues, lease=runner.lease)
    if writer:  # as `StrategyRunner.run` does: the runner's own order connection on PostgreSQL
        runner.writer = await OrderWriter.connect()
        assert runner.writer is not None, "QUANTARB_RUNNER_ORDER_CONNECTION is off"
    row = await sync_to_async(runner._load)()
    decision = Open(Direction.SELL_PERP, Decimal(1), Reason(ReasonCode.ENTRY_EDGE), Decimal(1))
    slower = max(perp_s, cfd_s)
    latency = {"perp": perp_s, "cfd": cfd_s}
    ours: list[float] = []
    baseline: list[float] = []
    rounds: list[float] = []
    bare_rounds: list[float] = []
    timer: list[float] = []
    bare_timer: list[float] = []
    # The venues' order rate limits would refuse a benchmark's pace: the same gate, without them.
    from risk.gate import RiskGate
    from strategies.limits import risk_limits_for
    from trading.execution.gate import install_pre_trade_gate

    install_pre_trade_gate(RiskGate(limits_for=risk_limits_for, order_windows={}))

    for index in range(hedges + 20):  # the first 20 warm up (connections, caches)
        await sync_to_async(lease_renew)(runner.lease, ttl=runner.lease_ttl)  # as every runner step does
        snapshot = market.snapshot(0)
        prefetched = await runner.prefetch(row, params, snapshot)  # read each step before the decision
        started = time.perf_counter()  # the signal: the decision said open
        hedge = await runner.open_hedge(row, params, snapshot, decision, prefetched)
        finished = time.perf_counter()
        assert hedge is not None, runner.last_decision
        assert (await sync_to_async(Hedge.objects.get)(pk=hedge.pk)).status == "open"
        both_arrived = max(perp.arrived.popitem()[1], cfd.arrived.popitem()[1])
        perp_handed, cfd_handed = perp.handed.popitem()[1], cfd.handed.popitem()[1]
        arrives = max(perp_handed + latency["perp"], cfd_handed + latency["cfd"])
        # The baseline: the same two requests sent concurrently with nothing around them.
        bare_perp, bare_cfd = FixedLatencyVenue(perp_s, perp.price), FixedLatencyVenue(cfd_s, cfd.price)
        started_bare = time.perf_counter()
        await asyncio.gather(bare_perp.place(BareRequest("p")), bare_cfd.place(BareRequest("c")))
        finished_bare = time.perf_counter()
        bare_arrived = max(bare_perp.arrived["p"], bare_cfd.arrived["c"])
        bare_arrives = max(bare_perp.handed["p"] + latency["perp"], bare_cfd.handed["c"] + latency["cfd"])
        if index >= 20:
            ours.append((arrives - started - slower) * 1000)
            baseline.append((bare_arrives - started_bare - slower) * 1000)
            timer.append((both_arrived - started - slower) * 1000)
            bare_timer.append((bare_arrived - started_bare - slower) * 1000)
            rounds.append((finished - started - 2 * slower) * 1000)
            bare_rounds.append((finished_bare - started_bare - 2 * slower) * 1000)
    if runner.writer is not None:
        await runner.writer.close()
    return {
        "ours": ours,
        "baseline": baseline,
        "round": rounds,
        "bare_round": bare_rounds,
        "timer": timer,
        "bare_timer": bare_timer,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hedges", type=int, default=1000, help="measured rounds (after 20 to warm up)")
    parser.add_argument("--perp-ms", type=float, default=10.0, help="one-way latency to the perp venue")
    parser.add_argument("--cfd-ms", type=float, default=17.5, help="one-way latency to the CFD venue")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument(
        "--django-connection",
        action="store_true",
        help="write hedges through Django's connection (`hedge_open`) instead of the runner's own",
    )
    args = parser.parse_args()
    with _support.scratch_database("bench_order_legs", keep=args.keep_db) as name:
        _support.setup_django(name)
        result = asyncio.run(
            run(args.hedges, args.perp_ms / 1000, args.cfd_ms / 1000, writer=not args.django_connection)
        )
    for key in ("ours", "baseline", "timer", "bare_timer", "round", "bare_round"):
        values = result[key]
        print(
            f"{key:>14}: p50 {percentile(values, 50):7.2f} ms  p99 {percentile(values, 99):7.2f} ms  "
            f"mean {statistics.fmean(values):7.2f} ms"
        )
    ours_p99, base_p99 = percentile(result["ours"], 99), percentile(result["baseline"], 99)
    print(
        json.dumps(
            {
                "name": "order_legs",
                "ours": round(ours_p99, 3),
                "baseline": round(base_p99, 3),
                "ratio": round(ours_p99 / base_p99, 3) if base_p99 > 0 else None,
                "unit": "ms p99 overhead: signal to both requests at the venues, beyond the slower venue's latency",
                "ours_p50": round(percentile(result["ours"], 50), 3),
                "timer_p50": round(percentile(result["timer"], 50), 3),
                "timer_p99": round(percentile(result["timer"], 99), 3),
                "bare_timer_p99": round(percentile(result["bare_timer"], 99), 3),
                "round_trip_overhead_p50": round(percentile(result["round"], 50), 3),
                "round_trip_overhead_p99": round(percentile(result["round"], 99), 3),
                "one_way_ms": [args.perp_ms, args.cfd_ms],
                "target_p99_ms": 5.0,
                "hedges": args.hedges,
                "write": "django" if args.django_connection else "runner connection",
            }
        )
    )


if __name__ == "__main__":
    main()
