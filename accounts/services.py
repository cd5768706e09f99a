"""Writes around identity. Changes of membership, role or status tell the user's open sockets to re-check.
Sign-in security (two-factor enrolment, lifting a lockout) is written here too, each with its audit event."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterable
from datetime import timedelta

from axes.handlers.proxy import AxesProxyHandler
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from quantarb.events import AccessChanged, user_group
from quantarb.live import send_on_commit

from .audit import audit_record
from .choices import AuditAction, InvitationStatus, Role, UserStatus
from .desk_signals import desk_created
from .grants import revoke_all
from .http import AuditContext
from .models import Invitation, Membership, Tenant, User

log = logging.getLogger(__name__)

# How long an invitation stands before it lapses unanswered.
INVITATION_LIFETIME = timedelta(days=7)


@transaction.atomic
def desk_create(*, tenant: Tenant, actor: User | None) -> Tenant:
    """Save a new desk and send `desk_created`, so the apps above accounts give it what a desk starts with (risk:
    its default limits) in the same transaction. The one way the product creates a desk (the admin, the demo seed).
    `tenant` is unsaved and already validated (a form's, or the caller's own values)."""
    if tenant.pk is not None:
        raise ValueError("desk_create takes a desk that is not saved yet")
    tenant.save()
    desk_created.send(sender=Tenant, tenant=tenant, actor=actor)
    return tenant


def access_changed(*, user_ids: Iterable[int]) -> None:
    """After the current transaction commits, make every open socket of these users re-check its access
    (closing it when the user lost the tenant or was suspended, narrowing it when pairs were revoked)."""
    for user_id in set(user_ids):
        message: AccessChanged = {"type": "access.changed", "user_id": user_id}
        send_on_commit(user_group(user_id), dict(message))


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    tenant: Tenant | None,
    actor: User | None,
    status: str = UserStatus.ACTIVE,
    context: AuditContext | None = None,
) -> User:
    """Create a user and record it in `tenant`'s audit chain (the desk it is created for; None: the platform's)."""
    user = User.objects.create_user(username=username, password=password, status=status)
    audit_record(
        tenant=tenant,
        actor=actor,
        action=AuditAction.USER_CREATED,
        obj=user,
        summary={"after": {"username": user.username, "status": user.status}},
        context=context,
    )
    return user


@transaction.atomic
def membership_set(
    *, user: User, tenant: Tenant, role: Role | str, actor: User | None, context: AuditContext | None = None
) -> Membership:
    """Make `user` a member of `tenant` with `role`: creates the membership or changes its role, and audits
    either; no change, no event. A changed role makes the user's open sockets re-check their access."""
    role = Role(role)
    membership = Membership.objects.select_for_update().filter(user=user, tenant=tenant).first()
    if membership is not None and membership.role == Role.ADMIN and role != Role.ADMIN:
        _keep_an_admin(tenant, leaving=membership)
    if membership is None:
        membership = Membership.objects.create(user=user, tenant=tenant, role=role)
        audit_record(
            tenant=tenant,
            actor=actor,
            action=AuditAction.MEMBERSHIP_CREATED,
            obj=membership,
            summary={"after": {"user": user.username, "role": role.value}},
            context=context,
        )
        return membership
    if membership.role == role:
        return membership
    before = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        tenant=tenant,
        actor=actor,
        action=AuditAction.ROLE_CHANGED,
        obj=membership,
        summary={"before": {"user": user.username, "role": before}, "after": {"user": user.username, "role": role}},
        context=context,
    )
    access_changed(user_ids=[user.pk])
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor: User | None, context: AuditContext | None = None) -> None:
    """End a membership (the user keeps their other tenants), audit it and close the user's sockets of this
    tenant. A tenant always keeps one admin: removing its last one is refused (ValidationError)."""
    membership = Membership.objects.select_for_update().select_related("user", "tenant").get(pk=membership.pk)
    if membership.role == Role.ADMIN:
        _keep_an_admin(membership.tenant, leaving=membership)
    summary = {"before": {"user": membership.user.username, "role": membership.role}}
    audit_record(
        tenant=membership.tenant,
        actor=actor,
        action=AuditAction.MEMBERSHIP_DELETED,
        obj=membership,
        summary=summary,
        context=context,
    )
    user_id = membership.user_id
    revoke_all(user=membership.user, tenant=membership.tenant)
    membership.delete()
    access_changed(user_ids=[user_id])


