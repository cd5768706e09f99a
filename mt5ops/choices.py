from django.db import models
from django.utils.translation import gettext_lazy as _


class Backend(models.TextChoices):
    """How quantarb reaches a terminal: the MetaTrader5 package in-process (Windows), an rpyc bridge to a
    Windows/Wine host, or the simulated terminal of the demo and the tests."""

    NATIVE = "native", _("Native (Windows)")
    RPYC = "rpyc", _("rpyc bridge")
    SIM = "sim", _("Simulated")
