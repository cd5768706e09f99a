"""Instruments, calendars, quote sources and the market-data store (ARCHITECTURE.md "Market data ownership").

Market data belongs to its source, not to a tenant; a tenant reaches a source pair through `PairAccess`
(later: through its pools). Every tenant-owned row carries its tenant."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.scoping import GrantableQuerySet, TenantQuerySet
from accounts.venue_kinds import InstrumentKind, Venue
from trading.choices import CandleInterval, Direction, RateSource, ServerTime
from trading.domain import calendar as cal
from trading.domain import pnl
from trading.domain.spread import CostModel
from trading.models.columns import MT5_WEEKDAYS, OUNCES, PRICE, RATE, USD_PER_USDT, WEEKDAYS


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

    objects = TenantQuerySet.as_manager()

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

    objects = TenantQuerySet.as_manager()

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

    objects = GrantableQuerySet.as_manager()

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


# --- Execution: hedges, orders, fills, carry, positions, the paper venue, reconciliation --------------


USD: dict[str, Any] = {"max_digits": 24, "decimal_places": 8}


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
