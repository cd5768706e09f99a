"""Test a venue account's connection: one entry point, whatever the venue (the accounts' "Test" button and
`POST /api/v1/accounts/{id}/test/`). Simulated venues answer at once; live Binance and MT5 checks (bad key,
IP not whitelisted, TradFi agreement not signed, terminal unreachable…) plug in here with venue connectivity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from .registry import spec_for


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str


def check_connection(*, venue: str, credentials: dict[str, Any] | None, terminal: Any = None) -> CheckResult:
    spec = spec_for(venue)
    if spec is None:
        return CheckResult(False, _("Unknown venue."))
    if spec.simulated:
        return CheckResult(True, _("Simulated venue: connected, no credentials needed."))
    if not credentials:
        return CheckResult(False, _("No credentials stored: add them before testing."))
    return CheckResult(
        False,
        _(
            "Credentials are stored, but this version cannot reach %(venue)s yet: live checks arrive with venue "
            "connectivity."
        )
        % {"venue": venue},
    )
