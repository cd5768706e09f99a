"""A desk's compliance rules in the order gate: what `RiskGate.read_state` reads for them, the
refusals `RiskGate.check` words from the pure evaluation (risk/domain/compliance.py), and the audit record of each
refusal.

Read once per gate state: the desk's enabled rules (one query), and only when they need it the accounts' order
counts since local midnight (the maximum per day; with several such rules the strictest one's time zone) and, for
the pattern-day-trader rule, the fills of the flagged accounts over the window (never for a gold pool: the rule is
off there). Business days for the rule are New York's weekdays.

A refusal is audited (`COMPLIANCE_REFUSED`) after the transaction that asked has rolled back
(trading/execution/gate.py `report_refused`), so the record stays although nothing was written. A strategy that
meets the same refusal on every engine step is audited once per `AUDIT_REPEAT_S` per pool, strategy, rule and leg;
a person's refused command always.
"""

from __future__ import annotations

import threading
import time as monotonic_time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.audit import audit_record
from accounts.choices import AuditAction
from accounts.models import AccountPool, AccountSnapshot, User, VenueAccount
from quantarb import clock
from trading.execution.gate import OrderCheck, Refusal
from trading.instruments import instrument_of
from trading.models import Fill, Order
from trading.reconciliation.services import our_position_oz

from .choices import ComplianceKind
from .domain import compliance as rules_domain
from .domain import day_trades
from .models import ComplianceRule

AUDIT_REPEAT_S = 600.0
CALENDAR = day_trades.BusinessCalendar()
TEMPLATES = tuple(gettext_noop(text) for text in rules_domain.TEMPLATES)


@dataclass(frozen=True)
class ComplianceState:
    """What the gate needs of a desk's rules for one pool."""

    rules: rules_domain.DeskRules
    accounts: Mapping[int, rules_domain.AccountRules] = field(default_factory=dict)
    symbols: Mapping[str, str] = field(default_factory=dict)  # leg → the instrument's symbol


def desk_rules(tenant_id: int) -> list[ComplianceRule]:
    return list(
        ComplianceRule.objects.filter(tenant_id=tenant_id).prefetch_related("accounts").order_by("kind", "name", "pk")
    )


def _symbol(account: VenueAccount) -> str:
    instrument = instrument_of(account)
    return instrument.symbol if instrument is not None else ""


def read_compliance(pool: AccountPool) -> ComplianceState | None:
    """The pool's desk rules as the gate evaluates them; None: the desk has no enabled rule."""
    rows = [row for row in desk_rules(pool.tenant_id) if row.enabled]
    if not rows:
        return None
    windows, max_orders, restricted = [], [], []
    window_names = []
    for row in rows:
        try:
            if row.kind == ComplianceKind.TRADING_WINDOW and row.start_time and row.end_time:
                windows.append(row.window())
                window_names.append(row.name)
        except ValueError:
            continue  # an invalid row (saved around the form) is no window; the admin form refuses it
        if row.kind == ComplianceKind.MAX_ORDERS and row.max_orders:
            max_orders.append(row)
        elif row.kind == ComplianceKind.RESTRICTED and row.instrument.strip():
            restricted.append((row.name, row.instrument.strip()))
    desk = rules_domain.DeskRules(
        windows=tuple(windows),
        max_orders_per_day=tuple((row.name, int(row.max_orders or 0)) for row in max_orders),
        restricted=tuple(restricted),
        window_rule=", ".join(window_names),
    )
    accounts = {"perp": pool.perp_account, "cfd": pool.cfd_account}
    symbols = {leg: _symbol(account) for leg, account in accounts.items()}
    now = clock.now()
    per_account: dict[int, rules_domain.AccountRules] = {}
    strictest = min(max_orders, key=lambda row: row.max_orders or 0, default=None)
    pdt_rules = [row for row in rows if row.kind == ComplianceKind.PATTERN_DAY_TRADER]
    for leg, account in accounts.items():
        orders_today = 0
        if strictest is not None:
            since = rules_domain.local_day_start(now, strictest.zone())
            orders_today = Order.objects.filter(account=account, created_at__gte=since).count()
        pdt = None
        if not rules_domain.is_gold(symbols[leg]):
            rule = next((row for row in pdt_rules if any(a.pk == account.pk for a in row.accounts.all())), None)
            if rule is not None:
                pdt = _pdt_setup(account, rule, now)
        per_account[account.pk] = rules_domain.AccountRules(orders_today=orders_today, pdt=pdt)
    return ComplianceState(rules=desk, accounts=per_account, symbols=symbols)


