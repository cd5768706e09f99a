"""Pools, snapshots and quotes for the risk centre's tests (risk/metrics.py reads them)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from accounts.models import AccountPool, AccountSnapshot
from tests.factories import AccountPoolFactory


def sample(pair: Any, at: datetime, *, perp: str, cfd: str, rate: str = "1", half_spread: str = "0.1") -> Any:
    """A spread sample with the perp and CFD mids given (bid/ask ± half_spread)."""
    from trading.models import SpreadSample

    p, c, h = Decimal(perp), Decimal(cfd), Decimal(half_spread)
    return SpreadSample.objects.create(
        pair=pair,
        ts=at,
        perp_bid=p - h,
        perp_ask=p + h,
        cfd_bid=c - h,
        cfd_ask=c + h,
        usd_per_usdt=Decimal(rate),
        edge_sell_perp=0,
        edge_buy_perp=0,
        net_sell_perp=0,
        net_buy_perp=0,
        basis=p - c,
    )


def pool(
    tenant: Any,
    owner: Any,
    name: str,
    *,
    cfd_venue: str = "simulated-cfd",
    cfd_mode: str = "paper",
    margin_type: str = "cross",
) -> AccountPool:
    """A pool of `tenant` on a simulated perp account and a CFD account of `cfd_venue` (`owner`'s, "<name> perp" and
    "<name> cfd"), 10 000 allocated to each."""
    return AccountPoolFactory.create(
        tenant=tenant,
        owner=owner,
        name=name,
        cfd_account__venue=cfd_venue,
        cfd_account__mode=cfd_mode,
        perp_allocation=10000,
        cfd_allocation=10000,
        perp_margin_type=margin_type,
    )


def snapshot(
    account: Any,
    at: datetime,
    *,
    currency: str,
    balance: str,
    equity: str,
    used_margin: str = "0",
    quantity: str | None = None,
    entry: str | None = None,
    mark: str | None = None,
    terms: dict[str, Any] | None = None,
) -> AccountSnapshot:
    positions = []
    if quantity is not None:
        positions.append({"symbol": "X", "quantity": quantity, "entry_price": entry, "mark_price": mark})
    used = Decimal(used_margin)
    return AccountSnapshot.objects.create(
        account=account,
        tenant_id=account.tenant_id,
        at=at,
        currency=currency,
        balance=Decimal(balance),
        equity=Decimal(equity),
        used_margin=used,
        margin_level=None if not used else Decimal(equity) / used * 100,
        positions=positions,
        margin_terms=terms or {},
    )
