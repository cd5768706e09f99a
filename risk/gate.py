"""The pre-trade gate that `trading`'s execution asks before it writes any order (the protocol is
trading/execution/gate.py;
the composition root installs a `RiskGate`, quantarb/wiring.py).

`read_state` reads what the checks need for one pool from the database — covering kill switches, the limits
(through `limits_for`, the strategies' parameters), our positions, the accounts' latest balance/margin snapshots
and their errors, the instruments' quantity rules — and `check` runs the pure checks of risk/domain/checks.py on
it and on the market the orders are priced from, in this order of concern:

- kill switch (global, the tenant's, the strategy's — for orders by hand, any strategy's on the pool): only
  orders that reduce a position pass;
- size and notional limits (position, notional, unhedged exposure);
- the venue's quantity rules: step, minimum, maximum per order, minimum notional;
- available margin: the smaller of what the account's latest snapshot leaves free and what the pool's capital
  for the leg leaves after the margin our position holds. Required margin: perp notional ÷ the pool's leverage;
  the CFD by the venue's rules (trading/domain/margin.py): a live account's per-lot margin from its terminal's
  `order_calc_margin` (kept on its latest snapshot), a paper account's simulated symbol spec and leverage, else
  notional × `QUANTARB_PAPER_CFD_MARGIN_RATE`; both × the buffer of `RiskContext`;
- stale quotes (not when a manual command is queued: the stored quotes are a copy; the engine checks again);
- sessions (a closed CFD market, the windows around its open and close);
- the accounts' settings and errors, and the venues' order rate limits (counted per pool when orders are written);
- the desk's compliance rules (risk/compliance.py): trading windows, maximum orders per day per account,
  restricted instruments, the pattern-day-trader rule. Their refusals are audited (`record_refusal`, called by
  trading/execution/gate.py `report_refused` once the asking transaction has rolled back).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils.translation import gettext as _

from accounts.choices import AccountMode, AccountStatus
from accounts.models import AccountPool, AccountSnapshot
from mt5ops.choices import FailureChoice, TerminalStateChoice
from mt5ops.selectors import TerminalBlock, account_terminal_block
from quantarb import clock
from trading.choices import OrderSide
from trading.domain import margin as margin_rules
from trading.domain.quotes import Quote
from trading.execution.gate import CheckStage, GateState, Halt, OrderCheck, Refusal
from trading.execution.paper_ledger import paper_cfd_terms
from trading.instruments import instrument_of, spec_of
from trading.models import Instrument
from trading.reconciliation.services import our_position_oz

from .choices import KillScope
from .compliance import ComplianceState, RefusalAuditor, compliance_refusals, read_compliance
from .domain import checks
from .limits import Block, blocks_for
from .messages import violation_text
from .models import KillSwitch

LimitsFor = Callable[[AccountPool, int | None], checks.RiskLimits]

# Orders per (window ms) a venue accepts: Binance USDⓈ-M per account; MT5 has no published limit, a terminal is
# kept well below what it handles.
ORDER_WINDOWS: Mapping[str, tuple[tuple[int, int], ...]] = {
    "perp": checks.BINANCE_ORDER_WINDOWS,
    "cfd": ((10, 1_000), (120, 60_000)),
}
CENT = Decimal("0.01")


@dataclass(frozen=True)
class SwitchView:
    scope: str
    label: str
    reason: str


@dataclass(frozen=True)
class RiskState:
    """What `RiskGate.check` reads from the database for one pool, read at `read_at_ms` (epoch ms)."""

    pool_id: int
    read_at_ms: int
    limits: checks.RiskLimits
    switches: tuple[SwitchView, ...]
    perp_account_id: int
    cfd_account_id: int
    perp_position_oz: Decimal
    cfd_position_oz: Decimal
    perp_leverage: Decimal
    perp_margin_type: str
    perp_allocation: Decimal
    cfd_allocation: Decimal
    # What the latest snapshot leaves free (equity − used margin); None: no snapshot (a live account then has no
    # known margin; a paper one has its pool capital).
    perp_snapshot_free: Decimal | None
    cfd_snapshot_free: Decimal | None
    perp_needs_snapshot: bool
    cfd_needs_snapshot: bool
    cfd_margin_level_pct: Decimal | None
    mark_price: Decimal | None
    liquidation_price: Decimal | None
    perp_instrument: checks.InstrumentLimits | None
    cfd_instrument: checks.InstrumentLimits | None
    account_errors: Mapping[int, str] = field(default_factory=dict)  # account id → why it takes no new risk
    # How the CFD account margins one lot: the terminal's own figures per lot (buy, sell) from the latest snapshot
    # of a live account, or the symbol's margin spec and the account's leverage (a paper account's simulated
    # terminal). Neither: the configured rate of the notional (`QUANTARB_PAPER_CFD_MARGIN_RATE`).
    cfd_terminal_per_lot: tuple[Decimal, Decimal] | None = None
    cfd_margin_spec: margin_rules.Mt5MarginSpec | None = None
    cfd_account_leverage: int | None = None
    cfd_contract_size: Decimal | None = None
    # Why the CFD account's MT5 terminal takes no opening orders (mt5ops' state); None: it takes them. The runner
    # reads its terminal policy from this same read.
    cfd_terminal_block: TerminalBlock | None = None
    # The desk's compliance rules for this pool (None: it has none enabled).
    compliance: ComplianceState | None = None
    # Breached limits that hold opening orders in this scope (risk/limits.py): reducing orders still pass.
    limit_blocks: tuple[Block, ...] = ()


def terminal_not_ready(block: TerminalBlock | None) -> tuple[str, str, str] | None:
    """Why a terminal takes no opening orders, as the check's (label, state, failure); None: it does (or the
    account runs in no terminal). A check too old to vouch for the state says `unchecked`."""
    if block is None:
        return None
    if block.stale_for_s is not None or block.state == TerminalStateChoice.HEALTHY:
        return (block.label, "unchecked", "")
    return (block.label, block.state, block.failure)


def _cfd_margin_terms(account: Any, snapshot: AccountSnapshot | None) -> dict[str, Any]:
    """`RiskState`'s CFD margin fields for `account`: a live account's latest per-lot margin from its terminal
    (`order_calc_margin`, kept on the snapshot), a paper account's simulated symbol spec and leverage."""
    instrument = instrument_of(account)
    contract = getattr(instrument, "contract_size", None)
    if account.mode == AccountMode.PAPER:
        spec, leverage = paper_cfd_terms(account)
        return {"cfd_margin_spec": spec, "cfd_account_leverage": leverage, "cfd_contract_size": spec.contract_size}
    terms = (snapshot.margin_terms if snapshot is not None else None) or {}
    try:
        per_lot = (Decimal(str(terms["buy_per_lot"])), Decimal(str(terms["sell_per_lot"])))
    except (KeyError, ArithmeticError, ValueError):
        return {"cfd_contract_size": contract}
    return {"cfd_terminal_per_lot": per_lot, "cfd_contract_size": contract}


