"""The trading API's serializers: what each endpoint answers and, for writes, the input it validates (bounded
fields, clear messages; `StrategyWriteSerializer` parses `params` into StrategyParams)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from accounts.models import AccountPool
from quantarb.api import WriteSerializer
from quantarb.api_decimals import PlainDecimalField
from risk.choices import KillScope
from risk.models import KillSwitch
from trading.choices import Direction, ManualKind
from trading.domain.pnl import MONEY_QUANTUM
from trading.manual.services import describe
from trading.models import Fill, Hedge, ManualCommand, Order, PositionSnapshot, ReconciliationReport
from trading.portfolio.pnl import PoolMarks, hedge_pnl, realised_split

from ..domain.params import ParamsError, StrategyParams
from ..messages import problem_text
from ..models import Strategy, StrategyVersion
from ..services import allowed_actions, current_params


def _plain(value: Any) -> Any:
    """JSON numbers arrive as int or float; a float's shortest repr is the number the caller wrote."""
    if isinstance(value, float):
        return str(Decimal(repr(value)))
    return value


def _params_from(data: Any, base: dict[str, Any]) -> StrategyParams:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValidationError({"params": [gettext_lazy("Send the parameters as an object.")]})
    merged = {**base, **{key: _plain(value) for key, value in data.items()}}
    try:
        return StrategyParams.from_json(merged)
    except ParamsError as error:
        problems: dict[str, list[str]] = {}
        for problem in error.problems:
            problems.setdefault(problem.field, []).append(problem_text(problem))
        raise ValidationError({"params": problems}) from None


class BoundedTextField(serializers.CharField):
    """Text of at most `max_length` characters; too long, the message says by how much, as the services' own do."""

    def __init__(self, *, max_length: int, **kwargs: Any) -> None:
        super().__init__(max_length=max_length, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        # Runs before the validators, so DRF's own length check (kept for the schema's maxLength) never answers.
        value: str = super().to_internal_value(data)
        if self.max_length is not None and len(value) > self.max_length:
            raise ValidationError(
                _("Use at most %(limit)d characters (this has %(length)d).")
                % {"limit": self.max_length, "length": len(value)}
            )
        return value


class StrategySerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    pool_name = serializers.CharField(source="pool.name", read_only=True)
    version = serializers.IntegerField(source="current_version.number", read_only=True, default=None, allow_null=True)
    params = serializers.JSONField(source="current_version.params", read_only=True, default=None, allow_null=True)
    allowed_actions = serializers.SerializerMethodField()
    state_reason_text = serializers.CharField(
        read_only=True,
        help_text="The state reason in the request's language (`state_reason` keeps it in English, or as typed).",
    )
    state_reason_params = serializers.DictField(read_only=True, help_text="The system reason's parameters.")
    realised = serializers.SerializerMethodField(
        help_text="Realised PnL in USD (8 dp): the booked splits of its hedges that are no longer live, summed."
    )

    class Meta:
        model = Strategy
        fields = (
            "id",
            "name",
            "pool",
            "pool_name",
            "mode",
            "state",
            "state_reason",
            "state_reason_code",
            "state_reason_params",
            "state_reason_text",
            "state_changed_at",
            "version",
            "params",
            "heartbeat_at",
            "last_decision",
            "last_decision_at",
            "runner_id",
            "lease_epoch",
            "allowed_actions",
            "realised",
            "created_at",
        )

    def get_allowed_actions(self, strategy: Strategy) -> list[str]:
        return allowed_actions(strategy.state)

    @extend_schema_field(serializers.DecimalField(max_digits=24, decimal_places=8))
    def get_realised(self, strategy: Strategy) -> str:
        if hasattr(strategy, "realised"):  # annotated by strategies_for
            total = strategy.realised if strategy.realised is not None else Decimal(0)
        else:
            total = realised_split(Hedge.objects.filter(strategy=strategy)).total
        return f"{total.quantize(MONEY_QUANTUM):f}"


class StrategyWriteSerializer(WriteSerializer):
    """A strategy write: `params` holds StrategyParams fields (decimals as strings); missing ones take the defaults
    on create and the current version's on update. Pool and mode are chosen on create and cannot change."""

    # Without an instance it creates (`membership` in the context; `pool` validates to one of the tenant's pools);
    # with the strategy as its instance it updates (partial). `params` validates to a StrategyParams.

    name = BoundedTextField(
        max_length=120,
        error_messages={
            "required": gettext_lazy("Give the strategy a name."),
            "blank": gettext_lazy("Give the strategy a name."),
        },
    )
    pool = serializers.IntegerField(
        help_text="Create only: the pool's id.",
        error_messages={"invalid": gettext_lazy("Choose a pool of this tenant by its id.")},
    )
    mode = serializers.ChoiceField(
        choices=["paper", "live"],
        default="paper",
        help_text="Create only.",
        error_messages={"invalid_choice": gettext_lazy("Choose paper or live.")},
    )
    note = BoundedTextField(required=False, allow_blank=True, allow_null=True, max_length=200)
    params = serializers.DictField(
        required=False,
        allow_null=True,
        help_text="StrategyParams fields; missing ones take defaults (or the current).",
        error_messages={"not_a_dict": gettext_lazy("Send the parameters as an object.")},
    )

    def validate_pool(self, pool_id: int) -> AccountPool | int:
        strategy: Strategy | None = self.instance
        if strategy is not None:
            if pool_id != strategy.pool_id:
                raise ValidationError("The pool of a strategy cannot change; create a new strategy.")
            return pool_id
        pool = AccountPool.objects.for_member(self.context["membership"]).filter(pk=pool_id).first()
        if pool is None:
            raise ValidationError(gettext_lazy("Choose a pool of this tenant by its id."))
        return pool

    def validate_mode(self, mode: str) -> str:
        strategy: Strategy | None = self.instance
        if strategy is not None and mode != strategy.mode:
            raise ValidationError("The mode of a strategy cannot change; create a new strategy.")
        return mode

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        strategy: Strategy | None = self.instance
        unknown = set(self.initial_data) - set(self.fields)
        if strategy is not None and unknown:
            raise ValidationError({"non_field_errors": [f"Unknown field(s): {', '.join(sorted(unknown))}."]})
        base = current_params(strategy).to_json() if strategy is not None else {"mode": attrs["mode"]}
        params = _params_from(attrs.get("params"), base)
        if strategy is not None and params.mode != strategy.mode:
            raise ValidationError({"params": {"mode": ["The mode of a strategy cannot change."]}})
        return {**attrs, "params": params, "note": attrs.get("note") or ""}


class LifecycleSerializer(WriteSerializer):
    reason = BoundedTextField(
        required=False, allow_blank=True, default="", max_length=300, help_text="Kept as the state's reason."
    )


class VersionSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None, allow_null=True)

    class Meta:
        model = StrategyVersion
        fields = ("id", "number", "params", "note", "created_by", "created_at")


class PnlSplitSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """A PnL split in USD at 8 dp (trading/domain/pnl.py): spread capture, fees, funding, swap, USDT/USD, total."""

    spread = PlainDecimalField(max_digits=24, decimal_places=8)
    fees = PlainDecimalField(max_digits=24, decimal_places=8)
    funding = PlainDecimalField(max_digits=24, decimal_places=8)
    swap = PlainDecimalField(max_digits=24, decimal_places=8)
    fx = PlainDecimalField(max_digits=24, decimal_places=8, help_text="The USDT/USD line.")
    total = PlainDecimalField(max_digits=24, decimal_places=8)


class MarkedPnlSerializer(PnlSplitSerializer):
    """A live hedge's split marked now: at the touch its legs would close at and this USDT/USD rate."""

    usd_per_usdt = PlainDecimalField(max_digits=12, decimal_places=6)
    marked_at = serializers.DateTimeField()


class HedgeSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """A hedge. `pnl_*` is the split booked when its legs went flat (its realised PnL; zero while it is live);
    `unrealised` is a live hedge's split marked now at its pool's latest stored quotes — fees paid and carry so far
    included — the same figures the strategy status panel and the hedge page show (null for a hedge that is no
    longer live, or before any quote is stored)."""

    strategy_version = serializers.IntegerField(
        source="strategy_version.number", read_only=True, default=None, allow_null=True
    )
    pnl_total = PlainDecimalField(max_digits=24, decimal_places=8, read_only=True)
    unrealised = serializers.SerializerMethodField()

    @extend_schema_field(MarkedPnlSerializer(allow_null=True))
    def get_unrealised(self, hedge: Hedge) -> dict[str, Any] | None:
        marks = self.context.setdefault("pool_marks", PoolMarks())
        shown = hedge_pnl(hedge, marks)
        if not shown.live or shown.split is None:
            return None
        split = shown.split
        marked = {**dict(split.lines()), "total": split.total, "usd_per_usdt": shown.usd_per_usdt}
        return dict(MarkedPnlSerializer({**marked, "marked_at": shown.marked_at}).data)

    class Meta:
        model = Hedge
        fields = (
            "id",
            "pool",
            "strategy",
            "strategy_version",
            "direction",
            "status",
            "paper",
            "manual",
            "size_oz",
            "perp_oz",
            "cfd_oz",
            "entry_net_edge",
            "entry_usd_per_usdt",
            "exit_usd_per_usdt",
            "open_reason",
            "close_reason",
            "status_reason",
            "planned_at",
            "opened_at",
            "closed_at",
            "pnl_spread",
            "pnl_fees",
            "pnl_funding",
            "pnl_swap",
            "pnl_fx",
            "pnl_total",
            "unrealised",
        )


class OrderSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = Order
        fields = (
            "id",
            "hedge",
            "account",
            "strategy",
            "leg",
            "intent",
            "attempt",
            "client_order_id",
            "venue_order_id",
            "side",
            "kind",
            "quantity",
            "lots",
            "limit_price",
            "deviation",
            "reducing",
            "status",
            "filled",
            "avg_price",
            "fee",
            "fee_currency",
            "paper",
            "error",
            "created_at",
            "submitted_at",
        )


class FillSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    client_order_id = serializers.CharField(source="order.client_order_id", read_only=True)
    leg = serializers.CharField(source="order.leg", read_only=True)
    side = serializers.CharField(source="order.side", read_only=True)

    class Meta:
        model = Fill
        fields = (
            "id",
            "order",
            "client_order_id",
            "leg",
            "side",
            "account",
            "fill_id",
            "quantity",
            "price",
            "fee",
            "fee_currency",
            "maker",
            "venue_fee",
            "venue_fee_asset",
            "fee_rate",
            "fee_rate_source",
            "fee_rate_at",
            "realized_pnl",
            "swap",
            "source",
            "paper",
            "at",
        )


class PositionSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = PositionSnapshot
        fields = (
            "id",
            "account",
            "pool",
            "at",
            "ours_oz",
            "venue_oz",
            "avg_price",
            "mark_price",
            "unrealised",
            "currency",
        )


class KillSwitchSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    tripped_by = serializers.CharField(source="tripped_by.username", read_only=True, default=None, allow_null=True)
    reset_by = serializers.CharField(source="reset_by.username", read_only=True, default=None, allow_null=True)
    active = serializers.BooleanField(read_only=True)
    reason_text = serializers.CharField(
        read_only=True, help_text="The reason in the request's language (`reason` keeps it in English, or as typed)."
    )
    reason_params = serializers.DictField(read_only=True, help_text="An automatic trip's reason parameters.")

    class Meta:
        model = KillSwitch
        fields = (
            "id",
            "scope",
            "strategy",
            "trigger",
            "reason",
            "reason_code",
            "reason_params",
            "reason_text",
            "active",
            "tripped_by",
            "tripped_at",
            "reset_by",
            "reset_at",
            "reset_note",
        )


class TripSerializer(WriteSerializer):
    scope = serializers.ChoiceField(choices=KillScope.values)
    strategy = serializers.IntegerField(required=False, help_text="For the strategy scope.")
    reason = serializers.CharField(max_length=500)


class ResetSerializer(WriteSerializer):
    note = serializers.CharField(max_length=300)


class ReportSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    synced_by = serializers.CharField(source="synced_by.username", read_only=True, default=None, allow_null=True)

    class Meta:
        model = ReconciliationReport
        fields = (
            "id",
            "pool",
            "strategy",
            "trigger",
            "status",
            "differences",
            "error",
            "started_at",
            "finished_at",
            "synced_by",
            "synced_at",
        )


class RunSerializer(WriteSerializer):
    pool = serializers.IntegerField()


class CommandSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)
    description = serializers.SerializerMethodField()

    class Meta:
        model = ManualCommand
        fields = (
            "id",
            "pool",
            "hedge",
            "kind",
            "params",
            "status",
            "result",
            "description",
            "requested_by",
            "requested_at",
            "started_at",
            "finished_at",
        )

    def get_description(self, command: ManualCommand) -> str:
        try:
            return describe(kind=command.kind, pool=command.pool, hedge=command.hedge, params=command.params)
        except (KeyError, ValueError):
            return str(command.get_kind_display())


class CommandWriteSerializer(WriteSerializer):
    pool = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=ManualKind.values)
    hedge = serializers.IntegerField(required=False)
    direction = serializers.ChoiceField(
        choices=Direction.choices, required=False, help_text="open_hedge: sell_perp or buy_perp."
    )
    size_oz = serializers.CharField(
        required=False, max_length=32, help_text="open_hedge: ounces, as a decimal string (up to 3 decimals)."
    )
