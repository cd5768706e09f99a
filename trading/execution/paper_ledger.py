"""The paper account's ledger: balance, equity, used margin and margin level of a paper account, kept as its venue
would keep them, so paper accounts move with their trades and the margin alerts can fire on
them.

- Balance (in the account's currency: USDT for a perp account, USD for a CFD account) = the paper capital
  (`QUANTARB_PAPER_BALANCE`) + the PnL its fills realised (`PaperPosition.realised_pnl`) − the fees its fills
  paid (`PaperOrder.fee`) + the funding and swap booked to it (`CarryEntry`, from the carry model for paper).
- Unrealised PnL at the mark: the perp at the mid of its quote (Binance values positions at a mark price, which
  paper has no stream of); the CFD at the price that would close it (bid for a long, ask for a short), as MT5
  values its positions. Equity = balance + unrealised.
- Used margin by the venue's rules (trading/domain/margin.py): a perp account at its pool's leverage, capped by the
  leverage brackets (`QUANTARB_PAPER_PERP_BRACKETS`, else the module's default brackets, stated as an assumption
  in the snapshot's margin terms); a CFD account by the simulated terminal's symbol terms (calc mode, margin
  rate, leverage: trading/venues/mt5/sim.py `DEFAULT_MARGIN_TERMS`).
- Margin level = equity ÷ used margin × 100, None when no margin is used.

A snapshot (`AccountSnapshot`) is written after every paper fill, valued at the quote that priced it, and by the
sync job every minute at the latest spread sample of the account's instrument.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Sum

from accounts.choices import AccountMode
from accounts.models import AccountPool, AccountSnapshot, VenueAccount
from accounts.venue_kinds import spec_for
from trading.domain import margin as rules
from trading.domain.paper import PaperBook
from trading.instruments import instrument_of
from trading.models import CarryEntry, Instrument, PaperOrder, PaperPosition, SourcePair, SpreadSample
from trading.venues.mt5.sim import DEFAULT_MARGIN_TERMS

MONEY = Decimal("0.00000001")
LEVEL = Decimal("0.0001")
ZERO = Decimal(0)
TWO = Decimal(2)


@dataclass(frozen=True, slots=True)
class PaperMark:
    """The quote a paper account is valued at: its instrument's bid and ask (and when, if known)."""

    bid: Decimal
    ask: Decimal
    at: datetime | None = None

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / TWO


@dataclass(frozen=True)
class PaperAccountState:
    """A paper account valued at one mark, in `currency`, unrounded."""

    currency: str
    balance: Decimal
    unrealised: Decimal
    used_margin: Decimal
    position_oz: Decimal
    avg_price: Decimal | None
    mark_price: Decimal | None
    terms: dict[str, Any] = field(default_factory=dict)

    @property
    def equity(self) -> Decimal:
        return self.balance + self.unrealised

    @property
    def free_margin(self) -> Decimal:
        return rules.free_margin(equity=self.equity, used_margin=self.used_margin)

    @property
    def margin_level(self) -> Decimal | None:
        return rules.margin_level(equity=self.equity, used_margin=self.used_margin)


def is_paper(account: VenueAccount) -> bool:
    """Paper accounts: paper mode, or a simulated venue (which has no live side)."""
    spec = spec_for(account.venue)
    return account.mode == AccountMode.PAPER or (spec is not None and spec.simulated)


def _leg(account: VenueAccount) -> str:
    spec = spec_for(account.venue)
    return spec.leg if spec is not None else "perpetual"


def _instrument(account: VenueAccount) -> Instrument | None:
    return instrument_of(account)


def paper_capital() -> Decimal:
    return Decimal(str(settings.QUANTARB_PAPER_BALANCE))


def paper_perp_leverage(account: VenueAccount) -> int:
    """The leverage a paper perp account trades at: its pool's (the enabled one first), else the paper default."""
    pool = AccountPool.objects.filter(perp_account=account).order_by("-enabled", "pk").first()
    if pool is not None:
        return int(pool.perp_leverage)
    return int(Decimal(str(settings.QUANTARB_PAPER_PERP_LEVERAGE)))


