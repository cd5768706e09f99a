"""Live push at scale: N WebSocket dashboards at 10 updates/s through daphne + Redis vs a bare broadcast server.

    .venv/bin/python bench/ws_fanout.py [--clients N] [--seconds S] [--hz H] [--harness-procs K] [--redis-db D]

Needs the shared PostgreSQL (127.0.0.1:5432, trust, user postgres) and Redis (127.0.0.1:6379). The bench
creates the database `bench_ws_fanout_<pid>`, migrates it and runs `seed_demo`; it uses Redis db `--redis-db`
(default 12, refused unless empty) and drops / empties both at the end. All traffic is on 127.0.0.1.

- **ours**: `manage.py runplatform --no-engine --no-scheduler` (daphne, the Channels consumer, the per-process
  fan-out hub) on PostgreSQL and Redis, with QUANTARB_PUSH_MAX_HZ=20 so that 10 updates/s pass without
  per-socket coalescing (the default ceiling is 8/s). This process is the engine: it builds a real pair state
  (`load_runtimes` + `MarketPipeline.handle` over simulated quotes) and publishes H "spread.update" messages a
  second exactly as `trading/marketdata/pipeline.py` does (`quantarb.live.group_send(pair_group(pair_id), ...)`), with
  `state.at_ms` stamped at send time. Clients log in as demo-trader through the login form (`--sessions`
  logins, shared round-robin: a login costs a PBKDF2 hash, a thousand of them are not what this measures).
- **baseline**: `bench/_ws_bare.py`, a bare `websockets` broadcast server sending the same frame bytes (one of
  our real `spread` frames, `at_ms` re-stamped at send time) at H/s to every client.

Both are driven by the same client harness (`bench/_ws_clients.py`) in `--harness-procs` separate processes,
so the clients are not one Python loop competing with itself; the machine has 2 cores, which the server,
Redis, the publisher and the harness share — the same for ours and the baseline. Latency = arrival time in the
client − `at_ms`, over every spread frame after `--warmup` seconds. A client is *served* when it stayed
connected and received the last update; a missed update is *coalesced* when the client received a later one
(the consumer keeps only the latest state of a slow socket, by design) and *lost* otherwise.

The last line printed is one JSON object (bench/README.md): ours = our p99 (ms), baseline = the bare server's
p99 (ms), ratio = ours ÷ baseline (target <= 1.5, and every client served).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _support

ROOT = _support.ROOT
PYTHON = sys.executable
PUSH_MAX_HZ = "20"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_port(port: int, process: asyncio.subprocess.Process, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise SystemExit(f"server exited with {process.returncode} before listening")
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.2)
            continue
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
        return
    raise SystemExit(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


async def stop_process(process: asyncio.subprocess.Process, timeout: float = 10.0, grace: float = 0.0) -> None:
    """End a process this bench started (by its pid): after `grace` s, SIGINT, then SIGTERM, then SIGKILL."""
    if grace:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), timeout=grace)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        if process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), timeout=timeout)


async def read_event(process: asyncio.subprocess.Process, event: str, timeout: float) -> dict[str, Any]:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise SystemExit(f"no {event!r} from pid {process.pid} within {timeout:.0f} s")
        line = await asyncio.wait_for(process.stdout.readline(), timeout=remaining)
        if not line:
            raise SystemExit(f"pid {process.pid} ended before {event!r}")
        with contextlib.suppress(ValueError):
            message = json.loads(line)
            if isinstance(message, dict) and message.get("event") == event:
                return message


def login(base_url: str) -> str:
    """Log in as demo-trader through the login form (CSRF cookie + token); returns the sessionid."""
    import http.cookiejar
    import urllib.parse
    import urllib.request

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    url = f"{base_url}/accounts/login/"
    with opener.open(url, timeout=30) as response:
        response.read()
    csrf = next(c.value for c in jar if c.name == "csrftoken")
    body = urllib.parse.urlencode({"username": "demo-trader", "password": "quantarb-demo", "csrfmiddlewaretoken": csrf})
    request = urllib.request.Request(url, data=body.encode(), headers={"Referer": url}, method="POST")  # noqa: S310
    with opener.open(request, timeout=30) as response:
        response.read()
    session = next((c.value for c in jar if c.name == "sessionid"), None)
    if not session:
        raise SystemExit("login as demo-trader gave no session cookie")
    return session


class Publisher:
    """Plays the engine: a real PairRuntime fed simulated quotes, its state pushed like
    trading/marketdata/pipeline.py.
    """

    def __init__(self) -> None:
        from django.conf import settings

        from trading.marketdata.pipeline import MarketPipeline, load_runtimes

        self.pipeline = MarketPipeline(seed=settings.QUANTARB_SIM_SEED, demo_calendar=True)
        runtimes = load_runtimes(settings.QUANTARB_SIM_SEED, True)
        if not runtimes:
            raise SystemExit("no simulated pair to publish (seed_demo did not run?)")
        self.runtime = runtimes[0]
        self.market = self.runtime.feed.market  # type: ignore[attr-defined]
        self.step = 0
        self.advance()
        self.advance()

    def advance(self) -> None:
        """What the feed would have delivered since the last update: the rate, a perp and a CFD quote."""
        from trading.venues.base import RateObservation

        ts_ms = int(time.time() * 1000)
        market, runtime, handle = self.market, self.runtime, self.pipeline.handle
        market.advance(ts_ms)
        if self.step % 50 == 0:
            handle(runtime, RateObservation(market.usd_per_usdt(), ts_ms))
        handle(runtime, market.perp_quote(ts_ms))
        handle(runtime, market.cfd_quote(ts_ms))
        self.step += 1
        if self.pipeline.store.pending() > 50_000:  # nobody flushes here: keep the buffers small
            self.pipeline.store = type(self.pipeline.store)()

    def state(self) -> dict[str, Any]:
        return self.runtime.state(int(time.time() * 1000))

    async def publish(self, count: int, hz: float) -> tuple[list[int], int]:
        from quantarb.events import pair_group
        from quantarb.live import group_send

        loop = asyncio.get_running_loop()
        group = pair_group(self.runtime.pair_id)
        published: list[int] = []
        failures = 0
        t0 = loop.time()
        for i in range(count):
            self.advance()
            state = self.state()
            delay = t0 + i / hz - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            state["at_ms"] = at_ms = int(time.time() * 1000)  # stamped at send time
            message = {"type": "spread.update", "pair_id": self.runtime.pair_id, "state": state}
            if await group_send(group, message):
                published.append(at_ms)
            else:
                failures += 1
        return published, failures


async def start_harnesses(args: argparse.Namespace, port: int, sessions: list[str]) -> list[asyncio.subprocess.Process]:
    procs = []
    per = [
        args.clients // args.harness_procs + (1 if i < args.clients % args.harness_procs else 0)
        for i in range(args.harness_procs)
    ]
    offset = 0
    for count in per:
        if not count:
            continue
        procs.append(
            await asyncio.create_subprocess_exec(
                PYTHON,
                str(ROOT / "bench" / "_ws_clients.py"),
                "--url",
                f"ws://127.0.0.1:{port}/ws/spreads/",
                "--origin",
                f"http://127.0.0.1:{port}",
                "--clients",
                str(count),
                "--sessions",
                ",".join(sessions),
                "--offset",
                str(offset),
                "--deadline",
                str(args.seconds + 300),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=2**28,
            )
        )
        offset += count
    return procs


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_clients(
    args: argparse.Namespace, port: int, sessions: list[str], publish: Any, server_pid: int
) -> tuple[dict[str, Any], list[dict[str, Any]], list[int], int]:
    """Connect the harness, let `publish()` run, then collect every client's record."""
    harnesses = await start_harnesses(args, port, sessions)
    try:
        ready = [await read_event(h, "ready", timeout=args.seconds + 300) for h in harnesses]
        summary = {
            "connected": sum(r["connected"] for r in ready),
            "failed": sum(r["failed"] for r in ready),
            "retries": sum(r["retries"] for r in ready),
            "errors": {k: v for r in ready for k, v in r["errors"].items()},
            "connect_s": max(r["seconds"] for r in ready),
        }
        print(f"  {summary['connected']} clients connected; publishing", file=sys.stderr, flush=True)
        await asyncio.sleep(1.0)  # let the last subscriptions settle
        cpu_before = cpu_seconds(server_pid)
        published, failures = await publish()
        summary["redis_connections"] = redis_connections(args.redis_db)
        await asyncio.sleep(args.grace)
        summary["server_cpu_s"] = round(cpu_seconds(server_pid) - cpu_before, 2)
        for h in harnesses:
            assert h.stdin is not None
            h.stdin.write(b"stop\n")
            await h.stdin.drain()
        clients: list[dict[str, Any]] = []
        for h in harnesses:
            clients += (await read_event(h, "result", timeout=120))["clients"]
    finally:
        for h in harnesses:
            await stop_process(h, grace=15)
    return summary, clients, published, failures