def _pdt_setup(account: VenueAccount, rule: ComplianceRule, now: Any) -> rules_domain.PdtSetup:
    """The account's fills over the rule's window (twice its business days, plus two weeks of weekends and
    holidays), the position held before them, and its latest equity."""
    since = now - timedelta(days=2 * rule.pdt_window_days + 14)
    fills = Fill.objects.filter(account=account, at__gte=since).select_related("order").order_by("at", "pk")
    symbol = _symbol(account)
    executions = []
    moved = Decimal(0)
    for fill in fills:
        if fill.quantity <= 0 or not CALENDAR.is_business_day(CALENDAR.day_of(fill.at)):
            continue
        side = day_trades.TradeSide(fill.order.side)
        executions.append(day_trades.Execution(symbol, fill.at, side, fill.quantity))
        moved += fill.quantity if side is day_trades.TradeSide.BUY else -fill.quantity
    snapshot = AccountSnapshot.objects.filter(account=account).order_by("-at", "-pk").first()
    return rules_domain.PdtSetup(
        rule=day_trades.PdtRule(rule.pdt_day_trades, rule.pdt_window_days, rule.pdt_equity_floor),
        calendar=CALENDAR,
        executions=tuple(executions),
        equity=snapshot.equity if snapshot is not None else Decimal(0),
        opening_positions={symbol: our_position_oz(account) - moved},
    )


def compliance_refusals(request: OrderCheck, state: ComplianceState, account_ids: Mapping[str, int]) -> list[Refusal]:
    """The refusals of the desk's rules for the orders of `request` (no database access)."""
    now = clock.now()
    found: list[Refusal] = []
    for leg_order in request.legs:
        account_id = account_ids[leg_order.leg]
        facts = rules_domain.OrderFacts(
            account_id=account_id,
            instrument=state.symbols.get(leg_order.leg, ""),
            side=day_trades.TradeSide(leg_order.side),
            quantity=leg_order.quantity_oz,
            reducing=leg_order.reducing,
            at=now,
        )
        account = state.accounts.get(account_id, rules_domain.AccountRules())
        if not CALENDAR.is_business_day(CALENDAR.day_of(now)):
            account = rules_domain.AccountRules(orders_today=account.orders_today)  # no day trades on a day off
        for breach in rules_domain.evaluate(state.rules, facts, account):
            found.append(Refusal(breach.code.value, refusal_text(breach), leg_order.leg))
    return found


def refusal_text(breach: rules_domain.Breach) -> str:
    reason = _(breach.template) % breach.params
    if breach.rule:
        return _("Compliance rule “%(rule)s”: %(reason)s") % {"rule": breach.rule, "reason": reason}
    return _("Compliance rule: %(reason)s") % {"reason": reason}


def is_compliance(refusal: Refusal) -> bool:
    return refusal.code.startswith("compliance_")


class RefusalAuditor:
    """Audits compliance refusals, a strategy's repeated ones once per `repeat_s`."""

    def __init__(self, repeat_s: float = AUDIT_REPEAT_S) -> None:
        self.repeat_s = repeat_s
        self._last: dict[tuple[Any, ...], float] = {}
        self._lock = threading.Lock()

    def record(self, request: OrderCheck, refusals: Sequence[Refusal], actor: User | None = None) -> int:
        """Audit the compliance refusals among `refusals`; how many were recorded."""
        recorded = 0
        now = monotonic_time.monotonic()
        for refusal in refusals:
            if not is_compliance(refusal):
                continue
            repeated = actor is None and not request.manual
            key = (request.pool.pk, request.strategy_id, refusal.code, refusal.leg, refusal.message)
            if repeated:
                with self._lock:
                    last = self._last.get(key)
                    if last is not None and now - last < self.repeat_s:
                        continue
                    self._last[key] = now
            audit_record(
                tenant=request.pool.tenant,
                actor=actor,
                action=AuditAction.COMPLIANCE_REFUSED,
                obj=request.pool,
                summary={
                    "code": refusal.code,
                    "reason": refusal.message,
                    "leg": refusal.leg,
                    "intent": str(request.intent),
                    "stage": str(request.stage),
                    "strategy_id": request.strategy_id,
                    "hedge_id": request.hedge_id,
                    "manual": request.manual,
                    "pool": request.pool.name,
                },
            )
            recorded += 1
        return recorded
