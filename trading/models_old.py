"""Instruments, calendars, quote sources and the market-data store (ARCHITECTURE.md "Market data ownership").

Market data belongs to its source, not to a tenant; a tenant reaches a source pair through `PairAccess`
(later: through its pools). Every tenant-owned row carries its tenant.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from trading.choices import (
    CandleInterval,
    CarryKind,
    CommandStatus,
    Direction,
    FillSource,
    HedgeStatus,
    InstrumentKind,
    Leg,
    ManualKind,
    OrderIntent,
    OrderKind,
    OrderSide,
    OrderStatus,
    RateSource,
    ReconciliationStatus,
    ReconciliationTrigger,
    ServerTime,
    Venue,
    VenueEventKind,
)
from trading.domain import calendar as cal
from trading.domain import pnl
from trading.domain.spread import CostModel

PRICE: dict[str, Any] = {"max_digits": 20, "decimal_places": 8}
OUNCES: dict[str, Any] = {"max_digits": 18, "decimal_places": 3}
LOTS: dict[str, Any] = {"max_digits": 12, "decimal_places": 2}
RATE: dict[str, Any] = {"max_digits": 16, "decimal_places": 8}
USD_PER_USDT: dict[str, Any] = {"max_digits": 12, "decimal_places": 6}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# MT5 numbers weekdays from Sunday (`symbol_info().swap_rollover3days`).
MT5_WEEKDAYS = [
    (0, _("Sunday")),
    (1, _("Monday")),
    (2, _("Tuesday")),
    (3, _("Wednesday")),
    (4, _("Thursday")),
    (5, _("Friday")),
    (6, _("Saturday")),
]


class SessionCalendar(models.Model):
    """Trading hours in the broker's server time, as data. Empty weekly hours on a day: closed."""

    name = models.SlugField(_("name"), max_length=60, unique=True)
    server_time = models.CharField(_("server time"), max_length=12, choices=ServerTime.choices)
    fixed_offset_minutes = models.IntegerField(_("fixed offset (minutes)"), default=0)
    always_open = models.BooleanField(_("always open (demo session)"), default=False)
    weekly_hours = models.JSONField(
        _("weekly hours"),
        default=dict,
        blank=True,
        help_text=_('Server time per weekday, e.g. {"mon": "01:00-23:59", ...}; a missing day is closed.'),
    )

    class Meta:
        verbose_name = _("session calendar")
        verbose_name_plural = _("session calendars")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not isinstance(self.weekly_hours, dict):
            raise ValidationError({"weekly_hours": _("Weekly hours must be an object keyed by weekday.")})
        for day, hours in self.weekly_hours.items():
            if day not in WEEKDAYS:
                raise ValidationError({"weekly_hours": _("Unknown weekday %(day)s.") % {"day": day}})
            try:
                cal.DayHours.parse(str(hours))
            except ValueError:
                raise ValidationError(
                    {"weekly_hours": _("%(day)s: hours must look like 01:00-23:59.") % {"day": day}}
                ) from None

    def to_domain(self) -> cal.SessionCalendar:
        exceptions = {
            row.server_date: (cal.DayHours.parse(row.hours) if not row.closed else None)
            for row in self.exceptions.all()
        }
        return cal.SessionCalendar(
            name=self.name,
            weekly={WEEKDAYS.index(day): cal.DayHours.parse(str(hours)) for day, hours in self.weekly_hours.items()},
            exceptions=exceptions,
            server_time=cal.ServerTimeRule(self.server_time),
            fixed_offset_minutes=self.fixed_offset_minutes,
            always_open=self.always_open,
        )


class CalendarException(models.Model):
    """A holiday (closed all day) or special hours (early close) on one server date."""

    calendar = models.ForeignKey(SessionCalendar, on_delete=models.CASCADE, related_name="exceptions")
    server_date = models.DateField(_("server date"))
    closed = models.BooleanField(_("closed all day"), default=True)
    hours = models.CharField(_("hours"), max_length=11, blank=True, help_text=_("Server time, e.g. 01:00-20:00"))
    reason = models.CharField(_("reason"), max_length=120, blank=True)

    class Meta:
        verbose_name = _("calendar exception")
        verbose_name_plural = _("calendar exceptions")
        constraints = [
            models.UniqueConstraint(fields=["calendar", "server_date"], name="calendar_exception_unique_date")
        ]

    def __str__(self) -> str:
        return f"{self.calendar_id}: {self.server_date}"

    def clean(self) -> None:
        if not self.closed:
            try:
                cal.DayHours.parse(self.hours)
            except ValueError:
                raise ValidationError({"hours": _("Give the hours that day, e.g. 01:00-20:00.")}) from None


