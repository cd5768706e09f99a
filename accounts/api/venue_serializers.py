"""Shapes of venue accounts and pools in the API. Credentials are write-only: requests may carry them in a
`credentials` object; responses only ever show `credential_hints` (masked)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.choices import AccountMode, AccountStatus, MarginType
from accounts.grants import may_operate
from accounts.http import request_membership
from accounts.models import AccountPool, AccountSnapshot, VenueAccount
from accounts.venue_forms import CREDENTIAL_MAX_LENGTH
from accounts.venue_kinds import spec_for
from accounts.venue_link import pool_specs
from quantarb import formatting
from quantarb.api_decimals import PlainDecimalField
from trading.domain.sizing import contracts_per_lot


class CredentialsSerializer(serializers.Serializer[Any]):
    """Write-only. ccxt venues: `api_key`, `api_secret`. MT5: `login` (digits), `password`, `server`,
    `terminal` (an MT5 terminal's id). Simulated venues: none. Omitted fields keep what is stored."""

    api_key = serializers.CharField(write_only=True, required=False, max_length=CREDENTIAL_MAX_LENGTH["api_key"])
    api_secret = serializers.CharField(write_only=True, required=False, max_length=CREDENTIAL_MAX_LENGTH["api_secret"])
    login = serializers.CharField(
        write_only=True, required=False, max_length=CREDENTIAL_MAX_LENGTH["login"], help_text="MT5 login number."
    )
    password = serializers.CharField(write_only=True, required=False, max_length=CREDENTIAL_MAX_LENGTH["password"])
    server = serializers.CharField(write_only=True, required=False, max_length=CREDENTIAL_MAX_LENGTH["server"])
    terminal = serializers.IntegerField(write_only=True, required=False, help_text="MT5 terminal instance id.")


class AccountWriteSerializer(serializers.Serializer[Any]):
    """Create (POST) or change (PATCH) an account; validation is the portal form's (400 names the field)."""

    label = serializers.CharField(max_length=120)  # type: ignore[assignment] # a field named like Field.label
    venue = serializers.CharField(
        max_length=64,
        help_text="binance-usdm, bybit-mt5, simulated-perp, simulated-cfd or ccxt:<exchange id>; fixed after creation.",
    )
    mode = serializers.ChoiceField(choices=AccountMode.choices, default=AccountMode.PAPER)
    owner = serializers.IntegerField(required=False, help_text="User id of the operator (default: the caller).")
    status = serializers.ChoiceField(choices=AccountStatus.choices, required=False)
    credentials = CredentialsSerializer(write_only=True, required=False)
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
    binance_testnet = serializers.BooleanField(
        required=False, help_text="Binance only: Binance's futures testnet (ccxt sandbox mode); not with an override."
    )


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
        from quantarb import clock

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


class PoolWriteSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=120)
    perp_account = serializers.IntegerField(help_text="Id of a perpetual-leg account of the tenant.")
    cfd_account = serializers.IntegerField(help_text="Id of an MT5 (CFD) account of the tenant.")
    perp_allocation = PlainDecimalField(max_digits=20, decimal_places=2, help_text="USDT.")
    cfd_allocation = PlainDecimalField(max_digits=20, decimal_places=2, help_text="CFD account currency.")
    perp_margin_type = serializers.ChoiceField(
        choices=MarginType.choices, required=False, help_text="What the perp account must use (default cross)."
    )
    perp_leverage = serializers.IntegerField(
        required=False, min_value=1, max_value=125, help_text="The perp account's XAUUSDT leverage (default 5)."
    )
    enabled = serializers.BooleanField(default=True)


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
