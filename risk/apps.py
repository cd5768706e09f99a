from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from accounts.desk_signals import desk_created


class RiskConfig(AppConfig):
    name = "risk"
    verbose_name = _("Risk")

    def ready(self) -> None:
        from .defaults import on_desk_created  # it imports models: only once the app registry is ready

        desk_created.connect(on_desk_created, dispatch_uid="risk.default_limits")
