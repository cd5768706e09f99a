"""The venues' own books, and our books checked against them.

A reference for every hedge is computed here FROM THE VENUES' OWN RECORDS only — the fake Binance's trades
(`userTrades` rows), income (FUNDING_FEE) and BNBUSDT klines, the MT5 bridge fake's deals — never from our order
rows. A venue record belongs to a hedge through the client order id the venue holds for it (Binance's order
`clientOrderId`, the MT5 deal's or its order's `comment`), decoded with the id layout of ARCHITECTURE.md.

- fees: Binance `commission` (a BNB commission at the open of the trade's BNBUSDT minute, read from the venue's
  public klines); MT5 `−(commission + fee)` of each deal;
- funding: each FUNDING_FEE income split among the hedges by their perp positions (from the venue's trades before
  the income's funding time), signed pro rata — computed here independently of the product's apportionment;
- swap: the `swap` of each MT5 deal (a closing deal carries its position's) plus that of positions still open;
- spread capture (closed hedges, USDT valued at `usd_per_usdt`): Σ −signed quantity · price over both legs;
- USDT/USD, when the rate moved (`HedgeBook.pnl_lines_at`, given the rate feed's observations by venue time): every
  USDT flow (perp trades, perp fees, funding) valued at the rate of its own moment in its line, and revalued to the
  rate of the hedge's last trade in `fx`, Σ c_i · (r_exit − r_i).

`read_venue_books` reads the records; `assert_fills_match_venues` checks our fills against the trades and deals one
to one; `assert_hedges_match_venues` checks each hedge's booked lines against its reference to the cent. A test
driving many hedges with faults calls the same three.
"""

from __future__ import annotations

import json
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import Any

from tests.fakes.fixtures import BinanceFake, Mt5BridgeFake
from trading.domain.clientids import parse_client_order_id

ZERO = Decimal(0)
EXACT = Decimal("0.000001")  # what "equal" allows: far below a cent, above the 8 dp rounding of a split


@dataclass
class HedgeBook:
    """One hedge as the venues recorded it. Money in the venue's currency: perp USDT, CFD the MT5 account's."""

    hedge_id: int
    perp_fees: Decimal = ZERO
    cfd_fees: Decimal = ZERO
    funding: Decimal = ZERO
    swap: Decimal = ZERO
    perp_flow: Decimal = ZERO  # Σ −signed oz · price (USDT)
    cfd_flow: Decimal = ZERO  # Σ −signed oz · price (USD)
    perp_oz: Decimal = ZERO
    cfd_oz: Decimal = ZERO
    perp_trades: list[str] = field(default_factory=list)
    cfd_deals: list[str] = field(default_factory=list)
    # The USDT flows by venue time (ms), for valuing each at the USDT/USD rate of its moment: trades as
    # (time, −signed oz · price, commission in USDT), funding as (time, amount).
    perp_flows: list[tuple[int, Decimal, Decimal]] = field(default_factory=list)
    funding_flows: list[tuple[int, Decimal]] = field(default_factory=list)

    def pnl_lines(self, usd_per_usdt: Decimal = Decimal(1)) -> dict[str, Decimal]:
        """The PnL split of a hedge whose legs are flat, everything valued at one USDT/USD rate."""
        with localcontext(prec=60):
            return {
                "spread": self.perp_flow * usd_per_usdt + self.cfd_flow,
                "fees": -(self.perp_fees * usd_per_usdt + self.cfd_fees),
                "funding": self.funding * usd_per_usdt,
                "swap": self.swap,
            }

    def pnl_lines_at(self, rate_at: Callable[[int], Decimal]) -> dict[str, Decimal]:
        """The PnL split of a flat hedge with the USDT/USD rate moving: `rate_at(ms)` is the rate in force at a venue
        time. Each USDT flow counts at its own moment's rate in its line; `fx` revalues them all to the rate of the
        hedge's last perp trade (the rate its closing orders were priced at)."""
        exit_rate = rate_at(max(ts for ts, _flow, _fee in self.perp_flows)) if self.perp_flows else Decimal(1)
        with localcontext(prec=60):
            spread, fees, funding, fx = self.cfd_flow, -self.cfd_fees, ZERO, ZERO
            for ts, flow, fee in self.perp_flows:
                rate = rate_at(ts)
                spread += flow * rate
                fees -= fee * rate
                fx += (flow - fee) * (exit_rate - rate)
            for ts, amount in self.funding_flows:
                rate = rate_at(ts)
                funding += amount * rate
                fx += amount * (exit_rate - rate)
            return {"spread": spread, "fees": fees, "funding": funding, "swap": self.swap, "fx": fx}


