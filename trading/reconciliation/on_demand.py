"""Reconciliation asked for from the web or the API: "run now" and an admin's "sync".

Decision (UI side): the web process runs the comparison itself, through the same
`reconcile_pool` / `reconciliation_sync` the engine runs, with the execution venues of
`trading.execution.venue_factory.execution_venues`. Neither reads quotes (they look orders up by client id, list open
orders and read positions), so the market given to the factory is one that has no quotes: a paper venue asked to
*place* an order here would refuse, and nothing here places one. Paper pools reconcile against the paper ledger;
live pools against their venues' gateways (Binance REST, the MT5 bridge), built per request. A venue that cannot
be reached makes a `failed` report carrying the error (the engine retries on every runner start and on its
schedule); a pool whose venues cannot even be built (no instrument, no MT5 terminal) raises
`ReconciliationUnavailable` with the reason, and nothing is stored.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from django.utils.translation import gettext as _

from accounts.http import AuditContext
from accounts.models import AccountPool, User, VenueAccount
from quantarb import formatting
from trading.choices import OrderStatus, ReconciliationStatus, ReconciliationTrigger
from trading.execution.venue_factory import close_venues, execution_venues
from trading.instruments import pair_id_for_pool
from trading.models import ReconciliationReport
from trading.reconciliation.services import reconcile_pool, reconciliation_sync
from trading.venues.errors import VenueError


class ReconciliationUnavailable(Exception):
    """This process cannot reach the pool's venues (live accounts): nothing was compared or changed."""


class ReconciliationNotMismatched(Exception):
    """Only a report with differences can be synced."""


class _NoQuotes:
    """The market of a process that streams no quotes: reconciliation never prices an order."""

    def snapshot(self, pair_id: int) -> Any:
        return None


def _venues(pool: AccountPool) -> dict[int, Any]:
    pool = AccountPool.objects.select_related("perp_account", "cfd_account").get(pk=pool.pk)
    try:
        return execution_venues(pool, pair_id_for_pool(pool) or 0, _NoQuotes())
    except VenueError as error:
        raise ReconciliationUnavailable(str(error)) from error


def reconciliation_run(*, pool: AccountPool, strategy_id: int | None = None) -> ReconciliationReport:
    """Compare the pool's venues with our records now; returns the stored report (matched, mismatch or failed).
    Reads only: nothing at a venue or in our records changes, so it is not audited (the report is the record)."""
    venues = _venues(pool)

    async def run() -> ReconciliationReport:
        try:
            return await reconcile_pool(
                pool=pool, venues=venues, trigger=ReconciliationTrigger.MANUAL, strategy_id=strategy_id
            )
        finally:
            await close_venues(venues)  # on this event loop: a ccxt session never outlives the request

    return async_to_sync(run)()


def reconciliation_sync_now(
    *, report: ReconciliationReport, actor: User, context: AuditContext | None = None
) -> ReconciliationReport:
    """Adopt the venue's state for a mismatched report (audited by `reconciliation_sync`)."""
    if report.status != ReconciliationStatus.MISMATCH:
        raise ReconciliationNotMismatched(report.status)
    venues = _venues(report.pool)

    async def run() -> ReconciliationReport:
        try:
            return await reconciliation_sync(report=report, venues=venues, actor=actor, context=context)
        finally:
            await close_venues(venues)

    return async_to_sync(run)()


DIFFERENCE_COLUMNS = ("kind", "account", "client_order_id", "ours", "venue")


def difference_rows(report: ReconciliationReport) -> list[dict[str, Any]]:
    """The report's differences as table rows: kind in words, the account's label, ours against the venue's."""
    kinds = {
        "order_status": _("Order status differs"),
        "order_filled": _("Filled quantity differs"),
        "order_missing": _("Order missing at the venue"),
        "order_extra": _("Order at the venue that is not ours"),
        "position": _("Position differs"),
        "unhedged": _("Pool not hedged"),
    }
    ids = {d.get("account_id") for d in report.differences if isinstance(d, dict) and d.get("account_id")}
    labels = dict(VenueAccount.objects.filter(pk__in=ids, tenant_id=report.tenant_id).values_list("pk", "label"))

    statuses = dict(OrderStatus.choices)

    def shown(value: Any) -> Any:
        """A status in words, a quantity in ounces without exponent (`0E-8`, `1E+9`), anything else as stored."""
        if value is None or value == "":
            return None
        if str(value) in statuses:
            return str(statuses[str(value)])
        number = formatting.to_decimal(value)
        return str(value) if number is None else f"{formatting.quantity(number)} oz"

    rows = []
    for difference in report.differences:
        if not isinstance(difference, dict):
            continue
        kind = str(difference.get("kind", ""))
        venue = shown(difference.get("venue"))
        if difference.get("venue_status"):
            venue = f"{venue} ({shown(difference['venue_status'])})"
        rows.append(
            {
                "kind": kinds.get(kind, kind),
                "code": kind,
                "account": labels.get(int(difference["account_id"]), "") if difference.get("account_id") else "",
                "client_order_id": difference.get("client_order_id", ""),
                "order_id": difference.get("order_id"),
                "ours": shown(difference.get("ours")),
                "venue": venue,
            }
        )
    return rows