def instrument_limits(instrument: Instrument | None) -> checks.InstrumentLimits | None:
    """An instrument's quantity rules in ounces (None: the instrument is not known)."""
    if instrument is None:
        return None
    spec, maximum = spec_of(instrument), instrument.max_quantity
    return checks.InstrumentLimits(
        step_oz=spec.step_oz,
        min_oz=spec.min_oz,
        max_oz=None if maximum is None else maximum * spec.contract_size,
        min_notional=instrument.min_notional,
    )


class RiskGate:
    """`trading.execution.gate.PreTradeGate` over the pure checks. One per process; its order rate counters are per
    pool.
    """

    def __init__(
        self,
        *,
        limits_for: LimitsFor,
        cfd_margin_rate: Decimal | None = None,
        order_windows: Mapping[str, Sequence[tuple[int, int]]] | None = None,
    ) -> None:
        self.limits_for = limits_for
        self.cfd_margin_rate = (
            cfd_margin_rate if cfd_margin_rate is not None else Decimal(settings.QUANTARB_PAPER_CFD_MARGIN_RATE)
        )
        self.order_windows = dict(ORDER_WINDOWS if order_windows is None else order_windows)
        self._limiters: dict[int, checks.OrderRateLimiter] = {}
        self._lock = threading.Lock()
        self.auditor = RefusalAuditor()

    # -- reads -----------------------------------------------------------------------------------------------------
    def read_state(self, *, pool: AccountPool, strategy_id: int | None) -> RiskState:
        perp_account, cfd_account = pool.perp_account, pool.cfd_account

        def latest(account_id: int) -> AccountSnapshot | None:
            return AccountSnapshot.objects.filter(account_id=account_id).order_by("-at", "-pk").first()

        perp_snapshot, cfd_snapshot = latest(perp_account.pk), latest(cfd_account.pk)
        mark_price: Decimal | None = None
        liquidation_price: Decimal | None = None
        for position in (perp_snapshot.positions if perp_snapshot is not None else None) or []:
            mark_price = Decimal(str(position["mark_price"])) if position.get("mark_price") else None
            liquidation = position.get("liquidation_price")
            liquidation_price = Decimal(str(liquidation)) if liquidation else None
        errors = {
            account.pk: f"{account.label}: {account.last_error or account.get_status_display()}"
            for account in (perp_account, cfd_account)
            if account.status != AccountStatus.ACTIVE
        }
        return RiskState(
            pool_id=pool.pk,
            read_at_ms=_now_ms(),
            limits=self.limits_for(pool, strategy_id),
            switches=self._switches(pool, strategy_id),
            perp_account_id=perp_account.pk,
            cfd_account_id=cfd_account.pk,
            perp_position_oz=our_position_oz(perp_account),
            cfd_position_oz=our_position_oz(cfd_account),
            perp_leverage=Decimal(pool.perp_leverage),
            perp_margin_type=pool.perp_margin_type,
            perp_allocation=pool.perp_allocation,
            cfd_allocation=pool.cfd_allocation,
            perp_snapshot_free=None if perp_snapshot is None else perp_snapshot.equity - perp_snapshot.used_margin,
            cfd_snapshot_free=None if cfd_snapshot is None else cfd_snapshot.equity - cfd_snapshot.used_margin,
            perp_needs_snapshot=perp_account.mode != AccountMode.PAPER,
            cfd_needs_snapshot=cfd_account.mode != AccountMode.PAPER,
            cfd_margin_level_pct=None if cfd_snapshot is None else cfd_snapshot.margin_level,
            mark_price=mark_price,
            liquidation_price=liquidation_price,
            perp_instrument=instrument_limits(instrument_of(perp_account)),
            cfd_instrument=instrument_limits(instrument_of(cfd_account)),
            account_errors=errors,
            cfd_terminal_block=account_terminal_block(cfd_account.pk),
            compliance=read_compliance(pool),
            limit_blocks=blocks_for(pool, strategy_id),
            **_cfd_margin_terms(cfd_account, cfd_snapshot),
        )

    def halts(self, *, pool: AccountPool) -> Sequence[Halt]:
        return tuple(
            Halt(scope=_scope_text(row), reason=row.reason_text, since=row.tripped_at) for row in _covering(pool, None)
        )

    @staticmethod
    def _switches(pool: AccountPool, strategy_id: int | None) -> tuple[SwitchView, ...]:
        return tuple(SwitchView(row.scope, _scope_text(row), row.reason_text) for row in _covering(pool, strategy_id))

    def record_refusal(self, request: OrderCheck, refusals: Sequence[Refusal], actor: Any = None) -> None:
        """Audit what must be of a refusal (the compliance rules'), outside the transaction that asked."""
        self.auditor.record(request, refusals, actor)

    # -- the check -----------------------------------------------------------------------------------------------
    def check(self, request: OrderCheck, state: GateState) -> Sequence[Refusal]:
        if not isinstance(state, RiskState) or state.pool_id != request.pool.pk:
            return (Refusal("gate_state", _("The pre-trade state is not this pool's: nothing is sent.")),)
        now_ms = _now_ms()
        age_ms = now_ms - state.read_at_ms
        if request.stage == CheckStage.WRITE and age_ms > state.limits.max_quote_age_ms:
            return (
                Refusal(
                    "gate_state",
                    _("The pre-trade state was read %(age)s ms ago (limit %(limit)s ms): read it again.")
                    % {"age": age_ms, "limit": state.limits.max_quote_age_ms},
                ),
            )
        market = request.market
        limiter = self._limiter(request.pool.pk)
        ctx = self._context(state, request, now_ms, limiter)
        found: list[Refusal] = []
        for index, leg_order in enumerate(request.legs):
            leg = checks.Leg(leg_order.leg)
            quote = market.perp if leg is checks.Leg.PERP else market.cfd
            if quote is None:
                found.append(
                    Refusal("no_quote", _("No %(leg)s quote to price the order.") % {"leg": _leg(leg)}, leg.value)
                )
                continue
            account_id = state.perp_account_id if leg is checks.Leg.PERP else state.cfd_account_id
            if not leg_order.reducing:
                for block in state.limit_blocks:
                    if block.account_id is None or block.account_id == account_id:
                        found.append(
                            Refusal(
                                "risk_limit",
                                _("Limit %(limit)s is breached: only orders that reduce a position pass.")
                                % {"limit": block.limit},
                                leg.value,
                            )
                        )
                if account_id in state.account_errors:
                    found.append(
                        Refusal(
                            checks.Check.ACCOUNT_SETTINGS.value,
                            _("The account takes no new risk: %(error)s") % {"error": state.account_errors[account_id]},
                            leg.value,
                        )
                    )
                if (state.perp_instrument if leg is checks.Leg.PERP else state.cfd_instrument) is None:
                    found.append(
                        Refusal(
                            "instrument_unknown",
                            _("The %(leg)s instrument's specs are unknown: its quantity rules cannot be checked.")
                            % {"leg": _leg(leg)},
                            leg.value,
                        )
                    )
            other = request.legs[1 - index] if len(request.legs) == 2 else None
            companion = Decimal(0)
            if other is not None:
                companion = other.quantity_oz if other.side == OrderSide.BUY else -other.quantity_oz
            price = leg_order.limit_price
            if price is None:
                price = quote.ask_price if leg_order.side == OrderSide.BUY else quote.bid_price
            intent = checks.OrderIntent(
                leg=leg,
                side=checks.Side(leg_order.side),
                quantity_oz=leg_order.quantity_oz,
                price=price,
                reducing=leg_order.reducing,
                companion_oz=companion,
            )
            for violation in checks.pre_trade(intent, ctx):
                if request.stage == CheckStage.QUEUE and violation.code in (
                    checks.Check.STALE_QUOTE,
                    checks.Check.RATE_LIMIT,
                ):
                    continue  # judged where the order is written, on the engine's own quotes and counters
                found.append(Refusal(violation.code.value, self._text(violation, state), leg.value))
        if state.compliance is not None:
            accounts = {checks.Leg.PERP.value: state.perp_account_id, checks.Leg.CFD.value: state.cfd_account_id}
            found.extend(compliance_refusals(request, state.compliance, accounts))
        found = _unique(found)
        if not found and request.stage == CheckStage.WRITE:
            self._record(request.pool.pk, [leg_order.leg for leg_order in request.legs], now_ms)
        return tuple(found)

    def _context(
        self, state: RiskState, request: OrderCheck, now_ms: int, limiter: checks.OrderRateLimiter
    ) -> checks.RiskContext:
        market = request.market
        perp_mid = market.perp.mid_price if market.perp is not None else None
        cfd_margin_per_oz = self._cfd_margin_per_oz(state, market.cfd)
        perp_pool_free = (
            None
            if perp_mid is None
            else state.perp_allocation - abs(state.perp_position_oz) * perp_mid / state.perp_leverage
        )
        cfd_pool_free = (
            None if cfd_margin_per_oz is None else state.cfd_allocation - abs(state.cfd_position_oz) * cfd_margin_per_oz
        )
        return checks.RiskContext(
            now_ms=now_ms,
            limits=state.limits,
            perp=checks.PerpAccount(
                position_oz=state.perp_position_oz,
                available_margin_usdt=_available(state.perp_snapshot_free, perp_pool_free, state.perp_needs_snapshot),
                leverage=state.perp_leverage,
                mark_price=state.mark_price,
                liquidation_price=state.liquidation_price,
                margin_type=state.perp_margin_type,
            ),
            cfd=checks.CfdAccount(
                position_oz=state.cfd_position_oz,
                free_margin_usd=_available(state.cfd_snapshot_free, cfd_pool_free, state.cfd_needs_snapshot),
                margin_level_pct=state.cfd_margin_level_pct,
                terminal_not_ready=terminal_not_ready(state.cfd_terminal_block),
            ),
            cfd_margin_per_oz=cfd_margin_per_oz,
            perp_quote_ts_ms=None if market.perp is None else market.perp.ts_ms,
            cfd_quote_ts_ms=None if market.cfd is None else market.cfd.ts_ms,
            cfd_bid=None if market.cfd is None else market.cfd.bid_price,
            cfd_ask=None if market.cfd is None else market.cfd.ask_price,
            session=market.session,
            usd_per_usdt=market.usd_per_usdt,
            halted=bool(state.switches),
            rate_limiter=limiter,
            # A live account's leverage and margin type are checked against the pool by every sync (a mismatch puts
            # the account in error, refused above); the pool's settings are what the margin is computed with.
            expected=checks.ExpectedSettings(
                perp_margin_type=state.perp_margin_type, perp_leverage=state.perp_leverage
            ),
            perp_instrument=state.perp_instrument,
            cfd_instrument=state.cfd_instrument,
        )

    def _cfd_margin_per_oz(self, state: RiskState, cfd: Quote | None) -> Decimal | None:
        """The margin one ounce of the CFD needs at the quote, by the venue's rules (trading/domain/margin.py): the
        dearer side, as an order may buy or sell."""
        if cfd is None:
            return None
        contract = state.cfd_contract_size
        if state.cfd_terminal_per_lot is not None and contract:
            return max(state.cfd_terminal_per_lot) / contract
        if state.cfd_margin_spec is not None and state.cfd_account_leverage and contract:
            per_lot = (
                margin_rules.mt5_margin(
                    spec=state.cfd_margin_spec,
                    lots=Decimal(1),
                    buy=buy,
                    price=cfd.ask_price if buy else cfd.bid_price,
                    account_leverage=state.cfd_account_leverage,
                )
                for buy in (True, False)
            )
            return max(per_lot) / contract
        return Decimal(cfd.mid_price) * self.cfd_margin_rate

    def _record(self, pool_id: int, legs: list[str], now_ms: int) -> None:
        with self._lock:
            limiter = self._limiters[pool_id]
            try:
                for leg in legs:
                    limiter.record(leg, now_ms)
            except ValueError:
                # The clock went back (a simulated or test clock set again): the counters start over from here.
                limiter = self._limiters[pool_id] = checks.OrderRateLimiter(self.order_windows)
                for leg in legs:
                    limiter.record(leg, now_ms)

    def _limiter(self, pool_id: int) -> checks.OrderRateLimiter:
        with self._lock:
            limiter = self._limiters.get(pool_id)
            if limiter is None:
                limiter = self._limiters[pool_id] = checks.OrderRateLimiter(self.order_windows)
            return limiter

    @staticmethod
    def _text(violation: checks.Violation, state: RiskState) -> str:
        if violation.code is checks.Check.KILL_SWITCH and state.switches:
            switch = state.switches[0]
            return _(
                "Halted by a kill switch (%(scope)s: %(reason)s): only orders that reduce a position may be sent."
            ) % {"scope": switch.label, "reason": switch.reason}
        not_ready = terminal_not_ready(state.cfd_terminal_block)
        if violation.code is checks.Check.TERMINAL_NOT_READY and not_ready is not None:
            return _terminal_text(*not_ready)
        return violation_text(violation)


