"""Throughput of the spread engine on the tick path.

    .venv/bin/python bench/spread_engine.py [--ticks N] [--seed S] [--runs R]

"ours" is `SpreadEngine.on_quote` over pre-parsed ticks: validation, both raw edges, net edges, basis
statistics and opportunity detection. "baseline" is a bare Python loop over the same ticks that only keeps the
latest quote of each leg and computes the two raw edges in integers (no validation, no costs, no records).
Both are the best of `--runs` runs in this process. The last line printed is one JSON object
(bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from trading.domain.engine import SpreadEngine
from trading.domain.fixed import PRICE_SCALE, RATE_SCALE
from trading.domain.quotes import Quote, QuoteValidator, Verdict
from trading.domain.spread import CostModel

PERP = "binance:XAUUSDT"
CFD = "bybit-mt5:XAUUSD.s"
START_MS = 1_772_712_000_000  # 2026-03-05T12:00:00Z, a Thursday inside the CFD session
USD_PER_USDT = Decimal("0.999800")
COSTS = CostModel(
    perp_fee_rate=Decimal("0.0002"),
    cfd_commission_per_oz=Decimal("0.03"),
    slippage_usd_per_oz=Decimal("0.05"),
    expected_holding_hours=Decimal(8),
    funding_rate=Decimal("0.0001"),
    swap_long_per_oz_night=Decimal("-0.45"),
    swap_short_per_oz_night=Decimal("0.12"),
)
ENTRY_THRESHOLD = Decimal("0.50")

Tick = tuple[Quote, int]  # (quote, the engine's "now" in ms when it arrives)


def make_ticks(count: int, seed: int) -> list[Tick]:
    """Alternating perp and CFD quotes around 4,600 USD/oz, 2 dp prices as 1e-8 integers.

    Gold follows a random walk; the basis (perp − CFD) reverts to a small premium and now and then jumps by
    3–8 USD/oz for a few hundred ticks, enough to clear fees and open an opportunity. A quote arrives 1–4 ms
    after its venue timestamp; one in ~2,000 is a bad print (crossed or a 2 % spike) the validator must drop.
    """
    rng = random.Random(seed)
    cent = PRICE_SCALE // 100
    ticks: list[Tick] = []
    gold = 4_600.0
    basis = 0.8
    dislocation = 0.0
    dislocation_left = 0
    ts = START_MS
    for index in range(count):
        ts += rng.randint(1, 3)
        gold += rng.gauss(0.0, 0.04)
        basis += 0.01 * (0.8 - basis) + rng.gauss(0.0, 0.02)
        if dislocation_left:
            dislocation_left -= 1
            if not dislocation_left:
                dislocation = 0.0
        elif rng.random() < 1 / 4_000:
            dislocation = rng.choice((-1, 1)) * rng.uniform(3.0, 8.0)
            dislocation_left = rng.randint(100, 600)
        if index % 2 == 0:
            source = PERP
            mid = gold + (basis + dislocation) / 2
            spread_cents = rng.randint(1, 5)
        else:
            source = CFD
            mid = gold - (basis + dislocation) / 2
            spread_cents = rng.randint(20, 35)
        bid = (round(mid * 100) - spread_cents // 2) * cent
        ask = bid + spread_cents * cent
        roll = rng.random()
        if roll < 1 / 4_000:
            bid, ask = ask, bid  # crossed
        elif roll < 1 / 2_000:
            bid, ask = bid * 102 // 100, ask * 102 // 100  # a bad print 2 % away
        ticks.append((Quote(source, bid, ask, ts), ts + rng.randint(1, 4)))
    return ticks


def new_engine() -> SpreadEngine:
    engine = SpreadEngine(
        perp_source=PERP,
        cfd_source=CFD,
        costs=COSTS,
        entry_threshold=ENTRY_THRESHOLD,
        validator=QuoteValidator(),
    )
    engine.set_rate(USD_PER_USDT)
    return engine


def run_ours(ticks: list[Tick]) -> tuple[float, SpreadEngine, int, int, int]:
    engine = new_engine()
    on_quote = engine.on_quote
    samples = opened = closed = 0
    started = time.perf_counter()
    for quote, now_ms in ticks:
        result = on_quote(quote, now_ms)
        if result.sample is not None:
            samples += 1
        if result.opened is not None:
            opened += 1
        if result.closed is not None:
            closed += 1
    return time.perf_counter() - started, engine, samples, opened, closed


def run_baseline(ticks: list[Tick]) -> tuple[float, int]:
    rate = int(USD_PER_USDT * RATE_SCALE)
    scale = RATE_SCALE
    perp = cfd = None
    best = 0
    started = time.perf_counter()
    for quote, _now_ms in ticks:
        if quote.source == PERP:
            perp = quote
        else:
            cfd = quote
        if perp is not None and cfd is not None:
            sell_perp = perp.bid * rate - cfd.ask * scale
            buy_perp = cfd.bid * scale - perp.ask * rate
            if sell_perp > best:
                best = sell_perp
            if buy_perp > best:
                best = buy_perp
    return time.perf_counter() - started, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=20_260_305)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    ticks = make_ticks(args.ticks, args.seed)
    ours_seconds = baseline_seconds = float("inf")
    engine = None
    samples = opened = closed = 0
    for _ in range(args.runs):
        seconds, engine, samples, opened, closed = run_ours(ticks)
        ours_seconds = min(ours_seconds, seconds)
        seconds, _best = run_baseline(ticks)
        baseline_seconds = min(baseline_seconds, seconds)
    assert engine is not None

    ours = len(ticks) / ours_seconds
    baseline = len(ticks) / baseline_seconds
    counts = engine.validator.counts
    dropped = {verdict.value: count for verdict, count in counts.items() if verdict is not Verdict.OK and count}
    python = sys.version.split()[0]
    print(f"spread engine: {len(ticks):,} ticks (seed {args.seed}), best of {args.runs} runs, Python {python}")
    print(f"  ours      {ours:>12,.0f} ticks/s  ({ours_seconds * 1e3:,.1f} ms; {1e9 / ours:,.0f} ns/tick)")
    print(f"  baseline  {baseline:>12,.0f} ticks/s  ({baseline_seconds * 1e3:,.1f} ms; raw edges only)")
    print(f"  ratio     {ours / baseline:.3f}")
    print(f"  samples {samples:,}; opportunities opened {opened}, closed {closed}; dropped {dropped}")
    print(
        json.dumps(
            {
                "name": "spread_engine",
                "ours": round(ours, 1),
                "baseline": round(baseline, 1),
                "ratio": round(ours / baseline, 4),
                "unit": "ticks/s",
            }
        )
    )


if __name__ == "__main__":
    main()
