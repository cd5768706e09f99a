"""Throughput of parsing, normalising and validating Binance book-ticker frames.

    .venv/bin/python bench/quote_parse.py [--frames N] [--seed S] [--runs R]

"ours" is the path a streamed XAUUSDT quote takes before the spread engine: the raw `@bookTicker` JSON frame
decoded (`json.loads`, as ccxt's WebSocket client does), normalised into a `Quote` (integer 1e-8 units, venue
time in ms) by the gateway's own `quote_from_book_ticker`, and checked by the `QuoteValidator` (positive, not
crossed or locked, in order, fresh, no outlier). "baseline" is the least that reads the same frame:
`json.loads` and two `Decimal`s (no normalising, no checks). Both are the best of `--runs` runs in this
process over the same frames. The last line printed is one JSON object (bench/README.md).
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

from trading.domain.quotes import QuoteValidator, Verdict
from trading.venues.binance.gateway import quote_from_book_ticker

SOURCE = "binance-usdm:XAUUSDT"
START_MS = 1_772_712_000_000  # 2026-03-05T12:00:00Z


def make_frames(count: int, seed: int) -> list[tuple[str, int]]:
    """(frame, the receiver's clock in ms) pairs: `@bookTicker` events as Binance sends them (prices as strings
    with two decimals, quantities with three), gold around 4,600 with a 1–5 cent spread, arriving 1–4 ms after
    their venue time; one in ~2,000 is a bad print (crossed, or 2 % away) the validator must drop."""
    rng = random.Random(seed)
    frames = []
    mid_cents = 460_000
    ts = START_MS
    for update_id in range(1, count + 1):
        ts += rng.randint(1, 5)
        mid_cents += rng.choice((-2, -1, 0, 0, 1, 2))
        spread = rng.randint(1, 5)
        bid, ask = mid_cents - spread // 2, mid_cents - spread // 2 + spread
        roll = rng.random()
        if roll < 1 / 4_000:
            bid, ask = ask, bid
        elif roll < 1 / 2_000:
            bid, ask = bid * 102 // 100, ask * 102 // 100
        event = {
            "e": "bookTicker",
            "u": update_id,
            "E": ts,
            "T": ts,
            "s": "XAUUSDT",
            "b": f"{bid // 100}.{bid % 100:02d}",
            "B": f"{rng.randint(1, 40_000) / 1000:.3f}",
            "a": f"{ask // 100}.{ask % 100:02d}",
            "A": f"{rng.randint(1, 40_000) / 1000:.3f}",
        }
        frames.append((json.dumps(event, separators=(",", ":")), ts + rng.randint(1, 4)))
    return frames


def run_ours(frames: list[tuple[str, int]]) -> tuple[float, QuoteValidator]:
    validator = QuoteValidator()
    check = validator.check
    loads = json.loads
    normalise = quote_from_book_ticker
    started = time.perf_counter()
    for frame, now_ms in frames:
        check(normalise(SOURCE, loads(frame), now_ms), now_ms=now_ms)
    return time.perf_counter() - started, validator


def run_baseline(frames: list[tuple[str, int]]) -> tuple[float, Decimal]:
    loads = json.loads
    last = Decimal(0)
    started = time.perf_counter()
    for frame, _now_ms in frames:
        info = loads(frame)
        last = Decimal(info["b"]) + Decimal(info["a"])
    return time.perf_counter() - started, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--frames", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=20_260_305)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    frames = make_frames(args.frames, args.seed)
    ours_seconds = baseline_seconds = float("inf")
    validator = None
    for _ in range(args.runs):
        seconds, validator = run_ours(frames)
        ours_seconds = min(ours_seconds, seconds)
        seconds, _last = run_baseline(frames)
        baseline_seconds = min(baseline_seconds, seconds)
    assert validator is not None

    ours = len(frames) / ours_seconds
    baseline = len(frames) / baseline_seconds
    dropped = {v.value: n for v, n in validator.counts.items() if v is not Verdict.OK and n}
    python = sys.version.split()[0]
    print(
        f"quote parse: {len(frames):,} @bookTicker frames (seed {args.seed}), best of {args.runs} runs, Python {python}"
    )
    print(f"  ours      {ours:>12,.0f} frames/s  ({ours_seconds * 1e3:,.1f} ms; {1e9 / ours:,.0f} ns/frame)")
    print(f"  baseline  {baseline:>12,.0f} frames/s  ({baseline_seconds * 1e3:,.1f} ms; json.loads + 2 Decimals)")
    print(f"  ratio     {ours / baseline:.3f}")
    print(f"  accepted {validator.counts[Verdict.OK]:,}; dropped {dropped}")
    print(
        json.dumps(
            {
                "name": "quote_parse",
                "ours": round(ours, 1),
                "baseline": round(baseline, 1),
                "ratio": round(ours / baseline, 4),
                "unit": "frames/s",
            }
        )
    )


if __name__ == "__main__":
    main()