class Instrument(models.Model):
    """A tradable contract with the specs last read from its venue.

    Specs are refreshed from the venue (`exchangeInfo`, `symbol_info`) and re-read at sizing time; what is
    stored here is the last reading, for display and for the simulated venues, never the truth for an order.
    Quantities: perp quantity = contracts × contract_size ounces; MT5 volume in lots, ounces = lots × contract_size.
    """

    venue = models.CharField(_("venue"), max_length=40, choices=Venue.choices)
    symbol = models.CharField(_("symbol"), max_length=40)
    kind = models.CharField(_("kind"), max_length=12, choices=InstrumentKind.choices)
    quote_currency = models.CharField(_("quote currency"), max_length=8)
    contract_size = models.DecimalField(
        _("ounces per contract or lot"), **OUNCES, validators=[MinValueValidator(Decimal("0.001"))]
    )
    tick_size = models.DecimalField(_("tick size"), **PRICE, validators=[MinValueValidator(Decimal("0.00000001"))])
    quantity_step = models.DecimalField(_("quantity step (contracts or lots)"), **PRICE)
    min_quantity = models.DecimalField(_("minimum quantity (contracts or lots)"), **PRICE)
    max_quantity = models.DecimalField(
        _("maximum quantity per order (contracts or lots)"),
        **PRICE,
        null=True,
        blank=True,
        help_text=_("Binance LOT_SIZE maxQty, MT5 volume_max. Empty: the venue's maximum has not been read."),
    )
    min_notional = models.DecimalField(_("minimum notional"), **PRICE, default=Decimal(0))
    taker_fee_rate = models.DecimalField(_("taker fee rate"), **RATE, default=Decimal(0))
    maker_fee_rate = models.DecimalField(_("maker fee rate"), **RATE, default=Decimal(0))
    calendar = models.ForeignKey(
        SessionCalendar,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        verbose_name=_("session calendar"),
        help_text=_("Empty: trades around the clock."),
    )
    specs_read_at = models.DateTimeField(_("specs read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("instrument")
        verbose_name_plural = _("instruments")
        constraints = [models.UniqueConstraint(fields=["venue", "symbol"], name="instrument_unique_venue_symbol")]

    def __str__(self) -> str:
        return f"{self.symbol} ({self.get_venue_display()})"

    @property
    def lot_step_ounces(self) -> Decimal:
        """The smallest tradable change in ounces (quantity step × contract size)."""
        return self.quantity_step * self.contract_size

    @property
    def price_places(self) -> int:
        return max(0, -self.tick_size.normalize().as_tuple().exponent)  # type: ignore[operator]


class QuoteSource(models.Model):
    """Where quotes come from: venue + endpoint + instrument (an endpoint override is another source); an MT5
    source reads its quotes from one terminal instance.

    A source a desk admin created belongs to that tenant (its terminal and its endpoint are the desk's); one without
    a tenant is platform reference data (the simulated demo sources), shared read-only by every desk.
    """

    tenant = models.ForeignKey(
        "accounts.Tenant",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="quote_sources",
        verbose_name=_("tenant"),
        help_text=_("Empty: a platform source, shared by every desk."),
    )
    key = models.SlugField(_("key"), max_length=120, unique=True)
    venue = models.CharField(_("venue"), max_length=40, choices=Venue.choices)
    endpoint = models.CharField(
        _("endpoint"),
        max_length=401,
        blank=True,
        help_text=_("Empty: the venue's default. A REST base URL, optionally followed by the WebSocket base URL."),
    )
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="sources")
    terminal = models.ForeignKey(
        "mt5ops.TerminalInstance",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="quote_sources",
        verbose_name=_("MT5 terminal"),
        help_text=_("MT5 sources: the terminal instance the quotes are read from."),
    )
    label = models.CharField(_("label"), max_length=80)
    stale_after_s = models.DecimalField(
        _("stale after (seconds)"),
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.1"))],
        help_text=_("A stream silent longer is stale; REST polling stands in. Empty: the platform default."),
    )

    class Meta:
        verbose_name = _("quote source")
        verbose_name_plural = _("quote sources")
        constraints = [
            # One source per place quotes come from: per desk, and once among the platform's own.
            models.UniqueConstraint(
                fields=["venue", "endpoint", "instrument"],
                condition=models.Q(tenant__isnull=True),
                name="source_unique_platform_endpoint",
            ),
            models.UniqueConstraint(
                fields=["tenant", "venue", "endpoint", "instrument"],
                condition=models.Q(tenant__isnull=False, terminal__isnull=True),
                name="source_unique_tenant_endpoint",
            ),
            models.UniqueConstraint(
                fields=["venue", "instrument", "terminal"],
                condition=models.Q(terminal__isnull=False),
                name="source_unique_terminal",
            ),
        ]

    def __str__(self) -> str:
        return self.label

    def endpoints(self) -> tuple[str | None, str | None]:
        """(REST base, WebSocket base) of the endpoint override: "https://h:p" gives wss://h:p for the streams;
        "https://h:p wss://g:q" names both. (None, None): the venue's own hosts."""
        return endpoint_urls(self.endpoint)

    @property
    def simulated(self) -> bool:
        return self.venue in (Venue.SIMULATED_PERP, Venue.SIMULATED_CFD)

    def session_calendar(self, *, demo_calendar: bool) -> cal.SessionCalendar:
        """The trading calendar of this source's instrument. The embedded demo's always-open calendar
        (`demo_calendar`) stands in for a simulated source only — the demo's own market, open at any hour; a live
        source always keeps its venue's calendar, so a live CFD is closed when its broker is. No calendar: the
        instrument trades around the clock."""
        calendar = self.instrument.calendar
        if calendar is None or (demo_calendar and self.simulated):
            return cal.demo_always_open()
        return calendar.to_domain()


def endpoint_urls(endpoint: str) -> tuple[str | None, str | None]:
    parts = endpoint.split()
    if not parts:
        return None, None
    rest = parts[0]
    if len(parts) > 1:
        return rest, parts[1]
    return rest, derived_ws_url(rest)


def derived_ws_url(rest: str) -> str:
    """The WebSocket base a REST base implies: https://h:p → wss://h:p, http://h:p → ws://h:p."""
    scheme, _sep, rest_of = rest.partition("://")
    return ("wss" if scheme == "https" else "ws") + "://" + rest_of


def endpoint_of(rest: str, ws: str) -> str:
    """The stored form of an endpoint override: the REST base alone when the WebSocket base is the one it implies
    (so it compares equal to an account's REST override), else both; empty for the venue's own hosts."""
    if not rest:
        return ""
    return rest if ws == derived_ws_url(rest) else f"{rest} {ws}"


class SourcePair(models.Model):
    """A perp source against a CFD source, with the costs that turn its raw edges into net edges.

    A pair a desk admin created belongs to that tenant (and is granted to it through `PairAccess`); one without a
    tenant is the platform's (the simulated demo pair), granted to desks by seeding and read-only to them.
    """

    tenant = models.ForeignKey(
        "accounts.Tenant",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="source_pairs",
        verbose_name=_("tenant"),
        help_text=_("Empty: a platform pair."),
    )
    name = models.CharField(_("name"), max_length=80)
    perp_source = models.ForeignKey(
        QuoteSource, on_delete=models.PROTECT, related_name="+", verbose_name=_("perp source")
    )
    cfd_source = models.ForeignKey(
        QuoteSource, on_delete=models.PROTECT, related_name="+", verbose_name=_("CFD source")
    )
    entry_threshold = models.DecimalField(_("entry threshold (USD/oz, net)"), **PRICE, default=Decimal("0.50"))
    exit_threshold = models.DecimalField(_("exit threshold (USD/oz, net)"), **PRICE, default=Decimal("0.05"))
    perp_fee_rate = models.DecimalField(_("perp fee rate per fill"), **RATE, default=Decimal("0.0005"))
    cfd_fee_rate = models.DecimalField(_("CFD fee rate per fill"), **RATE, default=Decimal(0))
    cfd_commission_per_oz = models.DecimalField(_("CFD commission per oz per fill (USD)"), **PRICE, default=Decimal(0))
    slippage_usd_per_oz = models.DecimalField(_("slippage buffer (USD/oz)"), **PRICE, default=Decimal("0.10"))
    expected_holding_hours = models.DecimalField(
        _("expected holding time (hours)"), max_digits=10, decimal_places=2, default=Decimal(24)
    )
    funding_rate = models.DecimalField(_("expected funding rate per event"), **RATE, default=Decimal("0.0001"))
    funding_interval_hours = models.DecimalField(
        _("funding interval (hours)"), max_digits=6, decimal_places=2, default=Decimal(8)
    )
    swap_long_per_oz_night = models.DecimalField(_("swap long (USD/oz/night)"), **PRICE, default=Decimal("-0.45"))
    swap_short_per_oz_night = models.DecimalField(_("swap short (USD/oz/night)"), **PRICE, default=Decimal("0.20"))
    swap_rollover3days = models.PositiveSmallIntegerField(
        _("triple-swap day"),
        choices=MT5_WEEKDAYS,
        default=3,
        help_text=_("The weekday whose rollover charges three nights, as the broker's swap_rollover3days says."),
    )
    rate_source = models.CharField(
        _("USDT/USD source"), max_length=16, choices=RateSource.choices, default=RateSource.SIMULATED
    )
    fixed_usd_per_usdt = models.DecimalField(_("fixed USD per USDT"), **USD_PER_USDT, default=Decimal(1))
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        verbose_name = _("source pair")
        verbose_name_plural = _("source pairs")
        constraints = [
            models.UniqueConstraint(
                fields=["perp_source", "cfd_source"],
                condition=models.Q(tenant__isnull=True),
                name="pair_unique_platform_sources",
            ),
            models.UniqueConstraint(
                fields=["tenant", "perp_source", "cfd_source"],
                condition=models.Q(tenant__isnull=False),
                name="pair_unique_tenant_sources",
            ),
            models.CheckConstraint(
                condition=models.Q(exit_threshold__lt=models.F("entry_threshold")), name="pair_exit_below_entry"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if (
            self.exit_threshold is not None
            and self.entry_threshold is not None
            and self.exit_threshold >= self.entry_threshold
        ):
            errors["exit_threshold"] = _("The exit threshold must be below the entry threshold.")
        if self.fixed_usd_per_usdt is not None and self.fixed_usd_per_usdt <= 0:
            errors["fixed_usd_per_usdt"] = _("USD per USDT must be positive.")
        if errors:
            raise ValidationError(errors)

    def cost_model(self) -> CostModel:
        return CostModel(
            perp_fee_rate=self.perp_fee_rate,
            cfd_fee_rate=self.cfd_fee_rate,
            cfd_commission_per_oz=self.cfd_commission_per_oz,
            slippage_usd_per_oz=self.slippage_usd_per_oz,
            expected_holding_hours=self.expected_holding_hours,
            funding_rate=self.funding_rate,
            funding_interval_hours=self.funding_interval_hours,
            swap_long_per_oz_night=self.swap_long_per_oz_night,
            swap_short_per_oz_night=self.swap_short_per_oz_night,
        )

    def swap_terms(self) -> pnl.SwapTerms:
        """The paper CFD's swap as MT5 terms: money per lot per night (the per-ounce figures × the CFD's contract
        size), tripled on `swap_rollover3days`."""
        contract_size = self.cfd_source.instrument.contract_size
        return pnl.SwapTerms(
            pnl.SwapMode.MONEY,
            swap_long=self.swap_long_per_oz_night * contract_size,
            swap_short=self.swap_short_per_oz_night * contract_size,
            point=self.cfd_source.instrument.tick_size,
            contract_size=contract_size,
            rollover3days=self.swap_rollover3days,
            currency=pnl.USD,
        )


class PairAccess(models.Model):
    """A tenant sees a source pair. Until pools exist, seeding grants the demo tenant the simulated pair.

    Admins of the tenant operate every pair it has; a trader operates only the pairs an admin granted them
    (the object permission `operate_pairaccess`, through django-guardian: accounts/grants.py).
    """

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="pair_access")
    pair = models.ForeignKey(SourcePair, on_delete=models.CASCADE, related_name="access")

    class Meta:
        verbose_name = _("pair access")
        verbose_name_plural = _("pair access")
        constraints = [models.UniqueConstraint(fields=["tenant", "pair"], name="pair_access_unique")]
        permissions = [("operate_pairaccess", _("Can run strategies and orders on this pair"))]

    def __str__(self) -> str:
        return f"{self.tenant_id} → {self.pair_id}"


class QuoteTick(models.Model):
    source = models.ForeignKey(QuoteSource, on_delete=models.CASCADE, related_name="ticks")
    ts = models.DateTimeField(_("venue time"))
    bid = models.DecimalField(_("bid"), **PRICE)
    ask = models.DecimalField(_("ask"), **PRICE)
    received_at = models.DateTimeField(_("received"))

    class Meta:
        verbose_name = _("quote")
        verbose_name_plural = _("quotes")
        indexes = [models.Index(fields=["source", "-ts"], name="quote_source_ts")]

    def __str__(self) -> str:
        return f"{self.source_id} {self.ts:%Y-%m-%d %H:%M:%S.%f} {self.bid}/{self.ask}"


class RateTick(models.Model):
    """usd_per_usdt observations (the USD value of one USDT) by source."""

    source = models.CharField(_("source"), max_length=16, choices=RateSource.choices)
    ts = models.DateTimeField(_("time"))
    usd_per_usdt = models.DecimalField(_("USD per USDT"), **USD_PER_USDT)

    class Meta:
        indexes = [models.Index(fields=["source", "-ts"], name="rate_source_ts")]

    def __str__(self) -> str:
        return f"{self.source} {self.ts:%Y-%m-%d %H:%M:%S} {self.usd_per_usdt}"


class SpreadSample(models.Model):
    pair = models.ForeignKey(SourcePair, on_delete=models.CASCADE, related_name="samples")
    ts = models.DateTimeField(_("time"))
    perp_bid = models.DecimalField(**PRICE)
    perp_ask = models.DecimalField(**PRICE)
    cfd_bid = models.DecimalField(**PRICE)
    cfd_ask = models.DecimalField(**PRICE)
    usd_per_usdt = models.DecimalField(**USD_PER_USDT)
    edge_sell_perp = models.DecimalField(**PRICE)
    edge_buy_perp = models.DecimalField(**PRICE)
    net_sell_perp = models.DecimalField(**PRICE)
    net_buy_perp = models.DecimalField(**PRICE)
    basis = models.DecimalField(**PRICE)
    basis_mean = models.FloatField(null=True)
    zscore = models.FloatField(null=True)

    class Meta:
        indexes = [models.Index(fields=["pair", "-ts"], name="sample_pair_ts")]

    def __str__(self) -> str:
        return f"{self.pair_id} {self.ts:%Y-%m-%d %H:%M:%S.%f} basis {self.basis}"


class BasisCandle(models.Model):
    pair = models.ForeignKey(SourcePair, on_delete=models.CASCADE, related_name="candles")
    interval = models.CharField(max_length=4, choices=CandleInterval.choices)
    start = models.DateTimeField()
    open = models.DecimalField(**PRICE)
    high = models.DecimalField(**PRICE)
    low = models.DecimalField(**PRICE)
    close = models.DecimalField(**PRICE)
    best_net_edge = models.DecimalField(**PRICE)
    samples = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["pair", "interval", "start"], name="candle_unique_start")]
        indexes = [models.Index(fields=["pair", "interval", "-start"], name="candle_pair_interval_start")]

    def __str__(self) -> str:
        return f"{self.pair_id} {self.interval} {self.start:%Y-%m-%d %H:%M}"


