"""The admin's pages of the portfolio: the cash-flow ledger and the equity series, tenant by tenant like
every admin page (the sweep in tests/accounts/test_sweep.py checks roles and bravo's ids over every model admin).
Cash flows are read field by field and decided through the ledger's services (a second admin approves; nothing is
deleted); equity points are read-only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings
from django.urls import reverse

from accounts.models import VenueAccount
from tests.helpers.clients import tenant_client
from tests.trading.portfolio.helpers import actions
from trading.models import EquityPoint
from trading.portfolio.cashflows import Entry, cash_flow_enter

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
FLOWS = reverse("admin:trading_cashflow_changelist")
POINTS = reverse("admin:trading_equitypoint_changelist")


def point(tenant: Any, equity: str, minutes: int = 0) -> EquityPoint:
    return EquityPoint.objects.create(
        tenant=tenant, scope="desk", scope_id=0, resolution="1m", at=NOW - timedelta(minutes=minutes),
        equity=Decimal(equity), flows=Decimal(equity),
    )  # fmt: skip


@pytest.fixture
def bravo_rows(charlie: Any) -> dict[str, Any]:
    account = VenueAccount.objects.create(tenant=charlie.tenant, owner=charlie.user, venue="simulated-cfd", label="B")
    [flow] = cash_flow_enter(
        tenant=charlie.tenant, actor=charlie.user,
        entry=Entry(account=account, kind="deposit", amount=Decimal("77777"), at=NOW, note="bravo-only"),
    )  # fmt: skip
    return {"flow": flow, "point": point(charlie.tenant, "424242")}


@override_settings(QUANTARB_CASH_FLOW_APPROVAL_USD="1000")
def test_the_ledger_shows_the_desks_flows_and_a_second_admin_decides_them(
    alice: Any,
    alex: Any,
    books: Any,
    bravo_rows: Any,
    frozen_clock: Any,
) -> None:
    [mine] = cash_flow_enter(
        tenant=alice.tenant, actor=alice.user,
        entry=Entry(account=books["cfd"], kind="deposit", amount=Decimal("5000"), at=NOW, note="alpha-seed"),
    )  # fmt: skip
    author, second = tenant_client(alice), tenant_client(alex)
    page = author.get(FLOWS).content.decode()
    assert "5000" in page and "Awaiting approval" in page and "77777" not in page

    # The author's approval is refused with the ledger's own message; the second admin's books it.
    refused = author.post(FLOWS, {"action": "cash_flow_approve", "_selected_action": [mine.pk]}, follow=True)
    assert "second admin" in refused.content.decode()
    mine.refresh_from_db()
    assert mine.status == "requested"
    second.post(FLOWS, {"action": "cash_flow_approve", "_selected_action": [mine.pk]})
    mine.refresh_from_db()
    assert (mine.status, mine.decided_by_id) == ("booked", alex.user.pk)
    assert actions(mine) == ["cash_flow_entered", "cash_flow_approved", "cash_flow_booked"]

    # Bravo's flow, selected by id, is out of reach: the queryset is the desk's.
    second.post(FLOWS, {"action": "cash_flow_withdraw", "_selected_action": [bravo_rows["flow"].pk]})
    bravo_rows["flow"].refresh_from_db()
    assert bravo_rows["flow"].status == "requested"


def test_pending_flows_are_withdrawn_not_deleted_and_nothing_is_edited(
    alice: Any,
    alex: Any,
    books: Any,
    frozen_clock: Any,
) -> None:
    [flow] = cash_flow_enter(
        tenant=alice.tenant, actor=alice.user,
        entry=Entry(account=books["cfd"], kind="deposit", amount=Decimal("50000"), at=NOW),
    )  # fmt: skip
    client = tenant_client(alice)
    change = reverse("admin:trading_cashflow_change", args=[flow.pk])
    form = client.get(change).content.decode()
    assert 'name="amount"' not in form and 'name="_save"' not in form  # every field read-only
    assert client.get(reverse("admin:trading_cashflow_delete", args=[flow.pk])).status_code == 403
    assert client.get(reverse("admin:trading_cashflow_add")).status_code == 403
    client.post(FLOWS, {"action": "cash_flow_withdraw", "_selected_action": [flow.pk]})
    flow.refresh_from_db()
    assert flow.status == "withdrawn" and actions(flow)[-1] == "cash_flow_withdrawn"
    # A booked flow is not withdrawn: the action says why and leaves it.
    [small] = cash_flow_enter(
        tenant=alice.tenant, actor=alice.user,
        entry=Entry(account=books["cfd"], kind="deposit", amount=Decimal("10"), at=NOW),
    )  # fmt: skip
    answer = client.post(FLOWS, {"action": "cash_flow_withdraw", "_selected_action": [small.pk]}, follow=True)
    assert "correcting flow" in answer.content.decode()
    small.refresh_from_db()
    assert small.status == "booked"


def test_equity_points_are_read_only_and_the_desks_own(alice: Any, bob: Any, bravo_rows: Any) -> None:
    mine = point(alice.tenant, "123456")
    client = tenant_client(alice)
    page = client.get(POINTS).content.decode()
    assert "123456" in page and "424242" not in page
    assert client.get(reverse("admin:trading_equitypoint_add")).status_code == 403
    assert client.get(reverse("admin:trading_equitypoint_delete", args=[mine.pk])).status_code == 403
    assert (
        'name="_save"' not in client.get(reverse("admin:trading_equitypoint_change", args=[mine.pk])).content.decode()
    )
    foreign = client.get(reverse("admin:trading_equitypoint_change", args=[bravo_rows["point"].pk]))
    assert foreign.status_code == 302 and foreign["Location"] == reverse("admin:index")
    exported = client.post(POINTS, {"action": "export_csv", "_selected_action": [mine.pk, bravo_rows["point"].pk]})
    body = exported.getvalue().decode()
    assert "123456" in body and "424242" not in body
    # A viewer does not enter the admin at all.
    assert tenant_client(bob).get(POINTS).status_code == 302