def is_last_admin(membership: Membership) -> bool:
    """Whether this membership is its tenant's only active admin (so it may not leave nor be demoted)."""
    if membership.role != Role.ADMIN:
        return False
    others = Membership.objects.filter(tenant_id=membership.tenant_id, role=Role.ADMIN, user__status=UserStatus.ACTIVE)
    return not others.exclude(pk=membership.pk).exists()


def _keep_an_admin(tenant: Tenant, *, leaving: Membership) -> None:
    # Lock the tenant's admin rows: two admins demoting each other at once cannot both succeed.
    list(Membership.objects.select_for_update().filter(tenant=tenant, role=Role.ADMIN).values_list("pk", flat=True))
    if is_last_admin(leaving):
        raise ValidationError(
            _("%(tenant)s must keep at least one active admin: make someone else admin first.")
            % {"tenant": tenant.name},
            code="last_admin",
        )


def _chains_of(user: User | None) -> list[Tenant | None]:
    # Ordered by id, as in signals.py: writers that append to several chains take the locks in one order.
    if user is None:
        return [None]
    tenants: list[Tenant | None] = list(Tenant.objects.filter(memberships__user=user).order_by("pk"))
    return tenants or [None]


@transaction.atomic
def totp_device_confirm(*, user: User, device: TOTPDevice, code: str, context: AuditContext | None = None) -> bool:
    """Confirm the device `user` is enrolling with its first code: then it is their device, any other unconfirmed
    one is dropped, and each of their tenants' chains records the enrolment. False (nothing changes but django-otp's
    throttle) when the code is wrong or the device is throttled. The secret itself is never recorded."""
    locked = TOTPDevice.objects.select_for_update().filter(pk=device.pk, user=user, confirmed=False).first()
    if locked is None or not locked.verify_token(code):
        return False
    device = locked
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    for tenant in _chains_of(user):
        audit_record(
            tenant=tenant,
            actor=user,
            action=AuditAction.TWO_FACTOR_ENROLLED,
            obj=user,
            summary={"device": device.persistent_id, "kind": "totp"},
            context=context,
        )
    return True


def two_factor_failed(*, user: User, context: AuditContext | None, channel: str) -> None:
    """Record a wrong (or throttled) second-factor code as a failed sign-in in each of the user's tenants' chains;
    `channel` says where: "portal" or "token"."""
    for tenant in _chains_of(user):
        audit_record(
            tenant=tenant,
            actor=None,
            action=AuditAction.LOGIN_FAILED,
            obj=user,
            summary={"username": user.get_username(), "step": "two_factor", "channel": channel},
            context=context,
        )


@transaction.atomic
def lockout_clear(*, username: str, actor: User, context: AuditContext | None = None) -> int:
    """Lift the login lockout of `username` (a superuser's admin action) and audit it in the user's tenants'
    chains (the platform's for a name that is no user). Returns how many failure records were removed."""

    removed = int(AxesProxyHandler.reset_attempts(username=username))
    target = User.objects.filter(username=username).first()
    for tenant in _chains_of(target):
        audit_record(
            tenant=tenant,
            actor=actor,
            action=AuditAction.LOCKOUT_CLEARED,
            obj=target,
            summary={"username": username, "failures_removed": removed},
            context=context,
        )
    return removed


