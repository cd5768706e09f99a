"""Venue errors as quantarb understands them, whatever SDK raised them.

Gateways classify every failure into one `VenueErrorKind`; callers decide on the kind, never on an SDK's
exception class (ccxt picks its Binance error map by host name, so behind an endpoint override the same venue
code surfaces as another class).
"""

from __future__ import annotations

from enum import StrEnum


class VenueErrorKind(StrEnum):
    AUTH = "auth"  # key missing, unknown, not permitted, wrong signature, IP not whitelisted
    AGREEMENT = "agreement"  # Binance -4411: the TradFi-Perps agreement is not signed
    DUPLICATE_CLIENT_ID = "duplicate_client_id"  # Binance -4116: the client order id was used before
    CLOCK = "clock"  # Binance -1021: our timestamp is outside the venue's recvWindow
    RATE_LIMITED = "rate_limited"  # 429 / 418 / -1003, or a back-off still running (nothing was sent)
    UNKNOWN_ORDER = "unknown_order"  # Binance -2013 / -2011: no such order
    REJECTED = "rejected"  # the venue refused the request for another stated reason
    UNREACHABLE = "unreachable"  # no connection could be made (nothing reached the venue)
    AMBIGUOUS = "ambiguous"  # timeout, dropped connection or 5xx: the request may or may not have been applied
    MARKET = "market"  # the instrument is missing or not what we expect (e.g. no longer a perpetual)
    MARKET_CLOSED = "market_closed"  # MT5 10018: outside the instrument's session (weekend, daily break, holiday)
    PRICE_MOVED = "price_moved"  # MT5 10004 requote / 10020 price changed: nothing executed, re-price and retry
    NO_MONEY = "no_money"  # MT5 10019: not enough free margin
    TRADING_DISABLED = "trading_disabled"  # MT5 10027 AutoTrading off, 10017 trading disabled, account not allowed


class VenueError(Exception):
    """A classified venue failure. `code` is the venue's own code when it sent one, `venue_message` its own words;
    `endpoint` the request that failed (e.g. "GET /fapi/v1/commissionRate"), so a failure says where; and
    `retry_after_s` how long the venue asked us to wait (rate limits).

    What an order's sender may conclude from it (trading/execution/executor.py), and nothing else:
    - `sent` False: the request never left quantarb (a back-off still running, a read before the send failed, a
      check of our own refused it, no connection could be made). Nothing can exist at the venue.
    - `refused` True: the venue answered, and its code alone (an MT5 retcode, a Binance error code) says it
      refused the request: nothing was executed.
    - anything else — a timeout, a lost answer, an unknown code, a read *after* the send that failed — is
      *unknown*: the order may exist and is looked up by its client id before the hedge moves on.
    """

    def __init__(
        self,
        kind: VenueErrorKind,
        message: str,
        *,
        code: int | None = None,
        retry_after_s: float | None = None,
        venue_message: str | None = None,
        endpoint: str | None = None,
        refused: bool = False,
        sent: bool = True,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.retry_after_s = retry_after_s
        self.venue_message = venue_message
        self.endpoint = endpoint
        self.refused = refused
        self.sent = sent

    def not_sent(self) -> VenueError:
        """The same failure, known to have happened before the request left (kept as the cause)."""
        error = VenueError(
            self.kind,
            str(self),
            code=self.code,
            retry_after_s=self.retry_after_s,
            venue_message=self.venue_message,
            endpoint=self.endpoint,
            refused=self.refused,
            sent=False,
        )
        error.__cause__ = self
        return error

    def __repr__(self) -> str:
        flags = "" if self.sent else ", not sent"
        flags += ", refused" if self.refused else ""
        return f"VenueError({self.kind.value!r}, code={self.code}{flags}, {self.args[0]!r})"
