"""Venue I/O for venue accounts, which `accounts` keeps as data: testing an account's connection (the Test button,
`POST /api/v1/accounts/{id}/test/`, enabling a pool — accounts asks through the venue link the composition root
installs, accounts/venue_link.py) and the minute's sync of every account's balance, equity and margin
(`trading.tasks.sync_accounts`). Each reaches its venue through `trading.venues.registry.gateway_for`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.choices import AccountMode, AccountStatus, AuditAction
from accounts.http import AuditContext
from accounts.models import AccountPool, AccountSnapshot, User, VenueAccount
from accounts.venue_kinds import Venue, spec_for
from alerts.rules import evaluate_on_commit
from quantarb import clock
from trading.domain.sizing import InstrumentSpec
from trading.execution.paper_ledger import paper_account_snapshot, paper_mark
from trading.instruments import pool_specs
from trading.models import FundingPayment
from trading.venues.checks import CheckResult, check_connection
from trading.venues.errors import VenueError, VenueErrorKind
from trading.venues.mt5.gateway import Mt5Gateway
from trading.venues.registry import gateway_for

if TYPE_CHECKING:
    from trading.venues.binance.gateway import (
        AccountBrackets,
        AccountState,
        FundingPaymentRow,
        PositionInfo,
        SymbolSettings,
    )

log = logging.getLogger(__name__)

# The alert rule that looks at an account's status (alerts/alert_rules.py; its margin level is a risk limit).
ACCOUNT_RULES = ("account_error",)


def _account_alerts_on_commit(account: VenueAccount) -> None:
    """An account's status or margin changed: its alert rules look again as soon as this commits."""
    evaluate_on_commit(tenant=account.tenant, rule_types=ACCOUNT_RULES)


@transaction.atomic
def account_test(*, account: VenueAccount, actor: User | None, context: AuditContext | None = None) -> CheckResult:
    """Test the connection, record the result on the account, audit the test (never the secret)."""
    result = check_connection(account)
    account.last_test_at = timezone.now()
    account.last_test_ok = result.ok
    account.last_test_message = result.message[:500]
    if result.ok and account.status == AccountStatus.ERROR:
        account.status, account.last_error = AccountStatus.ACTIVE, ""
    account.save(update_fields=["last_test_at", "last_test_ok", "last_test_message", "status", "last_error"])
    audit_record(
        tenant=account.tenant,
        actor=actor,
        action=AuditAction.SECRET_TESTED,
        obj=account,
        summary={"account": account.label, "ok": result.ok, "message": result.message},
        context=context,
    )
    _account_alerts_on_commit(account)
    return result


# --- balance and margin -----------------------------------------------------------------------------------
# A live account's read must finish within this time (the sync is a beat job; one slow venue must not hang it).
LIVE_SYNC_TIMEOUT_S = 30.0
# How far back Binance keeps the income history (`GET /fapi/v1/income`): a first sync starts there.
INCOME_HISTORY = timedelta(days=90)
# How often a live Binance account's own leverage brackets are read again (`GET /fapi/v1/leverageBracket`): they
# change rarely (Binance announces bracket changes; an account's can be adjusted), and every sync carries the last
# ones read forward. A sync whose snapshot holds none reads them whatever the age.
BRACKETS_EVERY = timedelta(hours=1)


def sync_accounts(now: Any = None) -> dict[str, int]:
    """Snapshot balance, equity, used margin and margin level of every account that can be read today.

    Paper accounts (paper mode, or a simulated venue) are valued from their paper ledger at the latest quote of
    their instrument (trading/execution/paper_ledger.py: capital, realised PnL, fees, carry, unrealised PnL and margin
    by the
    venue's rules). Live accounts are read from their venue: Binance (`_sync_binance_account`: balances,
    positions, funding booked and the account's settings) and MT5 from its terminal (`_sync_mt5_account`); one
    that cannot be read is counted as failed with the reason kept in `last_error`. Other live accounts are counted
    as skipped. A live account whose venue asked us to back off (Binance 429 / 418) is counted as backed off: it
    is not in error, and its last snapshot stands until the back-off ends.
    """
    at = now or clock.now()
    counts = {"synced": 0, "skipped": 0, "failed": 0, "backed_off": 0}
    accounts = VenueAccount.objects.filter(status__in=[AccountStatus.ACTIVE, AccountStatus.ERROR]).select_related(
        "tenant", "terminal"
    )
    for account in accounts:
        spec = spec_for(account.venue)
        if spec is not None and not spec.simulated and account.mode == AccountMode.LIVE:
            if account.venue == Venue.BINANCE_USDM:
                counts[_sync_binance_account(account, at)] += 1
            elif account.venue == Venue.BYBIT_MT5:
                counts["synced" if _sync_mt5_account(account, at) else "failed"] += 1
            else:
                counts["skipped"] += 1
            continue
        if spec is None or account.status != AccountStatus.ACTIVE:
            counts["skipped"] += 1
            continue
        with transaction.atomic():
            paper_account_snapshot(account=account, at=at, mark=paper_mark(account))
            VenueAccount.objects.filter(pk=account.pk).update(last_sync_at=at)
        counts["synced"] += 1
    return counts


