"""What django-auditlog tracks: every tenant-owned model, field by field, secrets masked.

Registered from `AccountsConfig.ready`; apps with tenant-owned models add theirs to `TRACKED` here, so one list
says what compliance can see changing. A test checks that every model with a `tenant` field is on it.
"""

from __future__ import annotations

from typing import Any

from auditlog.context import set_extra_data
from django.apps import apps
from django.utils.functional import SimpleLazyObject

from .http import client_ip

# label → options for `auditlog.register` (https://django-auditlog.readthedocs.io/en/latest/usage.html)
TRACKED: dict[str, dict[str, Any]] = {
    "accounts.Tenant": {},
    "accounts.Membership": {},
    "accounts.User": {
        "exclude_fields": ["last_login"],
        "mask_fields": ["password"],
    },
    "trading.PairAccess": {},
    "trading.QuoteSource": {},
    "trading.SourcePair": {},
    # Secrets never enter the change log: `credentials` is left out; the masked hints show that keys changed.
    "accounts.VenueAccount": {
        "exclude_fields": [
            "credentials",
            "last_sync_at",
            "last_test_at",
            "last_test_ok",
            "last_test_message",
            "updated_at",
        ],
    },
    "accounts.AccountPool": {},
    "mt5ops.TerminalInstance": {},
    # Channel secrets never enter the change log either; their masked hints do.
    "alerts.Channel": {"exclude_fields": ["secrets", "updated_at", "created_at"]},
    "alerts.AlertRule": {"exclude_fields": ["updated_at"]},
    # Risk settings people edit: limits, compliance rules, the weekend move override, announced margin changes.
    "risk.RiskLimit": {"exclude_fields": ["updated_at"]},
    "risk.ComplianceRule": {"exclude_fields": ["updated_at"]},
    "risk.GapMoveOverride": {"exclude_fields": ["updated_at"]},
    "risk.ScheduledMarginChange": {},
    # The runner's lease and heartbeat change every step: they are not changes anyone makes.
    "strategies.Strategy": {
        "exclude_fields": [
            "runner_id",
            "lease_epoch",
            "lease_until",
            "heartbeat_at",
            "last_decision",
            "last_decision_at",
        ]
    },
}

# Models with a `tenant` field that are not tracked field by field, and why.
NOT_TRACKED: dict[str, str] = {
    "accounts.AuditEvent": "the audit trail itself, append-only",
    "accounts.ChangeLogEntry": "the change log itself, append-only",
    "quantarb.LongJob": "an export or report run: its request is the page that started it, its progress is the row",
    "accounts.ApiTokenGrant": "written by token issue, refresh and revocation, each of which is an audit event",
    "accounts.AccountSnapshot": "a measurement written every minute, not a change anyone makes",
    "accounts.Invitation": "sending, accepting and withdrawing are audit events; the row says whether its name is an "
    "account (and whether it was declined), which the desk must not learn",
    "alerts.Alert": "raised by the platform (counts bump on every repeat); acknowledging and resolving are in the "
    "audit trail",
    "alerts.Delivery": "the notification history itself, written by the delivery task",
    "strategies.StrategyVersion": "immutable: every parameter change is a new version, audited with its diff",
    "trading.Hedge": "written by the execution path as fills arrive; manual actions on hedges are audited",
    "trading.Order": "written by the execution path (persisted before sending); manual orders are audited",
    "trading.Fill": "venue executions, recorded once each, never edited",
    "trading.CarryEntry": "funding and swap booked from the venues' own records",
    "trading.PositionSnapshot": "a measurement written by a beat job, not a change anyone makes",
    "trading.ReconciliationReport": "written by reconciliation; a sync is audited",
    "trading.ManualCommand": "queued by an operator; the request is an audit event, the outcome is on the row",
    "risk.KillSwitch": "tripping and resetting are audit events (with who, why and when)",
    "trading.FundingPayment": "booked by the sync from the venue's own income history, not a change anyone makes",
    "trading.VenueEvent": "recorded from the venue's user-data stream (each raises an alert), not a change anyone "
    "makes",
    "trading.CashFlow": "each entry, approval, rejection and booking is an audit event (with who and the amounts)",
    "trading.EquityPoint": "a measurement written by a beat job, not a change anyone makes",
    "risk.RiskLimitState": "a limit's last evaluated level, written by the evaluation every few seconds",
    "risk.Breach": "written by the evaluation (start, peak, end); a person's confirmation is an audit event",
    "risk.RiskSnapshot": "a measurement written by a beat job, not a change anyone makes",
    "risk.Transfer": "each request, approval, completion, rejection and cancellation is an audit event",
}


def register_tracked_models() -> None:
    # auditlog.registry builds its registry at import, which loads auditlog.models: not before the app registry is ready
    from auditlog.registry import auditlog

    for label, options in TRACKED.items():
        model = apps.get_model(label)
        if not auditlog.contains(model):
            auditlog.register(model, **options)


class ChangeLogMiddleware:
    """django-auditlog's request context, with quantarb's rules: the actor is whoever the request turns out to
    be (a JWT caller is known only once DRF authenticates, after the middleware ran, so the actor is looked up
    when an entry is written), the address is the peer's (forwarded-for headers are not trusted, as in the
    domain audit), and the correlation id comes from `AUDITLOG_CID_GETTER` (quantarb/correlation.py)."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        def actor() -> Any:
            user = getattr(request, "user", None)
            return user if user is not None and user.is_authenticated else None

        context = {"actor": SimpleLazyObject(actor), "remote_addr": client_ip(request), "remote_port": None}
        with set_extra_data(context_data=context):
            return self.get_response(request)
