"""The dashboard and its HTMX partials, the tenant switch and the language of each request.

Personas: alice (admin of alpha, which sees the simulated pair), bob (viewer in alpha), charlie (admin of bravo,
which sees no pair); dave has no membership at all.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from accounts.choices import Role, UserStatus
from accounts.models import Membership, Tenant, User
from accounts.sessions import TENANT_SESSION_KEY

pytestmark = pytest.mark.django_db

DASHBOARD, HEALTH, OPPORTUNITIES = "/", "/partials/health/", "/partials/opportunities/"
PAGES = [DASHBOARD, HEALTH, OPPORTUNITIES]


def signed_in(user: Any, **headers: str) -> Client:
    client = Client(headers=headers)
    client.force_login(user)
    return client


def template_names(response: Any) -> list[str]:
    return [template.name for template in response.templates]


@pytest.fixture
def dave(db: None) -> Any:
    return User.objects.create_user(username="dave", password="correct horse battery staple 1")


# --- who may see what ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", PAGES)
def test_pages_send_anonymous_visitors_to_the_login_page(client: Client, url: str) -> None:
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_members_see_the_venue_cards_of_their_pair(who: str, request: Any, alpha_market: Any) -> None:
    persona = request.getfixturevalue(who)
    pair = alpha_market.pair

    response = signed_in(persona.user).get(DASHBOARD)

    assert response.status_code == 200
    html = response.content.decode()
    assert pair.name in html
    assert 'data-testid="venue-perp"' in html
    assert 'data-testid="venue-cfd"' in html
    # The page renders the stored state: the last quotes of both legs, the CFD's real session.
    assert "4602.60" in html
    assert "4600.35" in html
    assert f'id="history-{pair.pk}"' in html
    [panel] = response.context["panels"]
    assert panel["state"]["session"]["state"] == "open"
    assert panel["history"]


def test_the_dashboard_shows_the_cfd_closed_at_the_weekend(alice: Any, alpha_market: Any, frozen_clock: Any) -> None:
    frozen_clock.set(datetime(2026, 11, 21, 12, 0, tzinfo=UTC))  # Saturday

    response = signed_in(alice.user).get(DASHBOARD)

    [panel] = response.context["panels"]
    assert panel["state"]["session"]["state"] == "weekend"
    assert "qa-closed" in response.content.decode()


def test_another_tenant_sees_the_empty_state(charlie: Any, alpha_market: Any) -> None:
    response = signed_in(charlie.user).get(DASHBOARD)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="empty-dashboard"' in html
    assert alpha_market.pair.name not in html
    assert 'data-testid="venue-perp"' not in html
    assert response.context["panels"] == []


@pytest.mark.parametrize("url", PAGES)
def test_a_user_without_a_tenant_gets_the_no_tenant_page(dave: Any, alpha_market: Any, url: str) -> None:
    response = signed_in(dave).get(url)

    assert response.status_code == 403
    assert "no_tenant.html" in template_names(response)
    assert alpha_market.pair.name not in response.content.decode()


def test_a_suspended_member_is_signed_out_to_the_login_page(bob: Any, alpha_market: Any) -> None:
    bob.user.status = UserStatus.SUSPENDED
    bob.user.save()

    response = signed_in(bob.user).get(DASHBOARD, follow=True)

    assert response.redirect_chain == [("/accounts/login/", 302)]
    assert "This account is suspended" in response.content.decode()
    assert alpha_market.pair.name not in response.content.decode()


# --- partials -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["alice", "bob"])
def test_the_health_strip_lights_the_tenants_feeds(who: str, request: Any, alpha_market: Any) -> None:
    persona = request.getfixturevalue(who)

    response = signed_in(persona.user).get(HEALTH)

    assert response.status_code == 200
    keys = {light.key for light in response.context["lights"]}
    assert keys == {
        "feed-simulated-perp-xauusdt",
        "feed-simulated-cfd-xauusd-s",
        "engine",
        "database",
        "channels",
        "scheduler",
    }
    assert 'data-key="feed-simulated-cfd-xauusd-s"' in response.content.decode()


def test_the_health_strip_of_another_tenant_has_no_foreign_feeds(charlie: Any, alpha_market: Any) -> None:
    response = signed_in(charlie.user).get(HEALTH)

    assert response.status_code == 200
    assert not [light for light in response.context["lights"] if light.key.startswith("feed-")]
    assert "simulated-perp-xauusdt" not in response.content.decode()


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_the_opportunities_table_lists_the_tenants_opportunities(who: str, request: Any, alpha_market: Any) -> None:
    persona = request.getfixturevalue(who)

    response = signed_in(persona.user).get(OPPORTUNITIES)

    assert response.status_code == 200
    assert 'data-testid="opportunities"' in response.content.decode()
    assert response.context["opportunities"].paginator.count == 1


def test_the_opportunities_table_of_another_tenant_is_empty(charlie: Any, alpha_market: Any) -> None:
    response = signed_in(charlie.user).get(OPPORTUNITIES)

    assert response.status_code == 200
    assert 'data-testid="no-opportunities"' in response.content.decode()
    assert response.context["opportunities"].paginator.count == 0


# --- tenant switch ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("foreign", ["bravo", "9" * 25], ids=["other-tenant", "beyond-any-id"])
def test_switching_to_a_foreign_tenant_answers_404(alice: Any, charlie: Any, alpha_market: Any, foreign: str) -> None:
    client = signed_in(alice.user)

    response = client.post("/accounts/tenant/", {"tenant": charlie.tenant.pk if foreign == "bravo" else foreign})

    assert response.status_code == 404
    assert TENANT_SESSION_KEY not in client.session
    # Still alpha's view afterwards.
    assert alpha_market.pair.name in client.get(DASHBOARD).content.decode()


def test_switching_between_own_tenants_changes_what_the_dashboard_shows(
    alice: Any, charlie: Any, alpha_market: Any
) -> None:
    Membership.objects.create(user=alice.user, tenant=charlie.tenant, role=Role.VIEWER)
    client = signed_in(alice.user)

    switched = client.post("/accounts/tenant/", {"tenant": charlie.tenant.pk, "next": "/"})
    in_bravo = client.get(DASHBOARD)
    client.post("/accounts/tenant/", {"tenant": alice.tenant.pk})
    back_in_alpha = client.get(DASHBOARD)

    assert (switched.status_code, switched["Location"]) == (302, "/")
    assert in_bravo.context["panels"] == []
    assert in_bravo.context["active_membership"].tenant == charlie.tenant
    assert [panel["pair"] for panel in back_in_alpha.context["panels"]] == [alpha_market.pair]


@pytest.mark.parametrize("tenant", ["", "abc"])
def test_switching_without_a_tenant_id_answers_400(alice: Any, tenant: str) -> None:
    response = signed_in(alice.user).post("/accounts/tenant/", {"tenant": tenant})

    assert response.status_code == 400


def test_a_deleted_tenant_choice_falls_back_to_the_first_membership(alice: Any, alpha_market: Any) -> None:
    other = Tenant.objects.create(slug="gone", name="Gone")
    Membership.objects.create(user=alice.user, tenant=other, role=Role.ADMIN)
    client = signed_in(alice.user)
    client.post("/accounts/tenant/", {"tenant": other.pk})
    other.delete()

    response = client.get(DASHBOARD)

    assert response.context["active_membership"].tenant == alice.tenant


# --- language -----------------------------------------------------------------------------------------------
def page_language(response: Any) -> str:
    assert response.status_code == 200
    html = response.content.decode()
    lang: str = html.split('<html lang="', 1)[1].split('"', 1)[0]
    assert lang == response.headers["Content-Language"]  # the header and the page agree
    return lang


def test_the_users_saved_language_wins_over_cookie_and_browser(alice: Any) -> None:
    alice.user.language = "zh-hans"
    alice.user.save()
    client = signed_in(alice.user, accept_language="en")
    client.cookies["django_language"] = "en"

    assert page_language(client.get(DASHBOARD)) == "zh-hans"


@pytest.mark.parametrize(("cookie", "accept", "expected"), [("zh-hans", "en", "zh-hans"), ("en", "zh-CN", "en")])
def test_the_language_cookie_wins_over_the_browser(alice: Any, cookie: str, accept: str, expected: str) -> None:
    client = signed_in(alice.user, accept_language=accept)
    client.cookies["django_language"] = cookie

    assert page_language(client.get(DASHBOARD)) == expected


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-hans"),
        ("zh-Hans", "zh-hans"),
        ("fr-FR, en;q=0.5", "en"),
        ("fr-FR", "en"),
        ("", "en"),
    ],
)
def test_without_a_choice_the_browser_language_decides(alice: Any, accept: str, expected: str) -> None:
    client = signed_in(alice.user, accept_language=accept)

    assert page_language(client.get(DASHBOARD)) == expected


def test_a_mixed_case_cookie_means_the_same_language(alice: Any) -> None:
    client = signed_in(alice.user, accept_language="en")
    client.cookies["django_language"] = "zh-Hans"

    assert page_language(client.get(DASHBOARD)) == "zh-hans"


def test_an_unknown_cookie_falls_back_to_the_browser(client: Client) -> None:
    client.cookies["django_language"] = "xx"

    response = client.get("/accounts/login/", headers={"accept-language": "zh-CN"})

    assert page_language(response) == "zh-hans"


@pytest.mark.parametrize("posted", ["zh-hans", "zh-Hans"])
def test_choosing_a_language_saves_it_on_the_user_and_in_the_cookie(bob: Any, posted: str) -> None:
    client = signed_in(bob.user, accept_language="en")

    response = client.post("/accounts/language/", {"language": posted, "next": "/"})

    assert (response.status_code, response["Location"]) == (302, "/")
    assert response.cookies["django_language"].value == "zh-hans"
    bob.user.refresh_from_db()
    assert bob.user.language == "zh-hans"
    # The saved choice follows the user to a browser without the cookie.
    assert page_language(signed_in(bob.user, accept_language="en").get(DASHBOARD)) == "zh-hans"


def test_an_anonymous_language_choice_lives_in_the_cookie(client: Client) -> None:
    response = client.post("/accounts/language/", {"language": "zh-hans", "next": "/accounts/login/"})
    login_page = client.get("/accounts/login/", headers={"accept-language": "en"})

    assert response.status_code == 302
    assert page_language(login_page) == "zh-hans"


def test_an_unknown_language_answers_400(alice: Any) -> None:
    client = signed_in(alice.user)

    response = client.post("/accounts/language/", {"language": "klingon"})

    assert response.status_code == 400
    alice.user.refresh_from_db()
    assert alice.user.language == ""


def test_the_language_switch_never_redirects_off_site(alice: Any) -> None:
    response = signed_in(alice.user).post(
        "/accounts/language/", {"language": "en", "next": "https://evil.example/phish"}
    )

    assert (response.status_code, response["Location"]) == (302, "/")


def test_the_language_switch_refuses_get(alice: Any) -> None:
    assert signed_in(alice.user).get("/accounts/language/").status_code == 405
