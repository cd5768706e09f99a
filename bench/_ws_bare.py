"""The baseline of bench/ws_fanout.py: a bare `websockets` broadcast server (one process). Not a benchmark.

    python bench/_ws_bare.py --port P --frame-file FRAME.json

Accepts every WebSocket on 127.0.0.1:P (no auth, no channel layer, no Django) and, on a line
"go COUNT HZ" on stdin, broadcasts COUNT frames at HZ to every open socket with `websockets.broadcast`: the
bytes of FRAME.json (one of our real `spread` frames) with its `state.at_ms` re-stamped at each send (same
length, so the same frame size). Then prints {"event": "published", "at": [...]}. "quit" (or EOF, or the
deadline) stops it. Prints {"event": "listening"} once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time

MARKER = '"state":{"at_ms":'


async def main_async(args: argparse.Namespace) -> None:
    from websockets.asyncio.server import broadcast, serve

    frame = open(args.frame_file, encoding="utf-8").read()  # noqa: SIM115
    start = frame.index(MARKER) + len(MARKER)
    end = frame.index(",", start)
    prefix, suffix = frame[:start], frame[end:]

    connections: set = set()  # type: ignore[type-arg]

    async def handler(ws) -> None:  # type: ignore[no-untyped-def]
        connections.add(ws)
        try:
            await ws.wait_closed()
        finally:
            connections.discard(ws)

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    deadline = loop.time() + args.deadline
    async with serve(handler, "127.0.0.1", args.port, compression=None, ping_interval=None, max_size=2**20):
        print(json.dumps({"event": "listening"}), flush=True)
        while loop.time() < deadline:
            try:
                line = await asyncio.wait_for(reader.readline(), timeout=max(0.1, deadline - loop.time()))
            except TimeoutError:
                break
            words = line.split()
            if not words or words[0] == b"quit":
                break
            if words[0] != b"go":
                continue
            count, hz = int(words[1]), float(words[2])
            published = []
            t0 = loop.time()
            for i in range(count):
                delay = t0 + i / hz - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                at_ms = int(time.time() * 1000)
                broadcast(connections, f"{prefix}{at_ms}{suffix}")
                published.append(at_ms)
            print(json.dumps({"event": "published", "at": published, "sockets": len(connections)}), flush=True)
        for ws in list(connections):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), timeout=2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--frame-file", required=True)
    parser.add_argument("--deadline", type=float, default=900.0)
    args = parser.parse_args()
    asyncio.run(main_async(args))  # the stock asyncio loop: the simplest server, as its docs show it


if __name__ == "__main__":
    main()
