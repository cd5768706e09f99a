"""Create (or update) a demo tenant with one user per role and the simulated gold pair. Idempotent."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.text import slugify
from guardian.shortcuts import assign_perm

from accounts.choices import AccountMode, Role, UserStatus
from accounts.models import AccountPool, Tenant, User, VenueAccount
from accounts.services import desk_create, membership_set, user_create
from accounts.venue_kinds import Venue
from quantarb.management.demo_history import seed_demo_history
from strategies.domain.params import FundingSource, StopPolicy, StrategyParams
from strategies.models import Strategy
from strategies.services import strategy_create
from trading.models import Instrument, PairAccess, QuoteSource, SourcePair

DEFAULT_PASSWORD = "quantarb-demo"  # noqa: S105 (the documented demo password, printed on seeding)


class Command(BaseCommand):
    help = (
        "Seed a demo tenant, its users (<slug>-admin, -trader, -analyst, -viewer, -compliance) and the simulated pair."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--tenant-slug", default="demo")
        parser.add_argument("--password", default=None, help="Set this password for the tenant's demo users.")
        parser.add_argument(
            "--no-history",
            action="store_true",
            help="Leave out the thirty days of past hedges, cash flows and equity (a desk with an empty ledger).",
        )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        slug = slugify(options["tenant_slug"])
        if not slug:
            raise CommandError("--tenant-slug must contain letters or digits")
        password = options["password"]
        tenant = Tenant.objects.filter(slug=slug).first() or desk_create(
            tenant=Tenant(slug=slug, name=f"{slug.title()} desk"), actor=None
        )
        for role in Role:
            username = f"{slug}-{role.value}"
            # No demo user is staff or superuser: the admin opens to demo-admin and demo-compliance through their
            # role, scoped to the demo tenant. New users and memberships go through the services (audited).
            user = User.objects.filter(username=username).first()
            if user is None:
                user = user_create(username=username, password=password or DEFAULT_PASSWORD, tenant=tenant, actor=None)
            elif password:
                user.set_password(password)
                user.status = UserStatus.ACTIVE
                user.save()
            membership_set(user=user, tenant=tenant, role=role, actor=None)
        pair = self._simulated_pair()
        PairAccess.objects.get_or_create(tenant=tenant, pair=pair)
        self._demo_pool(tenant, slug)
        self._demo_strategy(tenant)
        if not options["no_history"]:
            self._demo_history(tenant, pair)
        shown = password or DEFAULT_PASSWORD
        self.stdout.write(self.style.SUCCESS(f"Demo tenant '{tenant.slug}' is ready."))
        self.stdout.write(f"Log in at http://127.0.0.1:8000/accounts/login/ as {slug}-trader (or -admin, -analyst,")
        self.stdout.write(
            f"-viewer, -compliance) with the password: {shown if (password or created_any(slug)) else '(unchanged)'}"
        )

    @staticmethod
    def _demo_pool(tenant: Tenant, slug: str) -> None:
        """Two simulated paper accounts held by the demo trader, paired in an enabled pool the trader may operate
        (created once; an operator's later changes are kept)."""
        if VenueAccount.objects.filter(tenant=tenant).exists():
            return
        trader = User.objects.get(username=f"{slug}-trader")
        perp = VenueAccount.objects.create(
            tenant=tenant, owner=trader, venue=Venue.SIMULATED_PERP, label="Sim perp", mode=AccountMode.PAPER
        )
        cfd = VenueAccount.objects.create(
            tenant=tenant, owner=trader, venue=Venue.SIMULATED_CFD, label="Sim CFD", mode=AccountMode.PAPER
        )
        pool = AccountPool.objects.create(
            tenant=tenant,
            name="Demo pool",
            perp_account=perp,
            cfd_account=cfd,
            perp_allocation=Decimal("50000"),
            cfd_allocation=Decimal("50000"),
        )
        assign_perm("accounts.operate_accountpool", trader, pool)

    @staticmethod
    def _demo_strategy(tenant: Tenant) -> None:
        """A stopped paper strategy on the demo pool, tuned to the simulated market's dislocations so that, once
        started, it opens and closes hedges within a few minutes (created once)."""

        pool = AccountPool.objects.filter(tenant=tenant, name="Demo pool").first()
        if pool is None or Strategy.objects.filter(tenant=tenant).exists():
            return
        params = StrategyParams(
            entry_threshold=Decimal("1.20"),
            exit_threshold=Decimal("1.00"),
            expected_holding_hours=Decimal(1),
            size_oz=Decimal(1),
            max_open_hedges=2,
            max_position_oz=Decimal(2),
            cooldown_seconds=20,
            funding_source=FundingSource.FIXED,
            funding_rate_fixed=Decimal("0.0001"),
            time_stop_minutes=30,
            loss_limit_usd=Decimal(200),
            stop_policy=StopPolicy.FLATTEN,
        )
        strategy_create(
            tenant=tenant, name="Demo basis", pool=pool, mode="paper", params=params, actor=None, note="seeded demo"
        )

    def _demo_history(self, tenant: Tenant, pair: SourcePair) -> None:
        """Thirty days of history for the Reports page (created once): each demo account's starting capital as a
        booked deposit, a withdrawal, closed paper hedges of the demo strategy with their fills, carry and the
        spread samples they were priced from, and the equity series back-filled from them."""

        created = seed_demo_history(tenant=tenant, pair=pair)
        if created:
            self.stdout.write(f"Demo history: {created['hedges']} closed hedges, {created['points']} equity points.")

    @staticmethod
    def _simulated_pair() -> SourcePair:
        perp_instrument = Instrument.objects.get(venue=Venue.SIMULATED_PERP, symbol="XAUUSDT")
        cfd_instrument = Instrument.objects.get(venue=Venue.SIMULATED_CFD, symbol="XAUUSD.s")
        perp, _ = QuoteSource.objects.get_or_create(
            key="simulated-perp-xauusdt",
            defaults={"venue": Venue.SIMULATED_PERP, "instrument": perp_instrument, "label": "Perp XAUUSDT (sim)"},
        )
        cfd, _ = QuoteSource.objects.get_or_create(
            key="simulated-cfd-xauusd-s",
            defaults={"venue": Venue.SIMULATED_CFD, "instrument": cfd_instrument, "label": "MT5 XAUUSD.s (sim)"},
        )
        pair, _ = SourcePair.objects.get_or_create(
            perp_source=perp,
            cfd_source=cfd,
            defaults={"name": "XAUUSDT / XAUUSD.s (simulated)", "perp_fee_rate": Decimal("0.0002")},
        )
        return pair


def created_any(slug: str) -> bool:
    """Whether the demo users still have the default password (so it is worth printing)."""
    user = User.objects.filter(username=f"{slug}-trader").first()
    return bool(user and user.check_password(DEFAULT_PASSWORD))
