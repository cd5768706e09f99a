"""The portal's forms of venue accounts and pools. Each field checks itself here; the rules about the account or
pool as a whole are accounts/venue_rules.py's, which the API's serializers call too. Every rule answers with a
message on the field it is about; the views pass `values()` to the services, and nothing is saved unless everything
is valid.
Credentials are write-only: the forms accept them, never render them back (password inputs, no initial value).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .choices import AccountStatus, Role
from .models import AccountPool, Membership, Tenant, User, VenueAccount
from .venue_kinds import CCXT_PREFIX, venue_choices
from .venue_rules import (
    POOL_FIELDS,
    SECRET_FIELDS,
    AccountValues,
    PoolValues,
    account_problems,
    pool_problems,
)

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

    def clean_status(self) -> str:
        return str(self.cleaned_data.get("status") or AccountStatus.ACTIVE)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        values = {**cleaned, "credentials": {name: cleaned.get(name) or "" for name in SECRET_FIELDS}}
        account = self.instance if self.instance.pk else None
        problems = account_problems(tenant=self.tenant, account=account, values=values, failed=set(self.errors))
        for name, messages in problems.items():
            for message in messages:
                self.add_error(name, message)
        return cleaned

    def values(self) -> AccountValues:
        """The validated account, as account_save takes it."""
        cleaned = self.cleaned_data
        return AccountValues(
            label=cleaned["label"],
            venue=cleaned["venue"],
            owner=cleaned["owner"],
            mode=cleaned["mode"],
            status=cleaned["status"],
            terminal=cleaned.get("terminal"),
            rest_endpoint=cleaned.get("rest_endpoint") or "",
            ws_endpoint=cleaned.get("ws_endpoint") or "",
            binance_testnet=bool(cleaned.get("binance_testnet")),
            credentials={name: cleaned[name] for name in SECRET_FIELDS if cleaned.get(name)},
        )


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

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        pool = self.instance if self.instance.pk else None
        problems = pool_problems(tenant=self.tenant, pool=pool, values=cleaned, failed=set(self.errors))
        for name, messages in problems.items():
            for message in messages:
                self.add_error(name, message)
        return cleaned

    def values(self) -> PoolValues:
        """The validated pool, as pool_save takes it."""
        return PoolValues(**{name: self.cleaned_data[name] for name in POOL_FIELDS})


def ccxt_hint() -> str:
    return CCXT_PREFIX + "<exchange id>"