def _terminal_text(label: str, state: str, failure: str) -> str:
    """The terminal refusal in the operator's language, its state and failure as the MT5 pages name them."""
    if state == "unchecked":
        words = _("its last health check is too old")
    else:
        words = str(TerminalStateChoice(state).label)
        if failure:
            words = _("%(state)s, %(failure)s") % {"state": words, "failure": FailureChoice(failure).label}
    return _(
        "The MT5 terminal %(terminal)s is not ready to trade (%(state)s): no new positions on its account; "
        "reducing orders still pass."
    ) % {"terminal": label, "state": words}


def _covering(pool: AccountPool, strategy_id: int | None) -> list[KillSwitch]:
    """The tripped switches covering orders on `pool` for `strategy_id` (by hand: any of the pool's strategies)."""
    covering = Q(scope=KillScope.GLOBAL) | Q(scope=KillScope.TENANT, tenant_id=pool.tenant_id)
    if strategy_id is not None:
        covering |= Q(scope=KillScope.STRATEGY, strategy_id=strategy_id)
    else:
        covering |= Q(scope=KillScope.STRATEGY, strategy__pool_id=pool.pk)
    rows = KillSwitch.objects.filter(reset_at__isnull=True).filter(covering).select_related("strategy")
    return list(rows.order_by("tripped_at", "pk"))


def _scope_text(switch: KillSwitch) -> str:
    if switch.scope == KillScope.STRATEGY and switch.strategy is not None:
        return _("strategy %(name)s") % {"name": switch.strategy.name}
    if switch.scope == KillScope.TENANT:
        return _("the desk")
    return _("global")


def _available(snapshot_free: Decimal | None, pool_free: Decimal | None, needs_snapshot: bool) -> Decimal | None:
    """What an order may use: the smaller of the snapshot's free margin and the pool's capital left for the leg; a
    live account without a snapshot has none known."""
    if needs_snapshot and snapshot_free is None:
        return None
    known = [value for value in (snapshot_free, pool_free) if value is not None]
    return min(known).quantize(CENT) if known else None


def _leg(leg: checks.Leg) -> str:
    return _("perp") if leg is checks.Leg.PERP else _("CFD")


def _unique(refusals: list[Refusal]) -> list[Refusal]:
    """One refusal per message (both legs can break the same rule, e.g. the kill switch)."""
    seen: set[str] = set()
    out = []
    for refusal in refusals:
        if refusal.message not in seen:
            seen.add(refusal.message)
            out.append(refusal)
    return out


def _now_ms() -> int:
    return int(clock.now().timestamp() * 1000)
