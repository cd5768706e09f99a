"""Glue from Django's sign-in, sign-out and user saves to the session records of accounts/sessions.py."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db import transaction
from django.db.models.signals import pre_save
from django.dispatch import receiver
from django.http import HttpRequest

from .http import audit_context
from .models import SessionEnd, User
from .sessions import current_session_id, password_changed, portal_session_end, portal_session_of, portal_session_start


@receiver(user_logged_in, dispatch_uid="accounts.sessions.login")
def record_sign_in(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        portal_session_start(request=request, user=user)


@receiver(user_logged_out, dispatch_uid="accounts.sessions.logout")
def record_sign_out(sender: Any, request: HttpRequest | None, user: User | None, **kwargs: Any) -> None:
    if user is None or request is None or not hasattr(request, "session"):
        return
    portal_session = portal_session_of(request)
    if portal_session is not None and portal_session.ended_at is None:
        portal_session_end(
            portal_session=portal_session, reason=SessionEnd.SIGNED_OUT, actor=user, context=audit_context(request)
        )


@receiver(pre_save, sender=User, dispatch_uid="accounts.sessions.password")
def end_sessions_on_password_change(sender: Any, instance: User, raw: bool = False, **kwargs: Any) -> None:
    if raw or instance.pk is None:
        return
    stored = User.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    if stored is not None and stored != instance.password:
        user, keep = instance, current_session_id()
        # After the save commits: a rolled-back change keeps the sessions.
        transaction.on_commit(lambda: password_changed(user=user, keep=keep))
