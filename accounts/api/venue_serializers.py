"""Shapes of venue accounts and pools in the API. Credentials are write-only: requests may carry them in a
`credentials` object; responses only ever show `credential_hints` (masked)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from accounts.choices import AccountMode, AccountStatus, MarginType, Role
from accounts.grants import may_operate
from accounts.http import request_membership
from accounts.models import AccountPool, AccountSnapshot, Membership, User, VenueAccount
from accounts.venue_forms import CREDENTIAL_MAX_LENGTH
from accounts.venue_kinds import spec_for
from accounts.venue_link import pool_specs
from accounts.venue_rules import SECRET_FIELDS, AccountValues, PoolValues, account_problems, pool_problems
from quantarb import clock, formatting
from quantarb.api import WriteSerializer
from quantarb.api_decimals import PlainDecimalField
from trading.domain.sizing import contracts_per_lot

# An account's MT5 terminal (mt5ops, a layer above accounts: reached through the relation, not imported).
TERMINALS: Any = VenueAccount._meta.get_field("terminal").related_model


# The portal's form answers an id that is not the tenant's (or not an id) with Django's words; so does the API.
NOT_A_CHOICE = gettext_lazy("Select a valid choice. That choice is not one of the available choices.")
CREDENTIAL_FIELDS = (*SECRET_FIELDS, "terminal")


class TenantChoiceField(serializers.PrimaryKeyRelatedField):  # type: ignore[type-arg]
    """An object by its id among the caller's tenant's (the serializer sets the queryset from its context)."""

    default_error_messages = {"does_not_exist": NOT_A_CHOICE, "incorrect_type": NOT_A_CHOICE}


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false only (not "yes" or 1)."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            raise serializers.ValidationError(_("Send true or false."))
        return data


class CredentialsSerializer(serializers.Serializer[Any]):
    """Write-only. ccxt venues: `api_key`, `api_secret`. MT5: `login` (digits), `password`, `server`,
    `terminal` (an MT5 terminal's id). Simulated venues: none. Omitted or empty fields keep what is stored."""

    api_key = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=CREDENTIAL_MAX_LENGTH["api_key"],
    )
    api_secret = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=CREDENTIAL_MAX_LENGTH["api_secret"],
    )
    login = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=CREDENTIAL_MAX_LENGTH["login"],
        help_text="MT5 login number.",
    )
    password = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        allow_null=True,
        trim_whitespace=False,  # as the portal's form: a password is taken as typed
        max_length=CREDENTIAL_MAX_LENGTH["password"],
    )
    server = serializers.CharField(
        write_only=True, required=False, allow_blank=True, allow_null=True, max_length=CREDENTIAL_MAX_LENGTH["server"]
    )
    terminal = TenantChoiceField(
        queryset=TERMINALS.objects.none(),
        write_only=True,
        required=False,
        allow_null=True,
        help_text="MT5 terminal instance id; null: none.",
    )

    def run_validation(self, data: Any = empty) -> Any:
        if data is not empty and data is not None:
            if not isinstance(data, Mapping):
                raise serializers.ValidationError([_("Send the credentials as an object.")])
            unknown = set(data) - set(CREDENTIAL_FIELDS)
            if unknown:
                raise serializers.ValidationError(
                    [_("Unknown credential field(s): %(names)s.") % {"names": ", ".join(sorted(unknown))}]
                )
        return super().run_validation(data)


def _nested(problems: Mapping[str, list[str]]) -> dict[str, Any]:
    """Rule problems in the API's shape: credential fields (and the terminal) under `credentials`."""
    errors: dict[str, Any] = {}
    for name, messages in problems.items():
        if name in CREDENTIAL_FIELDS:
            errors.setdefault("credentials", {})[name] = messages
        else:
            errors[name] = messages
    return errors


