"""ccxt sessions are closed (46 "Unclosed client session" were logged). Every ccxt client a job,
a request or a feed opens is closed on the event loop that used it, whichever way the work ended; here against the
out-of-process fake Binance, with aiohttp's own warning as the witness."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from accounts.models import VenueAccount
from strategies.models import Strategy
from tests import canary
from tests.fakes.fixtures import BinanceFake, Mt5BridgeFake

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(120)]


@pytest.fixture
def live_pool(canary_accounts: Any, binance_fake: BinanceFake, mt5_bridge: Mt5BridgeFake) -> Any:
    """Alpha's live pool, its Binance account on the fake Binance and its MT5 account on the bridge fake."""
    binance_fake.config(api_keys={canary.CANARY_API_KEY: canary.CANARY_API_SECRET})
    VenueAccount.objects.filter(pk=canary_accounts["binance"].pk).update(
        rest_endpoint=binance_fake.rest_url, ws_endpoint=binance_fake.ws_url
    )
    mt5_bridge.terminal.qa_configure(accounts={81234567: (canary.CANARY_MT5_PASSWORD, "Bybit-Live")})
    terminal = canary_accounts["terminal"]
    terminal.bridge_port = mt5_bridge.port
    terminal.save()
    return canary_accounts["live_pool"]


def _is_open_session(candidate: object, session_type: type) -> bool:
    # gc.get_objects() holds whatever earlier tests left: weak proxies whose referent is gone (isinstance() raises
    # ReferenceError) and lazy objects that refuse to be evaluated any more (django-csp's request nonce, read after its
    # response was sent, raises CSPNonceError). Neither is a session; only a real type check may say so.
    if not isinstance(type(candidate), type) or not issubclass(type(candidate), session_type):
        return False
    try:
        return not candidate.closed  # type: ignore[attr-defined]
    except ReferenceError:
        return False


@pytest.fixture
def unclosed() -> Iterator[Callable[[], list[str]]]:
    """aiohttp's "Unclosed client session" warnings raised so far (the garbage collected first, so an abandoned
    session says so now, and so are the sessions still open and unreachable)."""
    import aiohttp

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")

        def found() -> list[str]:
            gc.collect()
            open_sessions = [o for o in gc.get_objects() if _is_open_session(o, aiohttp.ClientSession)]
            return [str(w.message) for w in caught if "Unclosed client session" in str(w.message)] + [
                repr(session) for session in open_sessions
            ]

        yield found


def test_position_snapshots_close_the_binance_session_they_open(
    live_pool: Any, unclosed: Callable[[], list[str]]
) -> None:
    from trading.models import PositionSnapshot
    from trading.portfolio.housekeeping import snapshot_positions

    assert snapshot_positions() == 2
    assert PositionSnapshot.objects.filter(account__venue="binance-usdm").get().venue_oz is not None  # it did connect
    assert unclosed() == []


def test_a_scheduled_reconciliation_closes_them_too(
    live_pool: Any, alice: Any, unclosed: Callable[[], list[str]]
) -> None:
    from strategies.housekeeping import reconcile_pools

    Strategy.objects.create(tenant=alice.tenant, name="Live basis", pool=live_pool, mode="live")
    counts = reconcile_pools()
    assert counts["matched"] + counts["mismatch"] == 1, counts
    assert unclosed() == []


def test_reconciling_from_the_web_closes_them_too(live_pool: Any, unclosed: Callable[[], list[str]]) -> None:
    from trading.reconciliation.on_demand import reconciliation_run

    report = reconciliation_run(pool=live_pool)
    assert report.status in ("matched", "mismatch")
    assert unclosed() == []
