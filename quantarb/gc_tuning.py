"""Garbage-collector settings of a long-running web process (pauses show up as push latency).

Measured by bench/ws_fanout.py with 1,000 sockets: CPython's full collections walked every object of the
process — Django's modules, URL resolvers, templates and catalogs, then each socket's protocol, consumer and
session — and paused the event loop for up to 466 ms, during which no socket got a frame.

`settle()` runs once the server is up: one collection, then `gc.freeze()` moves every survivor (what start-up
built and keeps for the life of the process) to the permanent generation, which no later collection walks.
A larger young-generation threshold lets the short-lived objects of a push (a message, a state, its frames)
die by reference counting before a collection ever sees them, so fewer of them are promoted and full
collections come rarely. Collections still run: cyclic garbage is still freed.
https://docs.python.org/3/library/gc.html#gc.freeze
"""

from __future__ import annotations

import gc

# (young, middle, old): the young generation is collected every YOUNG allocations of tracked objects (CPython's
# default 700), the middle one every MIDDLE young collections, the old one every OLD middle collections (and
# then only when the objects promoted since the last full collection exceed a quarter of the old generation).
THRESHOLDS = (10_000, 10, 10)


def settle() -> None:
    """Freeze what start-up built and raise the young-generation threshold. Call once the server is up."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
