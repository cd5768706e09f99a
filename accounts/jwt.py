"""JWT for programs: tokens that carry their tenant, refused for suspended users at issue, use and refresh.

A token names one tenant (the `tenant` claim, its id): the one asked for at issue, else the user's first. Every
authenticated request re-reads the membership, so a token never outlives the user's membership of its tenant,
and the request's active tenant is the token's, whatever the session of the same browser chose.

Issue answers 429 while the username is locked out (django-axes, accounts/lockout.py), and asks users who must
pass two-factor (accounts/two_factor.py) for an `otp` code. Issue, refresh and logout are audited in the token's
tenant's chain with the token's id (`jti`), never the token.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, cast

from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth.models import update_last_login
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django_otp import verify_token as otp_verify_token
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework import exceptions as drf_exceptions
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError
from rest_framework_simplejwt.serializers import (
    PasswordField,
    TokenBlacklistSerializer,
    TokenObtainPairSerializer,
    TokenObtainSerializer,
    TokenRefreshSerializer,
)
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, Token
from rest_framework_simplejwt.utils import get_md5_hash_password

from quantarb.sql_rows import column_count, column_list, instance_from

from .audit import audit_record
from .choices import AuditAction, UserStatus
from .http import audit_context
from .lockout import lockout_message, lockout_state, retry_after_seconds
from .models import ApiTokenGrant, Membership, RevokedAccessToken, Tenant, User
from .selectors import membership_in, memberships_of
from .services import two_factor_failed
from .session_models import SessionEnd
from .sessions import (
    access_token_revoke,
    token_family_revoke,
    token_grant_refreshed,
    token_grant_start,
    token_refusal,
    token_revocation_keys,
)
from .two_factor import confirmed_device, two_factor_required

TENANT_CLAIM = "tenant"
# Longer than any password a person or a password manager uses; bounds the work of checking one.
PASSWORD_MAX_LENGTH = 1024
# An encoded refresh token is a few hundred characters; anything much longer is not one.
TOKEN_MAX_LENGTH = 4096


class TooManyAttempts(APIException):
    """429 with a `Retry-After` header (DRF's exception handler sets it from `wait`)."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "locked"

    def __init__(self, detail: str, wait: int, code: str = "locked") -> None:
        super().__init__(detail, code)
        self.wait = wait


def _audit_token(action: AuditAction, token: Token, user: User | None, request: Any, **summary: Any) -> None:
    """Record `action` in the chain of the token's tenant: the token's id (`jti`) and never the token itself."""
    tenant_id = token.get(TENANT_CLAIM)
    tenant = Tenant.objects.filter(pk=tenant_id).first() if isinstance(tenant_id, int) else None
    audit_record(
        tenant=tenant,
        actor=user,
        action=action,
        obj=user,
        summary={"jti": token.get(api_settings.JTI_CLAIM), **summary},
        context=audit_context(request),
    )


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


# Ids beyond a bigint are no row of ours (and PostgreSQL would refuse them as parameters).
_BIGINT = 2**63


def _membership_with_denylist(token: Token) -> tuple[Membership, bool] | None:
    """The token's user's membership of the token's tenant, with the user and the tenant, and whether the denylist
    refuses the token (its family or itself revoked: accounts/sessions.py `token_revocation_keys`) — one query for
    everything an authenticated API request must check in the database, read afresh on every request. None when
    there is no such membership or the token's claims are not what our tokens carry: the caller then checks step by
    step, to answer each case's own 401.

    Written as SQL (quantarb/sql_rows.py): the ORM spent ~2 ms of CPU per request building and compiling this
    query, several times its round trip (bench/api_load.py)."""
    tenant_id = token.get(TENANT_CLAIM)
    if not isinstance(tenant_id, int) or isinstance(tenant_id, bool):
        return None
    try:
        user_id = int(token[api_settings.USER_ID_CLAIM])
    except (KeyError, TypeError, ValueError):
        return None
    keys = token_revocation_keys(token)
    if keys is None or not all(-_BIGINT <= value < _BIGINT for value in (user_id, tenant_id)):
        return None
    family, jti = keys
    quote = connection.ops.quote_name

    def table(model: Any) -> str:
        return quote(model._meta.db_table)

    def column(model: Any, name: str) -> str:
        return quote(model._meta.get_field(name).column)

    params: list[Any] = []
    denied = []
    if family is not None:
        denied.append(
            f"EXISTS (SELECT 1 FROM {table(ApiTokenGrant)} g WHERE g.{column(ApiTokenGrant, 'sid')} = %s "  # noqa: S608 (names from the models)
            f"AND g.{column(ApiTokenGrant, 'revoked_at')} IS NOT NULL)"
        )
        params.append(ApiTokenGrant._meta.get_field("sid").get_db_prep_value(family, connection))
    if jti is not None:
        denied.append(
            f"EXISTS (SELECT 1 FROM {table(RevokedAccessToken)} r WHERE r.{column(RevokedAccessToken, 'jti')} = %s)"  # noqa: S608 (names from the models)
        )
        params.append(jti)
    sql = (
        f"SELECT {column_list(Membership, 'm', connection)}, {column_list(User, 'u', connection)}, "  # noqa: S608 (names from the models; values are parameters)
        f"{column_list(Tenant, 't', connection)}, {' OR '.join(denied) or '1 = 0'} "
        f"FROM {table(Membership)} m "
        f"INNER JOIN {table(User)} u ON u.{column(User, 'id')} = m.{column(Membership, 'user')} "
        f"INNER JOIN {table(Tenant)} t ON t.{column(Tenant, 'id')} = m.{column(Membership, 'tenant')} "
        f"WHERE m.{column(Membership, 'user')} = %s AND m.{column(Membership, 'tenant')} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, user_id, tenant_id])
        row = cursor.fetchone()
    if row is None:
        return None
    widths = [column_count(model) for model in (Membership, User, Tenant)]
    membership = instance_from(Membership, row[: widths[0]], connection)
    membership.user = instance_from(User, row[widths[0] : widths[0] + widths[1]], connection)
    membership.tenant = instance_from(Tenant, row[widths[0] + widths[1] : sum(widths)], connection)
    return membership, bool(row[-1])


class TenantJWTAuthentication(JWTAuthentication):
    """First of the API's authenticators, so a bad token answers 401 and never falls through to the session.

    Every request reads the user, the membership and the denylist afresh (nothing is cached between requests: a
    suspension, a revocation or a removal from the desk holds from the very next request), in one query when the
    token is good; a refused token is checked step by step so that each refusal keeps its own answer."""

    def authenticate(self, request: Request) -> tuple[Any, Token] | None:
        header = self.get_header(request)
        if header is None:
            return None
        raw_token = self.get_raw_token(header)
        if raw_token is None:
            return None
        token = self.get_validated_token(raw_token)
        membership: Membership | None = None
        checked = _membership_with_denylist(token)
        if checked is not None:
            membership, refused = checked
            user = _check_user(membership.user, token)
        else:
            user = self.get_user(token)
            refused = token_refusal(token) is not None
        # Revoked at logout, from the sessions page, by an admin or by a password change: the denylist is in the
        # database every process reads, so the very next request is refused wherever it lands.
        if refused:
            raise AuthenticationFailed(_("This token has been revoked."), code="token_revoked")
        if membership is None:
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
    otp = serializers.CharField(
        required=False,
        write_only=True,
        max_length=10,
        help_text=gettext_lazy(
            "The current code of your authenticator app. Required of admins of a tenant that requires two-factor "
            "sign-in (400 without it, 401 when wrong); ignored for everyone else."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Bounded like the column (a longer name is no user): 400 before anything looks the name up or stores it
        # (axes keeps failed usernames in a 255-character column, where a longer one was a 500).
        username_length = int(getattr(User._meta.get_field(User.USERNAME_FIELD), "max_length", None) or 150)
        self.fields[self.username_field] = serializers.CharField(write_only=True, max_length=username_length)
        self.fields["password"] = PasswordField(max_length=PASSWORD_MAX_LENGTH)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Credentials first (401 for a wrong password or a suspended user, 429 while the username is locked out),
        # then the code, then the tenant: each answer tells nothing to someone who failed the step before it.
        request = self.context.get("request")
        try:
            TokenObtainSerializer.validate(self, attrs)
        except drf_exceptions.AuthenticationFailed:
            if getattr(request, "axes_locked_out", False):
                now, ends_at = lockout_state(request)
                raise TooManyAttempts(lockout_message(ends_at, now), retry_after_seconds(ends_at, now)) from None
            raise
        user = cast(User, self.user)
        if two_factor_required(user):
            self._check_code(user, attrs.get("otp"), request)
        # A sign-in that succeeded clears the username's failure count, as the portal's does (AXES_RESET_ON_SUCCESS
        # acts on Django's user_logged_in, which token issue does not send).
        AxesProxyHandler.reset_attempts(username=user.get_username())
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
        with transaction.atomic():
            refresh = cast(RefreshToken, self.get_token(user))
            refresh[TENANT_CLAIM] = membership.tenant_id
            token_grant_start(refresh=refresh, user=user, tenant=membership.tenant, context=audit_context(request))
            access = refresh.access_token
            if api_settings.UPDATE_LAST_LOGIN:
                update_last_login(User, user)
            _audit_token(
                AuditAction.TOKEN_ISSUED, refresh, user, request, access_jti=access.get(api_settings.JTI_CLAIM)
            )
        return {"refresh": str(refresh), "access": str(access), "tenant": membership.tenant.slug}

    @staticmethod
    def _check_code(user: User, code: str | None, request: Any) -> None:
        device = confirmed_device(user)
        if device is None:
            raise serializers.ValidationError(
                {"otp": [_("Two-factor sign-in is required: set it up in the portal first, then send its code.")]}
            )
        if not code:
            raise serializers.ValidationError({"otp": [_("This account needs the code of its authenticator app.")]})
        allowed, throttle = device.verify_is_allowed()
        if not allowed:
            two_factor_failed(user=user, context=audit_context(request), channel="token")
            until = (throttle or {}).get("locked_until")
            wait = math.ceil((until - timezone.now()).total_seconds()) if isinstance(until, datetime) else 1
            wait = max(1, wait)
            raise TooManyAttempts(
                ngettext(
                    "Too many wrong codes. Wait %(seconds)d second, then send the current code.",
                    "Too many wrong codes. Wait %(seconds)d seconds, then send the current code.",
                    wait,
                )
                % {"seconds": wait},
                wait,
                code="otp_throttled",
            )
        if otp_verify_token(user, device.persistent_id, "".join(code.split())) is None:
            two_factor_failed(user=user, context=audit_context(request), channel="token")
            raise AuthenticationFailed(_("The one-time code is wrong or was already used."), code="otp_invalid")


class TenantTokenRefreshSerializer(TokenRefreshSerializer):
    refresh = serializers.CharField(max_length=TOKEN_MAX_LENGTH)

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        # Decoding checks signature, expiry and the blacklist (a rotated refresh is blacklisted): TokenError → 401.
        refresh = RefreshToken(attrs["refresh"])
        user = _check_user(_user_of(refresh), refresh)
        if token_refusal(refresh) is not None:
            raise AuthenticationFailed(_("This token has been revoked."), code="token_revoked")
        token_membership(user, refresh)
        with transaction.atomic():
            data = super().validate(attrs)
            # The rotated refresh, read back for its id (simplejwt's stubs type the token argument too narrowly).
            new_refresh: Any = data.get("refresh")
            rotated = RefreshToken(new_refresh, verify=False) if new_refresh else refresh
            token_grant_refreshed(refresh=rotated)
            _audit_token(
                AuditAction.TOKEN_REFRESHED,
                rotated,
                user,
                self.context.get("request"),
                previous_jti=refresh.get(api_settings.JTI_CLAIM),
            )
        return data


class TenantTokenBlacklistSerializer(TokenBlacklistSerializer):
    """Logout: blacklist the refresh (401 when it is not a valid one), revoke its family (so every access token
    made from it answers 401 too), put the access token the caller sent, if any, on the denylist, and audit."""

    refresh = serializers.CharField(max_length=TOKEN_MAX_LENGTH, write_only=True)

    def validate(self, attrs: dict[str, Any]) -> dict[Any, Any]:
        refresh = RefreshToken(attrs["refresh"])
        with transaction.atomic():
            refresh.blacklist()
            token_family_revoke(token=refresh, reason=SessionEnd.SIGNED_OUT, actor=_user_of(refresh))
            access = _bearer_access_token(self.context.get("request"))
            if access is not None and access.get(api_settings.USER_ID_CLAIM) == refresh.get(api_settings.USER_ID_CLAIM):
                access_token_revoke(token=access)
            _audit_token(AuditAction.TOKEN_REVOKED, refresh, _user_of(refresh), self.context.get("request"))
        return {}


def _bearer_access_token(request: Any) -> Token | None:
    """The valid access token in the request's Authorization header, or None."""
    header = (getattr(request, "headers", None) or {}).get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    try:
        return AccessToken(header.removeprefix("Bearer ").strip())
    except TokenError:
        return None


class TenantJWTScheme(SimpleJWTScheme):  # type: ignore[no-untyped-call]
    """OpenAPI: our authenticator is simplejwt's bearer scheme (drf-spectacular matches classes exactly)."""

    target_class = "accounts.jwt.TenantJWTAuthentication"