@dataclass
class VenueBooks:
    hedges: dict[int, HedgeBook]
    # venue fill id → (hedge id or None, quantity oz, price, fee in the leg's booked currency)
    perp_trades: dict[str, tuple[int | None, Decimal, Decimal, Decimal]]
    cfd_deals: dict[str, tuple[int | None, Decimal, Decimal, Decimal]]
    funding_total: Decimal
    funding_unattributed: Decimal


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - loopback only
        return json.loads(answer.read())


def _hedge_of(client_order_id: str) -> int | None:
    key = parse_client_order_id(client_order_id)
    return key.hedge_id if key is not None else None


def _bnb_open(binance: BinanceFake, ts_ms: int, cache: dict[int, Decimal]) -> Decimal:
    """BNBUSDT at the open of the trade's minute, from the venue's public klines."""
    minute = ts_ms - ts_ms % 60_000
    if minute not in cache:
        rows = _get_json(f"{binance.rest_url}/fapi/v1/klines?symbol=BNBUSDT&interval=1m&startTime={minute}&limit=1")
        cache[minute] = Decimal(str(rows[0][1]))
    return cache[minute]


def read_venue_books(binance: BinanceFake, mt5: Mt5BridgeFake, *, contract_size: Decimal = Decimal(100)) -> VenueBooks:
    """Every hedge's reference from the venues' records (see the module)."""
    hedges: dict[int, HedgeBook] = {}

    def book(hedge_id: int) -> HedgeBook:
        return hedges.setdefault(hedge_id, HedgeBook(hedge_id))

    # --- Binance: trades by order, the order's client id names the hedge
    records = binance.records()
    orders = {int(order["orderId"]): order for order in binance.state()["orders"]}
    prices: dict[int, Decimal] = {}
    perp_trades: dict[str, tuple[int | None, Decimal, Decimal, Decimal]] = {}
    timeline: list[tuple[int, int | None, Decimal]] = []  # (time, hedge, signed oz) for the funding split
    for trade in records["trades"]:
        order = orders[int(trade["orderId"])]
        hedge_id = _hedge_of(str(order["clientOrderId"]))
        qty, price = Decimal(trade["qty"]), Decimal(trade["price"])
        signed = qty if trade["side"] == "BUY" else -qty
        commission = Decimal(trade["commission"])
        if trade["commissionAsset"] != "USDT":
            commission = commission * _bnb_open(binance, int(trade["time"]), prices)
        perp_trades[str(trade["id"])] = (hedge_id, qty, price, commission)
        timeline.append((int(trade["time"]), hedge_id, signed))
        if hedge_id is not None:
            entry = book(hedge_id)
            entry.perp_fees += commission
            entry.perp_flow += -signed * price
            entry.perp_oz += signed
            entry.perp_trades.append(str(trade["id"]))
            entry.perp_flows.append((int(trade["time"]), -signed * price, commission))

    # --- Binance: each funding payment split among the holders at its funding time
    funding_total = unattributed = ZERO
    for income in records["incomes"]:
        if income["incomeType"] != "FUNDING_FEE":
            continue
        amount, at = Decimal(income["income"]), int(income["time"])
        funding_total += amount
        held: dict[int | None, Decimal] = defaultdict(Decimal)
        for ts, hedge_id, signed in timeline:
            if ts < at:
                held[hedge_id] += signed
        ours = {hedge_id: oz for hedge_id, oz in held.items() if hedge_id is not None and oz != 0}
        net = sum(ours.values(), ZERO)
        if net == 0:
            unattributed += amount
            continue
        with localcontext(prec=60):
            for hedge_id, oz in ours.items():
                share = amount * oz / net
                book(hedge_id).funding += share
                book(hedge_id).funding_flows.append((at, share))

    # --- MT5: deals by the client id in their comment (or their order's)
    state = mt5.state()
    mt5_orders = {int(dict(row)["ticket"]): dict(row) for row in state["orders"]}
    cfd_deals: dict[str, tuple[int | None, Decimal, Decimal, Decimal]] = {}
    for raw in state["deals"]:
        deal = dict(raw)
        if int(deal["type"]) not in (0, 1):
            continue
        comment = str(deal["comment"]) or str(mt5_orders.get(int(deal["order"]), {}).get("comment", ""))
        hedge_id = _hedge_of(comment)
        if hedge_id is None and int(deal["order"]) in mt5_orders:
            hedge_id = _hedge_of(str(mt5_orders[int(deal["order"])]["comment"]))
        oz = (Decimal(str(deal["volume"])) * contract_size).quantize(Decimal("0.001"))
        price = Decimal(str(deal["price"]))
        fee = -(Decimal(str(deal["commission"])) + Decimal(str(deal["fee"])))
        cfd_deals[str(deal["ticket"])] = (hedge_id, oz, price, fee)
        if hedge_id is not None:
            entry = book(hedge_id)
            signed = oz if int(deal["type"]) == 0 else -oz
            entry.cfd_fees += fee
            entry.cfd_flow += -signed * price
            entry.cfd_oz += signed
            entry.swap += Decimal(str(deal["swap"]))
            entry.cfd_deals.append(str(deal["ticket"]))
    for raw in state["positions"]:
        position = dict(raw)
        hedge_id = _hedge_of(str(position["comment"]))
        if hedge_id is not None:
            book(hedge_id).swap += Decimal(str(position["swap"]))
    return VenueBooks(hedges, perp_trades, cfd_deals, funding_total, unattributed)