def redis_connections(db: int) -> int:
    """Connections to our Redis database now: the server's hub and this publisher (no per-socket ones)."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, db=db)
    try:
        clients: list[dict[str, str]] = client.client_list()  # type: ignore[assignment]  # the sync client's list
        return sum(1 for c in clients if c.get("db") == str(db)) - 1  # less this one
    finally:
        client.close()


def analyse(clients: list[dict[str, Any]], published: list[int], warmup_ms: int) -> dict[str, Any]:
    expected = len(published) * len(clients)
    index = {at: i for i, at in enumerate(published)}
    received = coalesced = lost = served = dropped = 0
    latencies: list[float] = []
    cutoff = (published[0] + warmup_ms) if published else 0
    for c in clients:
        got = sorted({index[a] for a in c["at"] if a in index})
        received += len(got)
        last = got[-1] if got else -1
        coalesced += (last + 1) - len(got)  # missed, but a later update reached this client
        lost += len(published) - (last + 1)  # missed with nothing after it
        if c["connected"] and not c["closed"] and last == len(published) - 1:
            served += 1
        if c["closed"]:
            dropped += 1
        latencies += [lat for a, lat in zip(c["at"], c["lat"], strict=True) if a >= cutoff]
    latencies.sort()
    pct = _support.percentile
    return {
        "clients": len(clients),
        "connected": sum(1 for c in clients if c["connected"]),
        "served": served,
        "dropped": dropped,
        "expected": expected,
        "received": received,
        "coalesced": coalesced,
        "lost": lost,
        "p50": round(pct(latencies, 0.50), 2),
        "p90": round(pct(latencies, 0.90), 2),
        "p99": round(pct(latencies, 0.99), 2),
        "max": round(latencies[-1], 2) if latencies else float("nan"),
        "samples": len(latencies),
    }


async def bench_ours(args: argparse.Namespace, env: dict[str, str], publisher: Publisher) -> dict[str, Any]:
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        PYTHON,
        "manage.py",
        "runplatform",
        "--no-engine",
        "--no-scheduler",
        "--port",
        str(port),
        cwd=ROOT,
        env={**os.environ, **env, "QUANTARB_PUSH_MAX_HZ": PUSH_MAX_HZ},
        stdout=asyncio.subprocess.DEVNULL,
    )
    print(f"our server: pid {server.pid}, port {port}", file=sys.stderr, flush=True)
    try:
        await wait_port(port, server)
        base = f"http://127.0.0.1:{port}"
        sessions = [await asyncio.to_thread(login, base) for _ in range(min(args.sessions, args.clients))]
        count = int(args.seconds * args.hz)
        summary, clients, published, failures = await run_clients(
            args, port, sessions, lambda: publisher.publish(count, args.hz), server.pid
        )
        if server.returncode is not None:
            raise SystemExit(f"our server exited with {server.returncode} during the run")
    finally:
        await stop_process(server)
    return {**summary, **analyse(clients, published, int(args.warmup * 1000)), "publish_failures": failures}


async def bench_bare(args: argparse.Namespace, frame_file: str) -> dict[str, Any]:
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        PYTHON,
        str(ROOT / "bench" / "_ws_bare.py"),
        "--port",
        str(port),
        "--frame-file",
        frame_file,
        "--deadline",
        str(args.seconds + 600),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        await read_event(server, "listening", timeout=60)
        count = int(args.seconds * args.hz)

        async def publish() -> tuple[list[int], int]:
            assert server.stdin is not None
            server.stdin.write(f"go {count} {args.hz}\n".encode())
            await server.stdin.drain()
            return (await read_event(server, "published", timeout=args.seconds + 120))["at"], 0

        # The same harness, the same cookies (the bare server ignores them).
        summary, clients, published, failures = await run_clients(args, port, ["bare"], publish, server.pid)
        assert server.stdin is not None
        server.stdin.write(b"quit\n")
        with contextlib.suppress(Exception):
            await server.stdin.drain()
    finally:
        await stop_process(server, grace=15)
    return {**summary, **analyse(clients, published, int(args.warmup * 1000)), "publish_failures": failures}


def write_frame(publisher: Publisher, directory: str) -> tuple[str, int]:
    """One of our real spread frames (English, as demo-trader reads it) for the bare server to repeat."""
    from trading.marketdata.consumers import spread_frame

    frame = spread_frame(publisher.state(), "en")
    path = os.path.join(directory, "frame.json")
    with open(path, "w", encoding="utf-8") as f:
        f.write(frame)
    return path, len(frame.encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0, help="how long each server publishes")
    parser.add_argument("--hz", type=float, default=10.0, help="updates a second")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of updates left out of the latencies")
    parser.add_argument("--grace", type=float, default=3.0, help="seconds clients keep reading after the last update")
    parser.add_argument("--harness-procs", type=int, default=2)
    parser.add_argument("--sessions", type=int, default=10, help="logins shared round-robin by the clients")
    parser.add_argument("--redis-db", type=int, default=12)
    parser.add_argument("--only", choices=("ours", "bare"), help="run one side only (for profiling)")
    args = parser.parse_args()
    load_at_start = ", ".join(f"{x:.2f}" for x in os.getloadavg())

    with (
        _support.scratch_database("bench_ws_fanout") as db_name,
        _support.scratch_redis_db(args.redis_db) as redis_url,
        tempfile.TemporaryDirectory(prefix="ws_fanout_") as tmp,
    ):
        env = _support.django_env(db_name, redis_url)
        _support.setup_django(db_name, redis_url)
        from django.core.management import call_command
        from django.db import connections

        call_command("seed_demo", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
        publisher = Publisher()
        frame_file, frame_bytes = write_frame(publisher, tmp)
        connections.close_all()

        async def both() -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
            ours = await bench_ours(args, env, publisher) if args.only != "bare" else None
            bare = await bench_bare(args, frame_file) if args.only != "ours" else None
            return ours, bare

        ours, bare = asyncio.run(both())

    python = sys.version.split()[0]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"ws fan-out: {args.clients:,} clients, {args.hz:g} updates/s for {args.seconds:g} s, frame {frame_bytes:,} B, "
        f"{args.harness_procs} harness processes, QUANTARB_PUSH_MAX_HZ={PUSH_MAX_HZ}, Python {python}, "
        f"{os.cpu_count()} CPUs, load average at the end {load} (started at {load_at_start})"
    )
    for name, r in (("ours", ours), ("baseline", bare)):
        if r is None:
            continue
        print(
            f"  {name:<9} connected {r['connected']:,}/{r['clients']:,} (failed {r['failed']}"
            f"{' ' + str(r['errors']) if r['errors'] else ''} after {r['retries']} handshake retries), "
            f"served {r['served']:,}, dropped {r['dropped']}; received {r['received']:,}/{r['expected']:,}, "
            f"coalesced {r['coalesced']:,}, lost {r['lost']:,}; latency p50 {r['p50']} ms, p90 {r['p90']} ms, "
            f"p99 {r['p99']} ms, max {r['max']} ms ({r['samples']:,} frames); connect {r['connect_s']} s; "
            f"Redis connections {r['redis_connections']}; server CPU {r['server_cpu_s']} s "
            f"({1e6 * r['server_cpu_s'] / max(1, r['received']):.0f} µs per frame delivered)"
        )
    if ours is None or bare is None:
        return
    ratio = ours["p99"] / bare["p99"] if bare["p99"] else float("nan")
    delivered = ours["received"] / max(1, ours["expected"])
    delivered_bare = bare["received"] / max(1, bare["expected"])
    print(
        f"  ratio     {ratio:.3f} p99 ours ÷ bare (target <= 1.5: {'met' if ratio <= 1.5 else 'missed'}); every client "
        f"served: {'yes' if ours['served'] == args.clients else 'NO'}; frames delivered {delivered:.1%} (bare "
        f"{delivered_bare:.1%})"
        + (
            "; the rest coalesced: the server did not keep up with every update for every client, so its p99 is "
            "over fewer frames than the baseline's"
            if delivered < 0.99
            else ""
        )
    )
    print(
        json.dumps(
            {
                "name": "ws_fanout",
                "ours": ours["p99"],
                "baseline": bare["p99"],
                "ratio": round(ratio, 4),
                "unit": "ms p99",
                "clients": args.clients,
                "served": ours["served"],
                "served_baseline": bare["served"],
                "handshake_retries": ours["retries"],
                "lost": ours["lost"],
                "lost_baseline": bare["lost"],
                "coalesced": ours["coalesced"],
                "p50": ours["p50"],
                "p50_baseline": bare["p50"],
                "received": ours["received"],
                "expected": ours["expected"],
                "delivered": round(delivered, 4),
                "delivered_baseline": round(delivered_bare, 4),
                "cpu_us_per_frame": round(1e6 * ours["server_cpu_s"] / max(1, ours["received"]), 1),
                "cpu_us_per_frame_baseline": round(1e6 * bare["server_cpu_s"] / max(1, bare["received"]), 1),
                "loadavg_1m": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