class Opportunity(models.Model):
    """A spell when one direction's net edge stayed at or above the entry threshold."""

    pair = models.ForeignKey(SourcePair, on_delete=models.CASCADE, related_name="opportunities")
    direction = models.CharField(_("direction"), max_length=12, choices=Direction.choices)
    started_at = models.DateTimeField(_("started"))
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    peak_net_edge = models.DecimalField(_("peak net edge (USD/oz)"), **PRICE)
    peak_at = models.DateTimeField(_("peak at"))
    threshold = models.DecimalField(_("threshold (USD/oz)"), **PRICE)

    class Meta:
        verbose_name = _("opportunity")
        verbose_name_plural = _("opportunities")
        indexes = [models.Index(fields=["pair", "-started_at"], name="opportunity_pair_started")]
        constraints = [
            models.UniqueConstraint(fields=["pair", "direction", "started_at"], name="opportunity_unique_start")
        ]

    def __str__(self) -> str:
        return f"{self.pair_id} {self.direction} {self.started_at:%Y-%m-%d %H:%M:%S}"

    @property
    def duration_seconds(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


class Heartbeat(models.Model):
    """The last time a component proved it was alive; health lights are computed from these ages."""

    component = models.CharField(max_length=80, unique=True)
    beat_at = models.DateTimeField()
    detail = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"{self.component} @ {self.beat_at:%Y-%m-%d %H:%M:%S}"


# --- Execution: hedges, orders, fills, carry, positions, the paper venue, reconciliation (issue 8) --------------

USD: dict[str, Any] = {"max_digits": 24, "decimal_places": 8}
# The booked PnL split, one field per line of the one money model (trading/domain/pnl.py): `pnl_<line>`.
PNL_FIELDS = tuple(f"pnl_{line}" for line in pnl.LINES)


class Hedge(models.Model):
    """Two legs on one pool that together hold no gold: a perp position and the opposite CFD position.

    `perp_oz` / `cfd_oz` are the signed ounces actually filled (from fills), so `perp_oz + cfd_oz` is the
    unhedged exposure at any moment; the PnL split is filled in as fills, funding and swap are booked.
    """

    # No single-column indexes on tenant and pool: (tenant, status) and (pool, status) below lead with them, and
    # every index is written on the way to the wire (bench/order_legs.py).
    tenant = models.ForeignKey(
        "accounts.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False, verbose_name=_("tenant")
    )
    pool = models.ForeignKey(
        "accounts.AccountPool",
        on_delete=models.PROTECT,
        related_name="hedges",
        db_index=False,
        verbose_name=_("account pool"),
    )
    strategy = models.ForeignKey(
        "strategies.Strategy",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="hedges",
        verbose_name=_("strategy"),
    )
    strategy_version = models.ForeignKey(
        "strategies.StrategyVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="hedges",
        verbose_name=_("strategy version"),
    )
    direction = models.CharField(_("direction"), max_length=12, choices=Direction.choices)
    status = models.CharField(_("status"), max_length=16, choices=HedgeStatus.choices, default=HedgeStatus.PLANNED)
    paper = models.BooleanField(_("paper"), default=True)
    manual = models.BooleanField(_("opened by hand"), default=False)
    size_oz = models.DecimalField(_("size (oz)"), **OUNCES)
    perp_oz = models.DecimalField(_("perp position (oz)"), default=Decimal(0), **OUNCES)
    cfd_oz = models.DecimalField(_("CFD position (oz)"), default=Decimal(0), **OUNCES)
    entry_net_edge = models.DecimalField(_("net edge at entry (USD/oz)"), null=True, blank=True, **PRICE)
    entry_usd_per_usdt = models.DecimalField(_("USDT/USD at entry"), null=True, blank=True, **USD_PER_USDT)
    exit_usd_per_usdt = models.DecimalField(_("USDT/USD at exit"), null=True, blank=True, **USD_PER_USDT)
    open_reason = models.JSONField(_("open reason"), default=dict, blank=True)
    close_reason = models.JSONField(_("close reason"), default=dict, blank=True)
    status_reason = models.CharField(_("status reason"), max_length=300, blank=True)
    planned_at = models.DateTimeField(_("planned"))
    opened_at = models.DateTimeField(_("opened"), null=True, blank=True)
    closing_at = models.DateTimeField(_("closing since"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    legged_at = models.DateTimeField(_("legged since"), null=True, blank=True)
    pnl_spread = models.DecimalField(_("spread capture (USD)"), default=Decimal(0), **USD)
    pnl_fees = models.DecimalField(_("fees (USD)"), default=Decimal(0), **USD)
    pnl_funding = models.DecimalField(_("funding (USD)"), default=Decimal(0), **USD)
    pnl_swap = models.DecimalField(_("swap (USD)"), default=Decimal(0), **USD)
    pnl_fx = models.DecimalField(_("USDT/USD (USD)"), default=Decimal(0), **USD)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("hedge")
        verbose_name_plural = _("hedges")
        ordering = ["-planned_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "status"], name="hedge_tenant_status"),
            models.Index(fields=["pool", "status"], name="hedge_pool_status"),
        ]

    def __str__(self) -> str:
        return f"H{self.pk} {self.direction} {self.size_oz} oz"

    @property
    def unhedged_oz(self) -> Decimal:
        return self.perp_oz + self.cfd_oz

    @property
    def booked_pnl(self) -> pnl.PnlSplit:
        """The split booked when the hedge's legs went flat (8 dp; zero while it has never been flat)."""
        return pnl.PnlSplit(*(getattr(self, name) for name in PNL_FIELDS))

    @property
    def pnl_total(self) -> Decimal:
        return self.booked_pnl.total


class Order(models.Model):
    """One order on one venue, persisted (status `new`) before anything is sent.

    `client_order_id` is deterministic per (tenant, hedge, leg, intent, attempt) and is what the venue knows
    the order by (Binance `newClientOrderId`, MT5 `comment`); an ambiguous answer leaves the order `unknown`
    until it is looked up by that id. `epoch` is the strategy lease epoch the order was written under.
    """

    # No single-column indexes on tenant and account: (tenant, status), (tenant, created) and the unique (account,
    # client id) lead with them, and every index is written on the way to the wire (bench/order_legs.py).
    tenant = models.ForeignKey(
        "accounts.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False, verbose_name=_("tenant")
    )
    hedge = models.ForeignKey(
        Hedge, on_delete=models.PROTECT, null=True, blank=True, related_name="orders", verbose_name=_("hedge")
    )
    account = models.ForeignKey(
        "accounts.VenueAccount",
        on_delete=models.PROTECT,
        related_name="orders",
        db_index=False,
        verbose_name=_("account"),
    )
    strategy = models.ForeignKey(
        "strategies.Strategy",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
        verbose_name=_("strategy"),
    )
    epoch = models.PositiveBigIntegerField(_("lease epoch"), null=True, blank=True)
    leg = models.CharField(_("leg"), max_length=4, choices=Leg.choices)
    intent = models.CharField(_("intent"), max_length=8, choices=OrderIntent.choices)
    attempt = models.PositiveIntegerField(_("attempt"), default=1)
    client_order_id = models.CharField(_("client order id"), max_length=36)
    venue_order_id = models.CharField(_("venue order id"), max_length=64, blank=True)
    side = models.CharField(_("side"), max_length=4, choices=OrderSide.choices)
    kind = models.CharField(_("type"), max_length=10, choices=OrderKind.choices)
    quantity = models.DecimalField(_("quantity (oz)"), **OUNCES)
    lots = models.DecimalField(_("lots"), null=True, blank=True, **LOTS)
    limit_price = models.DecimalField(_("limit price"), null=True, blank=True, **PRICE)
    deviation = models.PositiveIntegerField(_("deviation (points)"), null=True, blank=True)
    reducing = models.BooleanField(_("reduces exposure"), default=False)
    status = models.CharField(_("status"), max_length=18, choices=OrderStatus.choices, default=OrderStatus.NEW)
    filled = models.DecimalField(_("filled (oz)"), default=Decimal(0), **OUNCES)
    avg_price = models.DecimalField(_("average price"), null=True, blank=True, **PRICE)
    # The venue's own cumulative figures (order answers, lookups); `filled` is the larger of these and the fills.
    venue_filled = models.DecimalField(_("filled at the venue (oz)"), default=Decimal(0), **OUNCES)
    venue_avg_price = models.DecimalField(_("venue average price"), null=True, blank=True, **PRICE)
    fee = models.DecimalField(_("fees"), default=Decimal(0), **RATE)
    fee_currency = models.CharField(_("fee currency"), max_length=8, blank=True)
    paper = models.BooleanField(_("paper"), default=True)
    quote_ts = models.DateTimeField(_("priced from quote at"), null=True, blank=True)
    usd_per_usdt = models.DecimalField(_("USDT/USD when priced"), null=True, blank=True, **USD_PER_USDT)
    error = models.CharField(_("error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created"))
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "client_order_id"], name="order_unique_client_id"),
            models.CheckConstraint(condition=models.Q(filled__lte=models.F("quantity")), name="order_filled_le_qty"),
        ]
        indexes = [
            models.Index(fields=["tenant", "status"], name="order_tenant_status"),
            models.Index(fields=["tenant", "-created_at"], name="order_tenant_created"),
        ]

    def __str__(self) -> str:
        return self.client_order_id

    @property
    def signed_filled(self) -> Decimal:
        return self.filled if self.side == OrderSide.BUY else -self.filled