def assert_fills_match_venues(books: VenueBooks, *, perp_account_id: int, cfd_account_id: int) -> None:
    """Our fills equal the venues' trades and deals one to one: the same ids, each with the venue's quantity, price
    and fee (in the leg's booked currency), on an order of the hedge the venue's client id names."""
    from trading.models import Fill

    for account_id, venue, kind in (
        (perp_account_id, books.perp_trades, "Binance trade"),
        (cfd_account_id, books.cfd_deals, "MT5 deal"),
    ):
        ours = {fill.fill_id: fill for fill in Fill.objects.filter(account_id=account_id).select_related("order")}
        missing, extra = sorted(set(venue) - set(ours)), sorted(set(ours) - set(venue))
        assert not missing and not extra, f"{kind}s: missing from our fills {missing}, not at the venue {extra}"
        for fill_id, (hedge_id, qty, price, fee) in venue.items():
            fill = ours[fill_id]
            assert (fill.quantity, fill.price) == (qty, price), f"{kind} {fill_id}: {fill.quantity}@{fill.price}"
            assert abs(fill.fee - fee) <= EXACT, f"{kind} {fill_id}: fee {fill.fee} against the venue's {fee}"
            assert fill.order.hedge_id == hedge_id, f"{kind} {fill_id} is on hedge {fill.order.hedge_id}"


