"""The limits page (`/risk/limits/`) and API (`/api/v1/risk/limits/`, `/api/v1/risk/breaches/`): the editor
validates (a bad value is a field error on the page and a 400 naming the field in the API), follows the matrix
(admins manage; every role reads), keeps to the desk; pending actions are confirmed by an admin, audited."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from risk.domain.limits import Metric, Scope, ScopeKind
from risk.limits import evaluate_limits, limit_save
from risk.models import Breach, RiskLimit
from strategies.choices import StrategyState
from strategies.models import Strategy
from tests.helpers.clients import Api, tenant_client
from tests.risk.helpers import form

pytestmark = pytest.mark.django_db


def test_the_page_lists_limits_and_breaches_for_every_reader(paper_pool: Any, alice: Any, bob: Any) -> None:
    empty = tenant_client(bob).get(reverse("risk_limits")).content.decode()
    assert "No limit yet." in empty and "No breach yet." in empty and 'data-testid="limit-new"' not in empty
    limit_save(row=RiskLimit(tenant=alice.tenant, scope_kind="pool", pool=paper_pool, metric="unhedged_oz",
                             breach_level=Decimal(2), action="block_entries"), actor=None)  # fmt: skip
    evaluate_limits(metrics={alice.tenant.pk: {(Metric.UNHEDGED_OZ, Scope(ScopeKind.POOL, paper_pool.pk)): Decimal(3)}})
    page = tenant_client(bob).get(reverse("risk_limits")).content.decode()
    assert 'data-testid="limits"' in page and 'data-testid="breaches"' in page and "ongoing" in page
    assert 'data-testid="tab-limits"' in page and "Reconciliation" in page  # a tab of the risk centre
    assert tenant_client(alice).get(reverse("risk_limits")).content.decode().count('data-testid="limit-new"') == 1


def test_measured_values_read_to_their_metric_s_precision(paper_pool: Any, alice: Any) -> None:
    """A rate age reads in whole seconds and an exposure to the lot step, whatever decimals the measure carried."""
    for metric, level in (("usdt_rate_age_s", 5), ("unhedged_oz", 2)):
        limit_save(row=RiskLimit(tenant=alice.tenant, scope_kind="pool", pool=paper_pool, metric=metric,
                                 breach_level=Decimal(level), action="alert"), actor=None)  # fmt: skip
    scope = Scope(ScopeKind.POOL, paper_pool.pk)
    evaluate_limits(metrics={alice.tenant.pk: {(Metric.USDT_RATE_AGE_S, scope): Decimal("5.112007"),
                                               (Metric.UNHEDGED_OZ, scope): Decimal("0.1")}})  # fmt: skip
    page = tenant_client(alice).get(reverse("risk_limits")).content.decode()
    limits = page.split('data-testid="limits"', 1)[1].split("</table>", 1)[0]
    breaches = page.split('data-testid="breaches"', 1)[1].split("</table>", 1)[0]
    assert "5.112007" not in page and '<td class="qa-num">5</td>' in limits and "0.100" in limits
    assert '<td class="qa-num">5</td>' in breaches  # the peak, as the value reads


def test_a_bad_value_is_a_field_error_and_saves_nothing(paper_pool: Any, alice: Any) -> None:
    url = reverse("risk_limit_create")
    answer = tenant_client(alice).post(url, form(paper_pool, metric="drawdown_pct", warning_level="5",
                                              breach_level="150"))  # fmt: skip
    assert answer.status_code == 400
    assert "Enter a level between 0 and 100 (Drawdown from peak (%))." in answer.content.decode()
    answer = tenant_client(alice).post(url, form(paper_pool, warning_level="3"))
    assert answer.status_code == 400 and "below it for an upper limit" in answer.content.decode()
    answer = tenant_client(alice).post(url, form(paper_pool, warning_level="abc"))
    assert answer.status_code == 400 and "Enter a number." in answer.content.decode()
    assert not RiskLimit.objects.exists()


def test_an_admin_creates_edits_and_disables_a_limit_audited(paper_pool: Any, alice: Any) -> None:
    client = tenant_client(alice)
    assert client.post(reverse("risk_limit_create"), form(paper_pool)).status_code == 302
    limit = RiskLimit.objects.get()
    edit = reverse("risk_limit_edit", args=[limit.pk])
    assert client.get(edit).status_code == 200
    changed = form(paper_pool, breach_level="3")
    del changed["enabled"]  # unticked
    assert client.post(edit, changed).status_code == 302
    limit.refresh_from_db()
    assert limit.breach_level == Decimal(3) and not limit.enabled
    [created, edited] = AuditEvent.objects.filter(action="risk_limit_saved").order_by("pk")
    assert created.summary["created"] is True
    assert edited.summary["changed"] == {"breach_level": ["2", "3"], "enabled": [True, False]}


def test_others_may_not_edit_and_a_foreign_limit_is_a_404(paper_pool: Any, alice: Any, tom: Any, charlie: Any) -> None:
    assert tenant_client(tom).post(reverse("risk_limit_create"), form(paper_pool)).status_code == 403
    limit = limit_save(row=RiskLimit(tenant=alice.tenant, scope_kind="desk", metric="loss_streak",
                                     breach_level=Decimal(5)), actor=None)  # fmt: skip
    assert tenant_client(charlie).get(reverse("risk_limit_edit", args=[limit.pk])).status_code == 404
    # Charlie's desk cannot point a limit at alpha's pool.
    answer = tenant_client(charlie).post(reverse("risk_limit_create"), form(paper_pool))
    assert answer.status_code == 400 and not RiskLimit.objects.filter(tenant=charlie.tenant).exists()


def test_an_admin_confirms_a_pending_action_audited(paper_pool: Any, strategy: Any, alice: Any, tom: Any) -> None:
    limit_save(row=RiskLimit(tenant=alice.tenant, scope_kind="pool", pool=paper_pool, metric="unhedged_oz",
                             breach_level=Decimal(2), action="pause", confirm=True), actor=None)  # fmt: skip
    Strategy.objects.filter(pk=strategy.pk).update(state=StrategyState.RUNNING)
    evaluate_limits(metrics={alice.tenant.pk: {(Metric.UNHEDGED_OZ, Scope(ScopeKind.POOL, paper_pool.pk)): Decimal(3)}})
    breach = Breach.objects.get()
    page = tenant_client(alice).get(reverse("risk_limits")).content.decode()
    assert 'data-testid="pending-confirmations"' in page and f'data-testid="confirm-{breach.pk}"' in page
    assert "data-confirm=" in page
    assert tenant_client(tom).post(reverse("risk_breach_confirm", args=[breach.pk])).status_code == 403
    assert tenant_client(alice).post(reverse("risk_breach_confirm", args=[breach.pk])).status_code == 302
    assert Strategy.objects.get(pk=strategy.pk).state == StrategyState.PAUSED
    assert AuditEvent.objects.filter(action="risk_limit_breach", summary__event="confirmed").count() == 1


# --- API ----------------------------------------------------------------------------------------------------------
def test_the_api_creates_validates_and_changes_limits(paper_pool: Any, alice: Any, bob: Any) -> None:
    api = Api(alice)
    body = {"scope_kind": "pool", "pool": paper_pool.pk, "metric": "liquidation_distance_pct",
            "warning_level": "5", "breach_level": "10", "action": "pause"}  # fmt: skip
    bad = api.post("risk/limits/", body)
    assert bad.status_code == 400 and "above it for a lower limit" in bad.json()["warning_level"][0]
    assert api.post("risk/limits/", {**body, "colour": "red"}).json() == {
        "non_field_errors": ["Unknown field(s): colour."]
    }
    assert api.post("risk/limits/", {**body, "confirm": {"x": 1}}).status_code == 400
    assert api.post("risk/limits/", {**body, "breach_level": "1e400"}).status_code == 400
    assert api.post("risk/limits/", {**body, "pool": 10**30}).json()["pool"]  # no such pool: named, never a 500
    assert "metric" in api.post("risk/limits/", {**body, "metric": ["x"]}).json()
    created = api.post("risk/limits/", {**body, "warning_level": "20"})
    assert created.status_code == 201, created.json()
    data = created.json()
    assert data["effective_direction"] == "min" and data["level"] == "ok" and data["enabled"] is True
    patched = api.patch(f"risk/limits/{data['id']}/", {"breach_level": "12", "confirm": True})
    assert patched.status_code == 200 and patched.json()["breach_level"] == "12.000000" and patched.json()["confirm"]
    assert api.patch(f"risk/limits/{data['id']}/", {"breach_level": "30"}).status_code == 400
    assert Api(bob).patch(f"risk/limits/{data['id']}/", {"breach_level": "11"}).status_code == 403
    assert [row["id"] for row in Api(bob).get("risk/limits/").json()["results"]] == [data["id"]]
    deleted = api.client.delete(f"/api/v1/risk/limits/{data['id']}/", **api.headers)
    assert deleted.status_code == 204 and not RiskLimit.objects.exists()


def test_the_api_lists_breaches_and_confirms(paper_pool: Any, strategy: Any, alice: Any, charlie: Any) -> None:
    limit_save(row=RiskLimit(tenant=alice.tenant, scope_kind="pool", pool=paper_pool, metric="unhedged_oz",
                             breach_level=Decimal(2), action="pause", confirm=True), actor=None)  # fmt: skip
    evaluate_limits(metrics={alice.tenant.pk: {(Metric.UNHEDGED_OZ, Scope(ScopeKind.POOL, paper_pool.pk)): Decimal(3)}})
    breach = Breach.objects.get()
    [row] = Api(alice).get("risk/breaches/", open="true").json()["results"]
    assert row["id"] == breach.pk and row["action_status"] == "pending" and row["peak_value"] == "3.00000000"
    assert Api(alice).get("risk/breaches/", open="maybe").json() == {"open": ["Send true or false."]}
    assert Api(alice).get("risk/breaches/", limit="x").json() == {"limit": ["Send a limit's id."]}
    assert Api(alice).get("risk/breaches/", limit=(breach.limit_id or 0) + 1000).json()["results"] == []
    assert Api(charlie).get("risk/breaches/").json()["results"] == []
    assert Api(charlie).post(f"risk/breaches/{breach.pk}/confirm/").status_code == 404
    confirmed = Api(alice).post(f"risk/breaches/{breach.pk}/confirm/")
    assert confirmed.status_code == 200 and confirmed.json()["confirmed_by"] == alice.user.username
    assert Api(alice).post(f"risk/breaches/{breach.pk}/confirm/").status_code == 409
