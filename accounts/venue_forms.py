"""Validation of venue accounts and pools, shared by the portal's forms and the API (which feeds these forms).

Every rule answers with a message on the field it is about; nothing is saved unless everything is valid.
Credentials are write-only: the forms accept them, never render them back (password inputs, no initial value).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .choices import AccountMode, AccountStatus, Role
from .models import AccountPool, Membership, Tenant, User, VenueAccount
from .venue_kinds import CCXT_PREFIX, Venue, api_key_problem, endpoint_override_errors, spec_for, venue_choices

_MT5_LOGIN = re.compile(r"^[0-9]{1,20}$")
SECRET_FIELDS = ("api_key", "api_secret", "login", "password", "server")
# The longest credential each field takes; the API's serializer documents the same. Kept encrypted in a JSON column,
# so these bound what a venue issues, not a column: API keys (Binance's are 64 characters, others' longer), secrets
# up to a PEM-encoded private key, MT5 logins (digits), passwords and server names.
CREDENTIAL_MAX_LENGTH = {"api_key": 512, "api_secret": 4096, "login": 20, "password": 128, "server": 120}
CREDENTIAL_LABELS = {
    "api_key": _("API key"),
    "api_secret": _("API secret"),
    "login": _("MT5 login"),
    "password": _("MT5 password"),
    "server": _("MT5 server"),
}


def hint_rows(account: VenueAccount) -> list[tuple[str, str]]:
    """The masked hints of an account's credentials with their field names in the reader's language."""
    return [(str(CREDENTIAL_LABELS.get(name, name)), hint) for name, hint in account.credential_hints.items()]


def _secret_input() -> forms.PasswordInput:
    return forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"})


class VenueAccountForm(forms.ModelForm):  # type: ignore[type-arg]
    venue = forms.CharField(
        label=_("Venue"),
        max_length=64,
        help_text=_("binance-usdm, bybit-mt5, simulated-perp, simulated-cfd, or ccxt:<exchange id>."),
    )
    api_key = forms.CharField(
        label=_("API key"),
        required=False,
        strip=True,
        max_length=CREDENTIAL_MAX_LENGTH["api_key"],
        widget=_secret_input(),
    )
    api_secret = forms.CharField(
        label=_("API secret"),
        required=False,
        strip=True,
        max_length=CREDENTIAL_MAX_LENGTH["api_secret"],
        widget=_secret_input(),
    )
    login = forms.CharField(label=_("MT5 login"), required=False, strip=True, max_length=CREDENTIAL_MAX_LENGTH["login"])
    password = forms.CharField(
        label=_("MT5 password"),
        required=False,
        strip=False,
        max_length=CREDENTIAL_MAX_LENGTH["password"],
        widget=_secret_input(),
    )
    server = forms.CharField(
        label=_("MT5 server"), required=False, strip=True, max_length=CREDENTIAL_MAX_LENGTH["server"]
    )

    class Meta:
        model = VenueAccount
        fields = (
            "label",
            "venue",
            "mode",
            "owner",
            "status",
            "terminal",
            "rest_endpoint",
            "ws_endpoint",
            "binance_testnet",
        )

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        self.tenant = tenant
        super().__init__(*args, **kwargs)
        operators = Membership.objects.filter(tenant=tenant, role__in=[Role.ADMIN, Role.TRADER]).values("user_id")
        owner: Any = self.fields["owner"]
        owner.queryset = User.objects.filter(pk__in=operators).order_by("username")
        owner.help_text = _("The operator who holds this account (an admin or trader of the tenant).")
        terminal: Any = self.fields["terminal"]
        terminal.queryset = terminal.queryset.filter(tenant=tenant)  # the tenant's MT5 terminals (mt5ops)
        terminal.help_text = _("MT5 accounts only: the terminal instance the account runs in.")
        self.fields["venue"].widget.attrs["list"] = "venue-choices"
        self.venue_choices = venue_choices()
        if self.instance.pk:
            # The venue decides the leg and the credentials: an account never changes venue (create another).
            self.fields["venue"].disabled = True
            self.fields["login"].widget.attrs["placeholder"] = self.instance.credential_hints.get("login", "")
            for name in ("api_key", "api_secret", "password"):
                hint = self.instance.credential_hints.get(name)
                if hint:
                    self.fields[name].widget.attrs["placeholder"] = hint
                    self.fields[name].help_text = _("Stored. Leave empty to keep it.")
        else:
            self.fields["status"].required = False

    # -- fields
    def clean_venue(self) -> str:
        venue = str(self.cleaned_data["venue"]).strip()
        if spec_for(venue) is None:
            raise forms.ValidationError(
                _(
                    "Unknown venue “%(venue)s”: choose binance-usdm, bybit-mt5, simulated-perp, simulated-cfd or "
                    "ccxt:<exchange id> (an exchange ccxt knows)."
                ),
                code="unknown_venue",
                params={"venue": venue[:64]},
            )
        return venue

    def clean_status(self) -> str:
        return str(self.cleaned_data.get("status") or AccountStatus.ACTIVE)

    def clean_label(self) -> str:
        label = str(self.cleaned_data["label"]).strip()
        clash = VenueAccount.objects.filter(tenant=self.tenant, label=label).exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(_("Another account of this tenant already has this label."))
        return label

    # -- the account as a whole
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        venue = str(cleaned.get("venue") or "")
        spec = spec_for(venue) if venue else None
        if spec is None:
            return cleaned
        if spec.simulated and cleaned.get("mode") == AccountMode.LIVE:
            self.add_error("mode", _("A simulated venue trades on paper only."))
        self._clean_endpoints(venue, cleaned)
        stored = (self.instance.credentials or {}) if self.instance.pk else {}
        given = {name: cleaned.get(name) or "" for name in SECRET_FIELDS}
        if spec.credentials == "none":
            for name, value in given.items():
                if value:
                    self.add_error(name, _("Simulated venues take no credentials."))
            if cleaned.get("terminal"):
                self.add_error("terminal", _("Only MT5 accounts run in a terminal."))
            self.new_credentials: dict[str, str] | None = None
            return cleaned
        wanted: tuple[str, ...]
        if spec.credentials == "api_key":
            for name in ("login", "password", "server"):
                if given[name]:
                    self.add_error(name, _("This venue takes an API key and secret, not MT5 details."))
            if cleaned.get("terminal"):
                self.add_error("terminal", _("Only MT5 accounts run in a terminal."))
            wanted = ("api_key", "api_secret")
        else:
            for name in ("api_key", "api_secret"):
                if given[name]:
                    self.add_error(name, _("MT5 accounts take a login, password and server, not an API key."))
            if given["login"] and not _MT5_LOGIN.match(given["login"]):
                self.add_error("login", _("An MT5 login is a number (digits only)."))
            if not cleaned.get("terminal") and "terminal" not in self.errors:
                self.add_error("terminal", _("Choose the MT5 terminal this account runs in."))
            wanted = ("login", "password", "server")
        for name in wanted:
            if not given[name] and not stored.get(name):
                self.add_error(name, _("Required for this venue."))
        if spec.credentials == "api_key":
            for name in ("api_key", "api_secret"):
                if given[name] and api_key_problem(venue, given[name]):
                    message = (
                        _("A Binance API key or secret is 64 letters and digits.")
                        if api_key_problem(venue, given[name]) == "binance"
                        else _("Use 8–256 printable characters without spaces.")
                    )
                    self.add_error(name, message)
        merged = {name: stored.get(name, "") for name in wanted}
        merged.update({name: given[name] for name in wanted if given[name]})
        self.new_credentials = merged
        return cleaned

    def _clean_endpoints(self, venue: str, cleaned: dict[str, Any]) -> None:
        rest, ws = cleaned.get("rest_endpoint") or "", cleaned.get("ws_endpoint") or ""
        if cleaned.get("binance_testnet"):
            if venue != Venue.BINANCE_USDM:
                self.add_error("binance_testnet", _("Only Binance accounts can use Binance's futures testnet."))
            elif rest or ws:
                self.add_error(
                    "binance_testnet",
                    _("The testnet has its own hosts: clear the endpoint override, or turn the testnet off."),
                )
        if "rest_endpoint" in self.errors or "ws_endpoint" in self.errors:
            return
        # The same rule as a quote source's endpoint (accounts/venue_kinds.py).
        for field, message in endpoint_override_errors(venue=venue, rest=rest, ws=ws).items():
            self.add_error(field, message)

    @property
    def credentials_changed(self) -> bool:
        stored = (self.instance.credentials or {}) if self.instance.pk else {}
        return (self.new_credentials or None) != (stored or None)


class AccountPoolForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = AccountPool
        fields = (
            "name",
            "perp_account",
            "cfd_account",
            "perp_allocation",
            "cfd_allocation",
            "perp_margin_type",
            "perp_leverage",
            "enabled",
        )

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        self.tenant = tenant
        super().__init__(*args, **kwargs)
        accounts = VenueAccount.objects.filter(tenant=tenant).order_by("label")
        perp: Any = self.fields["perp_account"]
        cfd: Any = self.fields["cfd_account"]
        perp.queryset = accounts
        cfd.queryset = accounts
        # Older clients send neither: the model's defaults (cross, 5×) apply.
        self.fields["perp_margin_type"].required = False
        self.fields["perp_leverage"].required = False

    def clean_perp_margin_type(self) -> str:
        return str(self.cleaned_data.get("perp_margin_type") or AccountPool._meta.get_field("perp_margin_type").default)

    def clean_perp_leverage(self) -> int:
        value = self.cleaned_data.get("perp_leverage")
        return int(value if value is not None else AccountPool._meta.get_field("perp_leverage").default)

    def clean_name(self) -> str:
        name = str(self.cleaned_data["name"]).strip()
        if AccountPool.objects.filter(tenant=self.tenant, name=name).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(_("Another pool of this tenant already has this name."))
        return name

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        perp, cfd = cleaned.get("perp_account"), cleaned.get("cfd_account")
        perp_spec = spec_for(perp.venue) if perp else None
        cfd_spec = spec_for(cfd.venue) if cfd else None
        if perp_spec and perp_spec.leg != "perpetual":
            self.add_error(
                "perp_account", _("%(account)s is a CFD account: choose a perpetual account here.") % {"account": perp}
            )
            perp_spec = None
        if cfd_spec and cfd_spec.leg != "cfd":
            self.add_error(
                "cfd_account",
                _("%(account)s is a perpetual account: choose an MT5 (CFD) account here.") % {"account": cfd},
            )
            cfd_spec = None
        if perp is not None and cfd is not None and perp_spec and cfd_spec:
            if perp_spec.simulated != cfd_spec.simulated:
                self.add_error(
                    "cfd_account",
                    _("A simulated account pairs only with a simulated account, a real one with a real one."),
                )
            elif perp.mode != cfd.mode:
                self.add_error("cfd_account", _("Both legs must trade in the same mode (paper or live)."))
        if cleaned.get("enabled"):
            for field, account in (("perp_account", perp), ("cfd_account", cfd)):
                if account is None or field in self.errors:
                    continue
                other = (
                    AccountPool.objects.filter(enabled=True)
                    .filter(models_q_either(account))
                    .exclude(pk=self.instance.pk)
                    .first()
                )
                if other is not None:
                    self.add_error(
                        field,
                        _("%(account)s is already in the enabled pool %(pool)s: disable that pool first.")
                        % {"account": account, "pool": other},
                    )
        for field in ("perp_allocation", "cfd_allocation"):
            value = cleaned.get(field)
            if value is not None and value <= Decimal(0) and cleaned.get("enabled"):
                self.add_error(field, _("An enabled pool needs capital on both legs."))
        return cleaned


def models_q_either(account: VenueAccount) -> Any:
    from django.db.models import Q

    return Q(perp_account=account) | Q(cfd_account=account)


def ccxt_hint() -> str:
    return CCXT_PREFIX + "<exchange id>"