class Fill(models.Model):
    """One execution of an order, however it was learned (answer, stream, poll, lookup, paper). `fill_id` is the
    venue's own id (a Binance trade id, an MT5 deal ticket): recorded once per account, so the same fill heard from
    two sources (the order answer and the user-data stream, a poll) changes nothing the second time.

    `fee` is booked in the leg's currency (perp USDT, CFD USD; negative: a rebate). When the venue charged another
    asset (BNB; USDT on a USD leg), `venue_fee`/`venue_fee_asset` are what it charged and `fee_rate` (booked currency
    per unit of that asset), `fee_rate_source` and `fee_rate_at` say how it was converted. `realized_pnl` and `swap`
    are the venue's own figures for the fill (Binance `realizedPnl`; an MT5 deal's `profit` and `swap`, in the
    account currency), kept for reconciliation."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant"))
    account = models.ForeignKey(
        "accounts.VenueAccount", on_delete=models.PROTECT, related_name="fills", verbose_name=_("account")
    )
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="fills", verbose_name=_("order"))
    fill_id = models.CharField(_("fill id"), max_length=64)
    quantity = models.DecimalField(_("quantity (oz)"), **OUNCES)
    price = models.DecimalField(_("price"), **PRICE)
    fee = models.DecimalField(_("fee"), default=Decimal(0), **RATE)
    fee_currency = models.CharField(_("fee currency"), max_length=8, blank=True)
    maker = models.BooleanField(_("maker"), null=True, blank=True)
    venue_fee = models.DecimalField(_("fee as charged"), null=True, blank=True, **RATE)
    venue_fee_asset = models.CharField(_("fee asset as charged"), max_length=12, blank=True)
    fee_rate = models.DecimalField(_("fee conversion rate"), null=True, blank=True, **PRICE)
    fee_rate_source = models.CharField(_("fee rate source"), max_length=80, blank=True)
    fee_rate_at = models.DateTimeField(_("fee rate time"), null=True, blank=True)
    realized_pnl = models.DecimalField(_("realised PnL at the venue"), null=True, blank=True, **PRICE)
    swap = models.DecimalField(_("swap at the venue"), null=True, blank=True, **PRICE)
    source = models.CharField(_("source"), max_length=16, choices=FillSource.choices)
    paper = models.BooleanField(_("paper"), default=True)
    at = models.DateTimeField(_("time"))

    class Meta:
        verbose_name = _("fill")
        verbose_name_plural = _("fills")
        ordering = ["-at", "-id"]
        constraints = [models.UniqueConstraint(fields=["account", "fill_id"], name="fill_unique_venue_id")]
        indexes = [models.Index(fields=["tenant", "-at"], name="fill_tenant_time")]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.fill_id}"


class CarryEntry(models.Model):
    """Funding (perp) or swap (CFD) booked to a hedge: from the venue's own records for live accounts (Binance
    FUNDING_FEE income, MT5 position/deal swap), from the model for paper hedges."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant"))
    account = models.ForeignKey(
        "accounts.VenueAccount", on_delete=models.PROTECT, related_name="carry", verbose_name=_("account")
    )
    hedge = models.ForeignKey(
        Hedge, on_delete=models.PROTECT, null=True, blank=True, related_name="carry", verbose_name=_("hedge")
    )
    kind = models.CharField(_("kind"), max_length=8, choices=CarryKind.choices)
    amount = models.DecimalField(_("amount"), **RATE)
    currency = models.CharField(_("currency"), max_length=8)
    amount_usd = models.DecimalField(_("amount (USD)"), **USD)
    # The USDT/USD rate of the booking's moment: a USDT amount is worth `amount · usd_per_usdt` then, and its move
    # to the hedge's valuation rate is the split's USDT/USD line (trading/domain/pnl.py).
    usd_per_usdt = models.DecimalField(_("USDT/USD when booked"), null=True, blank=True, **USD_PER_USDT)
    venue_ref = models.CharField(_("venue reference"), max_length=80)
    paper = models.BooleanField(_("paper"), default=True)
    at = models.DateTimeField(_("time"))

    class Meta:
        verbose_name = _("carry entry")
        verbose_name_plural = _("carry entries")
        ordering = ["-at", "-id"]
        constraints = [models.UniqueConstraint(fields=["account", "kind", "venue_ref"], name="carry_unique_ref")]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency}"


