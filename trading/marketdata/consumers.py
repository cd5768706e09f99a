"""WebSocket `/ws/spreads/`: the tenant's spread updates, pushed from the first moment, coalesced per client.

Permission is checked once, at the handshake: an anonymous, suspended or tenant-less user is refused before
`accept()` (no frame is ever sent), and a foreign Origin is refused by the origin validator in `asgi.py`.
A slow browser never builds a backlog: each pair keeps only its latest update until the socket is free.

Under daphne, spread frames skip the per-socket ASGI send: the consumer writes them straight to the socket's
protocol (quantarb/ws_direct.py), synchronously as the hub hands it an update. Elsewhere (Channels' test
communicator, another ASGI server) a send loop per socket awaits the ordinary `send`. Both paths keep the same
rules: the latest state per pair, at most QUANTARB_PUSH_MAX_HZ frames a second, a heartbeat when quiet.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from accounts.models import User
from quantarb.events import AccessChanged, AlertsChanged, RiskChanged, TradingChanged, pair_group, user_group
from quantarb.fanout import get_hub
from quantarb.i18n import language_for
from quantarb.tenancy import active_membership
from quantarb.ws_direct import DirectWriter, direct_writer, prepare
from trading.marketdata.live_render import PartialRenderer
from trading.marketdata.selectors import pairs_for

HEARTBEAT_SECONDS = 5.0
monotonic = time.monotonic
ALERTS_CHANGED_FRAME = json.dumps({"type": "alerts.changed"})
# Small control frames without data: the page re-fetches what the user may see (its alert badge and list; the
# dashboard's trading strip; the risk centre's figures). A burst of one kind coalesces into one frame.
CONTROL_FRAMES = {
    "alerts.changed": ALERTS_CHANGED_FRAME,
    "trading.changed": json.dumps({"type": "trading.changed"}),
    "risk.changed": json.dumps({"type": "risk.changed"}),
}
_rendered: dict[tuple[int, int, str], dict[str, str]] = {}
_partials = PartialRenderer()


def render_live_partials(state: dict[str, Any], language: str) -> dict[str, str]:
    """The dashboard's live partials for one pair state, rendered once per process per language."""
    key = (state["pair_id"], state["at_ms"], language)
    html = _rendered.get(key)
    if html is None:
        venues, edges = _partials.render(state, language)  # the templates' bytes (trading/marketdata/live_render.py)
        html = {f"venues-{state['pair_id']}": venues, f"edges-{state['pair_id']}": edges}
        if len(_rendered) > 512:
            _rendered.clear()
        _rendered[key] = html
    return html


_frames: dict[tuple[int, int, str], str] = {}


def spread_frame(state: dict[str, Any], language: str) -> str:
    """The serialized `spread` frame for one pair state and language: built once per process, then the same
    string goes to every socket that reads that language (no per-socket rendering or JSON encoding)."""
    key = (state["pair_id"], state["at_ms"], language)
    frame = _frames.get(key)
    if frame is None:
        frame = json.dumps(
            {
                "type": "spread",
                "pair_id": state["pair_id"],
                "html": render_live_partials(state, language),
                "point": chart_point(state),
                "state": _slim(state),
            },
            separators=(",", ":"),
        )
        if len(_frames) > 512:
            _frames.clear()
        _frames[key] = frame
    return frame


_prepared: dict[str, dict[int, tuple[dict[str, Any], Any]]] = {}


def prepared_spread_frame(state: dict[str, Any], language: str) -> Any:
    """`spread_frame` framed for the fast path (quantarb/ws_direct.py `prepare`), once per state and language.

    Called for every socket of the process on every update, so the hit is a check of identity: the hub hands
    the same state object to every socket (no key to build, no string to hash)."""
    per_pair = _prepared.get(language)
    if per_pair is None:
        per_pair = _prepared[language] = {}
    last = per_pair.get(state["pair_id"])
    if last is not None and last[0] is state:
        return last[1]
    prepared = prepare(spread_frame(state, language))
    per_pair[state["pair_id"]] = (state, prepared)
    return prepared


def chart_point(state: dict[str, Any]) -> dict[str, Any] | None:
    sample = state.get("sample")
    if not sample:
        return None
    std = sample.get("basis_std")
    mean = sample.get("basis_mean")
    return {
        "t": sample["ts_ms"] // 1000,
        "basis": float(sample["basis"]),
        "mean": mean,
        "upper": mean + 2 * std if mean is not None and std else None,
        "lower": mean - 2 * std if mean is not None and std else None,
        "net": max(float(sample["net_sell_perp"]), float(sample["net_buy_perp"])),
    }


class SpreadConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    # No channel-layer channel per socket: the process's fan-out hub receives each update once and hands it
    # to its sockets (quantarb/fanout.py). An alias that names no configured layer gives the socket none.
    channel_layer_alias = "quantarb-no-per-socket-layer"

    async def connect(self) -> None:
        user = self.scope.get("user")
        membership = await database_sync_to_async(active_membership)(user, self.scope.get("session"))
        if membership is None:
            await self.close()  # before accept(): the handshake is refused, no frame is sent
            return
        # `?controls=1`: a page without quotes (the risk centre) takes the control messages only, no spread frames.
        self.controls_only = b"controls=1" in self.scope.get("query_string", b"").split(b"&")
        self.pair_ids: list[int] = (
            [] if self.controls_only else await database_sync_to_async(self._pair_ids)(membership)
        )
        headers = {k.decode("latin1").lower(): v.decode("latin1") for k, v in self.scope.get("headers", [])}
        cookies = self.scope.get("cookies", {})
        self.language = language_for(user, cookies, headers.get("accept-language", ""))
        self.pending: dict[int, dict[str, Any]] = {}
        self.wakeup = asyncio.Event()
        self.min_interval = 1 / settings.QUANTARB_PUSH_MAX_HZ
        self.heartbeat_due = False
        self.controls_due: dict[str, bool] = {}
        self.writer: DirectWriter | None = None
        self.flush_timer: asyncio.TimerHandle | None = None
        self.loop = asyncio.get_running_loop()
        self.user_group = user_group(user.pk)
        self.hub = get_hub()
        await self.hub.subscribe(self, [self.user_group, *map(pair_group, self.pair_ids)])
        await self.accept()
        await self.send_json({"type": "hello", "pairs": self.pair_ids, "ts_ms": int(time.time() * 1000)})
        self.last_sent = self.loop.time()
        self.beat = self.loop.call_later(HEARTBEAT_SECONDS, self._heartbeat_check)
        self.writer = direct_writer(self.scope, on_drain=self._flush)
        if self.writer is not None:
            self._flush()  # what the hub handed over before the socket was open
        else:
            self.sender = asyncio.create_task(self._send_loop())

    def _current_membership(self) -> Any:
        """The membership as the database has it now (status and roles may have changed since connect)."""

        user = User.objects.filter(pk=self.scope["user"].pk).first()
        return active_membership(user, self.scope.get("session"))

    @staticmethod
    def _pair_ids(membership: Any) -> list[int]:

        return list(pairs_for(membership=membership).values_list("pk", flat=True))

    async def disconnect(self, code: int) -> None:
        for timer in (getattr(self, "beat", None), getattr(self, "flush_timer", None)):
            if timer is not None:
                timer.cancel()
        writer = getattr(self, "writer", None)
        if writer is not None:
            writer.close()
        sender = getattr(self, "sender", None)
        if sender is not None:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender
        if hasattr(self, "hub"):
            await self.hub.unsubscribe(self, [self.user_group, *map(pair_group, self.pair_ids)])

    def deliver(self, message: dict[str, Any]) -> None:
        """From the hub: keep only the latest state per pair (the send loop delivers it when the socket is
        free); a control message re-checks access."""
        if message["type"] == "spread.update":
            self.pending[message["pair_id"]] = message["state"]
            if self.writer is None:
                self.wakeup.set()
            elif self.flush_timer is None:
                self._flush()
        elif message["type"] == "access.changed":
            asyncio.get_running_loop().create_task(self.access_changed(message))  # type: ignore[arg-type]
        elif message["type"] in CONTROL_FRAMES:
            self.control_changed(message)  # type: ignore[arg-type]

    def control_changed(self, message: AlertsChanged | TradingChanged | RiskChanged) -> None:
        """One small control frame for a burst of changes of one kind (`alerts.changed`: the page refreshes its
        badge and list; `trading.changed`: the dashboard refreshes its trading strip; `risk.changed`: the risk
        centre refreshes its figures). Rare, so both paths send it
        with the ordinary send: the fast path from a task, the fallback from its send loop."""
        kind = message["type"]
        if self.controls_due.get(kind):
            return  # a frame is already on its way: the burst coalesces into it
        self.controls_due[kind] = True
        if self.writer is not None:
            self.control_task = self.loop.create_task(self._send_control(kind))
        else:
            self.wakeup.set()

    async def _send_control(self, kind: str) -> None:
        self.controls_due[kind] = False
        if self.writer is not None and self.writer.open:
            await self.send(text_data=CONTROL_FRAMES[kind])

    async def access_changed(self, message: AccessChanged) -> None:
        """Re-check access: close the socket when the user lost it, drop the pairs no longer granted."""
        membership = await database_sync_to_async(self._current_membership)()
        if membership is None:
            await self.close(code=4403)
            return
        allowed = [] if self.controls_only else await database_sync_to_async(self._pair_ids)(membership)
        revoked = sorted(set(self.pair_ids) - set(allowed))
        granted = sorted(set(allowed) - set(self.pair_ids))
        for pair_id in revoked:
            self.pending.pop(pair_id, None)
        self.pair_ids = allowed
        await self.hub.unsubscribe(self, [pair_group(p) for p in revoked])
        await self.hub.subscribe(self, [pair_group(p) for p in granted])

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong", "ts_ms": int(time.time() * 1000)})

    def _flush(self) -> None:
        """Fast path: write the latest frame of each changed pair now, unless the rate ceiling says later (a
        timer calls again) or the socket has not sent its backlog yet (its drain calls again)."""
        writer, pending = self.writer, self.pending
        if not pending or self.flush_timer is not None or writer is None or not writer.writable:
            return
        now = monotonic()  # the event loop's clock (asyncio's `loop.time()`), without its Python frame
        early = self.last_sent + self.min_interval - now
        if early > 0:  # what arrives meanwhile coalesces into the frame the timer writes
            self.flush_timer = self.loop.call_later(early, self._flush_when_due)
            return
        language = self.language
        for state in pending.values():
            writer.write_prepared(prepared_spread_frame(state, language))
        pending.clear()  # kept, not replaced: no new dict per socket per update (garbage collector pressure)
        self.last_sent = now
        self.heartbeat_due = False

    def _flush_when_due(self) -> None:
        self.flush_timer = None
        self._flush()

    async def _send_loop(self) -> None:
        """Fallback path (no direct writer): send the latest state of each changed pair, at most
        QUANTARB_PUSH_MAX_HZ times a second; a heartbeat when nothing was sent for HEARTBEAT_SECONDS.

        This runs once per update for every socket of the process, so it stays cheap: no timeout and no
        timer per update (`asyncio.wait_for` creates a task each time; measured by bench/ws_fanout.py), a
        sleep only when an update comes sooner than the rate ceiling allows, and the frame goes straight to
        the ASGI `send` (the consumer's `send` only wraps it in the same message).
        """
        loop = self.loop
        send = self.base_send
        wakeup, min_interval = self.wakeup, self.min_interval
        while True:
            await wakeup.wait()
            due = [kind for kind, flag in self.controls_due.items() if flag]
            if due:
                for kind in due:
                    self.controls_due[kind] = False
                    await send({"type": "websocket.send", "text": CONTROL_FRAMES[kind]})
                if not self.pending and not self.heartbeat_due:
                    wakeup.clear()
                    self.last_sent = loop.time()
                    continue
            if self.pending:
                early = self.last_sent + min_interval - loop.time()
                if early > 0:
                    await asyncio.sleep(early)  # what arrives meanwhile coalesces into this frame
                wakeup.clear()
                pending, self.pending = self.pending, {}
                for state in pending.values():
                    await send({"type": "websocket.send", "text": spread_frame(state, self.language)})
            else:
                wakeup.clear()
                if not self.heartbeat_due:
                    continue
                await self._send_heartbeat()
            self.heartbeat_due = False
            self.last_sent = loop.time()

    def _heartbeat_check(self) -> None:
        """One timer per socket per heartbeat period: a heartbeat when the socket has been quiet."""
        loop = self.loop
        quiet = loop.time() - self.last_sent
        if quiet >= HEARTBEAT_SECONDS:
            quiet = 0.0
            if self.writer is not None:  # rare (only a quiet socket), so the ordinary send is cheap enough
                if self.writer.open:
                    self.last_sent = loop.time()
                    self.heartbeat_task = loop.create_task(self._send_heartbeat())
            else:
                self.heartbeat_due = True
                self.wakeup.set()
        self.beat = loop.call_later(HEARTBEAT_SECONDS - quiet, self._heartbeat_check)

    async def _send_heartbeat(self) -> None:
        await self.send_json({"type": "heartbeat", "ts_ms": int(time.time() * 1000)})


def _slim(state: dict[str, Any]) -> dict[str, Any]:
    """What the browser needs besides the HTML: ages and the opportunity marker."""
    return {
        "at_ms": state["at_ms"],
        "perp_ts_ms": state["perp"].get("ts_ms"),
        "cfd_ts_ms": state["cfd"].get("ts_ms"),
        "session": state["session"],
        "opportunity": state.get("opportunity"),
        "thresholds": state["thresholds"],
    }
