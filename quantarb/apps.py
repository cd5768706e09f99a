from django.apps import AppConfig
from django.conf import settings
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _

from . import outbound
from .api_decimals import install_plain_decimals
from .correlation import configure_structlog, install_celery_signals


class QuantarbConfig(AppConfig):
    default = True
    name = "quantarb"
    verbose_name = _("Platform")

    def ready(self) -> None:
        # wiring imports every app's services and models: only once the app registry is ready
        from .wiring import (
            install_limit_actions,
            install_pre_trade_gate,
            install_strategy_links,
            install_venue_catalogue,
            install_venue_link,
        )

        configure_structlog(json_lines=settings.QUANTARB_LOG_FORMAT == "json")
        install_celery_signals()
        install_plain_decimals()
        outbound.install()  # tenant-chosen HTTP destinations are vetted on each connection (quantarb/outbound.py)
        install_pre_trade_gate()
        install_limit_actions()
        install_venue_catalogue()
        install_venue_link()
        install_strategy_links()


class QuantarbAdminConfig(admin_apps.AdminConfig):
    """The Django admin on quantarb's site: access follows the role in the active tenant (accounts/admin_site.py)."""

    default_site = "accounts.admin_site.QuantarbAdminSite"
