"""What `accounts` asks of the layers above it about its venue accounts (ARCHITECTURE.md "Layers").

accounts keeps venue accounts and pools as data and does no venue I/O: testing an account's connection — its Test
button, `POST /api/v1/accounts/{id}/test/`, and enabling a pool, which tests each live account first — is
`trading`'s (trading/account_sync.py), and so are the instruments a pool trades, whose specs give its hedge ratio
(trading/instruments.py). The composition root installs them here at start-up (quantarb/wiring.py), as it installs the
pre-trade gate. A process in which nothing was installed tests nothing — every test fails, saying so, and nothing is
recorded on the account — and shows no hedge ratio.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from django.utils.translation import gettext as _

from .http import AuditContext

if TYPE_CHECKING:
    from trading.domain.sizing import InstrumentSpec

    from .models import AccountPool, User, VenueAccount


class TestResult(Protocol):
    @property
    def ok(self) -> bool: ...

    @property
    def message(self) -> str: ...


class VenueLink(Protocol):
    """Implemented by `trading` (trading/account_sync.py `TradingVenueLink`), installed by the composition root."""

    def test_account(
        self, *, account: VenueAccount, actor: User | None, context: AuditContext | None = None
    ) -> TestResult:
        """Test the account's connection now, record the result on the account and audit the test."""
        ...

    def pool_specs(self, pool: AccountPool) -> tuple[InstrumentSpec, InstrumentSpec] | None:
        """The specs of the pool's perpetual and CFD instruments (None: read from the venue at sizing time)."""
        ...


@dataclass(frozen=True)
class _Untested:
    ok: bool
    message: str


class _Unwired:
    """The link in place until the composition root installs one: it tests nothing."""

    def test_account(
        self, *, account: VenueAccount, actor: User | None, context: AuditContext | None = None
    ) -> TestResult:
        return _Untested(False, _("No venue connection is installed in this process: nothing was tested."))

    def pool_specs(self, pool: AccountPool) -> tuple[InstrumentSpec, InstrumentSpec] | None:
        return None


_lock = threading.Lock()
_installed: VenueLink = _Unwired()


def install_venue_link(link: VenueLink | None) -> VenueLink:
    """Install the process's venue link (None: none, i.e. test nothing). Returns the one it replaces."""
    global _installed
    with _lock:
        previous, _installed = _installed, link if link is not None else _Unwired()
    return previous


def account_test(*, account: VenueAccount, actor: User | None, context: AuditContext | None = None) -> TestResult:
    """Test `account`'s connection through the installed link (venue I/O: sync, within the check's time limit)."""
    return _installed.test_account(account=account, actor=actor, context=context)


def pool_specs(pool: AccountPool) -> tuple[InstrumentSpec, InstrumentSpec] | None:
    """The specs of `pool`'s two instruments through the installed link (database reads)."""
    return _installed.pool_specs(pool)