class PositionSnapshot(models.Model):
    """The net position of one account (and of its pool's hedge) at one time, for history (a beat job)."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant"))
    account = models.ForeignKey(
        "accounts.VenueAccount", on_delete=models.CASCADE, related_name="positions", verbose_name=_("account")
    )
    pool = models.ForeignKey(
        "accounts.AccountPool",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="positions",
        verbose_name=_("account pool"),
    )
    at = models.DateTimeField(_("time"))
    ours_oz = models.DecimalField(_("our position (oz)"), **OUNCES)
    venue_oz = models.DecimalField(_("venue position (oz)"), null=True, blank=True, **OUNCES)
    avg_price = models.DecimalField(_("average price"), null=True, blank=True, **PRICE)
    mark_price = models.DecimalField(_("mark price"), null=True, blank=True, **PRICE)
    unrealised = models.DecimalField(_("unrealised PnL"), null=True, blank=True, **USD)
    currency = models.CharField(_("currency"), max_length=8, blank=True)

    class Meta:
        verbose_name = _("position snapshot")
        verbose_name_plural = _("position snapshots")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["account", "-at"], name="position_account_time")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.ours_oz} oz @ {self.at:%Y-%m-%d %H:%M}"


class PaperOrder(models.Model):
    """The paper venue's own book: what the simulated venue received and did, kept apart from our `Order`
    records so that reconciliation reads it as *the venue*."""

    account = models.ForeignKey(
        "accounts.VenueAccount", on_delete=models.CASCADE, related_name="paper_orders", verbose_name=_("account")
    )
    client_order_id = models.CharField(_("client order id"), max_length=36)
    venue_order_id = models.CharField(_("venue order id"), max_length=64)
    side = models.CharField(_("side"), max_length=4, choices=OrderSide.choices)
    kind = models.CharField(_("type"), max_length=10, choices=OrderKind.choices)
    quantity = models.DecimalField(_("quantity (oz)"), **OUNCES)
    limit_price = models.DecimalField(_("limit price"), null=True, blank=True, **PRICE)
    status = models.CharField(_("status"), max_length=18, choices=OrderStatus.choices)
    filled = models.DecimalField(_("filled (oz)"), default=Decimal(0), **OUNCES)
    avg_price = models.DecimalField(_("average price"), null=True, blank=True, **PRICE)
    fee = models.DecimalField(_("fees"), default=Decimal(0), **RATE)
    fills = models.JSONField(_("fills"), default=list, blank=True)
    at = models.DateTimeField(_("time"))

    class Meta:
        verbose_name = _("paper venue order")
        verbose_name_plural = _("paper venue orders")
        ordering = ["-at", "-id"]
        constraints = [models.UniqueConstraint(fields=["account", "client_order_id"], name="paper_order_unique_cid")]

    def __str__(self) -> str:
        return self.client_order_id


class PaperPosition(models.Model):
    """The paper venue's position of one account (signed ounces) and the PnL its closed ounces realised (in the
    instrument's quote currency), moved only by paper fills (or a test that injects a difference, as a venue-side
    change would). With the fees of `PaperOrder` and the account's carry it makes the paper account's balance
    (trading/execution/paper.py `paper_account_state`)."""

    account = models.OneToOneField(
        "accounts.VenueAccount", on_delete=models.CASCADE, related_name="paper_position", verbose_name=_("account")
    )
    quantity_oz = models.DecimalField(_("position (oz)"), default=Decimal(0), **OUNCES)
    avg_price = models.DecimalField(_("average price"), null=True, blank=True, **PRICE)
    realised_pnl = models.DecimalField(_("realised PnL"), default=Decimal(0), **PRICE)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("paper venue position")
        verbose_name_plural = _("paper venue positions")

    def __str__(self) -> str:
        return f"{self.account_id}: {self.quantity_oz} oz"


class ReconciliationReport(models.Model):
    """Orders and positions per venue against ours, and the net hedge of the pool: the differences found."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant"))
    pool = models.ForeignKey(
        "accounts.AccountPool", on_delete=models.CASCADE, related_name="reconciliations", verbose_name=_("account pool")
    )
    strategy = models.ForeignKey(
        "strategies.Strategy",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reconciliations",
        verbose_name=_("strategy"),
    )
    trigger = models.CharField(_("trigger"), max_length=10, choices=ReconciliationTrigger.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=ReconciliationStatus.choices, default=ReconciliationStatus.RUNNING
    )
    differences = models.JSONField(_("differences"), default=list, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    synced_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("synced by")
    )
    synced_at = models.DateTimeField(_("synced"), null=True, blank=True)

    class Meta:
        verbose_name = _("reconciliation report")
        verbose_name_plural = _("reconciliation reports")
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["pool", "-started_at"], name="recon_pool_started")]

    def __str__(self) -> str:
        return f"R{self.pk} {self.status}"