def assert_hedges_match_venues(
    books: VenueBooks,
    hedge_ids: list[int],
    *,
    usd_per_usdt: Decimal = Decimal(1),
    rate_at: Callable[[int], Decimal] | None = None,
    closed_only: bool = True,
) -> dict[int, dict[str, tuple[Decimal, Decimal]]]:
    """Each hedge's booked fees, funding and swap (and, once flat, spread capture — and the USDT/USD line when the
    rate moved: `rate_at`, the rate feed by venue time) equal its reference from the venues' records to the cent.
    Returns, per hedge, each line as (ours, the venues')."""
    from trading.models import Hedge

    compared: dict[int, dict[str, tuple[Decimal, Decimal]]] = {}
    for hedge in Hedge.objects.filter(pk__in=hedge_ids).order_by("pk"):
        venue_book = books.hedges.get(hedge.pk, HedgeBook(hedge.pk))
        reference = venue_book.pnl_lines(usd_per_usdt) if rate_at is None else venue_book.pnl_lines_at(rate_at)
        ours = {"fees": hedge.pnl_fees, "funding": hedge.pnl_funding, "swap": hedge.pnl_swap}
        flat = hedge.perp_oz == 0 and hedge.cfd_oz == 0
        if flat or not closed_only:
            ours["spread"] = hedge.pnl_spread
            if rate_at is not None:
                ours["fx"] = hedge.pnl_fx
        lines = {name: (value, reference[name]) for name, value in ours.items()}
        compared[hedge.pk] = lines
        for name, (value, expected) in lines.items():
            # Far inside a cent: what is left is the 8 dp rounding of booked amounts against the exact reference.
            assert abs(value - expected) <= EXACT, f"hedge {hedge.pk} {name}: ours {value}, the venues' {expected}"
    return compared


def assert_orders_match_venues(
    binance: BinanceFake, mt5: Mt5BridgeFake, *, perp_account_id: int, cfd_account_id: int
) -> dict[str, int]:
    """0 duplicate and 0 lost orders: no client order id reached a venue twice; every order the venues hold is an
    order of ours and every order of ours the venue did not refuse is at the venue, with the quantity the venue
    filled; none of ours is left unknown. Returns the counts compared, per venue."""
    from collections import Counter

    from trading.models import Order

    ours_by_leg = {
        "perp": {order.client_order_id: order for order in Order.objects.filter(account_id=perp_account_id)},
        "cfd": {order.client_order_id: order for order in Order.objects.filter(account_id=cfd_account_id)},
    }
    # Binance: its orders by client id, each with what it executed.
    perp_orders = binance.state()["orders"]
    perp_ids = Counter(str(order["clientOrderId"]) for order in perp_orders)
    perp_filled = {str(order["clientOrderId"]): Decimal(order["executedQty"]) for order in perp_orders}
    # MT5: the terminal's orders by the client id in their comment, each with the volume its deals executed.
    state = mt5.state()
    mt5_orders = [dict(row) for row in state["orders"]]
    cfd_ids = Counter(str(order["comment"]) for order in mt5_orders)
    by_ticket = {int(order["ticket"]): str(order["comment"]) for order in mt5_orders}
    cfd_filled: dict[str, Decimal] = defaultdict(Decimal)
    for raw in state["deals"]:
        deal = dict(raw)
        if int(deal["type"]) in (0, 1) and int(deal["order"]) in by_ticket:
            oz = (Decimal(str(deal["volume"])) * Decimal(100)).quantize(Decimal("0.001"))
            cfd_filled[by_ticket[int(deal["order"])]] += oz
    for leg, counts, filled in (("perp", perp_ids, perp_filled), ("cfd", cfd_ids, cfd_filled)):
        duplicated = sorted(cid for cid, n in counts.items() if n > 1)
        assert not duplicated, f"{leg}: client order ids sent to the venue more than once: {duplicated}"
        ours = ours_by_leg[leg]
        unknown = sorted(cid for cid, order in ours.items() if order.status == "unknown")
        assert not unknown, f"{leg}: orders of ours left unknown: {unknown}"
        foreign = sorted(set(counts) - set(ours))
        assert not foreign, f"{leg}: orders at the venue that are not ours: {foreign}"
        lost = sorted(cid for cid, order in ours.items() if order.status != "rejected" and cid not in counts)
        assert not lost, f"{leg}: orders of ours the venue does not hold: {[(c, ours[c].status) for c in lost]}"
        refused_but_there = sorted(cid for cid, order in ours.items() if order.status == "rejected" and cid in counts)
        assert not refused_but_there, f"{leg}: orders we hold as rejected that the venue holds: {refused_but_there}"
        for cid, order in ours.items():
            if cid in counts:
                assert order.filled == filled.get(cid, ZERO), (
                    f"{leg} order {cid}: we hold {order.filled} oz filled ({order.status}), the venue {filled.get(cid)}"
                )
    return {"perp": len(perp_ids), "cfd": len(cfd_ids)}