def _sync_mt5_account(account: VenueAccount, at: Any) -> bool:
    """Snapshot a live MT5 account from its terminal: balance, equity, used margin and margin level in the account's
    currency, and what one lot would need bought or sold now (`order_calc_margin`: the terminal applies the
    symbol's calc mode, margin rates and the account's leverage). Returns False (the reason in `last_error`) when
    the terminal cannot be read."""
    if account.terminal is None:
        _sync_failed(account, _("No MT5 terminal is set for this account."))
        return False
    try:
        gateway = gateway_for(account)
        assert isinstance(gateway, Mt5Gateway)  # an MT5 account's
        try:
            gateway.connect()
            state = gateway.account()
            terms = _mt5_margin_terms(gateway, state.leverage)
            # The account's own margin-call / stop-out levels and mode (`account_info().margin_so_*`): the risk
            # centre measures the account against them (risk/metrics.py).
            terms.update(
                margin_so_call=str(state.margin_call_level),
                margin_so_so=str(state.stop_out_level),
                margin_so_mode=0 if state.stop_out_in_percent else 1,
            )
        finally:
            gateway.close()
    except VenueError as exc:
        _sync_failed(account, _("Balance sync failed: %(reason)s") % {"reason": str(exc)})
        return False
    AccountSnapshot.objects.create(
        account=account,
        tenant_id=account.tenant_id,
        at=at,
        currency=state.currency,
        balance=state.balance,
        equity=state.equity,
        used_margin=state.margin,
        margin_level=state.margin_level,
        margin_terms=terms,
    )
    VenueAccount.objects.filter(pk=account.pk).update(last_sync_at=at, last_error="")
    return True


def _mt5_margin_terms(gateway: Any, leverage: int) -> dict[str, Any]:
    """The terminal's own margin of one lot each way at the current tick. A terminal that cannot price it (no
    tick, a closed symbol) leaves the reason instead: the account's figures stand without it."""
    terms: dict[str, Any] = {"source": "terminal", "leverage": leverage}
    try:
        tick = gateway.tick()
        terms.update(
            bid=str(tick.bid),
            ask=str(tick.ask),
            buy_per_lot=str(gateway.margin_for("buy", Decimal(1), tick.ask)),
            sell_per_lot=str(gateway.margin_for("sell", Decimal(1), tick.bid)),
        )
    except VenueError as exc:
        terms["error"] = str(exc)[:300]
    return terms


def _sync_failed(account: VenueAccount, reason: str) -> None:
    VenueAccount.objects.filter(pk=account.pk).update(last_error=reason[:1000])


@dataclass(frozen=True)
class BinanceReading:
    account: AccountState
    position: PositionInfo
    settings: SymbolSettings
    funding: list[FundingPaymentRow]
    brackets: AccountBrackets | None = None  # read this time (None: not due, or the read failed)
    brackets_error: str = ""  # why the read failed: the brackets read before stand


async def _read_binance(account: VenueAccount, funding_since_ms: int | None, *, read_brackets: bool) -> BinanceReading:
    gateway = gateway_for(account, timeout_ms=10_000)
    assert not isinstance(gateway, Mt5Gateway)  # a Binance account's
    try:
        await gateway.connect()
        brackets, brackets_error = None, ""
        if read_brackets:
            try:
                brackets = await gateway.fetch_leverage_brackets()
            except VenueError as exc:
                if exc.kind == VenueErrorKind.RATE_LIMITED:
                    raise
                brackets_error = str(exc)[:500]
        return BinanceReading(
            account=await gateway.fetch_account(),
            position=await gateway.fetch_position(),
            settings=await gateway.fetch_symbol_settings(),
            funding=await gateway.fetch_funding_income(funding_since_ms),
            brackets=brackets,
            brackets_error=brackets_error,
        )
    finally:
        await gateway.close()


