"""API load: `/api/v1/market/spreads/latest/` at the highest rate the machine sustains with p99 ≤ 20 ms, alone and
with one oversized request always in flight (issue 15: one request must not stall the others).

    .venv/bin/python bench/api_load.py [--step-seconds 3] [--rates 25,50,100,200,400] [--p99-ms 20]

- ours: `manage.py runplatform --no-engine --no-scheduler` (daphne, the whole middleware stack, JWT) on a scratch
  PostgreSQL database seeded with the demo; requests carry demo-viewer's bearer token.
- baseline: a bare asyncio HTTP server answering the same bytes our endpoint answered, nothing else.
- load: an open-loop generator on keep-alive connections (asyncio), one rate step after another for
  `--step-seconds` each; a step is sustained when every request was answered and the p99 latency (from the
  scheduled send time, so queueing counts) is within `--p99-ms`.
- oversized: at our highest sustained rate, the step is run again while another connection keeps one 2.4 MB
  JSON body nested 10,000 deep in flight to `/api/v1/strategies/` (answered 400 since issue 15).
Loopback only; every loop ends on its own. Last line: the JSON summary (bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import ROOT, django_env, percentile, scratch_database

PATH = "/api/v1/market/spreads/latest/"


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> tuple[int, bytes]:
    writer.write(raw)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = await reader.readexactly(length) if length else b""
    return status, body


def get_bytes(port: int, token: str) -> bytes:
    return (
        f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
        "Connection: keep-alive\r\n\r\n"
    ).encode()


async def run_step(port: int, raw: bytes, rate: float, seconds: float, connections: int = 16) -> dict[str, float]:
    """Open loop: request i is due at start + i/rate on the next free connection; latency from its due time."""
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    total = int(rate * seconds)
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter() + 0.05

    async def one(i: int) -> None:
        nonlocal errors
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        conn = await pool.get()
        try:
            status, _body = await asyncio.wait_for(request(*conn, raw), 10)
            if status != 200:
                errors += 1
            latencies.append((time.perf_counter() - due) * 1000)
            pool.put_nowait(conn)
        except Exception:
            errors += 1
            conn[1].close()
            pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))

    await asyncio.gather(*(one(i) for i in range(total)))
    while not pool.empty():
        pool.get_nowait()[1].close()
    latencies.sort()
    return {"rate": rate, "p50": percentile(latencies, 0.5), "p99": percentile(latencies, 0.99), "errors": errors}


async def oversized_loop(port: int, token: str, stop: asyncio.Event, counter: list[int]) -> None:
    deep = b"[" * 10_000 + b"]" * 10_000
    body = b'{"name": "' + b"n" * 2_400_000 + b'", "params": ' + deep + b"}"
    head = (
        f"POST /api/v1/strategies/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while not stop.is_set():
            status, _ = await asyncio.wait_for(request(reader, writer, head + body), 60)
            counter.append(status)
    finally:
        writer.close()


async def ladder(port: int, raw: bytes, rates: list[float], seconds: float, limit: float) -> list[dict[str, float]]:
    steps = []
    for rate in rates:
        step = await run_step(port, raw, rate, seconds)
        steps.append(step)
        print(f"  {rate:7.0f} req/s: p50 {step['p50']:.2f} ms, p99 {step['p99']:.2f} ms, errors {step['errors']:.0f}")
        if step["errors"] or step["p99"] > limit:
            break
    return steps


def best(steps: list[dict[str, float]], limit: float) -> dict[str, float] | None:
    good = [step for step in steps if not step["errors"] and step["p99"] <= limit]
    return good[-1] if good else None


async def bare_server(payload: bytes) -> tuple[asyncio.AbstractServer, int]:
    response = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(payload)).encode()
        + b"\r\n\r\n"
        + payload
    )

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(response)
                await writer.drain()
        except Exception:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, int(server.sockets[0].getsockname()[1])


async def main_async(args: argparse.Namespace, port: int, token: str) -> dict[str, object]:
    rates = [float(rate) for rate in args.rates.split(",")]
    raw = get_bytes(port, token)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    _status, payload = await request(reader, writer, raw)
    writer.close()
    print(f"ours (daphne, {len(payload)} B answers):")
    ours_steps = await ladder(port, raw, rates, args.step_seconds, args.p99_ms)
    ours = best(ours_steps, args.p99_ms)
    with_oversized = None
    statuses: list[int] = []
    if ours is not None:
        stop = asyncio.Event()
        loop_task = asyncio.create_task(oversized_loop(port, token, stop, statuses))
        await asyncio.sleep(0.5)
        with_oversized = await run_step(port, raw, ours["rate"], args.step_seconds)
        stop.set()
        await asyncio.wait_for(loop_task, 90)
        print(
            f"  with one oversized request in flight at {ours['rate']:.0f} req/s: p99 {with_oversized['p99']:.2f} ms"
            f" ({len(statuses)} oversized answered: {sorted(set(statuses))})"
        )
    server, bare_port = await bare_server(payload)
    print("baseline (bare asyncio server, the same bytes):")
    bare_steps = await ladder(bare_port, get_bytes(bare_port, token), rates, args.step_seconds, args.p99_ms)
    server.close()
    bare = best(bare_steps, args.p99_ms)
    ours_rate = ours["rate"] if ours else 0.0
    bare_rate = bare["rate"] if bare else 0.0
    return {
        "name": "api_load",
        "ours": ours_rate,
        "baseline": bare_rate,
        "ratio": round(ours_rate / bare_rate, 4) if bare_rate else None,
        "unit": f"req/s at p99<={args.p99_ms:g}ms",
        "ours_p99_ms": round(ours["p99"], 2) if ours else None,
        "ours_p99_with_oversized_ms": round(with_oversized["p99"], 2) if with_oversized else None,
        "oversized_answers": sorted(set(statuses)),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--step-seconds", type=float, default=3.0)
    parser.add_argument("--rates", default="25,50,100,200,300,400,600,800")
    parser.add_argument("--p99-ms", type=float, default=20.0)
    args = parser.parse_args()
    with scratch_database("bench_api_load") as db_name:
        env = {**os.environ, **django_env(db_name)}
        env.pop("REDIS_URL", None)
        env["QUANTARB_FIELD_KEYS"] = "P3RzHn3xZt7SgWwGQn3vQ0Ah0cG6m6xR2yHcC9kq1T8="
        for command in (["migrate", "--noinput"], ["seed_demo"]):
            subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, capture_output=True)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runplatform", "--port", str(port), "--no-engine", "--no-scheduler"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            import urllib.request

            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("the platform did not start") from None
                    time.sleep(0.3)
            body = json.dumps({"username": "demo-viewer", "password": "quantarb-demo"}).encode()
            token_request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v1/auth/token/", body, {"Content-Type": "application/json"}
            )
            token = json.loads(urllib.request.urlopen(token_request, timeout=10).read())["access"]  # noqa: S310
            print(f"load average at start: {os.getloadavg()[0]:.2f}")
            result = asyncio.run(main_async(args, port, token))
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
