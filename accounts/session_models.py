"""What a user is signed in with, so they (and their desk's admins) can see it and end it.

- `PortalSession`: one browser sign-in. Django's session row holds the data; this row holds what a person needs to
  recognise it (when, from where, which browser), its last activity (a person's request, never a background poll)
  and why it ended. The session carries this row's id, so a key cycled by Django keeps its row.
- `ApiTokenGrant`: one token issue (`POST /api/v1/auth/token/`) and every refresh rotated from it: its id is the
  `sid` claim of each refresh and access token of that family. Revoking the grant refuses all of them at once.
- `RevokedAccessToken`: the `jti` denylist of access tokens ended before their expiry (logout sends one). A row is
  useless after the token's own expiry, so the sweeper deletes it then.

All three live in the database, which every process (daphne, engine, workers) shares: a revocation holds
everywhere at the next request, as a per-process cache would not.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .scoping import TenantQuerySet


class SessionEnd(models.TextChoices):
    SIGNED_OUT = "signed_out", _("Signed out")
    REVOKED = "revoked", _("Revoked by the user")
    REVOKED_BY_ADMIN = "revoked_by_admin", _("Revoked by an admin")
    IDLE = "idle", _("Idle timeout")
    LIFETIME = "lifetime", _("Lifetime reached")
    PASSWORD_CHANGED = "password_changed", _("Password changed")


class PortalSession(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="portal_sessions", verbose_name=_("user")
    )
    session_key = models.CharField(_("session key"), max_length=40, blank=True, db_index=True)
    started_at = models.DateTimeField(_("started at"))
    last_activity_at = models.DateTimeField(_("last activity"))
    ip_address = models.GenericIPAddressField(_("address"), null=True, blank=True)
    user_agent = models.CharField(_("browser"), max_length=300, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    end_reason = models.CharField(_("end reason"), max_length=20, choices=SessionEnd.choices, blank=True)

    class Meta:
        verbose_name = _("portal session")
        verbose_name_plural = _("portal sessions")
        ordering = ["-last_activity_at"]
        indexes = [models.Index(fields=["user", "ended_at"], name="portal_session_user_open")]

    def __str__(self) -> str:
        return f"{self.user} {self.started_at:%Y-%m-%d %H:%M}"


class ApiTokenGrant(models.Model):
    sid = models.UUIDField(_("token family"), unique=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_token_grants", verbose_name=_("user")
    )
    tenant = models.ForeignKey(
        "accounts.Tenant", on_delete=models.CASCADE, related_name="api_token_grants", verbose_name=_("tenant")
    )
    issued_at = models.DateTimeField(_("issued at"))
    refreshed_at = models.DateTimeField(_("last refreshed"), null=True, blank=True)
    expires_at = models.DateTimeField(_("refresh expires at"))
    ip_address = models.GenericIPAddressField(_("address"), null=True, blank=True)
    user_agent = models.CharField(_("client"), max_length=300, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    end_reason = models.CharField(_("end reason"), max_length=20, choices=SessionEnd.choices, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-issued_at"]

    def __str__(self) -> str:
        return f"{self.user} {self.sid}"


class RevokedAccessToken(models.Model):
    jti = models.CharField(_("token id"), max_length=255, unique=True)
    expires_at = models.DateTimeField(_("token expires at"), db_index=True)
    revoked_at = models.DateTimeField(_("revoked at"))

    class Meta:
        verbose_name = _("revoked access token")
        verbose_name_plural = _("revoked access tokens")

    def __str__(self) -> str:
        return self.jti
