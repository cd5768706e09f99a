"""The values a venue account or a pool is saved from, and the rules about them that need the tenant or the
database. The portal's forms (`clean`) and the API's serializers (`validate`) both call these rules, so one rule
answers with one message on both surfaces; the services in venue_services.py take the values.

A rule answers `Problems`: field name → messages. Credential fields (and an account's terminal) are named plainly
(`api_key`, `terminal`); the API nests them under `credentials`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Model, Q
from django.utils.translation import gettext as _

from .choices import AccountMode, AccountStatus, MarginType
from .models import AccountPool, Tenant, User, VenueAccount
from .venue_kinds import Venue, api_key_problem, endpoint_override_errors, spec_for

_MT5_LOGIN = re.compile(r"^[0-9]{1,20}$")
SECRET_FIELDS = ("api_key", "api_secret", "login", "password", "server")
POOL_FIELDS = (
    "name",
    "perp_account",
    "cfd_account",
    "perp_allocation",
    "cfd_allocation",
    "perp_margin_type",
    "perp_leverage",
    "enabled",
)


class Problems(dict[str, list[str]]):
    """What is wrong, by field; empty when nothing is."""

    def add(self, name: str, message: Any) -> None:
        self.setdefault(name, []).append(str(message))


@dataclass(frozen=True)
class AccountValues:
    """A venue account as validated. `credentials` holds only the secrets given (non-empty): each replaces the
    stored one, the others are kept. `terminal` is an mt5ops terminal of the tenant (MT5 accounts only)."""

    label: str
    venue: str
    owner: User
    mode: str = AccountMode.PAPER
    status: str = AccountStatus.ACTIVE
    terminal: Model | None = None
    rest_endpoint: str = ""
    ws_endpoint: str = ""
    binance_testnet: bool = False
    credentials: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, account: VenueAccount) -> dict[str, Any]:
        """The stored account's values (no secrets: none given keeps them all), what a partial update starts from."""
        return {
            "label": account.label,
            "venue": account.venue,
            "owner": account.owner,
            "mode": account.mode,
            "status": account.status,
            "terminal": account.terminal,
            "rest_endpoint": account.rest_endpoint,
            "ws_endpoint": account.ws_endpoint,
            "binance_testnet": account.binance_testnet,
            "credentials": {},
        }


@dataclass(frozen=True)
class PoolValues:
    """An account pool as validated."""

    name: str
    perp_account: VenueAccount
    cfd_account: VenueAccount
    perp_allocation: Decimal
    cfd_allocation: Decimal
    perp_margin_type: str = MarginType.CROSS
    perp_leverage: int = 5
    enabled: bool = True

    @classmethod
    def of(cls, pool: AccountPool) -> dict[str, Any]:
        """The stored pool's values, what a partial update starts from."""
        return {name: getattr(pool, name) for name in POOL_FIELDS}


def _id(instance: Model | None) -> Any:
    return instance.pk if instance is not None else None


def account_problems(
    *, tenant: Tenant, account: VenueAccount | None, values: Mapping[str, Any], failed: Collection[str] = ()
) -> Problems:
    """The rules of an account as a whole. `values` holds what passed its field's own checks (`failed` names the
    fields that did not: their rules are skipped); `account` is the stored one (None: a new account)."""
    problems = Problems()

    def wrong(name: str) -> bool:
        return name in failed or name in problems

    label = values.get("label")
    accounts = VenueAccount.objects.filter(tenant=tenant, label=label).exclude(pk=_id(account))
    if label is not None and not wrong("label") and accounts.exists():
        problems.add("label", _("Another account of this tenant already has this label."))
    venue = str(values.get("venue") or "").strip()
    if wrong("venue") or not venue:
        return problems
    spec = spec_for(venue)
    if spec is None:
        problems.add(
            "venue",
            _(
                "Unknown venue “%(venue)s”: choose binance-usdm, bybit-mt5, simulated-perp, simulated-cfd or "
                "ccxt:<exchange id> (an exchange ccxt knows)."
            )
            % {"venue": venue[:64]},
        )
        return problems
    if spec.simulated and values.get("mode") == AccountMode.LIVE:
        problems.add("mode", _("A simulated venue trades on paper only."))
    _endpoint_problems(problems, venue, values, failed)
    stored = (account.credentials or {}) if account is not None else {}
    given_secrets = values.get("credentials") or {}
    given = {name: given_secrets.get(name) or "" for name in SECRET_FIELDS}
    terminal = values.get("terminal")
    if spec.credentials == "none":
        for name, value in given.items():
            if value:
                problems.add(name, _("Simulated venues take no credentials."))
        if terminal:
            problems.add("terminal", _("Only MT5 accounts run in a terminal."))
        return problems
    wanted: tuple[str, ...]
    if spec.credentials == "api_key":
        for name in ("login", "password", "server"):
            if given[name]:
                problems.add(name, _("This venue takes an API key and secret, not MT5 details."))
        if terminal:
            problems.add("terminal", _("Only MT5 accounts run in a terminal."))
        wanted = ("api_key", "api_secret")
    else:
        for name in ("api_key", "api_secret"):
            if given[name]:
                problems.add(name, _("MT5 accounts take a login, password and server, not an API key."))
        if given["login"] and not _MT5_LOGIN.match(given["login"]):
            problems.add("login", _("An MT5 login is a number (digits only)."))
        if not terminal and not wrong("terminal"):
            problems.add("terminal", _("Choose the MT5 terminal this account runs in."))
        wanted = ("login", "password", "server")
    for name in wanted:
        if not given[name] and not stored.get(name):
            problems.add(name, _("Required for this venue."))
    if spec.credentials == "api_key":
        for name in ("api_key", "api_secret"):
            kind = api_key_problem(venue, given[name]) if given[name] else None
            if kind:
                problems.add(
                    name,
                    _("A Binance API key or secret is 64 letters and digits.")
                    if kind == "binance"
                    else _("Use 8–256 printable characters without spaces."),
                )
    return problems


