from django.db import models
from django.utils.translation import gettext_lazy as _

from .domain.classify import FailureClass
from .domain.recovery import RecoveryStage
from .domain.state import TerminalState


class Backend(models.TextChoices):
    """How quantarb reaches a terminal: the MetaTrader5 package in-process (Windows), an rpyc bridge to a
    Windows/Wine host, or the simulated terminal of the demo and the tests."""

    NATIVE = "native", _("Native (Windows)")
    RPYC = "rpyc", _("rpyc bridge")
    SIM = "sim", _("Simulated")


# --- MT5 operations: the domain's enums are the source of these choices -------------------------------
class TerminalStateChoice(models.TextChoices):
    HEALTHY = TerminalState.HEALTHY.value, _("healthy")
    DEGRADED = TerminalState.DEGRADED.value, _("degraded")
    DOWN = TerminalState.DOWN.value, _("down")
    MAINTENANCE = TerminalState.MAINTENANCE.value, _("maintenance")


class FailureChoice(models.TextChoices):
    HEALTHY = FailureClass.HEALTHY.value, _("healthy")
    BRIDGE_DOWN = FailureClass.BRIDGE_DOWN.value, _("bridge down")
    NOT_RESPONDING = FailureClass.NOT_RESPONDING.value, _("terminal not responding")
    IPC_TIMEOUT = FailureClass.IPC_TIMEOUT.value, _("IPC timeout")
    NOT_LOGGED_IN = FailureClass.NOT_LOGGED_IN.value, _("not logged in")
    WRONG_ACCOUNT = FailureClass.WRONG_ACCOUNT.value, _("wrong account")
    AUTOTRADING_OFF = FailureClass.AUTOTRADING_OFF.value, _("AutoTrading off")
    TICKS_STALE = FailureClass.TICKS_STALE.value, _("ticks stale")


class ActionChoice(models.TextChoices):
    """What was done to a terminal: the recovery stages (automatic or by hand) and maintenance."""

    REINITIALISE = RecoveryStage.REINITIALISE.value, _("reconnect")
    RELOGIN = RecoveryStage.RELOGIN.value, _("log in again")
    RESTART = RecoveryStage.RESTART.value, _("restart")
    MAINTENANCE_ON = "maintenance_on", _("maintenance on")
    MAINTENANCE_OFF = "maintenance_off", _("maintenance off")


class EventKind(models.TextChoices):
    STATE = "state", _("state change")
    ACTION = "action", _("action")
    WAIT = "wait", _("recovery waits")


class Outcome(models.TextChoices):
    DONE = "done", _("done")
    FAILED = "failed", _("failed")
    SKIPPED = "skipped", _("not done")
    QUEUED = "queued", _("queued")


# The API's action names → the stored action.
API_ACTIONS = {
    "reconnect": ActionChoice.REINITIALISE,
    "relogin": ActionChoice.RELOGIN,
    "restart": ActionChoice.RESTART,
    "maintenance_on": ActionChoice.MAINTENANCE_ON,
    "maintenance_off": ActionChoice.MAINTENANCE_OFF,
}
