"""Per-process fan-out of live updates (ARCHITECTURE.md "Live push at scale").

The channel layer carries one message per update per *process*, not per browser: each web process has one
hub, with one channel on each channel layer it needs, joined to the groups its sockets need (a pair's updates,
a user's control messages). The hub hands each message to its local sockets, which coalesce (a slow socket
gets the latest state, not a backlog). Sockets never touch the channel layer, so a thousand browsers cost a
web process a handful of Redis connections, and one slow browser cannot hold up the others.

With Redis there are two layers (quantarb/live.py `layer_for`): spread updates come over Redis pub/sub (the
publisher's one PUBLISH arrives on the hub's subscription, no round trip of the hub's own), control messages
over the default layer (per-channel queues that keep a message while the hub reconnects). Each has its own
receive loop here; without Redis both are the one in-memory layer and one loop.

The hub survives a channel-layer outage: receive errors back off and reconnect, and group memberships are
re-asserted every few seconds (a restarted Redis has forgotten them; the pub/sub connection resubscribes by
itself when it reconnects).

Spread updates are handed out in turns of at most TURN_SECONDS of work per event-loop iteration, always the
latest update of the group: the channel layers' receives keep pace while a thousand sockets are being served,
so when the process falls behind, updates coalesce here instead of queueing behind the one being delivered
(bench/ws_fanout.py measures it). A turn is bounded by time rather than by a count of sockets: under daphne a
socket takes its frame in a few tens of microseconds (quantarb/ws_direct.py), and a loop iteration for every
few sockets would cost more than the sockets themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections import defaultdict
from collections.abc import Callable
from typing import Any, Protocol

from quantarb.events import group_of
from quantarb.live import layer_for

log = logging.getLogger(__name__)

REASSERT_GROUPS_EVERY_S = 5.0
# Time spent handing out spread updates per event-loop turn; between turns the loop polls I/O (the channel
# layer, the sockets).
TURN_SECONDS = 0.002


class Subscriber(Protocol):
    def deliver(self, message: dict[str, Any]) -> None:
        """Take one message. Called on the event loop; must not block (store it, wake a sender)."""
        ...


class _Link:
    """The hub's channel on one channel layer and the task that receives from it."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.channel: str | None = None
        self.task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()


