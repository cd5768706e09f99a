"""Two-factor sign-in with TOTP (django-otp): who must pass it, whether a session has, and the pending sign-in.

Policy: a user who is an admin of at least one tenant with `require_admin_two_factor` must confirm every sign-in
with a code, in the portal and at the token endpoint, whatever tenant they then act in (one person, one
password; the strongest requirement of their desks applies). Nobody else is asked, device or not.

The portal signs in in two steps. The password step only records a *pending* sign-in in the session (user,
backend, where to go next, when); no session is authenticated until the code is right, so no page, API call or
WebSocket can be reached in between. A user who needs a device and has none enrols first (QR code and secret,
confirmed by a first code). A session that was signed in before the requirement applied to the user is held at
the verify or enrol page by `accounts.middleware.AccountGateMiddleware`, and gets no tenant meanwhile
(`quantarb.tenancy.active_membership`).
"""

from __future__ import annotations

import time
from base64 import b32encode
from dataclasses import dataclass
from typing import Any

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.http import HttpRequest
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device
from django_otp.plugins.otp_totp.models import TOTPDevice

from .backends import AccountBackend
from .choices import Role
from .models import Membership, User

PENDING_SESSION_KEY = "quantarb_two_factor_pending"
DEVICE_NAME = "Authenticator app"
_CACHE_ATTRIBUTE = "_quantarb_two_factor_required"


def two_factor_required(user: Any) -> bool:
    """Whether `user` must pass a second factor: an admin of a tenant that requires it. Cached on the user object
    for the request."""
    if user is None or not getattr(user, "is_authenticated", False) or getattr(user, "pk", None) is None:
        return False
    cached = getattr(user, _CACHE_ATTRIBUTE, None)
    if cached is None:
        cached = Membership.objects.filter(
            user_id=user.pk, role=Role.ADMIN, tenant__require_admin_two_factor=True
        ).exists()
        setattr(user, _CACHE_ATTRIBUTE, cached)
    return bool(cached)


def confirmed_device(user: Any) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).order_by("pk").first()


def enrolment_device(user: User) -> TOTPDevice:
    """The unconfirmed device `user` is enrolling: the same one (and secret) until confirmed, so reloading the
    page does not invalidate a QR code already scanned."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def session_verified(user: Any, session: Any) -> bool:
    """Whether `session` records a confirmed device of `user` (what django-otp's middleware checks for
    `is_verified()`), for code that has a session but no request, such as a WebSocket consumer."""
    persistent_id = session.get(DEVICE_ID_SESSION_KEY) if session is not None else None
    if not persistent_id:
        return False
    device = Device.from_persistent_id(persistent_id)
    return device is not None and device.user_id == user.pk and bool(device.confirmed)


def session_passes_two_factor(user: Any, session: Any) -> bool:
    return not two_factor_required(user) or session_verified(user, session)


# --- enrolment display -------------------------------------------------------------------------------------
def secret_text(device: TOTPDevice) -> str:
    """The shared secret as authenticator apps take it typed in: base32, in groups of four."""
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_svg(device: TOTPDevice) -> str:
    """The device's otpauth:// URI as an inline SVG QR code (drawn here: nothing leaves the server)."""
    image = qrcode.make(
        device.config_url,
        image_factory=qrcode.image.svg.SvgPathImage,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=0,
    )
    svg: str = image.to_string(encoding="unicode")
    # Sized by the page's CSS, not in millimetres.
    return svg.replace("<svg ", '<svg class="qa-qr" role="img" focusable="false" ', 1)


# --- the pending sign-in -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """Someone between the password and the code: a pending sign-in, or a signed-in session not yet verified."""

    user: User
    backend: str | None  # set for a pending sign-in: the backend that checked the password
    next_url: str

    @property
    def pending(self) -> bool:
        return self.backend is not None


def pending_begin(request: HttpRequest, user: Any, next_url: str) -> None:
    request.session[PENDING_SESSION_KEY] = {
        "user_id": user.pk,
        "backend": user.backend,
        "next": next_url,
        "since": time.time(),
    }


def pending_end(request: HttpRequest) -> None:
    request.session.pop(PENDING_SESSION_KEY, None)


def pending_candidate(request: HttpRequest) -> Candidate | None:
    """The pending sign-in of this session, unless it expired or its user may no longer sign in."""
    pending = request.session.get(PENDING_SESSION_KEY)
    if not isinstance(pending, dict):
        return None
    if time.time() - float(pending.get("since", 0)) > settings.QUANTARB_TWO_FACTOR_PENDING_SECONDS:
        pending_end(request)
        return None

    user_id = pending.get("user_id")
    user = User.objects.filter(pk=user_id).first() if isinstance(user_id, int) else None
    if user is None or not AccountBackend().user_can_authenticate(user) or not two_factor_required(user):
        pending_end(request)
        return None
    return Candidate(user=user, backend=str(pending["backend"]), next_url=str(pending.get("next") or "/"))
