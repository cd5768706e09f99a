"""The trading API for the personas: strategies (create with field errors, update → version, lifecycle 202/409),
records with filters, kill switches, reconciliation (sync 409 unless mismatched) and manual commands; charlie
gets 404 for alpha's ids; bad input is a 4xx, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from strategies.models import Strategy
from tests.helpers.clients import Api
from trading.models import ManualCommand, ReconciliationReport

pytestmark = pytest.mark.django_db


def test_create_validates_params_and_names_fields(desk: dict[str, Any], tom: Any) -> None:
    api = Api(tom)
    bad = api.post(
        "strategies/",
        {"name": "API", "pool": desk["pool"].pk, "mode": "paper", "params": {"exit_threshold": "5", "bogus": 1}},
    )
    assert bad.status_code == 400
    assert set(bad.json()["params"]) == {"bogus"}
    worse = api.post("strategies/", {"name": "API", "pool": desk["pool"].pk, "params": {"exit_threshold": "5"}})
    assert worse.status_code == 400 and "exit_threshold" in worse.json()["params"]
    assert api.post("strategies/", {"name": "", "pool": "x"}).json().keys() >= {"name", "pool"}
    assert api.post("strategies/", ["not", "an", "object"]).status_code == 400
    not_an_object = api.post("strategies/", {"name": "API", "pool": desk["pool"].pk, "params": [1]})
    assert not_an_object.json() == {"params": ["Send the parameters as an object."]}
    assert api.post("strategies/", {"name": "x" * 121, "pool": desk["pool"].pk}).json().keys() == {"name"}
    assert api.post("strategies/", {"name": "API", "pool": desk["other_pool"].pk}).status_code == 403
    created = api.post(
        "strategies/", {"name": "API", "pool": desk["pool"].pk, "mode": "paper", "params": {"entry_threshold": 1.5}}
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["version"] == 1 and body["params"]["entry_threshold"] == "1.5" and body["state"] == "stopped"


def test_update_makes_a_new_version_and_lists_versions(desk: dict[str, Any], alice: Any, bob: Any) -> None:
    api = Api(alice)
    sid = desk["strategy"].pk
    assert api.patch(f"strategies/{sid}/", {"params": {"size_oz": "0.5"}}).status_code == 400
    assert api.patch(f"strategies/{sid}/", {"mode": "live"}).status_code == 400
    updated = api.patch(f"strategies/{sid}/", {"params": {"entry_threshold": "2"}, "note": "api"})
    assert updated.status_code == 200 and updated.json()["version"] == 2
    versions = api.get(f"strategies/{sid}/versions/").json()
    assert [v["number"] for v in versions["results"]] == [2, 1]
    assert Api(bob).patch(f"strategies/{sid}/", {"params": {}}).status_code == 403


def test_lifecycle_answers_202_then_409(desk: dict[str, Any], tom: Any, bob: Any, charlie: Any) -> None:
    api = Api(tom)
    sid = desk["strategy"].pk
    started = api.post(f"strategies/{sid}/start/")
    assert started.status_code == 202 and started.json()["state"] == "starting"
    again = api.post(f"strategies/{sid}/start/")
    assert again.status_code == 409 and "Cannot start" in again.json()["detail"]
    assert api.post(f"strategies/{sid}/pause/").status_code == 409
    assert api.post(f"strategies/{sid}/stop/", {"reason": "x" * 301}).json().keys() == {"reason"}
    assert api.post(f"strategies/{sid}/stop/", {"reason": "lunch"}).status_code == 202
    assert Strategy.objects.get(pk=sid).state_reason == "lunch"
    assert api.post(f"strategies/{desk['other'].pk}/start/").status_code == 403
    assert Api(bob).post(f"strategies/{sid}/stop/").status_code == 403
    assert Api(charlie).post(f"strategies/{sid}/start/").status_code == 404
    assert Api(charlie).get(f"strategies/{sid}/").status_code == 404
    assert Strategy.objects.get(pk=sid).state == "stopping"


@pytest.mark.parametrize("path", ["hedges/", "orders/", "fills/", "positions/"])
def test_records_filter_paginate_and_refuse_bad_filters(desk: dict[str, Any], bob: Any, path: str) -> None:
    api = Api(bob)
    everything = api.get(path)
    assert everything.status_code == 200 and "results" in everything.json()
    assert api.get(path, pool=desk["bravo_pool"].pk).json()["count"] == 0
    bad = api.get(path, pool="x", leg="left", since="tomorrow-ish")
    assert bad.status_code == 400 and set(bad.json()) >= {"pool", "leg", "since"}


def test_orders_filter_by_leg_and_status(desk: dict[str, Any], alice: Any) -> None:
    api = Api(alice)
    perp = api.get("orders/", leg="perp").json()
    assert perp["count"] == 1 and perp["results"][0]["leg"] == "perp"
    assert api.get("orders/", status="rejected").json()["count"] == 0
    nonsense = api.get("orders/", status="nonsense")
    assert nonsense.status_code == 400 and "Unknown status" in nonsense.json()["status"][0]
    order = perp["results"][0]
    assert {row["hedge"] for row in api.get("orders/", hedge=order["hedge"]).json()["results"]} == {order["hedge"]}
    assert api.get("orders/", hedge=order["hedge"], leg="perp").json()["count"] == 1
    assert api.get("orders/", hedge=order["hedge"] + 1000).json()["count"] == 0
    hedges = api.get("hedges/", strategy=desk["strategy"].pk).json()
    assert hedges["count"] == 1 and hedges["results"][0]["pnl_total"] == "2.10000000"


def test_kill_switch_trip_list_and_reset(desk: dict[str, Any], tom: Any, bob: Any, charlie: Any) -> None:
    api = Api(tom)
    assert api.post("kill-switches/", {"scope": "global", "reason": "x"}).status_code == 403
    assert api.post("kill-switches/", {"scope": "strategy", "reason": "x"}).status_code == 400
    assert api.post("kill-switches/", {"scope": "sideways", "reason": "x"}).status_code == 400
    tripped = api.post("kill-switches/", {"scope": "tenant", "reason": "news"})
    assert tripped.status_code == 201
    switch_id = tripped.json()["id"]
    assert [s["id"] for s in api.get("kill-switches/", active="true").json()["results"]] == [switch_id]
    assert switch_id not in [s["id"] for s in api.get("kill-switches/", active="false").json()["results"]]
    assert api.get("kill-switches/", active="maybe").json() == {"active": ["Use true or false."]}
    assert Api(bob).post(f"kill-switches/{switch_id}/reset/", {"note": "x"}).status_code == 403
    assert api.post(f"kill-switches/{switch_id}/reset/", {}).status_code == 400
    assert api.post(f"kill-switches/{switch_id}/reset/", {"note": "ok"}).status_code == 200
    assert api.post(f"kill-switches/{switch_id}/reset/", {"note": "ok"}).status_code == 409
    assert api.post(f"kill-switches/{desk['bravo_switch'].pk}/reset/", {"note": "x"}).status_code == 404
    assert Api(charlie).get("kill-switches/").json()["count"] == 1  # bravo's own only


def test_reconciliation_run_detail_and_sync(desk: dict[str, Any], alice: Any, tom: Any, charlie: Any) -> None:
    run = Api(tom).post("reconciliation/", {"pool": desk["pool"].pk})
    assert run.status_code == 201
    report_id = run.json()["id"]
    assert Api(alice).get(f"reconciliation/{report_id}/").json()["status"] in ("matched", "mismatch")
    assert Api(tom).post(f"reconciliation/{report_id}/sync/").status_code == 403
    report = ReconciliationReport.objects.get(pk=report_id)
    if report.status != "mismatch":
        assert Api(alice).post(f"reconciliation/{report_id}/sync/").status_code == 409
    ReconciliationReport.objects.filter(pk=report_id).update(status="matched")
    conflict = Api(alice).post(f"reconciliation/{report_id}/sync/")
    assert conflict.status_code == 409 and "mismatched" in conflict.json()["detail"]
    assert Api(charlie).get(f"reconciliation/{report_id}/").status_code == 404
    assert Api(alice).post(f"reconciliation/{desk['bravo_report'].pk}/sync/").status_code == 404


def test_reconciliation_sync_adopts_the_paper_venue(desk: dict[str, Any], alice: Any) -> None:
    report = Api(alice).post("reconciliation/", {"pool": desk["pool"].pk}).json()
    assert report["status"] == "mismatch"  # the paper ledger never saw the test's fills
    synced = Api(alice).post(f"reconciliation/{report['id']}/sync/")
    assert synced.status_code == 200 and synced.json()["status"] == "synced"
    assert synced.json()["synced_by"] == "alice"


def test_an_unreachable_live_venue_gives_a_failed_report_not_a_500(canary_accounts: Any, alice: Any) -> None:
    # The canary live accounts point at closed loopback ports: the comparison cannot be made, and says so.
    answer = Api(alice).post("reconciliation/", {"pool": canary_accounts["live_pool"].pk})
    assert answer.status_code == 201
    assert answer.json()["status"] == "failed" and answer.json()["error"]


def test_manual_commands_queue_and_refuse_clearly(desk: dict[str, Any], tom: Any, bob: Any, charlie: Any) -> None:
    api = Api(tom)
    assert api.post("manual-commands/", {"pool": desk["pool"].pk, "kind": "close_hedge"}).status_code == 400
    bad_size = api.post("manual-commands/", {"pool": desk["pool"].pk, "kind": "open_hedge", "direction": "buy_perp"})
    assert bad_size.status_code == 400 and "size_oz" in bad_size.json()
    queued = api.post("manual-commands/", {"pool": desk["pool"].pk, "kind": "close_hedge", "hedge": desk["hedge"].pk})
    assert queued.status_code == 202 and queued.json()["status"] == "queued"
    assert "Close hedge #" in queued.json()["description"]
    busy = api.post("manual-commands/", {"pool": desk["pool"].pk, "kind": "cancel_orders"})
    assert busy.status_code == 400 and "still running" in str(busy.json())
    assert api.get(f"manual-commands/{queued.json()['id']}/").json()["kind"] == "close_hedge"
    assert Api(bob).post("manual-commands/", {"pool": desk["pool"].pk, "kind": "cancel_orders"}).status_code == 403
    assert api.post("manual-commands/", {"pool": desk["other_pool"].pk, "kind": "cancel_orders"}).status_code == 403
    assert api.post("manual-commands/", {"pool": desk["bravo_pool"].pk, "kind": "cancel_orders"}).status_code == 400
    assert api.get(f"manual-commands/{desk['bravo_command'].pk}/").status_code == 404
    assert Api(charlie).get("manual-commands/").json()["count"] == 1
    assert ManualCommand.objects.filter(pool=desk["pool"]).count() == 1