@transaction.atomic
def two_factor_reset(*, member: Membership, actor: User, context: AuditContext | None = None) -> int:
    """Remove `member`'s authenticator devices (a lost phone): their next sign-in enrols a new one if two-factor
    is required of them. Only an admin of every desk the user belongs to may do it, since the device guards all of
    them (ValidationError otherwise). Audited in each of those desks' chains. Returns how many devices went."""
    tenants = list(Tenant.objects.filter(memberships__user=member.user).order_by("pk"))
    governed = set(
        Membership.objects.filter(user=actor, role=Role.ADMIN, tenant__in=tenants).values_list("tenant_id", flat=True)
    )
    if any(tenant.pk not in governed for tenant in tenants):
        raise ValidationError(
            _("%(user)s also belongs to desks you do not administer: ask a platform operator to reset their device.")
            % {"user": member.user.username},
            code="not_all_desks",
        )
    removed = TOTPDevice.objects.filter(user=member.user).delete()[0]
    for tenant in tenants:
        audit_record(
            tenant=tenant,
            actor=actor,
            action=AuditAction.TWO_FACTOR_RESET,
            obj=member.user,
            summary={"user": member.user.username, "devices_removed": removed},
            context=context,
        )
    return int(removed)


def _governs_every_desk_of(member: Membership, actor: User, what: str) -> list[Tenant]:
    """The desks of `member`'s user; ValidationError unless `actor` administers every one of them (the account
    is the same in all of them, so one desk's admin must not lock the others' out)."""
    tenants = list(Tenant.objects.filter(memberships__user=member.user).order_by("pk"))
    governed = set(
        Membership.objects.filter(user=actor, role=Role.ADMIN, tenant__in=tenants).values_list("tenant_id", flat=True)
    )
    if any(tenant.pk not in governed for tenant in tenants):
        raise ValidationError(
            _("%(user)s also belongs to desks you do not administer: ask a platform operator to %(what)s them.")
            % {"user": member.user.username, "what": what},
            code="not_all_desks",
        )
    return tenants


def _status_change(*, member: Membership, actor: User, status: str, context: AuditContext | None) -> None:
    user = User.objects.select_for_update().get(pk=member.user_id)
    before = user.status
    if before == status:
        return
    user.status = status
    user.save(update_fields=["status"])
    for tenant in Tenant.objects.filter(memberships__user=user).order_by("pk"):
        audit_record(
            tenant=tenant,
            actor=actor,
            action=AuditAction.MEMBERSHIP_CHANGED,
            obj=user,
            summary={"user": user.username, "before": {"status": before}, "after": {"status": status}},
            context=context,
        )
    access_changed(user_ids=[user.pk])


@transaction.atomic
def member_suspend(*, member: Membership, actor: User, context: AuditContext | None = None) -> None:
    """Suspend a member's account: their sessions end, their tokens are refused, their sockets close. Not oneself,
    not a desk's last active admin, and only by an admin of every desk the user belongs to. Audited in each."""
    if member.user_id == actor.pk:
        raise ValidationError(_("You cannot suspend yourself."), code="self")
    tenants = _governs_every_desk_of(member, actor, str(_("suspend")))
    for membership in Membership.objects.filter(user=member.user, tenant__in=tenants, role=Role.ADMIN):
        _keep_an_admin(membership.tenant, leaving=membership)
    _status_change(member=member, actor=actor, status=UserStatus.SUSPENDED, context=context)


@transaction.atomic
def member_reinstate(*, member: Membership, actor: User, context: AuditContext | None = None) -> None:
    """Lift a suspension (same rule as suspending: an admin of every desk the user belongs to). Audited in each."""
    _governs_every_desk_of(member, actor, str(_("reinstate")))
    _status_change(member=member, actor=actor, status=UserStatus.ACTIVE, context=context)


def member_unlock(*, member: Membership, actor: User, context: AuditContext | None = None) -> int:
    """Lift a member's sign-in lockout (failed passwords); audited in each of the user's desks."""
    return lockout_clear(username=member.user.username, actor=actor, context=context)


