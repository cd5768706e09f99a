"""Portal sessions and API tokens: started, checked at every request, ended — by the user, an admin, a password
change, idleness or age — and ended everywhere at once.

A portal session ends after `SESSION_IDLE_TIMEOUT` without a person's request or `SESSION_ABSOLUTE_LIFETIME` after
sign-in, whichever comes first. Only requests a person makes count as activity: the pages' own background requests
(htmx polls and loads, which static/js/session.js marks with the `X-Quantarb-Background` header) and their
WebSockets (which never pass through the HTTP middleware) do not, so a dashboard left open does not keep its
session alive.

An API token family (`ApiTokenGrant`, the `sid` claim) is revoked as a whole; a single access token is revoked by
its `jti` (`RevokedAccessToken`). Both are read from the database at every authenticated API request, so a logout
answers 401 to the very next request in every process. Tokens issued before families existed carry no `sid`: only
the denylist applies to them, until they expire.
"""

from __future__ import annotations

import contextvars
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.http import HttpRequest
from django.utils.module_loading import import_string

from quantarb import clock

from .audit import audit_record
from .choices import AuditAction
from .http import AuditContext, client_ip
from .models import ApiTokenGrant, PortalSession, RevokedAccessToken, SessionEnd, Tenant, User

SESSION_DATA_KEY = "_portal_session_id"
# The tenant a session acts in, among the user's memberships (quantarb/tenancy.py reads it; switching tenant and
# accepting an invitation set it).
TENANT_SESSION_KEY = "quantarb_tenant_id"
TOKEN_FAMILY_CLAIM = "sid"  # noqa: S105 (a claim name, not a secret)
BACKGROUND_HEADER = "X-Quantarb-Background"
# A person's requests move `last_activity_at` at most this often: one write a minute, not one per click.
ACTIVITY_WRITE_EVERY = timedelta(seconds=60)

# The portal session of the request being served, so a password change made in it ends only the others.
_current_session_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("portal_session", default=None)


def idle_timeout() -> timedelta:
    return timedelta(seconds=int(settings.SESSION_IDLE_TIMEOUT_SECONDS))


def absolute_lifetime() -> timedelta:
    return timedelta(seconds=int(settings.SESSION_ABSOLUTE_LIFETIME_SECONDS))


def is_background(request: HttpRequest) -> bool:
    """A request the page made by itself (a poll, a lazy load), not one a person asked for."""
    return request.headers.get(BACKGROUND_HEADER, "") == "1"


USER_AGENT_LENGTH = 300  # PortalSession's and ApiTokenGrant's column


def _user_agent(request: HttpRequest) -> str:
    return request.headers.get("User-Agent", "")[:USER_AGENT_LENGTH]


def _tenants_of(user: User) -> list[Tenant | None]:
    tenants: list[Tenant | None] = list(Tenant.objects.filter(memberships__user=user).order_by("pk"))
    return tenants or [None]


# --- portal sessions -----------------------------------------------------------------------------------------
def portal_session_start(*, request: HttpRequest, user: User) -> PortalSession:
    """Record the sign-in that `django.contrib.auth.login` just made in `request.session`."""
    now = clock.now()
    portal_session = PortalSession.objects.create(
        user=user,
        session_key=request.session.session_key or "",
        started_at=now,
        last_activity_at=now,
        ip_address=client_ip(request),
        user_agent=_user_agent(request),
    )
    request.session[SESSION_DATA_KEY] = portal_session.pk
    return portal_session


def portal_session_of(request: HttpRequest) -> PortalSession | None:
    session_id = request.session.get(SESSION_DATA_KEY)
    if not isinstance(session_id, int):
        return None
    return PortalSession.objects.filter(pk=session_id).first()


def _session_store(session_key: str) -> SessionBase:
    store_class = import_string(settings.SESSION_ENGINE + ".SessionStore")
    store: SessionBase = store_class(session_key=session_key)
    return store


