from django.db import models
from django.utils.translation import gettext_lazy as _

from strategies.domain import params


class StrategyState(models.TextChoices):
    """The lifecycle state the API reports: stopped, starting, running, paused, stopping, error."""

    STOPPED = "stopped", _("Stopped")
    STARTING = "starting", _("Starting")
    RUNNING = "running", _("Running")
    PAUSED = "paused", _("Paused")
    STOPPING = "stopping", _("Stopping")
    ERROR = "error", _("Error")


# States in which a strategy holds its pool: a pool is traded by at most one such strategy.
ACTIVE_STATES = (StrategyState.STARTING, StrategyState.RUNNING, StrategyState.PAUSED, StrategyState.STOPPING)


class LifecycleAction(models.TextChoices):
    START = "start", _("Start")
    STOP = "stop", _("Stop")
    PAUSE = "pause", _("Pause")
    RESUME = "resume", _("Resume")
    RESTART = "restart", _("Restart")


class StrategyMode(models.TextChoices):
    PAPER = params.Mode.PAPER.value, _("Paper")
    LIVE = params.Mode.LIVE.value, _("Live")
