"""The strategy, hedges & orders and risk pages for the personas: alice (admin) does everything, tom (trader)
only on the pool granted to him, bob (viewer) reads only, charlie (another tenant) gets 404 for alpha's ids.
Form errors name the field; lifecycle refusals say why; exports need `trading.export`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from strategies.models import Strategy
from tests.helpers.books import store_marks
from tests.helpers.clients import tenant_client
from tests.helpers.desk import make_hedge
from trading.models import ManualCommand, ReconciliationReport

pytestmark = pytest.mark.django_db


# --- reading ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["alice", "tom", "bob"])
def test_alpha_members_see_the_strategy_list_detail_and_status(desk: dict[str, Any], who: str, request: Any) -> None:
    client = tenant_client(request.getfixturevalue(who))
    listing = client.get(reverse("strategies"))
    assert listing.status_code == 200
    assert b"Basis A" in listing.content and b"Bravo" not in listing.content
    detail = client.get(reverse("strategy", args=[desk["strategy"].pk]))
    assert detail.status_code == 200
    assert b'data-testid="status-panel"' in detail.content
    status = client.get(reverse("strategy_status", args=[desk["strategy"].pk]))
    assert status.status_code == 200 and b'data-state="stopped"' in status.content
    # The realised line is empty (the hedge is open) and the open hedge is counted.
    assert b'data-testid="open-hedges">1<' in status.content


def test_only_operators_see_lifecycle_buttons_and_new_strategy(desk: dict[str, Any], tom: Any, bob: Any) -> None:
    tom_page = tenant_client(tom).get(reverse("strategy", args=[desk["strategy"].pk])).content
    assert b'data-testid="action-start"' in tom_page
    tom_other = tenant_client(tom).get(reverse("strategy", args=[desk["other"].pk])).content
    assert b'data-testid="action-start"' not in tom_other  # not his pool
    bob_page = tenant_client(bob).get(reverse("strategy", args=[desk["strategy"].pk])).content
    assert b'data-testid="action-start"' not in bob_page
    assert b'data-testid="new-strategy"' not in tenant_client(bob).get(reverse("strategies")).content
    assert b'data-testid="new-strategy"' in tenant_client(tom).get(reverse("strategies")).content


def test_charlie_gets_404_for_every_alpha_id(desk: dict[str, Any], charlie: Any) -> None:
    client = tenant_client(charlie)
    sid, hid = desk["strategy"].pk, desk["hedge"].pk
    for name, args in (
        ("strategy", [sid]),
        ("strategy_status", [sid]),
        ("strategy_versions", [sid]),
        ("strategy_edit", [sid]),
        ("hedge", [hid]),
        ("pool_desk", [desk["pool"].pk]),
    ):
        assert client.get(reverse(name, args=args)).status_code == 404, name
    assert client.post(reverse("strategy_lifecycle", args=[sid]), {"action": "start"}).status_code == 404
    assert client.post(reverse("hedge_manual", args=[hid]), {"kind": "close_hedge"}).status_code == 404
    Strategy.objects.get(pk=sid).state == "stopped"  # noqa: B015 - unchanged
    assert not ManualCommand.objects.filter(pool=desk["pool"]).exists()


# --- lifecycle ---------------------------------------------------------------------------------------------------
def test_tom_starts_his_strategy_and_a_second_start_is_refused(desk: dict[str, Any], tom: Any) -> None:
    client = tenant_client(tom)
    url = reverse("strategy_lifecycle", args=[desk["strategy"].pk])
    response = client.post(url, {"action": "start"}, follow=True)
    assert response.status_code == 200
    desk["strategy"].refresh_from_db()
    assert desk["strategy"].state == "starting"
    assert AuditEvent.objects.filter(action="strategy_started", actor_id=tom.user.pk).exists()
    refused = client.post(url, {"action": "start"}, follow=True)
    assert "Cannot start a strategy that is starting." in refused.content.decode()
    htmx = client.post(url, {"action": "resume"}, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 409


def test_tom_may_not_operate_a_pool_not_granted_and_bob_may_not_operate_at_all(
    desk: dict[str, Any], tom: Any, bob: Any
) -> None:
    assert (
        tenant_client(tom).post(reverse("strategy_lifecycle", args=[desk["other"].pk]), {"action": "start"}).status_code
        == 403
    )
    assert (
        tenant_client(bob)
        .post(reverse("strategy_lifecycle", args=[desk["strategy"].pk]), {"action": "start"})
        .status_code
        == 403
    )
    assert tenant_client(tom).get(reverse("strategy_edit", args=[desk["other"].pk])).status_code == 403
    assert tenant_client(bob).get(reverse("strategy_create")).status_code == 403


def test_stop_confirmation_says_what_the_stop_policy_does(desk: dict[str, Any], alice: Any) -> None:
    from strategies.services import strategy_request

    strategy_request(strategy=desk["strategy"], action="start", actor=alice.user)
    confirm_url = reverse("strategy_confirm", args=[desk["strategy"].pk, "stop"])
    page = tenant_client(alice).get(reverse("strategy", args=[desk["strategy"].pk])).content.decode()
    assert f'hx-get="{confirm_url}"' in page  # the dialog asks when it opens, not when the page loaded
    assert (
        "its 1 open hedges stay open at the venues (stop policy: leave)"
        in tenant_client(alice).get(confirm_url).content.decode()
    )
    # Two more hedges open while the page stays open: the dialog, opened now, counts three.
    make_hedge(desk["strategy"])
    make_hedge(desk["strategy"], status="legged")
    text = tenant_client(alice).get(confirm_url).content.decode()
    assert "its 3 open hedges stay open at the venues" in text and 'data-testid="confirm-stop"' in text
    assert tenant_client(alice).get(reverse("strategy_confirm", args=[desk["strategy"].pk, "nope"])).status_code == 404


# --- configuration -------------------------------------------------------------------------------------------------
def form_data(**overrides: Any) -> dict[str, Any]:
    from strategies.domain.params import StrategyParams

    data = {key: ("" if value is None else value) for key, value in StrategyParams().to_json().items()}
    data.update({"name": "Basis B", "note": ""})
    data.update(overrides)
    return data


def test_the_form_shows_every_parameter() -> None:
    from strategies.forms import check_groups_cover_params

    assert check_groups_cover_params() == []


def test_creating_a_strategy_with_bad_thresholds_names_the_field(desk: dict[str, Any], alice: Any) -> None:
    client = tenant_client(alice)
    response = client.post(
        reverse("strategy_create"),
        form_data(pool=desk["pool"].pk, entry_threshold="1.00", exit_threshold="2.00", size_oz="0.5"),
    )
    assert response.status_code == 400
    text = response.content.decode()
    assert "Exit threshold (remaining edge) (2.00) must be below entry_threshold (1.00)" in text
    assert "Size per hedge (oz) (0.5 oz) must be a multiple of the CFD step" in text
    typed = client.post(reverse("strategy_create"), form_data(pool=desk["pool"].pk, size_oz="abc"))
    assert typed.status_code == 400 and "Enter a number." in typed.content.decode()
    assert not Strategy.objects.filter(name="Basis B").exists()


def test_creating_and_editing_makes_versions_with_a_diff(desk: dict[str, Any], tom: Any) -> None:
    client = tenant_client(tom)
    response = client.post(reverse("strategy_create"), form_data(pool=desk["pool"].pk, mode="paper"))
    assert response.status_code == 302, response.content.decode()[:2000]
    created = Strategy.objects.get(name="Basis B")
    assert created.current_version.number == 1
    edit = client.post(
        reverse("strategy_edit", args=[created.pk]),
        form_data(name="Basis B", entry_threshold="1.50", note="wider"),
    )
    assert edit.status_code == 302
    created.refresh_from_db()
    assert created.current_version.number == 2
    assert created.current_version.params["entry_threshold"] == "1.50"
    history = client.get(reverse("strategy_versions", args=[created.pk])).content.decode()
    assert "Entry threshold (net edge)" in history and "1.50" in history and "wider" in history


def test_tom_cannot_create_on_a_pool_not_granted(desk: dict[str, Any], tom: Any) -> None:
    response = tenant_client(tom).post(reverse("strategy_create"), form_data(pool=desk["other_pool"].pk))
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


# --- hedges & orders ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["hedges", "orders", "fills", "positions"])
def test_tables_filter_and_paginate(desk: dict[str, Any], bob: Any, name: str) -> None:
    client = tenant_client(bob)
    assert client.get(reverse(name)).status_code == 200
    assert client.get(reverse(name), {"pool": desk["pool"].pk, "leg": "perp", "since": "2020-01-01"}).status_code == 200
    bad = client.get(reverse(name), {"pool": "x", "since": "yesterday"})
    assert bad.status_code == 400 and b"filter-errors" in bad.content
    assert b"Bravo" not in client.get(reverse(name)).content


def test_orders_table_filters_by_leg(desk: dict[str, Any], alice: Any) -> None:
    page = tenant_client(alice).get(reverse("orders"), {"leg": "cfd"}).content.decode()
    assert f"qa-test-{desk['hedge'].pk}-cfd" in page and f"qa-test-{desk['hedge'].pk}-perp" not in page


def test_csv_export_needs_trading_export_and_holds_the_tenant_only(desk: dict[str, Any], alice: Any, bob: Any) -> None:
    assert tenant_client(bob).get(reverse("orders_export")).status_code == 403
    response = tenant_client(alice).get(reverse("orders_export"), {"leg": "perp"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    lines = body.strip().splitlines()
    assert lines[0].startswith("Order,Client order id")
    assert len(lines) == 2 and f"qa-test-{desk['hedge'].pk}-perp" in lines[1]
    assert "Bravo" not in body
    assert tenant_client(alice).get(reverse("hedges_export"), {"since": "nope"}).status_code == 400


def test_hedge_detail_shows_pnl_split_orders_fills_and_its_actions(
    desk: dict[str, Any], tom: Any, bob: Any, sim_pair: Any
) -> None:
    from trading.domain.pnl import Marks

    # The open hedge is marked at the pool's latest stored quotes: short perp sold at 4605.10 bought back at the
    # ask 4601.20, long CFD bought at 4600.05 sold at the bid 4600.50, USDT at 0.9995 → 3.90 · 0.9995 + 0.45.
    store_marks(
        sim_pair,
        Marks(Decimal("0.9995"), Decimal("4601.00"), Decimal("4601.20"), Decimal("4600.50"), Decimal("4600.80")),
    )
    page = tenant_client(tom).get(reverse("hedge", args=[desk["hedge"].pk])).content.decode()
    assert 'data-testid="hedge-pnl"' in page
    assert 'data-testid="pnl-spread">+4.35<' in page and 'data-testid="pnl-total">+4.35<' in page
    assert f"qa-test-{desk['hedge'].pk}-perp" in page
    assert 'data-testid="action-close_hedge"' in page
    confirm_url = reverse("hedge_confirm", args=[desk["hedge"].pk, "close_hedge"])
    assert f'hx-get="{confirm_url}"' in page
    # The dialog says what will happen, asked when it opens.
    assert f"Close hedge #{desk['hedge'].pk}" in tenant_client(tom).get(confirm_url).content.decode()
    assert tenant_client(bob).get(confirm_url).status_code == 403
    assert (
        'data-testid="action-close_hedge"'
        not in tenant_client(bob).get(reverse("hedge", args=[desk["hedge"].pk])).content.decode()
    )


def test_closing_a_hedge_by_hand_queues_a_command_shown_live(desk: dict[str, Any], tom: Any, bob: Any) -> None:
    client = tenant_client(tom)
    response = client.post(reverse("hedge_manual", args=[desk["hedge"].pk]), {"kind": "close_hedge"}, follow=True)
    assert response.status_code == 200
    command = ManualCommand.objects.get(hedge=desk["hedge"])
    assert command.status == "queued" and command.requested_by == tom.user
    assert "Queued for the engine" in response.content.decode()
    row = client.get(reverse("command", args=[command.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in row and "Queued" in row
    ManualCommand.objects.filter(pk=command.pk).update(status="done", result="closed")
    row = client.get(reverse("command", args=[command.pk])).content.decode()
    assert "every 2s" not in row and "closed" in row
    again = client.post(reverse("hedge_manual", args=[desk["hedge"].pk]), {"kind": "close_hedge"}, follow=True)
    assert again.status_code == 200  # refused with a message (one command per pool at a time), never a 500
    assert bob_cannot(bob, desk)


def bob_cannot(bob: Any, desk: dict[str, Any]) -> bool:
    return (
        tenant_client(bob).post(reverse("hedge_manual", args=[desk["hedge"].pk]), {"kind": "close_hedge"}).status_code
        == 403
    )


def test_opening_a_hedge_by_hand_confirms_then_queues(desk: dict[str, Any], tom: Any, stored_quotes: Any) -> None:
    client = tenant_client(tom)
    url = reverse("pool_manual", args=[desk["pool"].pk])
    bad = client.post(url, {"kind": "open_hedge", "direction": "sideways", "size_oz": "x"})
    assert bad.status_code == 400 and "Choose a direction." in bad.content.decode()
    # The pool's strategy holds positions to 1 oz: the pre-trade gate refuses more, on the form, saying why.
    over = client.post(url, {"kind": "open_hedge", "direction": "sell_perp", "size_oz": "2"})
    assert over.status_code == 400 and "position would reach -3 oz (limit 1 oz)" in over.content.decode()
    review = client.post(url, {"kind": "open_hedge", "direction": "buy_perp", "size_oz": "1"})
    assert review.status_code == 200
    assert "Open a 1 oz hedge on Paper pool" in review.content.decode()
    assert not ManualCommand.objects.filter(pool=desk["pool"]).exists()
    client.post(url, {"kind": "open_hedge", "direction": "buy_perp", "size_oz": "1", "confirmed": "yes"})
    command = ManualCommand.objects.get(pool=desk["pool"])
    assert command.kind == "open_hedge" and command.params == {"direction": "buy_perp", "size_oz": "1"}
    assert (
        tenant_client(tom)
        .post(reverse("pool_manual", args=[desk["other_pool"].pk]), {"kind": "flatten_pool"})
        .status_code
        == 403
    )


# --- risk -------------------------------------------------------------------------------------------------------
def test_kill_switch_trip_and_reset_from_the_risk_page(desk: dict[str, Any], tom: Any, bob: Any) -> None:
    from risk.models import KillSwitch

    client = tenant_client(tom)
    assert client.post(reverse("kill_switch_trip"), {"scope": "global", "reason": "x"}).status_code == 403
    assert (
        client.post(
            reverse("kill_switch_trip"), {"scope": "strategy", "strategy": desk["other"].pk, "reason": "x"}
        ).status_code
        == 403
    )
    client.post(
        reverse("kill_switch_trip"), {"scope": "strategy", "strategy": desk["strategy"].pk, "reason": "fat finger"}
    )
    switch = KillSwitch.objects.get(strategy=desk["strategy"], reset_at__isnull=True)
    status = client.get(reverse("strategy_status", args=[desk["strategy"].pk])).content.decode()
    assert 'data-testid="switches"' in status and "fat finger" in status
    page = client.get(reverse("risk")).content.decode()
    assert f'data-testid="reset-{switch.pk}"' in page and "bravo" not in page
    assert tenant_client(bob).post(reverse("kill_switch_reset", args=[switch.pk]), {"note": "x"}).status_code == 403
    missing_note = client.post(reverse("kill_switch_reset", args=[switch.pk]), {"note": ""}, follow=True)
    assert "Add a note" in missing_note.content.decode()
    client.post(reverse("kill_switch_reset", args=[switch.pk]), {"note": "checked"})
    switch.refresh_from_db()
    assert switch.reset_by == tom.user and switch.reset_note == "checked"
    assert client.post(reverse("kill_switch_reset", args=[desk["bravo_switch"].pk]), {"note": "x"}).status_code == 404


def test_reconciliation_runs_on_a_paper_pool_and_shows_differences_as_a_table(
    desk: dict[str, Any], alice: Any, bob: Any
) -> None:
    from trading.models import PaperPosition

    # The paper venue never saw the hedge's fills: reconciliation finds the positions differ.
    PaperPosition.objects.update_or_create(account=desk["pool"].perp_account, defaults={"quantity_oz": Decimal(0)})
    client = tenant_client(alice)
    response = client.post(reverse("reconciliation_run"), {"pool": desk["pool"].pk})
    report = ReconciliationReport.objects.filter(pool=desk["pool"]).get()
    assert response.status_code == 302 and response["Location"] == reverse("reconciliation_report", args=[report.pk])
    assert report.status == "mismatch"
    page = client.get(reverse("reconciliation_report", args=[report.pk])).content.decode()
    assert 'data-testid="differences"' in page and "Position differs" in page and "Sim perp" in page
    assert 'data-testid="sync"' in page
    assert (
        'data-testid="sync"'
        not in tenant_client(bob).get(reverse("reconciliation_report", args=[report.pk])).content.decode()
    )
    assert tenant_client(bob).post(reverse("reconciliation_sync", args=[report.pk])).status_code == 403
    assert tenant_client(bob).post(reverse("reconciliation_run"), {"pool": desk["pool"].pk}).status_code == 403
    assert client.get(reverse("reconciliation_report", args=[desk["bravo_report"].pk])).status_code == 404