def paper_brackets() -> tuple[tuple[rules.LeverageBracket, ...], bool]:
    """The leverage brackets of paper perp accounts and whether they were configured (False: the defaults).
    A configured table that is not valid is an error of the deployment's settings, raised as such."""
    raw = str(getattr(settings, "QUANTARB_PAPER_PERP_BRACKETS", "") or "").strip()
    if not raw:
        return rules.DEFAULT_BRACKETS, False
    data = json.loads(raw)
    if isinstance(data, list) and data and isinstance(data[0], dict) and "brackets" in data[0]:
        data = data[0]  # the venue's answer without `symbol`: a list of entries
    entry = data if isinstance(data, dict) else {"brackets": data}
    return rules.brackets_from_wire(entry), True


def paper_cfd_terms(account: VenueAccount) -> tuple[rules.Mt5MarginSpec, int]:
    """The margin spec of a paper CFD account's symbol and the account's leverage: the simulated terminal's terms
    with the instrument's contract size."""
    instrument = _instrument(account)
    contract_size = instrument.contract_size if instrument is not None else Decimal(100)
    rate = Decimal(str(DEFAULT_MARGIN_TERMS["margin_rate"]))
    spec = rules.Mt5MarginSpec(
        calc_mode=rules.CalcMode(int(DEFAULT_MARGIN_TERMS["trade_calc_mode"])),
        contract_size=contract_size,
        currency_margin=str(DEFAULT_MARGIN_TERMS["currency_margin"]),
        currency_base="XAU",
        currency_profit="USD",
        margin_rate_buy=rate,
        margin_rate_sell=rate,
    )
    return spec, int(DEFAULT_MARGIN_TERMS["leverage"])


def paper_mark(account: VenueAccount) -> PaperMark | None:
    """The latest quote of the account's instrument: the newest spread sample of an enabled pair that quotes it
    (a pair on the account's own endpoint first)."""
    instrument = _instrument(account)
    if instrument is None:
        return None
    perp = _leg(account) == "perpetual"
    source = "perp_source" if perp else "cfd_source"
    pairs = SourcePair.objects.filter(enabled=True, **{f"{source}__instrument": instrument})
    if perp and account.rest_endpoint and pairs.filter(perp_source__endpoint=account.rest_endpoint).exists():
        pairs = pairs.filter(perp_source__endpoint=account.rest_endpoint)
    newest: SpreadSample | None = None
    for pair_id in pairs.values_list("pk", flat=True):
        sample = SpreadSample.objects.filter(pair_id=pair_id).order_by("-ts").first()
        if sample is not None and (newest is None or sample.ts > newest.ts):
            newest = sample
    if newest is None:
        return None
    if perp:
        return PaperMark(newest.perp_bid, newest.perp_ask, newest.ts)
    return PaperMark(newest.cfd_bid, newest.cfd_ask, newest.ts)


def _book(account: VenueAccount) -> PaperBook:
    position = PaperPosition.objects.filter(account=account).first()
    if position is None:
        return PaperBook()
    return PaperBook(position.quantity_oz, position.avg_price, position.realised_pnl)


def paper_account_state(account: VenueAccount, mark: PaperMark | None) -> PaperAccountState:
    """The account valued at `mark` (None: no quote yet — an open position is then held at its entry price,
    which the terms say)."""
    perp = _leg(account) == "perpetual"
    currency = "USDT" if perp else "USD"
    book = _book(account)
    fees = PaperOrder.objects.filter(account=account).aggregate(total=Sum("fee"))["total"] or ZERO
    carry = (
        CarryEntry.objects.filter(account=account, currency=currency).aggregate(total=Sum("amount"))["total"] or ZERO
    )
    balance = paper_capital() + book.realised - fees + carry
    terms: dict[str, Any] = {"source": "paper"}
    if mark is None and book.quantity_oz != 0 and book.avg_price is not None:
        mark = PaperMark(book.avg_price, book.avg_price)
        terms["mark"] = "entry"  # no quote yet: held at its entry price
    elif mark is not None and mark.at is not None:
        terms["mark_at"] = mark.at.isoformat()
    if perp:
        return _perp_state(account, book, balance, mark, terms)
    return _cfd_state(account, book, balance, mark, terms)