class AccountWriteSerializer(WriteSerializer):
    """Create (POST) or change (PATCH: what is sent replaces the stored value) an account. The rules about the
    account as a whole are the portal form's (accounts/venue_rules.py): a 400 names the field with the same words.
    Context: `tenant`, and `owner` (the caller, a new account's default operator)."""

    label = serializers.CharField(max_length=120)  # type: ignore[assignment] # a field named like Field.label
    venue = serializers.CharField(
        max_length=64,
        help_text="binance-usdm, bybit-mt5, simulated-perp, simulated-cfd or ccxt:<exchange id>; fixed after creation.",
    )
    mode = serializers.ChoiceField(choices=AccountMode.choices, default=AccountMode.PAPER)
    owner = TenantChoiceField(
        queryset=User.objects.none(),
        required=False,
        help_text="User id of the operator, an admin or trader of the tenant (default: the caller).",
    )
    status = serializers.ChoiceField(choices=AccountStatus.choices, required=False)
    credentials = CredentialsSerializer(write_only=True, required=False, allow_null=True)
    rest_endpoint = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="Binance only: REST base URL override (http/https); empty: Binance.",
    )
    ws_endpoint = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="Binance only: WebSocket base URL override (ws/wss); with REST.",
    )
    binance_testnet = StrictBooleanField(
        required=False, help_text="Binance only: Binance's futures testnet (ccxt sandbox mode); not with an override."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tenant = self.context.get("tenant")
        if tenant is not None:
            operators = Membership.objects.filter(tenant=tenant, role__in=[Role.ADMIN, Role.TRADER]).values("user_id")
            owner: Any = self.fields["owner"]
            owner.queryset = User.objects.filter(pk__in=operators)
            credentials: Any = self.fields["credentials"]
            credentials.fields["terminal"].queryset = TERMINALS.objects.filter(tenant=tenant)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        account: VenueAccount | None = self.instance
        given = dict(attrs.pop("credentials", None) or {})
        if account is not None:  # a partial update: from the stored values; the venue never changes
            values = {**AccountValues.of(account), **attrs, "venue": account.venue}
        else:
            values = {"owner": self.context["owner"], "status": AccountStatus.ACTIVE, **attrs}
        if "terminal" in given:
            values["terminal"] = given.pop("terminal")
        values["credentials"] = {name: value for name, value in given.items() if value}
        problems = account_problems(tenant=self.context["tenant"], account=account, values=values)
        if problems:
            raise serializers.ValidationError(_nested(problems))
        return values

    def values(self) -> AccountValues:
        """The validated account, as account_save takes it."""
        return AccountValues(**self.validated_data)


def _money() -> PlainDecimalField:
    return PlainDecimalField(max_digits=20, decimal_places=2, read_only=True)


class AccountSnapshotSerializer(serializers.ModelSerializer[AccountSnapshot]):
    """The account's balance and margin at one time, in its currency (money to the cent, the level in %)."""

    age_s = serializers.SerializerMethodField(help_text="Seconds since the snapshot was taken.")
    balance = _money()
    equity = _money()
    unrealised_pnl = PlainDecimalField(
        source="unrealised", max_digits=20, decimal_places=2, read_only=True, help_text="Equity − balance."
    )
    used_margin = _money()
    free_margin = _money()
    margin_level = PlainDecimalField(
        max_digits=20,
        decimal_places=2,
        read_only=True,
        allow_null=True,
        help_text="Equity ÷ used margin × 100; null with no margin in use.",
    )
    margin_basis = serializers.CharField(read_only=True, help_text="How the used margin was found, in words.")

    class Meta:
        model = AccountSnapshot
        fields = [
            "at",
            "age_s",
            "currency",
            "balance",
            "equity",
            "unrealised_pnl",
            "used_margin",
            "free_margin",
            "margin_level",
            "margin_basis",
            "margin_terms",
            "positions",
        ]
        read_only_fields = fields

    def get_age_s(self, snapshot: AccountSnapshot) -> float:

        return round((clock.now() - snapshot.at).total_seconds(), 1)


class AccountSerializer(serializers.ModelSerializer[VenueAccount]):
    owner = serializers.CharField(source="owner.username", read_only=True)
    leg = serializers.SerializerMethodField()
    credential_hints = serializers.DictField(child=serializers.CharField(), read_only=True)
    latest_snapshot = serializers.SerializerMethodField(
        help_text="The latest balance and margin snapshot (live accounts: the venue's; paper: the paper ledger's)."
    )

    class Meta:
        model = VenueAccount
        fields = [
            "id",
            "label",
            "venue",
            "leg",
            "mode",
            "status",
            "owner",
            "terminal",
            "rest_endpoint",
            "ws_endpoint",
            "binance_testnet",
            "credential_hints",
            "last_error",
            "latest_snapshot",
            "last_sync_at",
            "last_test_at",
            "last_test_ok",
            "last_test_message",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_leg(self, account: VenueAccount) -> str | None:
        spec = spec_for(account.venue)
        return spec.leg if spec else None

    @extend_schema_field(AccountSnapshotSerializer(allow_null=True))
    def get_latest_snapshot(self, account: VenueAccount) -> dict[str, Any] | None:
        snapshot = AccountSnapshot.objects.filter(account=account).order_by("-at", "-pk").first()
        return None if snapshot is None else dict(AccountSnapshotSerializer(snapshot).data)


class AccountTestSerializer(serializers.Serializer[Any]):
    ok = serializers.BooleanField()
    message = serializers.CharField()
    tested_at = serializers.DateTimeField()


class PoolWriteSerializer(WriteSerializer):
    """Create (POST) or change (PATCH: what is sent replaces the stored value) a pool. The rules about the pool as a
    whole are the portal form's (accounts/venue_rules.py). Context: `tenant`."""

    name = serializers.CharField(max_length=120)
    perp_account = TenantChoiceField(
        queryset=VenueAccount.objects.none(), help_text="Id of a perpetual-leg account of the tenant."
    )
    cfd_account = TenantChoiceField(
        queryset=VenueAccount.objects.none(), help_text="Id of an MT5 (CFD) account of the tenant."
    )
    perp_allocation = PlainDecimalField(max_digits=20, decimal_places=2, min_value=Decimal(0), help_text="USDT.")
    cfd_allocation = PlainDecimalField(
        max_digits=20, decimal_places=2, min_value=Decimal(0), help_text="CFD account currency."
    )
    perp_margin_type = serializers.ChoiceField(
        choices=MarginType.choices, required=False, help_text="What the perp account must use (default cross)."
    )
    perp_leverage = serializers.IntegerField(
        required=False, min_value=1, max_value=125, help_text="The perp account's XAUUSDT leverage (default 5)."
    )
    enabled = serializers.BooleanField(default=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tenant = self.context.get("tenant")
        if tenant is not None:
            for name in ("perp_account", "cfd_account"):
                leg: Any = self.fields[name]
                leg.queryset = VenueAccount.objects.filter(tenant=tenant)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        pool: AccountPool | None = self.instance
        if pool is not None:  # a partial update: from the stored values
            values = {**PoolValues.of(pool), **attrs}
        else:
            values = {"perp_margin_type": MarginType.CROSS, "perp_leverage": PoolValues.perp_leverage, **attrs}
        problems = pool_problems(tenant=self.context["tenant"], pool=pool, values=values)
        if problems:
            raise serializers.ValidationError(problems)
        return values

    def values(self) -> PoolValues:
        """The validated pool, as pool_save takes it."""
        return PoolValues(**self.validated_data)


class PoolSerializer(serializers.ModelSerializer[AccountPool]):
    hedge_ratio = serializers.SerializerMethodField(
        help_text="Derived from the instruments' current specs when asked; never stored."
    )
    operable = serializers.SerializerMethodField(
        help_text="Whether the caller may run strategies and orders on this pool (admins: all; traders: granted)."
    )

    class Meta:
        model = AccountPool
        fields = [
            "id",
            "name",
            "perp_account",
            "cfd_account",
            "perp_allocation",
            "cfd_allocation",
            "perp_margin_type",
            "perp_leverage",
            "enabled",
            "hedge_ratio",
            "operable",
            "created_at",
        ]
        read_only_fields = fields

    def get_operable(self, pool: AccountPool) -> bool:
        annotated = getattr(pool, "caller_operates", None)  # PoolList reads it with the list
        if annotated is not None:
            return bool(annotated)
        request = self.context.get("request")
        return bool(request is not None and may_operate(request_membership(request), pool))

    def get_hedge_ratio(self, pool: AccountPool) -> dict[str, str] | None:
        specs = pool_specs(pool)
        if specs is None:
            return None
        perp, cfd = specs
        return {
            "perp_symbol": perp.symbol,
            "cfd_symbol": cfd.symbol,
            "ounces_per_lot": formatting.plain(cfd.contract_size),
            "ounces_per_contract": formatting.plain(perp.contract_size),
            "contracts_per_lot": formatting.trimmed(contracts_per_lot(perp, cfd)),  # 100, never 1E+2
        }
