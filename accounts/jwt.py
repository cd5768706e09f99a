"""JWT for programs: tokens that carry their tenant, refused for suspended users at issue, use and refresh.

A token names one tenant (the `tenant` claim, its id): the one asked for at issue, else the user's first. Every
authenticated request re-reads the membership, so a token never outlives the user's membership of its tenant,
and the request's active tenant is the token's, whatever the session of the same browser chose.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth.models import update_last_login
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.serializers import (
    TokenObtainPairSerializer,
    TokenObtainSerializer,
    TokenRefreshSerializer,
)
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import RefreshToken, Token
from rest_framework_simplejwt.utils import get_md5_hash_password

from .choices import UserStatus
from .models import Membership, User
from .selectors import membership_in, memberships_of

TENANT_CLAIM = "tenant"


def user_may_authenticate(user: Any) -> bool:
    """simplejwt's `USER_AUTHENTICATION_RULE`: active for Django and not suspended. Issue and refresh apply it;
    `TenantJWTAuthentication` applies it to every request."""
    return user is not None and user.is_active and user.status == UserStatus.ACTIVE


def _user_of(token: Token) -> User | None:
    try:
        return User.objects.filter(pk=int(token[api_settings.USER_ID_CLAIM])).first()
    except (KeyError, TypeError, ValueError):
        return None


def _check_user(user: User | None, token: Token) -> User:
    if user is None:
        raise AuthenticationFailed(_("User not found."), code="user_not_found")
    if not user_may_authenticate(user):
        raise AuthenticationFailed(_("This account is suspended or inactive."), code="user_inactive")
    if api_settings.CHECK_REVOKE_TOKEN and token.get(api_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(
        user.password
    ):
        raise AuthenticationFailed(_("The user's password has been changed."), code="password_changed")
    return user


def token_membership(user: Any, token: Token) -> Membership:
    """The user's membership of the token's tenant; 401 when the token names none or the user has left it."""
    tenant_id = token.get(TENANT_CLAIM)
    if not isinstance(tenant_id, int) or isinstance(tenant_id, bool):
        raise InvalidToken(_("The token names no tenant."))
    membership = membership_in(user=user, tenant_id=tenant_id)
    if membership is None:
        raise AuthenticationFailed(_("You are not a member of this token's tenant."), code="not_a_member")
    return membership


class TenantJWTAuthentication(JWTAuthentication):
    """First of the API's authenticators, so a bad token answers 401 and never falls through to the session."""

    def authenticate(self, request: Request) -> tuple[Any, Token] | None:
        authenticated = super().authenticate(request)
        if authenticated is None:
            return None
        user, token = authenticated
        membership = token_membership(user, token)
        # The token's tenant replaces the session's choice that quantarb.tenancy.TenantMiddleware made lazily:
        # views read `request.tenant` / `request.membership` and so read the token's tenant.
        http_request: Any = request._request
        http_request.membership = membership
        http_request.tenant = membership.tenant
        return user, token

    def get_user(self, validated_token: Token) -> Any:
        return _check_user(_user_of(validated_token), validated_token)


class TenantTokenObtainPairSerializer(TokenObtainPairSerializer):
    tenant = serializers.SlugField(
        required=False,
        max_length=60,
        help_text=gettext_lazy("Slug of the tenant the tokens act in; default: your first."),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Credentials first (401 for a wrong password or a suspended user), so the tenant answer tells nothing to
        # someone without them.
        TokenObtainSerializer.validate(self, attrs)
        user = cast(User, self.user)
        slug = attrs.get("tenant")
        if slug:
            membership = membership_in(user=user, tenant_slug=slug)
            if membership is None:
                # The same answer for a tenant that does not exist: membership is all that is disclosed.
                raise serializers.ValidationError(
                    {"tenant": [_("You are not a member of tenant “%(slug)s”.") % {"slug": slug}]}
                )
        else:
            membership = memberships_of(user=user).first()
            if membership is None:
                raise serializers.ValidationError({"tenant": [_("You are not a member of any tenant.")]})
        refresh = cast(RefreshToken, self.get_token(user))
        refresh[TENANT_CLAIM] = membership.tenant_id
        if api_settings.UPDATE_LAST_LOGIN:
            update_last_login(User, user)
        return {"refresh": str(refresh), "access": str(refresh.access_token), "tenant": membership.tenant.slug}


class TenantTokenRefreshSerializer(TokenRefreshSerializer):
    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        # Decoding checks signature, expiry and the blacklist (a rotated refresh is blacklisted): TokenError → 401.
        refresh = RefreshToken(attrs["refresh"])
        token_membership(_check_user(_user_of(refresh), refresh), refresh)
        return super().validate(attrs)


class TenantJWTScheme(SimpleJWTScheme):  # type: ignore[no-untyped-call]
    """OpenAPI: our authenticator is simplejwt's bearer scheme (drf-spectacular matches classes exactly)."""

    target_class = "accounts.jwt.TenantJWTAuthentication"