class ManualCommand(models.Model):
    """An operator's order to the engine that holds the pool's venues and quotes: open or close a hedge by hand,
    flatten a pool, repair a legged hedge, cancel open orders. Queued by the web (audited), carried out by the
    engine, with its outcome recorded here for the page that follows it."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant"))
    pool = models.ForeignKey(
        "accounts.AccountPool", on_delete=models.CASCADE, related_name="commands", verbose_name=_("account pool")
    )
    hedge = models.ForeignKey(
        Hedge, on_delete=models.CASCADE, null=True, blank=True, related_name="commands", verbose_name=_("hedge")
    )
    kind = models.CharField(_("action"), max_length=20, choices=ManualKind.choices)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=CommandStatus.choices, default=CommandStatus.QUEUED)
    result = models.CharField(_("result"), max_length=500, blank=True)
    requested_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    requested_at = models.DateTimeField(_("requested"))
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("manual command")
        verbose_name_plural = _("manual commands")
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["status", "requested_at"], name="command_queue")]

    def __str__(self) -> str:
        return f"{self.kind} ({self.status})"


class FundingPayment(models.Model):
    """Funding actually paid (< 0) or received (> 0) on a perp account, as the venue booked it (Binance `income`,
    `FUNDING_FEE`). One row per venue transaction: a sync that reads the same rows again adds nothing."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant"))
    account = models.ForeignKey(
        "accounts.VenueAccount", on_delete=models.CASCADE, related_name="funding_payments", verbose_name=_("account")
    )
    venue_id = models.CharField(_("venue transaction id"), max_length=64)
    symbol = models.CharField(_("symbol"), max_length=40)
    asset = models.CharField(_("asset"), max_length=12)
    amount = models.DecimalField(_("amount"), **PRICE)
    at = models.DateTimeField(_("time"))

    class Meta:
        verbose_name = _("funding payment")
        verbose_name_plural = _("funding payments")
        ordering = ["-at"]
        constraints = [models.UniqueConstraint(fields=["account", "venue_id"], name="funding_unique_venue_id")]
        indexes = [models.Index(fields=["account", "-at"], name="funding_account_time")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.at:%Y-%m-%d %H:%M} {self.amount} {self.asset}"


