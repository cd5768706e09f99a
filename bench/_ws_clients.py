"""WebSocket client harness for bench/ws_fanout.py (one process; the bench starts several). Not a benchmark.

    python bench/_ws_clients.py --url ws://127.0.0.1:P/ws/spreads/ --origin http://127.0.0.1:P \
        --clients N --sessions s1,s2,... [--offset K] [--deadline SECONDS]

Opens N sockets (at most --connect-concurrency handshakes at a time; a failed handshake is retried after
0.5 s, up to --retries times, as the dashboard's script reconnects), each with a session cookie (client i
uses session (offset + i) mod len(sessions)) and the site's Origin, like a dashboard in a browser. Every frame
is timestamped on arrival; a `spread` frame's `state.at_ms` (stamped by the publisher when it sent the
update) is read by a byte search, not a JSON parse, so the harness stays cheap.

Protocol on stdio, one JSON object per line: prints {"event": "ready", ...} once every handshake has
finished (or failed); on a line "stop" on stdin (or EOF, or the deadline) closes its sockets and prints
{"event": "result", "clients": [...]} with, per client, the `at_ms` of every spread frame it received and
its latency in ms (arrival − at_ms).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from typing import Any

MARKER = b'"state":{"at_ms":'


class Client:
    __slots__ = ("at", "closed", "connected", "error", "lat", "other", "retries", "ws")

    def __init__(self) -> None:
        self.at: list[int] = []
        self.lat: list[float] = []
        self.other = 0
        self.retries = 0
        self.connected = False
        self.closed = ""
        self.error = ""
        self.ws: Any = None

    def result(self) -> dict[str, Any]:
        return {
            "connected": self.connected,
            "error": self.error,
            "closed": self.closed,
            "other": self.other,
            "retries": self.retries,
            "at": self.at,
            "lat": self.lat,
        }


async def run_client(
    client: Client,
    args: argparse.Namespace,
    cookie: str,
    gate: asyncio.Semaphore,
    handshakes: list[asyncio.Future[None]],
    index: int,
    stop: asyncio.Event,
) -> None:
    from websockets.asyncio.client import connect

    done = handshakes[index]
    ws = None
    for attempt in range(1 + args.retries):
        if attempt:
            client.retries += 1
            await asyncio.sleep(0.5)  # as the dashboard's script reconnects
        try:
            async with gate:
                ws = await connect(
                    args.url,
                    origin=args.origin,
                    additional_headers={"Cookie": f"sessionid={cookie}"} if cookie else None,
                    compression=None,
                    open_timeout=args.open_timeout,
                    ping_interval=None,
                    max_size=2**22,
                    max_queue=None,  # never let the library's own queue push back on the server
                )
            break
        except Exception as exc:
            client.error = f"{type(exc).__name__}: {exc}"[:200]
    if ws is None:
        done.set_result(None)
        return
    client.error = ""
    client.connected = True
    client.ws = ws
    done.set_result(None)
    at, lat = client.at, client.lat
    now = time.time
    try:
        while not stop.is_set():
            data = await ws.recv(decode=False)
            arrived = now() * 1000.0
            start = data.find(MARKER)
            if start < 0:
                client.other += 1
                continue
            start += len(MARKER)
            at_ms = int(data[start : data.index(b",", start)])
            at.append(at_ms)
            lat.append(round(arrived - at_ms, 2))
    except asyncio.CancelledError:
        pass
    except Exception as exc:
        client.closed = f"{type(exc).__name__}: {exc}"[:200]


async def main_async(args: argparse.Namespace) -> None:
    sessions = [s for s in args.sessions.split(",") if s] or [""]
    clients = [Client() for _ in range(args.clients)]
    stop = asyncio.Event()
    gate = asyncio.Semaphore(args.connect_concurrency)
    loop = asyncio.get_running_loop()
    handshakes: list[asyncio.Future[None]] = [loop.create_future() for _ in clients]
    tasks = [
        asyncio.create_task(run_client(c, args, sessions[(args.offset + i) % len(sessions)], gate, handshakes, i, stop))
        for i, c in enumerate(clients)
    ]
    started = time.monotonic()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*handshakes), timeout=args.deadline)
    errors: dict[str, int] = {}
    for c in clients:
        if c.error:
            key = c.error.split(":")[0]
            errors[key] = errors.get(key, 0) + 1
    print(
        json.dumps(
            {
                "event": "ready",
                "connected": sum(c.connected for c in clients),
                "failed": sum(1 for c in clients if not c.connected),
                "retries": sum(c.retries for c in clients),
                "errors": errors,
                "seconds": round(time.monotonic() - started, 2),
            }
        ),
        flush=True,
    )

    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    remaining = max(1.0, args.deadline - (time.monotonic() - started))
    with contextlib.suppress(TimeoutError):
        while True:
            line = await asyncio.wait_for(reader.readline(), timeout=remaining)
            if not line or line.strip() == b"stop":
                break
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    closing = [c.ws.close() for c in clients if c.ws is not None]
    with contextlib.suppress(Exception):
        await asyncio.wait_for(asyncio.gather(*closing, return_exceptions=True), timeout=10)
    sys.stdout.write(json.dumps({"event": "result", "clients": [c.result() for c in clients]}) + "\n")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--origin", required=True)
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--sessions", default="")
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--connect-concurrency", type=int, default=50)
    parser.add_argument("--open-timeout", type=float, default=60.0)
    parser.add_argument("--retries", type=int, default=5, help="handshake attempts after a failed one")
    parser.add_argument("--deadline", type=float, default=600.0, help="give up and report after this long")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.run(main_async(args))
    except ImportError:
        asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
