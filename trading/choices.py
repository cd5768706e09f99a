from django.db import models
from django.utils.translation import gettext_lazy as _


class Venue(models.TextChoices):
    BINANCE_USDM = "binance-usdm", _("Binance USDⓈ-M")
    BYBIT_MT5 = "bybit-mt5", _("Bybit MT5")
    SIMULATED_PERP = "simulated-perp", _("Simulated perpetual")
    SIMULATED_CFD = "simulated-cfd", _("Simulated CFD")


class InstrumentKind(models.TextChoices):
    PERPETUAL = "perpetual", _("Perpetual")
    CFD = "cfd", _("CFD")


class ServerTime(models.TextChoices):
    NY_CLOSE = "ny_close", _("New York close (New York + 7 h)")
    FIXED = "fixed", _("Fixed offset")
    UTC = "utc", _("UTC")


class Direction(models.TextChoices):
    SELL_PERP = "sell_perp", _("Sell perp / buy CFD")
    BUY_PERP = "buy_perp", _("Buy perp / sell CFD")


class RateSource(models.TextChoices):
    SIMULATED = "simulated", _("Simulated USDT/USD")
    FIXED = "fixed", _("Fixed (assumption)")


class CandleInterval(models.TextChoices):
    M1 = "1m", _("1 minute")
    M5 = "5m", _("5 minutes")
    H1 = "1h", _("1 hour")


CANDLE_SECONDS = {CandleInterval.M1: 60, CandleInterval.M5: 300, CandleInterval.H1: 3600}
