from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts and tenants")

    def ready(self) -> None:
        from django.contrib import admin

        from . import session_signals, signals  # noqa: F401 (connect the audit and session receivers)
        from .changelog import register_tracked_models
        from .db_roles import grant_application_role_after_migrate
        from .lockout_admin import register as register_lockout_admin

        register_lockout_admin(admin.site)

        register_tracked_models()

        from django.db.models.signals import pre_save

        from .audit_seal import changelog_pre_save
        from .models import ChangeLogEntry

        pre_save.connect(changelog_pre_save, sender=ChangeLogEntry, dispatch_uid="accounts.audit_seal.changelog")

        post_migrate.connect(grant_application_role_after_migrate, sender=self, dispatch_uid="accounts.db_roles.grant")