def _perp_state(
    account: VenueAccount, book: PaperBook, balance: Decimal, mark: PaperMark | None, terms: dict[str, Any]
) -> PaperAccountState:
    leverage = paper_perp_leverage(account)
    brackets, configured = paper_brackets()
    mark_price = None if mark is None else mark.mid
    notional = rules.position_notional(quantity=book.quantity_oz, mark_price=mark_price or ZERO)
    terms.update(rule="binance_brackets", leverage=leverage, brackets="configured" if configured else "default")
    try:
        used = rules.binance_initial_margin(notional=notional, leverage=leverage, brackets=brackets)
        maintenance = rules.binance_maintenance_margin(notional=notional, brackets=brackets)
        terms["effective_leverage"] = (
            rules.effective_leverage(brackets, notional=notional, leverage=leverage) if notional else leverage
        )
    except rules.MarginError:
        # Past the last bracket the venue would have refused the position; margin it at the last bracket's terms.
        last = brackets[-1]
        effective = min(leverage, last.initial_leverage)
        used = notional / Decimal(effective)
        maintenance = notional * last.maint_margin_ratio - last.cum
        terms.update(effective_leverage=effective, beyond_brackets=True)
    terms["maintenance_margin"] = str(maintenance.quantize(MONEY))
    unrealised = ZERO if mark_price is None else book.unrealised(mark_price)
    return PaperAccountState("USDT", balance, unrealised, used, book.quantity_oz, book.avg_price, mark_price, terms)


def _cfd_state(
    account: VenueAccount, book: PaperBook, balance: Decimal, mark: PaperMark | None, terms: dict[str, Any]
) -> PaperAccountState:
    spec, leverage = paper_cfd_terms(account)
    terms.update(
        rule="mt5",
        calc_mode=spec.calc_mode.name,
        leverage=leverage,
        margin_rate=str(spec.margin_rate_buy),
        contract_size=str(spec.contract_size),
    )
    long = book.quantity_oz > 0
    if mark is None or book.quantity_oz == 0:
        return PaperAccountState("USD", balance, ZERO, ZERO, book.quantity_oz, book.avg_price, None, terms)
    closing = mark.bid if long else mark.ask  # what would close it
    opening = mark.ask if long else mark.bid  # what a position of this side is margined at
    used = rules.mt5_margin_in_account_currency(
        spec=spec,
        lots=abs(book.quantity_oz) / spec.contract_size,
        buy=long,
        price=opening,
        account_leverage=leverage,
        account_currency="USD",
    )
    return PaperAccountState(
        "USD", balance, book.unrealised(closing), used, book.quantity_oz, book.avg_price, closing, terms
    )


def paper_account_snapshot(*, account: VenueAccount, at: datetime, mark: PaperMark | None) -> AccountSnapshot:
    """Record the account's state at `mark` as its latest snapshot (the accounts page, the API and the margin
    alerts read it)."""
    state = paper_account_state(account, mark)
    instrument = _instrument(account)
    level = state.margin_level
    positions = []
    if state.position_oz != 0:
        positions.append(
            {
                "symbol": instrument.symbol if instrument is not None else "",
                "quantity": str(state.position_oz),
                "entry_price": None if state.avg_price is None else str(state.avg_price),
                "mark_price": None if state.mark_price is None else str(state.mark_price.quantize(MONEY)),
                "unrealised": str(state.unrealised.quantize(MONEY)),
                "liquidation_price": None,
            }
        )
    return AccountSnapshot.objects.create(
        account=account,
        tenant_id=account.tenant_id,
        at=at,
        currency=state.currency,
        balance=state.balance.quantize(MONEY),
        equity=state.equity.quantize(MONEY),
        used_margin=state.used_margin.quantize(MONEY),
        margin_level=None if level is None else level.quantize(LEVEL),
        positions=positions,
        margin_terms=state.terms,
    )