# --- invitations: how anyone joins a desk ---------------------------------------------------
@transaction.atomic
def invitation_send(
    *, tenant: Tenant, username: str, role: Role | str, actor: User, context: AuditContext | None = None
) -> Invitation:
    """Invite the account named `username` to `tenant` with `role`; they join when they accept it.

    Everything the desk can observe is the same whether the name is an account or not: the returned invitation
    and its audit event (in the desk's chain). A desk admin creates no account here: someone without one joins by
    a join link and picks their own name (`invitation_link_create`). Refused (ValidationError) when the name is
    already a member or already has a standing invitation from this desk.
    """
    role = Role(role)
    # Serialise invitations of one desk, so two admins inviting one name cannot both pass the checks below.
    Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
    now = timezone.now()
    standing = Invitation.objects.filter(tenant=tenant, username=username, status__in=Invitation.STANDING_FOR_TENANT)
    standing.filter(expires_at__lte=now).update(status=InvitationStatus.LAPSED)
    if Membership.objects.filter(tenant=tenant, user__username=username).exists():
        raise ValidationError(
            _("%(username)s is already a member of this tenant.") % {"username": username}, code="member"
        )
    if standing.exists():
        raise ValidationError(
            _("%(username)s already has an invitation from this tenant: withdraw it first to send another.")
            % {"username": username},
            code="invited",
        )
    invitation = Invitation.objects.create(
        tenant=tenant,
        username=username,
        user=User.objects.filter(username=username).first(),
        role=role,
        invited_by=actor,
        created_at=now,
        expires_at=now + INVITATION_LIFETIME,
    )
    audit_record(
        tenant=tenant,
        actor=actor,
        action=AuditAction.INVITATION_SENT,
        obj=invitation,
        summary={"username": username, "role": role.value, "expires_at": invitation.expires_at},
        context=context,
    )
    return invitation


def link_digest(secret: str) -> str:
    """What is stored of a join link's secret: its SHA-256 (the secret alone opens the link)."""
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def invitation_link_create(
    *, tenant: Tenant, role: Role | str, actor: User, context: AuditContext | None = None
) -> tuple[Invitation, str]:
    """A join link to `tenant` with `role`, for someone without an account: returns the invitation and the link's
    secret, which is shown once to `actor` and stored only as a digest. It stands, lapses and is withdrawn like any
    invitation; used once, it becomes the new member's accepted invitation."""
    role = Role(role)
    now = timezone.now()
    secret = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        tenant=tenant,
        username="",
        link_digest=link_digest(secret),
        role=role,
        invited_by=actor,
        created_at=now,
        expires_at=now + INVITATION_LIFETIME,
    )
    audit_record(
        tenant=tenant,
        actor=actor,
        action=AuditAction.INVITATION_SENT,
        obj=invitation,
        summary={"link": True, "role": role.value, "expires_at": invitation.expires_at},
        context=context,
    )
    return invitation, secret


@transaction.atomic
def invitation_link_join(
    *, secret: str, username: str, password: str, email: str = "", context: AuditContext | None = None
) -> Membership:
    """Whoever holds a standing join link creates their account (`username`, `password`: already validated) and
    joins the link's desk with its role. The account is recorded in the platform's chain, the joining in the
    desk's. ValidationError when the link no longer stands (used, withdrawn, lapsed) or the name was taken
    meanwhile."""
    invitation = (
        Invitation.objects.select_for_update()
        .select_related("tenant")
        .filter(link_digest=link_digest(secret), status=InvitationStatus.PENDING, user__isnull=True)
        .first()
    )
    if invitation is None or invitation.expires_at <= timezone.now():
        raise ValidationError(_("This join link no longer works: ask the desk for a new one."), code="gone")
    taken = ValidationError(_("This username is taken: choose another."), code="taken")
    if User.objects.filter(username=username).exists():
        raise taken
    try:
        with transaction.atomic():  # a name taken between the check and here: the same answer, not a 500
            user = user_create(username=username, password=password, tenant=None, actor=None, context=context)
    except IntegrityError:
        raise taken from None
    if email:
        user.email = email
        user.save(update_fields=["email"])
    invitation.username = username
    invitation.user = user
    invitation.save(update_fields=["username", "user"])
    return invitation_accept(invitation=invitation, user=user, context=context)


JOIN_LINK_TAKEN_NAMES = 5
"""How many taken names a join link's holder may try before the link lapses (a person picks another name once or
twice; someone testing which accounts exist tries many)."""