@transaction.atomic
def portal_session_end(
    *,
    portal_session: PortalSession,
    reason: SessionEnd,
    actor: User | None,
    context: AuditContext | None = None,
) -> bool:
    """End one session: mark it and delete its data from the session store, so it is signed out at its next
    request wherever that lands. False when it had already ended."""
    locked = PortalSession.objects.select_for_update().get(pk=portal_session.pk)
    if locked.ended_at is not None:
        return False
    locked.ended_at = clock.now()
    locked.end_reason = reason
    locked.save(update_fields=["ended_at", "end_reason"])
    if locked.session_key:
        _session_store(locked.session_key).delete()
    if reason not in (SessionEnd.SIGNED_OUT,):
        # A plain sign-out is audited by accounts.signals; every other end says why.
        for tenant in _tenants_of(locked.user):
            audit_record(
                tenant=tenant,
                actor=actor,
                action=AuditAction.LOGOUT,
                obj=locked.user,
                summary={"session": locked.pk, "reason": str(reason)},
                context=context,
            )
    portal_session.ended_at, portal_session.end_reason = locked.ended_at, locked.end_reason
    return True


def portal_sessions_end_all(
    *,
    user: User,
    reason: SessionEnd,
    actor: User | None,
    context: AuditContext | None = None,
    keep: int | None = None,
) -> int:
    """End every open session of `user` but `keep`; the number ended."""
    open_sessions = PortalSession.objects.filter(user=user, ended_at__isnull=True)
    if keep is not None:
        open_sessions = open_sessions.exclude(pk=keep)
    return sum(portal_session_end(portal_session=s, reason=reason, actor=actor, context=context) for s in open_sessions)


def session_expiry_reason(portal_session: PortalSession, now: datetime) -> SessionEnd | None:
    """Why this open session has run out at `now`, or None while it is still valid."""
    if now - portal_session.started_at >= absolute_lifetime():
        return SessionEnd.LIFETIME
    if now - portal_session.last_activity_at >= idle_timeout():
        return SessionEnd.IDLE
    return None


def portal_session_touch(*, portal_session: PortalSession, request: HttpRequest, now: datetime) -> None:
    """A person's request: move the idle deadline (at most once a minute) and follow a key Django cycled."""
    session_key = request.session.session_key or portal_session.session_key
    if now - portal_session.last_activity_at < ACTIVITY_WRITE_EVERY and session_key == portal_session.session_key:
        return
    portal_session.last_activity_at = now
    portal_session.session_key = session_key
    PortalSession.objects.filter(pk=portal_session.pk, ended_at__isnull=True).update(
        last_activity_at=now, session_key=session_key
    )


def set_current_session(session_id: int | None) -> contextvars.Token[int | None]:
    return _current_session_id.set(session_id)


def reset_current_session(token: contextvars.Token[int | None]) -> None:
    _current_session_id.reset(token)


def current_session_id() -> int | None:
    """The portal session of the request being served (None outside a signed-in request: a command, a job)."""
    return _current_session_id.get()


def password_changed(*, user: User, keep: int | None) -> None:
    """A new password ends the user's other sessions (`keep`, the one that changed it, stays) and all their API
    tokens.

    Django's own session hash check would sign the other browsers out too; ending them here also deletes their
    data and shows them as ended in the sessions page. simplejwt's CHECK_REVOKE_TOKEN refuses older tokens.
    """
    portal_sessions_end_all(user=user, reason=SessionEnd.PASSWORD_CHANGED, actor=user, keep=keep)
    for grant in ApiTokenGrant.objects.filter(user=user, revoked_at__isnull=True):
        token_grant_revoke(grant=grant, reason=SessionEnd.PASSWORD_CHANGED, actor=user)


# --- API tokens ----------------------------------------------------------------------------------------------
def token_grant_start(*, refresh: Any, user: User, tenant: Tenant, context: AuditContext | None) -> ApiTokenGrant:
    """Record a token issue and stamp the refresh with its family id; the access token made from it (and every
    rotation) copies the claim. Call in the transaction that issues the token."""
    grant = ApiTokenGrant.objects.create(
        sid=uuid.uuid4(),
        user=user,
        tenant=tenant,
        issued_at=clock.now(),
        expires_at=datetime.fromtimestamp(int(refresh["exp"]), tz=UTC),
        ip_address=context.ip if context is not None else None,
        user_agent=context.user_agent[:USER_AGENT_LENGTH] if context is not None else "",
    )
    refresh[TOKEN_FAMILY_CLAIM] = str(grant.sid)
    return grant


