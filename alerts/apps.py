from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = _("Alerts")

    def ready(self) -> None:
        from quantarb import alerting

        from .registry import autodiscover
        from .sink import AlertsSink

        autodiscover()
        alerting.install(AlertsSink())  # the layers below alerts raise through it (quantarb/alerting.py)