def _previous_venue_brackets(account: VenueAccount) -> dict[str, Any] | None:
    """The account's own brackets as its latest snapshot carries them (`margin_terms.venue_brackets`), or None."""
    terms = (
        AccountSnapshot.objects.filter(account=account).order_by("-at").values_list("margin_terms", flat=True).first()
    )
    kept = (terms or {}).get("venue_brackets") if isinstance(terms, dict) else None
    return kept if isinstance(kept, dict) and isinstance(kept.get("brackets"), list) else None


def _brackets_due(kept: dict[str, Any] | None, now: datetime) -> bool:
    if kept is None:
        return True
    try:
        read_at = datetime.fromisoformat(str(kept.get("read_at")))
    except ValueError:
        return True
    return now - read_at >= BRACKETS_EVERY


def venue_brackets_terms(brackets: AccountBrackets, read_at: datetime) -> dict[str, Any]:
    """The account's brackets as a snapshot keeps them: Binance's own entry shape (exact decimals as strings, so
    `trading.domain.margin.brackets_from_wire` reads them back) and when they were read."""
    return {
        "read_at": read_at.isoformat(),
        "notional_coef": None if brackets.notional_coef is None else str(brackets.notional_coef),
        "brackets": [
            {
                "bracket": b.bracket,
                "initialLeverage": b.initial_leverage,
                "notionalFloor": str(b.notional_floor),
                "notionalCap": str(b.notional_cap),
                "maintMarginRatio": str(b.maint_margin_ratio),
                "cum": str(b.cum),
            }
            for b in brackets.brackets
        ],
    }


def _run_async(work: Any, timeout_s: float) -> Any:
    """Run a coroutine to completion from synchronous code, on its own loop in a worker thread."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, asyncio.wait_for(work, timeout_s)).result()


def binance_settings_problems(settings_read: SymbolSettings, pool: AccountPool | None) -> list[str]:
    """What differs from what quantarb and the account's pool expect, in words an operator can act on."""
    problems = []
    if settings_read.hedge_mode:
        problems.append(
            str(
                _(
                    "The account is in hedge (dual-side) position mode: quantarb trades one-way mode. Switch it in "
                    "Binance's futures preferences."
                )
            )
        )
    if pool is not None:
        if settings_read.margin_type != pool.perp_margin_type:
            problems.append(
                str(
                    _(
                        "XAUUSDT margin type is %(actual)s, the pool %(pool)s expects %(expected)s: change it on "
                        "Binance (or the pool)."
                    )
                    % {"actual": settings_read.margin_type, "pool": pool.name, "expected": pool.perp_margin_type}
                )
            )
        if settings_read.leverage != pool.perp_leverage:
            problems.append(
                str(
                    _(
                        "XAUUSDT leverage is %(actual)d×, the pool %(pool)s expects %(expected)d×: change it on "
                        "Binance (or the pool)."
                    )
                    % {"actual": settings_read.leverage, "pool": pool.name, "expected": pool.perp_leverage}
                )
            )
    return problems


