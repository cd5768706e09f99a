"""factory-boy factories for the object graphs the tests build most often: a tenant, a user and their membership (the
personas of tests/conftest.py), venue accounts, an account pool with its two accounts, a strategy (created through
`strategy_create`, so it has its first version and audit entry), and a hedge with its two orders and their fills.

Every factory takes the fields it sets as keyword arguments, and a related object's fields with factory-boy's `__`
(`AccountPoolFactory(tenant=t, owner=u, perp_account__label="Sim perp")`); the pool's accounts belong to the pool's
tenant and owner unless given.
"""

from __future__ import annotations

# mypy: disable-error-code="no-untyped-call"
# (factory-boy's declarations are not annotated; what the factories make is, through `create`.)
from datetime import datetime
from decimal import Decimal
from typing import Any

from factory.declarations import LazyAttribute, LazyFunction, SelfAttribute, Sequence, SubFactory
from factory.django import DjangoModelFactory, Password

from accounts.models import AccountPool, Membership, Tenant, User, VenueAccount
from quantarb import clock
from strategies.domain.params import FundingSource, StrategyParams
from strategies.models import Strategy
from strategies.services import strategy_create
from trading.models import Fill, Hedge, Order

PASSWORD = "correct horse battery staple 1"


class TenantFactory(DjangoModelFactory[Tenant]):
    """A tenant; one with the slug already there is reused (the personas of a tenant share it)."""

    class Meta:
        model = Tenant
        django_get_or_create = ("slug",)

    slug = Sequence(lambda n: f"tenant-{n}")
    name = LazyAttribute(lambda o: o.slug.title())


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User

    username = Sequence(lambda n: f"user-{n}")
    password = Password(PASSWORD)


class MembershipFactory(DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    user = SubFactory(UserFactory)
    tenant = SubFactory(TenantFactory)
    role = "viewer"


class VenueAccountFactory(DjangoModelFactory[VenueAccount]):
    class Meta:
        model = VenueAccount

    tenant = SubFactory(TenantFactory)
    owner = SubFactory(UserFactory)
    venue = "simulated-perp"
    label = Sequence(lambda n: f"Account {n}")
    mode = "paper"


class AccountPoolFactory(DjangoModelFactory[AccountPool]):
    """A pool on a simulated perp account and a simulated CFD account, both the pool's tenant's, labelled after the
    pool ("<name> perp", "<name> cfd")."""

    class Meta:
        model = AccountPool

    class Params:
        owner = SubFactory(UserFactory)

    tenant = SubFactory(TenantFactory)
    name = Sequence(lambda n: f"Pool {n}")
    perp_account = SubFactory(
        VenueAccountFactory,
        tenant=SelfAttribute("..tenant"),
        owner=SelfAttribute("..owner"),
        venue="simulated-perp",
        label=LazyAttribute(lambda o: f"{o.factory_parent.name} perp"),
    )
    cfd_account = SubFactory(
        VenueAccountFactory,
        tenant=SelfAttribute("..tenant"),
        owner=SelfAttribute("..owner"),
        venue="simulated-cfd",
        label=LazyAttribute(lambda o: f"{o.factory_parent.name} cfd"),
    )
    perp_allocation = Decimal(10000)
    cfd_allocation = Decimal(10000)


def paper_params(**changes: Any) -> StrategyParams:
    """The parameters of the tests' paper strategy: enter at a net edge of 1.00, exit at 0.50, one ounce, one hedge
    at a time, no cooldown, a fixed funding rate, no session windows."""
    values: dict[str, Any] = {
        "entry_threshold": Decimal("1.00"),
        "exit_threshold": Decimal("0.50"),
        "size_oz": Decimal(1),
        "max_open_hedges": 1,
        "max_position_oz": Decimal(1),
        "cooldown_seconds": 0,
        "funding_source": FundingSource.FIXED,
        "funding_rate_fixed": Decimal("0.0001"),
        "no_entry_before_close_minutes": 0,
        "no_entry_after_open_minutes": 0,
        "flatten_before_close_minutes": 0,
    }
    values.update(changes)
    return StrategyParams(**values)


class StrategyFactory(DjangoModelFactory[Strategy]):
    """A strategy created the way the portal creates one (`strategy_create`: its first version, audited), on its
    pool, by `actor` (the pool's perp account's owner unless given)."""

    class Meta:
        model = Strategy

    pool = SubFactory(AccountPoolFactory)
    tenant = SelfAttribute("pool.tenant")
    actor = SelfAttribute("pool.perp_account.owner")
    name = Sequence(lambda n: f"Strategy {n}")
    mode = "paper"
    params = LazyFunction(paper_params)

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Strategy:
        return strategy_create(**kwargs)


class HedgeFactory(DjangoModelFactory[Hedge]):
    """An open sell-perp hedge of one ounce of `strategy` (on its pool, at its current version), planned and opened
    now on quantarb's clock, with the PnL figures given."""

    class Meta:
        model = Hedge

    strategy = SubFactory(StrategyFactory)
    tenant = SelfAttribute("strategy.tenant")
    pool = SelfAttribute("strategy.pool")
    strategy_version = SelfAttribute("strategy.current_version")
    direction = "sell_perp"
    status = "open"
    size_oz = Decimal(1)
    perp_oz = Decimal(-1)
    cfd_oz = Decimal(1)
    planned_at = LazyFunction(lambda: _now())
    opened_at = SelfAttribute("planned_at")


class OrderFactory(DjangoModelFactory[Order]):
    """A filled market order of one ounce, opening `hedge`'s `leg` on the pool's account of that leg."""

    class Meta:
        model = Order

    hedge = SubFactory(HedgeFactory)
    tenant = SelfAttribute("hedge.tenant")
    strategy = SelfAttribute("hedge.strategy")
    leg = "perp"
    account = LazyAttribute(lambda o: getattr(o.hedge.pool, f"{o.leg}_account"))
    intent = "open"
    client_order_id = LazyAttribute(lambda o: f"qa-test-{o.hedge.pk}-{o.leg}")
    side = "sell"
    kind = "market"
    quantity = Decimal(1)
    status = "filled"
    filled = SelfAttribute("quantity")
    avg_price = Decimal("4600")
    created_at = SelfAttribute("hedge.planned_at")


class FillFactory(DjangoModelFactory[Fill]):
    """The paper fill of all of `order` at its average price."""

    class Meta:
        model = Fill

    order = SubFactory(OrderFactory)
    tenant = SelfAttribute("order.tenant")
    account_id = SelfAttribute("order.account_id")
    fill_id = LazyAttribute(lambda o: f"F{o.order.pk}")
    quantity = SelfAttribute("order.filled")
    price = SelfAttribute("order.avg_price")
    source = "paper"
    at = SelfAttribute("order.created_at")


def hedge_with_orders(
    *, perp_price: Decimal = Decimal("4605.10"), cfd_price: Decimal = Decimal("4600.05"), **hedge: Any
) -> Hedge:
    """A hedge (HedgeFactory's fields) with both opening orders filled at the prices given, each with its fill: the
    perp sold, the CFD bought for a sell-perp hedge, the reverse for a buy-perp one."""
    made = HedgeFactory.create(**hedge)
    sell_perp = made.direction == "sell_perp"
    for leg, side, price in (
        ("perp", "sell" if sell_perp else "buy", perp_price),
        ("cfd", "buy" if sell_perp else "sell", cfd_price),
    ):
        FillFactory.create(order__hedge=made, order__leg=leg, order__side=side, order__avg_price=price)
    return made


def _now() -> datetime:
    return clock.now()