class VenueEvent(models.Model):
    """A change the venue made to an account's position without us: a liquidation, an auto-deleverage, or a trade
    placed outside quantarb (a client order id that is not ours). Recorded from the user-data stream; each raises
    an alert. `raw` is the venue's event as received (it holds no credentials)."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant"))
    account = models.ForeignKey(
        "accounts.VenueAccount", on_delete=models.CASCADE, related_name="venue_events", verbose_name=_("account")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=VenueEventKind.choices)
    symbol = models.CharField(_("symbol"), max_length=40)
    side = models.CharField(_("side"), max_length=4)
    quantity = models.DecimalField(_("quantity"), **OUNCES)
    price = models.DecimalField(_("price"), **PRICE, null=True, blank=True)
    client_order_id = models.CharField(_("client order id"), max_length=64, blank=True)
    venue_order_id = models.CharField(_("venue order id"), max_length=64)
    venue_trade_id = models.CharField(_("venue trade id"), max_length=64, blank=True)
    raw = models.JSONField(_("venue event"), default=dict)
    at = models.DateTimeField(_("time"))
    recorded_at = models.DateTimeField(_("recorded"))

    class Meta:
        verbose_name = _("venue event")
        verbose_name_plural = _("venue events")
        ordering = ["-at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "venue_order_id", "venue_trade_id"], name="venue_event_unique_fill"
            )
        ]
        indexes = [models.Index(fields=["tenant", "-at"], name="venue_event_tenant_time")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.kind} {self.side} {self.quantity} @ {self.price}"


# --- carry inputs, recorded from now on (issue 13 item 8): backtests and the risk view need their history, and no
# venue serves past swap terms -------------------------------------------------------------------------------------


class FundingRateRecord(models.Model):
    """The funding rate a perp source's venue settled at one funding time (Binance `GET /fapi/v1/fundingRate`), with
    the mark price it was charged on. One row per (source, funding time); recording the same time again adds
    nothing."""

    source = models.ForeignKey(
        QuoteSource, on_delete=models.CASCADE, related_name="funding_rates", verbose_name=_("quote source")
    )
    funding_time = models.DateTimeField(_("funding time"))
    rate = models.DecimalField(_("funding rate"), **RATE)
    mark_price = models.DecimalField(_("mark price"), null=True, blank=True, **PRICE)
    recorded_at = models.DateTimeField(_("recorded"))

    class Meta:
        verbose_name = _("funding rate record")
        verbose_name_plural = _("funding rate records")
        ordering = ["-funding_time"]
        constraints = [models.UniqueConstraint(fields=["source", "funding_time"], name="funding_rate_unique_time")]

    def __str__(self) -> str:
        return f"{self.source_id} {self.funding_time:%Y-%m-%d %H:%M} {self.rate}"


class SwapTermsRecord(models.Model):
    """A CFD source's swap terms as the terminal's `symbol_info` gave them on one day (UTC date of the reading):
    `swap_mode` is MT5's value (1 points, 2–4 money, 5–6 interest…), `swap_long`/`swap_short` signed as the broker
    books them, `swap_rollover3days` the weekday charged three nights (0 Sunday … 6 Saturday). One row per (source,
    day): the first reading of the day is kept."""

    source = models.ForeignKey(
        QuoteSource, on_delete=models.CASCADE, related_name="swap_terms", verbose_name=_("quote source")
    )
    day = models.DateField(_("day"))
    swap_mode = models.PositiveSmallIntegerField(_("swap mode"))
    swap_long = models.DecimalField(_("swap long"), **PRICE)
    swap_short = models.DecimalField(_("swap short"), **PRICE)
    swap_rollover3days = models.PositiveSmallIntegerField(_("triple-swap weekday"))
    point = models.DecimalField(_("point"), **PRICE)
    contract_size = models.DecimalField(_("contract size (oz per lot)"), **PRICE)
    currency_profit = models.CharField(_("profit currency"), max_length=8)
    recorded_at = models.DateTimeField(_("recorded"))

    class Meta:
        verbose_name = _("swap terms record")
        verbose_name_plural = _("swap terms records")
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["source", "day"], name="swap_terms_unique_day")]

    def __str__(self) -> str:
        return f"{self.source_id} {self.day} long {self.swap_long} short {self.swap_short}"