def _sync_binance_account(account: VenueAccount, at: Any) -> str:
    """Read a live Binance account: an `AccountSnapshot` (USDT balance, equity, margin in use, margin level, the venue's
    maintenance margin, the XAUUSDT position with its liquidation price, maintenance margin and ADL quantile, and the
    account's own leverage brackets — read every `BRACKETS_EVERY`, carried forward between; a read that fails keeps the
    previous ones and records why in `venue_brackets_error`), the funding Binance booked since the last one recorded,
    and the account's settings checked against its pool. A failure or a mismatch puts the account in error with the
    reason; a clean read clears an earlier error. A rate limit (429 / 418 with `Retry-After`, or a back-off another
    gateway of the account started) is not an error: Binance asked for a pause, the account's state is unchanged, and
    halting its entries for it would turn every burst of requests into minutes without trading. Returns the outcome's
    count: synced, failed or backed_off."""
    last = FundingPayment.objects.filter(account=account).order_by("-at").values_list("at", flat=True).first()
    # Always from a start time: without one Binance answers the last 7 days only (its income history holds 3
    # months), and a first sync must see every payment a hedge of ours may have had.
    since = last if last is not None else clock.now() - INCOME_HISTORY
    since_ms = int(since.timestamp() * 1000)
    kept = _previous_venue_brackets(account)
    read_brackets = _brackets_due(kept, at)
    try:
        reading: BinanceReading = _run_async(
            _read_binance(account, since_ms, read_brackets=read_brackets), LIVE_SYNC_TIMEOUT_S
        )
    except VenueError as exc:
        if exc.kind == VenueErrorKind.RATE_LIMITED:
            log.warning(
                "account sync backed off",
                extra={"account": account.pk, "retry_after_s": exc.retry_after_s, "code": exc.code},
            )
            return "backed_off"
        _account_error(account, str(_("Sync failed: %(reason)s") % {"reason": exc}))
        return "failed"
    except TimeoutError:
        _account_error(
            account, str(_("Sync failed: Binance did not answer within %(s)d s.") % {"s": LIVE_SYNC_TIMEOUT_S})
        )
        return "failed"
    state, position = reading.account, reading.position
    margin_level = (
        (state.margin_balance / state.initial_margin * 100).quantize(Decimal("0.0001"))
        if state.initial_margin > 0
        else None
    )
    pool = AccountPool.objects.filter(perp_account=account, enabled=True).first()
    problems = binance_settings_problems(reading.settings, pool)
    terms: dict[str, Any] = {
        "source": "venue",
        "leverage": reading.settings.leverage,
        "maintenance_margin": str(state.maint_margin),
        "total_maintenance_margin": None if state.total_maint_margin is None else str(state.total_maint_margin),
    }
    # The account's own brackets: read now, else the ones read before carried forward (a failed read says so).
    if reading.brackets is not None:
        terms["venue_brackets"] = venue_brackets_terms(reading.brackets, at)
    elif kept is not None:
        terms["venue_brackets"] = kept
    if reading.brackets_error:
        terms["venue_brackets_error"] = reading.brackets_error
        log.warning("leverage brackets not read", extra={"account": account.pk, "reason": reading.brackets_error})
    with transaction.atomic():
        AccountSnapshot.objects.create(
            account=account,
            tenant_id=account.tenant_id,
            at=at,
            currency="USDT",
            balance=state.wallet,
            equity=state.margin_balance,
            used_margin=state.initial_margin,
            margin_level=margin_level,
            margin_terms=terms,
            positions=[]
            if position.quantity == 0
            else [
                {
                    "symbol": "XAUUSDT",
                    "quantity": str(position.quantity),
                    "entry_price": str(position.entry_price),
                    "mark_price": str(position.mark_price),
                    "liquidation_price": None
                    if position.liquidation_price is None
                    else str(position.liquidation_price),
                    "maint_margin": None if position.maint_margin is None else str(position.maint_margin),
                    "adl": position.adl_quantile,
                }
            ],
        )
        FundingPayment.objects.bulk_create(
            [
                FundingPayment(
                    tenant_id=account.tenant_id,
                    account=account,
                    venue_id=row.venue_id,
                    symbol=row.symbol,
                    asset=row.asset,
                    amount=row.amount,
                    at=datetime.fromtimestamp(row.ts_ms / 1000, UTC),
                )
                for row in reading.funding
            ],
            ignore_conflicts=True,
        )
        fields: dict[str, Any] = {"last_sync_at": at}
        if problems:
            fields.update(status=AccountStatus.ERROR, last_error=" ".join(problems)[:2000])
        elif account.status == AccountStatus.ERROR:
            fields.update(status=AccountStatus.ACTIVE, last_error="")
        VenueAccount.objects.filter(pk=account.pk).update(**fields)
        _account_alerts_on_commit(account)
    return "synced"


def _account_error(account: VenueAccount, message: str) -> None:
    with transaction.atomic():
        VenueAccount.objects.filter(pk=account.pk).update(status=AccountStatus.ERROR, last_error=message[:2000])
        _account_alerts_on_commit(account)


class TradingVenueLink:
    """What accounts asks of trading about its venue accounts and pools (accounts/venue_link.py): the connection
    test, and the pool's instrument specs (trading/instruments.py). Installed by the composition root
    (quantarb/wiring.py)."""

    def test_account(
        self, *, account: VenueAccount, actor: User | None, context: AuditContext | None = None
    ) -> CheckResult:
        return account_test(account=account, actor=actor, context=context)

    def pool_specs(self, pool: AccountPool) -> tuple[InstrumentSpec, InstrumentSpec] | None:
        return pool_specs(pool)
