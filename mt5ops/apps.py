from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class Mt5opsConfig(AppConfig):
    name = "mt5ops"
    verbose_name = _("MT5 operations")
