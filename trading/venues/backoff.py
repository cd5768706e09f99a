"""Rate-limit back-offs shared by every gateway of one venue account in this process.

A venue's "wait" (Binance 429 / 418 with `Retry-After`) is meant for the account, not for the client object that
happened to receive it: the executor, the account sync and the user-stream watcher each hold their own gateway of
the same account, and a repair loop makes a new one per runner. So the back-off lives here, keyed by the account,
and every gateway of that account honours it: nothing is sent until it ends.
"""

from __future__ import annotations

import hashlib
import threading


class BackoffRegistry:
    """Back-offs by account key, as deadlines on the caller's monotonic clock. Thread-safe (the account sync
    runs its own event loop in a worker thread)."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def hold(self, key: str, seconds: float, *, now: float) -> None:
        """Nothing more for `key` for `seconds` from `now` (a shorter wait never cuts a longer one short)."""
        with self._lock:
            self._until[key] = max(self._until.get(key, 0.0), now + seconds)

    def remaining(self, key: str, *, now: float) -> float:
        """Seconds left of `key`'s back-off (0: none running)."""
        with self._lock:
            until = self._until.get(key)
            if until is None:
                return 0.0
            if until <= now:
                del self._until[key]
                return 0.0
            return until - now

    def clear(self) -> None:
        """Forget every back-off (a fresh process; tests)."""
        with self._lock:
            self._until.clear()


BACKOFFS = BackoffRegistry()


def account_key(venue: str, endpoint: str | None, api_key: str | None) -> str:
    """The key of one account at one venue endpoint: its API key (hashed: the registry is no place for secrets),
    or `public` for unsigned market-data clients, which share the host's limits."""
    who = hashlib.sha256(api_key.encode()).hexdigest()[:16] if api_key else "public"
    return f"{venue}|{endpoint or 'default'}|{who}"
