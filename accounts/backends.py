"""Django's model backend, refusing suspended users as it refuses inactive ones.

Refusing here rather than in a form covers every way in: the portal, the admin and the token endpoint refuse the
sign-in, and `get_user` refusing makes an existing session (or WebSocket) of a user who became suspended
anonymous on its next request.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from .choices import UserStatus

SUSPENDED_FLAG = "quantarb_account_suspended"


class AccountBackend(ModelBackend):
    def user_can_authenticate(self, user: Any) -> bool:
        return super().user_can_authenticate(user) and getattr(user, "status", None) == UserStatus.ACTIVE

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        user_model = get_user_model()
        if username is None:
            username = kwargs.get(user_model.USERNAME_FIELD)
        if username is None or password is None:
            return None
        try:
            user = user_model._default_manager.get_by_natural_key(username)
        except user_model.DoesNotExist:
            user_model().set_password(password)  # hash once anyway: an unknown name answers as slowly as a known one
            return None
        if not user.check_password(password):
            return None
        if self.user_can_authenticate(user):
            return user
        if request is not None and getattr(user, "status", None) == UserStatus.SUSPENDED:
            # Tells the portal form why, and only after the right password: someone without it learns nothing.
            setattr(request, SUSPENDED_FLAG, True)
        return None