def token_grant_refreshed(*, refresh: Any) -> None:
    """A rotation: the family lives on, with the new refresh's expiry."""
    sid = refresh.get(TOKEN_FAMILY_CLAIM)
    if sid:
        ApiTokenGrant.objects.filter(sid=sid).update(
            refreshed_at=clock.now(), expires_at=datetime.fromtimestamp(int(refresh["exp"]), tz=UTC)
        )


def token_revocation_keys(token: Any) -> tuple[uuid.UUID | None, str | None] | None:
    """What the denylist knows a token that passed its signature and expiry checks by: its family (`sid`,
    `ApiTokenGrant`) and its own id (`jti`, `RevokedAccessToken`), each None when the token carries none. None when
    its family claim is no token family at all. `TenantJWTAuthentication` looks both up in the one query that also
    reads the caller's membership; `token_refusal` on their own."""
    family = None
    sid = token.get(TOKEN_FAMILY_CLAIM)
    if sid:
        try:
            family = uuid.UUID(str(sid))
        except ValueError:
            return None
    jti = token.get(settings.SIMPLE_JWT.get("JTI_CLAIM", "jti"))
    return family, (str(jti) if jti else None)


def token_refusal(token: Any) -> str | None:
    """Why a token that passed its signature and expiry checks is refused anyway, or None to accept it."""
    keys = token_revocation_keys(token)
    if keys is None:
        return "bad_family"
    family, jti = keys
    if family and ApiTokenGrant.objects.filter(sid=family, revoked_at__isnull=False).exists():
        return "revoked"
    if jti and RevokedAccessToken.objects.filter(jti=jti).exists():
        return "revoked"
    return None


@transaction.atomic
def token_grant_revoke(
    *, grant: ApiTokenGrant, reason: SessionEnd, actor: User | None, context: AuditContext | None = None
) -> bool:
    """Revoke a token family: its refresh and every access token made from it answer 401 from now on."""
    updated = ApiTokenGrant.objects.filter(pk=grant.pk, revoked_at__isnull=True).update(
        revoked_at=clock.now(), end_reason=reason
    )
    if not updated:
        return False
    audit_record(
        tenant=grant.tenant,
        actor=actor,
        action=AuditAction.TOKEN_REVOKED,
        obj=grant.user,
        summary={"sid": str(grant.sid), "reason": str(reason)},
        context=context,
    )
    return True


def token_family_revoke(*, token: Any, reason: SessionEnd, actor: User | None) -> None:
    """Revoke the family a token belongs to (logout sends its refresh)."""
    sid = token.get(TOKEN_FAMILY_CLAIM)
    if not sid:
        return
    try:
        family = uuid.UUID(str(sid))
    except ValueError:
        return
    ApiTokenGrant.objects.filter(sid=family, revoked_at__isnull=True).update(revoked_at=clock.now(), end_reason=reason)


def access_token_revoke(*, token: Any) -> None:
    """Put one access token on the denylist until it would have expired anyway."""
    jti = token.get(settings.SIMPLE_JWT.get("JTI_CLAIM", "jti"))
    if not jti:
        return
    RevokedAccessToken.objects.get_or_create(
        jti=str(jti),
        defaults={"expires_at": datetime.fromtimestamp(int(token["exp"]), tz=UTC), "revoked_at": clock.now()},
    )


def revoked_tokens_purge(*, now: datetime | None = None) -> int:
    """Drop denylist rows of tokens that have expired by themselves (they are refused by their `exp` already)."""
    deleted, _ = RevokedAccessToken.objects.filter(expires_at__lt=now or clock.now()).delete()
    return deleted