def join_link_name_taken(*, invitation: Invitation) -> bool:
    """Count a taken name tried through the join link; True when that was its last try and the link lapsed."""
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().filter(pk=invitation.pk).first()
        if locked is None or locked.status != InvitationStatus.PENDING:
            return True
        locked.taken_names_tried += 1
        if locked.taken_names_tried < JOIN_LINK_TAKEN_NAMES:
            locked.save(update_fields=["taken_names_tried"])
            return False
        locked.status = InvitationStatus.LAPSED
        locked.save(update_fields=["taken_names_tried", "status"])
    log.warning(
        "join link %s of tenant %s lapsed after %s taken names", locked.pk, locked.tenant_id, JOIN_LINK_TAKEN_NAMES
    )
    return True


def _open_invitation(invitation: Invitation, user: User) -> Invitation:
    """The invitation, locked, if it is `user`'s and still open to them; ValidationError otherwise."""
    locked = Invitation.objects.select_for_update().select_related("tenant").filter(pk=invitation.pk).first()
    if (
        locked is None
        or locked.user_id != user.pk
        or locked.status != InvitationStatus.PENDING
        or locked.expires_at <= timezone.now()
    ):
        raise ValidationError(_("This invitation no longer stands."), code="gone")
    return locked


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User, context: AuditContext | None = None) -> Membership:
    """`user` accepts their invitation: they become a member with its role (a member already keeps their role).
    Audited in the desk's chain, from which on the desk sees them."""
    invitation = _open_invitation(invitation, user)
    invitation.status = InvitationStatus.ACCEPTED
    invitation.answered_at = timezone.now()
    invitation.save(update_fields=["status", "answered_at"])
    audit_record(
        tenant=invitation.tenant,
        actor=user,
        action=AuditAction.INVITATION_ACCEPTED,
        obj=invitation,
        summary={"username": invitation.username, "role": invitation.role},
        context=context,
    )
    membership = Membership.objects.filter(user=user, tenant=invitation.tenant).first()
    if membership is None:
        membership = membership_set(
            user=user, tenant=invitation.tenant, role=invitation.role, actor=user, context=context
        )
    return membership


@transaction.atomic
def invitation_decline(*, invitation: Invitation, user: User, context: AuditContext | None = None) -> None:
    """`user` declines their invitation. Recorded in the platform's chain, not the desk's: a decline would tell
    the desk that the name is an account, which it must learn only from an acceptance."""
    invitation = _open_invitation(invitation, user)
    invitation.status = InvitationStatus.DECLINED
    invitation.answered_at = timezone.now()
    invitation.save(update_fields=["status", "answered_at"])
    audit_record(
        tenant=None,
        actor=user,
        action=AuditAction.INVITATION_DECLINED,
        obj=invitation,
        summary={"tenant": invitation.tenant.slug, "role": invitation.role},
        context=context,
    )


@transaction.atomic
def invitation_withdraw(*, invitation: Invitation, actor: User, context: AuditContext | None = None) -> None:
    """A desk admin withdraws a standing invitation of their desk (a declined one too: to the desk it stands)."""
    locked = Invitation.objects.select_for_update().select_related("tenant").get(pk=invitation.pk)
    if locked.status not in Invitation.STANDING_FOR_TENANT:
        raise ValidationError(_("This invitation no longer stands."), code="gone")
    locked.status = InvitationStatus.WITHDRAWN
    locked.save(update_fields=["status"])
    audit_record(
        tenant=locked.tenant,
        actor=actor,
        action=AuditAction.INVITATION_WITHDRAWN,
        obj=locked,
        summary={"username": locked.username, "role": locked.role},
        context=context,
    )


def user_preferences_set(*, user: User, language: str | None = None, theme: str | None = None) -> None:
    """Save the user's own display choices (validated by the caller against settings.LANGUAGES and Theme).
    Not audited: they change nothing but how pages look to that user."""
    fields = []
    if language is not None:
        user.language = language
        fields.append("language")
    if theme is not None:
        user.theme = theme
        fields.append("theme")
    if fields:
        user.save(update_fields=fields)
