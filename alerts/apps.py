from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from quantarb import alerting

from .registry import autodiscover


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = _("Alerts")

    def ready(self) -> None:
        from .sink import AlertsSink  # it imports alerts.models: only once the app registry is ready

        autodiscover()
        alerting.install(AlertsSink())  # the layers below alerts raise through it (quantarb/alerting.py)
