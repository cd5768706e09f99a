from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from .choices import Role, Theme, UserStatus


class User(AbstractUser):
    """A person. What they may see and do is decided by their memberships, one per tenant."""

    status = models.CharField(_("status"), max_length=16, choices=UserStatus.choices, default=UserStatus.ACTIVE)
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, blank=True, help_text=_("Empty: follow the browser.")
    )
    theme = models.CharField(_("theme"), max_length=8, choices=Theme.choices, default=Theme.DARK)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    @property
    def is_suspended(self) -> bool:
        return self.status == UserStatus.SUSPENDED


class Tenant(models.Model):
    """A desk. Every tenant-owned row carries its tenant; nothing crosses tenants."""

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("user"))
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("tenant"))
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="membership_unique_user_tenant")]
        ordering = ["tenant__name"]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant} ({self.get_role_display()})"
