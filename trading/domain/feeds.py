"""The health of one quote source: its state, the last good quote and its counters ("feed manager").

States, decided from measured times only (never from a flag a feed sets about itself):
- `connecting`: no stream message yet (or the stream dropped and is coming back), within the source's limit;
- `live`: the stream delivered a message within `stale_after_ms`;
- `stale`: the stream has been silent for longer than `stale_after_ms` — REST polling stands in meanwhile;
- `down`: no quote at all (stream or REST) for longer than `down_after_ms`;
- `closed`: the market is closed (its quotes are closed, not stale).
Times are milliseconds since the epoch (UTC) from the caller's clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from trading.domain.quotes import Quote


class FeedState(StrEnum):
    CONNECTING = "connecting"
    LIVE = "live"
    STALE = "stale"
    CLOSED = "closed"
    DOWN = "down"


class FeedMode(StrEnum):
    STREAM = "stream"  # quotes come from the venue's stream
    POLL = "poll"  # the stream is silent or broken: REST polling stands in


@dataclass(slots=True)
class SourceHealth:
    """Counters and times of one source. Feeds report what happens; `evaluate` decides the state."""

    source: str
    stale_after_ms: int
    down_after_ms: int
    started_ms: int
    state: FeedState = FeedState.CONNECTING
    state_since_ms: int = 0
    mode: FeedMode = FeedMode.STREAM
    closed: bool = False
    polled_only: bool = False  # fed by REST polls by design (poll_feeds): each good poll counts as a message
    connected: bool = False
    last_message_ms: int | None = None  # local time of the last stream message
    last_quote: Quote | None = None  # the last good quote, from either path
    last_ts_ms: int | None = None  # venue time of the last good datum (a quote, or a rate)
    last_quote_received_ms: int | None = None
    messages: int = 0
    polls: int = 0
    poll_failures: int = 0
    drops: int = 0
    reconnects: int = 0
    failovers: int = 0
    roundtrip_ms: float | None = None  # the last REST poll's round trip
    last_error: str = ""
    last_drop_ms: int | None = None

    def __post_init__(self) -> None:
        self.state_since_ms = self.state_since_ms or self.started_ms
        if self.polled_only:
            self.mode = FeedMode.POLL

    # -- what feeds report
    def on_stream_quote(self, quote: Quote, now_ms: int) -> None:
        """A message arrived on the stream: the stream is (back) up and feeds the source again."""
        self._message(now_ms)
        self._keep(quote, quote.ts_ms, now_ms)

    def on_rate(self, ts_ms: int, now_ms: int, roundtrip_ms: float) -> None:
        """A polled source (the USDT/USD rate) answered: polling is its design, so each answer is its message."""
        self._message(now_ms)
        self.polls += 1
        self.roundtrip_ms = roundtrip_ms
        self._keep(None, ts_ms, now_ms)

    def _message(self, now_ms: int) -> None:
        if not self.connected and self.drops:
            self.reconnects += 1
        self.connected = True
        self.mode = FeedMode.POLL if self.polled_only else FeedMode.STREAM
        self.messages += 1
        self.last_message_ms = now_ms

    def on_drop(self, now_ms: int, reason: str) -> None:
        """The stream broke (or could not be opened): REST polling takes over until it is back."""
        if self.connected or not self.drops:
            self.drops += 1
            self.last_drop_ms = now_ms
        self.connected = False
        self.last_error = reason
        self._fail_over()

    def on_silence(self) -> None:
        """The stream is open but has been silent past the limit: poll REST meanwhile."""
        self._fail_over()

    def on_poll(self, quote: Quote, now_ms: int, roundtrip_ms: float) -> None:
        self.polls += 1
        self.roundtrip_ms = roundtrip_ms
        self._keep(quote, quote.ts_ms, now_ms)
        if self.polled_only:
            self.connected = True
            self.last_message_ms = now_ms

    def on_poll_failed(self, reason: str, roundtrip_ms: float | None = None) -> None:
        self.poll_failures += 1
        self.last_error = reason
        if roundtrip_ms is not None:
            self.roundtrip_ms = roundtrip_ms

    def set_closed(self, closed: bool) -> None:
        self.closed = closed

    def _fail_over(self) -> None:
        if self.mode is FeedMode.STREAM:
            self.failovers += 1
        self.mode = FeedMode.POLL

    def _keep(self, quote: Quote | None, ts_ms: int, now_ms: int) -> None:
        if self.last_ts_ms is None or ts_ms >= self.last_ts_ms:
            self.last_quote = quote or self.last_quote
            self.last_ts_ms = ts_ms
            self.last_quote_received_ms = now_ms

    # -- what the state is
    def evaluate(self, now_ms: int) -> FeedState:
        """Recompute the state at `now_ms`; `state_since_ms` moves only when it changes."""
        state = self.state_at(now_ms)
        if state is not self.state:
            self.state = state
            self.state_since_ms = now_ms
        return state

    def state_at(self, now_ms: int) -> FeedState:
        """The state at `now_ms` from the recorded times alone (nothing changes): what a scrape reports."""
        if self.closed:
            return FeedState.CLOSED
        silent_ms = now_ms - (self.last_message_ms if self.last_message_ms is not None else self.started_ms)
        if silent_ms <= self.stale_after_ms:
            return FeedState.LIVE if self.connected and self.last_message_ms is not None else FeedState.CONNECTING
        last_any = self.last_quote_received_ms if self.last_quote_received_ms is not None else self.started_ms
        if now_ms - last_any > self.down_after_ms:
            return FeedState.DOWN
        return FeedState.STALE

    def quote_age_ms(self, now_ms: int) -> int | None:
        """Age of the last good quote by its venue time (None: none yet)."""
        return None if self.last_ts_ms is None else max(0, now_ms - self.last_ts_ms)

    def as_dict(self, now_ms: int) -> dict[str, Any]:
        """JSON-ready, for the heartbeat (and so the health strip) and the metrics."""
        return {
            "state": self.state.value,
            "since_ms": self.state_since_ms,
            "mode": self.mode.value,
            "quote_age_ms": self.quote_age_ms(now_ms),
            "last_quote_ms": self.last_ts_ms,
            "last_message_ms": self.last_message_ms,
            "messages": self.messages,
            "polls": self.polls,
            "poll_failures": self.poll_failures,
            "drops": self.drops,
            "reconnects": self.reconnects,
            "failovers": self.failovers,
            "roundtrip_ms": None if self.roundtrip_ms is None else round(self.roundtrip_ms, 2),
            "stale_after_ms": self.stale_after_ms,
            "last_drop_ms": self.last_drop_ms,
            "error": self.last_error,
            # What `from_snapshot` needs to tell the state at another instant.
            "started_ms": self.started_ms,
            "down_after_ms": self.down_after_ms,
            "closed": self.closed,
            "connected": self.connected,
            "last_quote_received_ms": self.last_quote_received_ms,
        }

    @classmethod
    def from_snapshot(cls, source: str, snapshot: dict[str, Any], *, closed_known: bool = True) -> SourceHealth:
        """A source's health rebuilt from `as_dict` (a heartbeat's copy), to judge its state at another instant.
        `closed_known` False: the snapshot is too old to vouch for the market being closed now, so silence counts.
        Snapshots of older writers lack some fields: they fall back to what the snapshot implies."""
        stale_after = int(snapshot.get("stale_after_ms") or 5_000)
        started = int(snapshot.get("started_ms") or snapshot.get("since_ms") or 0)
        health = cls(
            source=source,
            stale_after_ms=stale_after,
            down_after_ms=int(snapshot.get("down_after_ms") or 6 * stale_after),
            started_ms=started,
            state=FeedState(snapshot.get("state", FeedState.CONNECTING.value)),
            state_since_ms=int(snapshot.get("since_ms") or started),
            mode=FeedMode(snapshot.get("mode", FeedMode.STREAM.value)),
            closed=bool(snapshot.get("closed", snapshot.get("state") == FeedState.CLOSED.value)) and closed_known,
            connected=bool(snapshot.get("connected", snapshot.get("state") == FeedState.LIVE.value)),
            last_message_ms=snapshot.get("last_message_ms"),
            last_ts_ms=snapshot.get("last_quote_ms"),
            last_quote_received_ms=snapshot.get("last_quote_received_ms", snapshot.get("last_message_ms")),
        )
        for name in ("messages", "polls", "poll_failures", "drops", "reconnects", "failovers"):
            setattr(health, name, int(snapshot.get(name) or 0))
        health.roundtrip_ms = snapshot.get("roundtrip_ms")
        health.last_error = str(snapshot.get("error") or "")
        return health
