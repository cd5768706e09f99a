"""Two-factor sign-in (TOTP, django-otp) for admins of tenants that require it: the portal's second step,
enrolment, sessions signed in before the requirement, and the token endpoint's `otp`.

Personas: alice is an admin of alpha, which requires two-factor of its admins; bob is a viewer in alpha and
charlie an admin of bravo, which does not require it: neither is ever asked for a code.
"""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.audit import verify_chain
from accounts.models import AuditEvent, Membership
from accounts.two_factor import PENDING_SESSION_KEY
from quantarb.tenancy import active_membership

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
VERIFY = "/accounts/two-factor/"
ENROL = "/accounts/two-factor/enrol/"
DASHBOARD = "/"
ME = "/api/v1/me/"
TOKEN = "/api/v1/auth/token/"
PASSWORD = "correct horse battery staple 1"


def code_for(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """The device's code now (or a step later: within its tolerance, and past a code already used this step)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def wrong_code(device: TOTPDevice) -> str:
    right = {code_for(device, n) for n in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in right)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def password_step(client: Client, username: str, next_url: str = "") -> Any:
    path = LOGIN + (f"?next={next_url}" if next_url else "")
    return client.post(path, {"username": username, "password": PASSWORD})


def obtain(username: str, **extra: Any) -> Any:
    body = json.dumps({"username": username, "password": PASSWORD, **extra})
    return Client().post(TOKEN, body, content_type="application/json")


@pytest.fixture
def alpha_requires(alice: Any) -> Any:
    alice.tenant.require_admin_two_factor = True
    alice.tenant.save()
    return alice


@pytest.fixture
def device(alpha_requires: Any) -> TOTPDevice:
    return TOTPDevice.objects.create(user=alpha_requires.user, name="phone", confirmed=True)


# --- the second step ---------------------------------------------------------------------------------------
def test_the_password_alone_signs_nobody_in(device: TOTPDevice) -> None:
    client = Client()

    response = password_step(client, "alice")

    assert (response.status_code, response["Location"]) == (302, VERIFY)
    assert not signed_in(client)
    assert client.get(DASHBOARD)["Location"].startswith(LOGIN)
    assert client.get(ME).status_code == 401
    assert not AuditEvent.objects.filter(action="login").exists()  # the sign-in is not done yet


def test_the_second_step_asks_for_the_code(device: TOTPDevice) -> None:
    client = Client()
    password_step(client, "alice")

    page = client.get(VERIFY)

    assert page.status_code == 200
    html = page.content.decode()
    assert 'autocomplete="one-time-code"' in html
    assert "alice" in html


def test_a_wrong_code_is_refused_and_audited(device: TOTPDevice) -> None:
    client = Client()
    password_step(client, "alice")

    response = client.post(VERIFY, {"code": wrong_code(device)})

    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    assert not signed_in(client)
    failed = AuditEvent.objects.get(tenant=device.user.memberships.get().tenant, action="login_failed")
    assert failed.summary == {"username": "alice", "step": "two_factor", "channel": "portal"}


def test_the_right_code_signs_in_verified(device: TOTPDevice) -> None:
    client = Client()
    password_step(client, "alice", next_url="/partials/health/")

    response = client.post(VERIFY, {"code": code_for(device)})

    assert (response.status_code, response["Location"]) == (302, "/partials/health/")
    assert signed_in(client)
    dashboard = client.get(DASHBOARD)
    assert dashboard.status_code == 200
    assert dashboard.wsgi_request.user.is_verified()
    assert PENDING_SESSION_KEY not in client.session
    login = AuditEvent.objects.get(action="login")
    assert login.actor_username == "alice"


def test_wrong_codes_are_throttled_even_before_a_right_one(device: TOTPDevice) -> None:
    client = Client()
    password_step(client, "alice")
    client.post(VERIFY, {"code": wrong_code(device)})

    throttled = client.post(VERIFY, {"code": code_for(device)})

    assert "Too many wrong codes" in throttled.content.decode()
    assert not signed_in(client)
    # django-otp's back-off (1, 2, 4 ... s) has passed:
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=timezone.now() - timedelta(seconds=5))
    assert client.post(VERIFY, {"code": code_for(device)}).status_code == 302
    assert signed_in(client)


def test_a_code_cannot_be_used_twice(device: TOTPDevice) -> None:
    code = code_for(device)
    first, second = Client(), Client()
    password_step(first, "alice")
    password_step(second, "alice")

    assert first.post(VERIFY, {"code": code}).status_code == 302
    assert second.post(VERIFY, {"code": code}).status_code == 200
    assert not signed_in(second)


def test_a_pending_sign_in_expires(device: TOTPDevice) -> None:
    client = Client()
    password_step(client, "alice")
    session = client.session
    session[PENDING_SESSION_KEY] = {**session[PENDING_SESSION_KEY], "since": time.time() - 301}
    session.save()

    response = client.post(VERIFY, {"code": code_for(device)}, follow=True)

    assert response.redirect_chain == [(LOGIN, 302)]
    assert "Your sign-in expired" in response.content.decode()
    assert not signed_in(client)


def test_the_code_step_cannot_be_reached_without_the_password(device: TOTPDevice) -> None:
    client = Client()

    assert client.get(VERIFY)["Location"] == LOGIN
    assert client.post(VERIFY, {"code": code_for(device)})["Location"] == LOGIN
    assert not signed_in(client)


# --- who is asked ------------------------------------------------------------------------------------------
def test_a_viewer_of_the_same_tenant_and_other_tenants_admins_need_no_code(
    alpha_requires: Any, bob: Any, charlie: Any
) -> None:
    for username in ("bob", "charlie"):
        client = Client()
        response = password_step(client, username)
        assert (response.status_code, response["Location"]) == (302, "/")
        assert signed_in(client)
        assert client.get(DASHBOARD).status_code == 200


def test_nothing_is_asked_while_the_tenant_does_not_require_it(alice: Any) -> None:
    client = Client()

    assert password_step(client, "alice")["Location"] == "/"
    assert signed_in(client)


def test_an_admin_of_a_requiring_tenant_is_asked_even_when_acting_elsewhere(charlie: Any, device: TOTPDevice) -> None:
    Membership.objects.create(user=device.user, tenant=charlie.tenant, role="viewer")

    assert password_step(Client(), "alice")["Location"] == VERIFY


# --- enrolment ---------------------------------------------------------------------------------------------
def test_an_admin_without_a_device_enrols_with_a_qr_code_and_a_first_code(alpha_requires: Any) -> None:
    client = Client()
    assert password_step(client, "alice")["Location"] == ENROL

    page = client.get(ENROL)
    html = page.content.decode()
    device = TOTPDevice.objects.get(user=alpha_requires.user)
    assert page.status_code == 200
    assert not device.confirmed
    assert re.search(r"<svg [^>]*class=\"qa-qr\"", html)  # drawn inline, no image from anywhere
    secret = re.search(r'data-testid="secret"[^>]*>([A-Z2-7 ]+)<', html)
    assert secret is not None
    assert secret.group(1).replace(" ", "") == __import__("base64").b32encode(device.bin_key).decode().rstrip("=")
    assert client.get(ENROL).content.decode().count(secret.group(1)) == 1  # a reload keeps the same secret

    refused = client.post(ENROL, {"code": wrong_code(device)})
    assert "That code is not right" in refused.content.decode()
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=None, throttling_failure_count=0)
    response = client.post(ENROL, {"code": code_for(device)})

    assert (response.status_code, response["Location"]) == (302, "/")
    assert signed_in(client)
    device.refresh_from_db()
    assert device.confirmed
    assert client.get(DASHBOARD).wsgi_request.user.is_verified()
    enrolled = AuditEvent.objects.get(tenant=alpha_requires.tenant, action="two_factor_enrolled")
    assert enrolled.actor_username == "alice"
    assert device.key not in json.dumps(enrolled.summary)
    assert verify_chain(alpha_requires.tenant) is None
    # The next sign-in asks for a code (a later one: this step's code is spent).
    again = Client()
    assert password_step(again, "alice")["Location"] == VERIFY
    assert again.post(VERIFY, {"code": code_for(device, 1)}).status_code == 302


def test_a_user_with_a_device_cannot_enrol_another(device: TOTPDevice) -> None:
    client = Client()
    password_step(client, "alice")

    assert client.get(ENROL)["Location"] == VERIFY
    assert TOTPDevice.objects.filter(user=device.user).count() == 1


# --- sessions signed in before the requirement ---------------------------------------------------------------
def test_a_session_from_before_the_requirement_is_held_until_verified(alice: Any, alpha_market: Any) -> None:
    client = Client()
    client.force_login(alice.user)
    assert client.get(DASHBOARD).status_code == 200
    alice.tenant.require_admin_two_factor = True
    alice.tenant.save()
    device = TOTPDevice.objects.create(user=alice.user, name="phone", confirmed=True)

    held = client.get(DASHBOARD)
    api = client.get("/api/v1/market/quotes/")

    assert (held.status_code, held["Location"]) == (302, f"{VERIFY}?next=%2F")
    assert api.status_code == 403
    assert active_membership(alice.user, client.session) is None  # nor a socket: no tenant until verified
    verified = client.post(VERIFY + "?next=/", {"code": code_for(device)})
    assert verified["Location"] == "/"
    assert client.get(DASHBOARD).status_code == 200
    assert active_membership(alice.user, client.session) is not None
    assert client.get("/api/v1/market/quotes/").status_code == 200


def test_a_held_session_without_a_device_goes_to_enrolment(alice: Any) -> None:
    client = Client()
    client.force_login(alice.user)
    alice.tenant.require_admin_two_factor = True
    alice.tenant.save()

    assert client.get(DASHBOARD)["Location"] == f"{ENROL}?next=%2F"
    assert client.get(ENROL).status_code == 200


# --- the token endpoint --------------------------------------------------------------------------------------
def test_the_token_endpoint_demands_the_code(device: TOTPDevice) -> None:
    missing = obtain("alice")
    wrong = obtain("alice", otp=wrong_code(device))
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=None, throttling_failure_count=0)
    right = obtain("alice", otp=code_for(device))

    assert missing.status_code == 400
    assert missing.json() == {"otp": ["This account needs the code of its authenticator app."]}
    assert wrong.status_code == 401
    assert wrong.json()["detail"] == "The one-time code is wrong or was already used."
    assert right.status_code == 200
    assert set(right.json()) == {"access", "refresh", "tenant"}


def test_the_token_endpoint_checks_the_password_before_the_code(device: TOTPDevice) -> None:
    response = Client().post(
        TOKEN, json.dumps({"username": "alice", "password": "wrong", "otp": "123456"}), content_type="application/json"
    )

    assert response.status_code == 401
    assert "otp" not in response.json()


def test_wrong_codes_at_the_token_endpoint_are_throttled(device: TOTPDevice) -> None:
    obtain("alice", otp=wrong_code(device))

    throttled = obtain("alice", otp=code_for(device))

    assert throttled.status_code == 429
    assert "Too many wrong codes" in throttled.json()["detail"]
    assert int(throttled["Retry-After"]) >= 1


def test_the_token_endpoint_sends_an_admin_without_a_device_to_the_portal(alpha_requires: Any) -> None:
    response = obtain("alice", otp="123456")

    assert response.status_code == 400
    assert "set it up in the portal" in response.json()["otp"][0]


def test_others_get_tokens_without_a_code(alpha_requires: Any, bob: Any, charlie: Any) -> None:
    assert obtain("bob").status_code == 200
    assert obtain("charlie").status_code == 200


def test_the_openapi_schema_documents_the_otp_field(db: None) -> None:
    from drf_spectacular.generators import SchemaGenerator

    generator = SchemaGenerator()  # type: ignore[no-untyped-call]
    schema = generator.get_schema(request=None, public=True)  # type: ignore[no-untyped-call]

    operation = schema["paths"]["/api/v1/auth/token/"]["post"]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    component = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert "otp" in component["properties"]
    assert "otp" not in component.get("required", [])
    assert "two-factor" in component["properties"]["otp"]["description"]
    assert {"200", "400", "401", "429"} <= set(operation["responses"])
