from django.apps import AppConfig
from django.contrib import admin
from django.db.models.signals import post_migrate, pre_save
from django.utils.translation import gettext_lazy as _

from .changelog import register_tracked_models
from .db_roles import grant_application_role_after_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts and tenants")

    def ready(self) -> None:
        from . import session_signals, signals  # noqa: F401 (connect the audit and session receivers)

        # AppConfig.ready: each of these imports models, so not before the app registry is ready
        from .audit_seal import changelog_pre_save  # imports accounts.models
        from .lockout_admin import register as register_lockout_admin  # imports axes.models
        from .models import ChangeLogEntry  # models: the app registry is not ready when apps.py is imported

        register_lockout_admin(admin.site)

        register_tracked_models()

        pre_save.connect(changelog_pre_save, sender=ChangeLogEntry, dispatch_uid="accounts.audit_seal.changelog")

        post_migrate.connect(grant_application_role_after_migrate, sender=self, dispatch_uid="accounts.db_roles.grant")
