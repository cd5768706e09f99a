from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("Admin")
    TRADER = "trader", _("Trader")
    ANALYST = "analyst", _("Analyst")
    VIEWER = "viewer", _("Viewer")
    COMPLIANCE = "compliance", _("Compliance")


class UserStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")


class Theme(models.TextChoices):
    DARK = "dark", _("Dark")
    LIGHT = "light", _("Light")