class FanoutHub:
    """`layer_for(group)` names the channel layer that carries a group (quantarb/live.py): with Redis, spread
    updates arrive over pub/sub and control messages over the default layer, each on its own receive loop."""

    def __init__(self, layer_for: Callable[[str], Any]) -> None:
        self.layer_for = layer_for
        self.links: dict[int, _Link] = {}  # by id() of the layer: two aliases may name the same layer
        self.subscribers: dict[str, set[Subscriber]] = defaultdict(set)
        self.received = 0
        self.delivered = 0
        self.failures = 0
        # Per group being handed out: the latest spread update, its sequence number, the sequence number each
        # socket last got, and the turn in progress (the sockets left to visit).
        self._latest: dict[str, tuple[int, dict[str, Any]]] = {}
        self._given: dict[str, dict[Subscriber, int]] = defaultdict(dict)
        self._walks: dict[str, list[Subscriber]] = {}
        self._turn_scheduled = False
        self._sequence = 0

    # --- sockets ---------------------------------------------------------------------------------------
    async def subscribe(self, subscriber: Subscriber, groups: list[str]) -> None:
        for group in groups:
            link = self._link(group)
            await link.ready.wait()
            first = not self.subscribers[group]
            self.subscribers[group].add(subscriber)
            if first:
                await self._join(link, group)

    async def unsubscribe(self, subscriber: Subscriber, groups: list[str]) -> None:
        for group in groups:
            members = self.subscribers.get(group)
            if not members:
                continue
            members.discard(subscriber)
            self._given.get(group, {}).pop(subscriber, None)
            if not members:
                del self.subscribers[group]
                self._given.pop(group, None)
                self._latest.pop(group, None)
                self._walks.pop(group, None)
                link = self._link(group)
                if link.channel is not None:
                    with contextlib.suppress(Exception):  # the group expires on its own if Redis is away
                        await link.layer.group_discard(group, link.channel)

    # --- the channel-layer consumer of this process (one per layer) -----------------------------------
    def _link(self, group: str) -> _Link:
        """The running link of the layer that carries `group` (started on first use, restarted if it died)."""
        layer = self.layer_for(group)
        link = self.links.get(id(layer))
        if link is None:
            link = self.links[id(layer)] = _Link(layer)
        if link.task is None or link.task.done():
            link.ready.clear()
            link.task = asyncio.get_running_loop().create_task(self._run(link), name="fanout-hub")
        return link

    def _groups_of(self, link: _Link) -> list[str]:
        return [group for group in list(self.subscribers) if self.layer_for(group) is link.layer]

    async def _join(self, link: _Link, group: str) -> None:
        try:
            await link.layer.group_add(group, link.channel)
        except Exception as exc:  # the re-assert loop joins it once the layer is back
            log.warning("fan-out hub could not join %s: %s", group, exc)

    async def _run(self, link: _Link) -> None:
        backoff = 0.5
        layer = link.layer
        while True:
            try:
                link.channel = await layer.new_channel("hub")
                link.ready.set()
                for group in self._groups_of(link):
                    await layer.group_add(group, link.channel)
                reassert = asyncio.create_task(self._reassert_groups(link))
                try:
                    while True:
                        message = await layer.receive(link.channel)
                        backoff = 0.5
                        self.dispatch(message)
                finally:
                    reassert.cancel()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failures += 1
                log.warning("fan-out hub lost the channel layer (%s); retrying in %.1f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _reassert_groups(self, link: _Link) -> None:
        while True:
            await asyncio.sleep(REASSERT_GROUPS_EVERY_S)
            for group in self._groups_of(link):
                with contextlib.suppress(Exception):
                    await link.layer.group_add(group, link.channel)

    def dispatch(self, message: dict[str, Any]) -> None:
        self.received += 1
        group = group_of(message)
        members = self.subscribers.get(group)
        if not members:
            return
        if message.get("type") != "spread.update":  # control messages: to every socket of the group, now
            for subscriber in tuple(members):
                self._deliver(subscriber, message)
            return
        # A spread update replaces the group's previous one, even half handed out: the sockets not reached
        # yet get this one, those already served get it on the next walk.
        self._sequence += 1
        self._latest[group] = (self._sequence, message)
        if group not in self._walks:
            self._walks[group] = list(members)
        if not self._turn_scheduled:
            # The first turn at once, in the receive loop's step: no event-loop iteration between an update's
            # arrival and its first frames. The next turns (if any) are scheduled by this one.
            self._turn_scheduled = True
            self._turn()

    def _turn(self) -> None:
        """Hand the latest update of each busy group to the next sockets of its walk, for TURN_SECONDS."""
        self._turn_scheduled = False
        clock = time.perf_counter
        deadline = clock() + TURN_SECONDS
        out_of_time = False
        for group in list(self._walks):
            walk, latest = self._walks.get(group), self._latest.get(group)
            if walk is None or latest is None:
                self._walks.pop(group, None)
                continue
            sequence, message = latest
            given = self._given[group]
            members = self.subscribers.get(group, ())
            while walk:
                subscriber = walk.pop()
                if given.get(subscriber) == sequence or subscriber not in members:
                    continue
                given[subscriber] = sequence
                try:
                    subscriber.deliver(message)
                    self.delivered += 1
                except Exception:
                    log.exception("a socket failed to take a spread update")
                if clock() > deadline:
                    out_of_time = True
                    break
            if not walk:
                # Done, unless a newer update arrived during the walk: then walk again for those behind.
                behind = [s for s in members if given.get(s) != sequence]
                if behind:
                    self._walks[group] = behind
                else:
                    del self._walks[group]
            if out_of_time:
                if group in self._walks:
                    self._walks[group] = self._walks.pop(group)  # next turn starts with the other groups
                break
        if self._walks and not self._turn_scheduled:
            self._turn_scheduled = True
            asyncio.get_running_loop().call_soon(self._turn)

    def _deliver(self, subscriber: Subscriber, message: dict[str, Any]) -> None:
        try:
            subscriber.deliver(message)
            self.delivered += 1
        except Exception:
            log.exception("a socket failed to take a %s message", message.get("type"))


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, FanoutHub] = weakref.WeakKeyDictionary()


def get_hub() -> FanoutHub:
    """The hub of the running event loop (one per process in production; one per test loop in tests)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = FanoutHub(layer_for)
    return hub