def _endpoint_problems(problems: Problems, venue: str, values: Mapping[str, Any], failed: Collection[str]) -> None:
    rest, ws = values.get("rest_endpoint") or "", values.get("ws_endpoint") or ""
    if values.get("binance_testnet"):
        if venue != Venue.BINANCE_USDM:
            problems.add("binance_testnet", _("Only Binance accounts can use Binance's futures testnet."))
        elif rest or ws:
            problems.add(
                "binance_testnet",
                _("The testnet has its own hosts: clear the endpoint override, or turn the testnet off."),
            )
    if "rest_endpoint" in failed or "ws_endpoint" in failed:
        return
    # The same rule as a quote source's endpoint (accounts/venue_kinds.py).
    for name, message in endpoint_override_errors(venue=venue, rest=rest, ws=ws).items():
        problems.add(name, message)


def credentials_merged(*, venue: str, stored: Mapping[str, str], given: Mapping[str, str]) -> dict[str, str] | None:
    """The credentials an account of `venue` keeps: each secret given replaces the stored one, the others stay;
    None for a venue that takes none."""
    spec = spec_for(venue)
    if spec is None or spec.credentials == "none":
        return None
    wanted = ("api_key", "api_secret") if spec.credentials == "api_key" else ("login", "password", "server")
    merged = {name: stored.get(name, "") for name in wanted}
    merged.update({name: given[name] for name in wanted if given.get(name)})
    return merged


def pool_problems(
    *, tenant: Tenant, pool: AccountPool | None, values: Mapping[str, Any], failed: Collection[str] = ()
) -> Problems:
    """The rules of a pool as a whole: a unique name, a perpetual and a CFD leg of one kind and mode, each leg in at
    most one enabled pool, capital on both legs of an enabled pool. As `account_problems`, `failed` fields are
    skipped."""
    problems = Problems()

    def wrong(name: str) -> bool:
        return name in failed or name in problems

    name = values.get("name")
    pools = AccountPool.objects.filter(tenant=tenant, name=name).exclude(pk=_id(pool))
    if name is not None and not wrong("name") and pools.exists():
        problems.add("name", _("Another pool of this tenant already has this name."))
    perp = None if wrong("perp_account") else values.get("perp_account")
    cfd = None if wrong("cfd_account") else values.get("cfd_account")
    perp_spec = spec_for(perp.venue) if perp else None
    cfd_spec = spec_for(cfd.venue) if cfd else None
    if perp_spec and perp_spec.leg != "perpetual":
        problems.add(
            "perp_account", _("%(account)s is a CFD account: choose a perpetual account here.") % {"account": perp}
        )
        perp_spec = None
    if cfd_spec and cfd_spec.leg != "cfd":
        problems.add(
            "cfd_account",
            _("%(account)s is a perpetual account: choose an MT5 (CFD) account here.") % {"account": cfd},
        )
        cfd_spec = None
    if perp is not None and cfd is not None and perp_spec and cfd_spec:
        if perp_spec.simulated != cfd_spec.simulated:
            problems.add(
                "cfd_account",
                _("A simulated account pairs only with a simulated account, a real one with a real one."),
            )
        elif perp.mode != cfd.mode:
            problems.add("cfd_account", _("Both legs must trade in the same mode (paper or live)."))
    if values.get("enabled"):
        for leg, account in (("perp_account", perp), ("cfd_account", cfd)):
            if account is None or wrong(leg):
                continue
            other = (
                AccountPool.objects.filter(enabled=True)
                .filter(Q(perp_account=account) | Q(cfd_account=account))
                .exclude(pk=_id(pool))
                .first()
            )
            if other is not None:
                problems.add(
                    leg,
                    _("%(account)s is already in the enabled pool %(pool)s: disable that pool first.")
                    % {"account": account, "pool": other},
                )
    for leg in ("perp_allocation", "cfd_allocation"):
        value = None if wrong(leg) else values.get(leg)
        if value is not None and value <= Decimal(0) and values.get("enabled"):
            problems.add(leg, _("An enabled pool needs capital on both legs."))
    return problems
