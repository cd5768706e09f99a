"""The cash-flow ledger: admins' entries with a second admin's approval above the threshold,
transfers as two linked rows, the venues' own reports booked once each, audited; the portal page and the API,
tenant-scoped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings
from django.urls import reverse

from accounts.models import AuditEvent, VenueAccount
from mt5ops.models import TerminalInstance
from tests.fakes.fixtures import BinanceFake
from tests.helpers.clients import api, patch, post, tenant_client
from tests.helpers.venues import point_at_fake
from tests.trading.portfolio.helpers import actions
from trading.models import CashFlow
from trading.portfolio.cashflows import (
    CashFlowError,
    Entry,
    cash_flow_approve,
    cash_flow_enter,
    cash_flow_reject,
    cash_flows_book_due,
    import_account_cash_flows,
    import_venue_cash_flows,
)

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(120)]
NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)


def test_a_small_deposit_is_booked_at_once_in_usd_at_the_rate_of_its_moment(
    alice: Any, books: Any, frozen_clock: Any
) -> None:
    [flow] = cash_flow_enter(
        tenant=alice.tenant, actor=alice.user,
        entry=Entry(account=books["perp"], kind="deposit", amount=Decimal("5000"), at=NOW - timedelta(days=1)),
    )  # fmt: skip

    flow.refresh_from_db()
    assert (flow.status, flow.amount, flow.currency) == ("booked", Decimal("5000"), "USDT")
    assert flow.amount_usd == Decimal("4995")  # 5000 USDT × 0.999
    assert actions(flow) == ["cash_flow_entered", "cash_flow_booked"]


def test_above_the_threshold_a_second_admin_approves_and_the_first_cannot(
    alice: Any, alex: Any, books: Any, frozen_clock: Any
) -> None:
    [flow] = cash_flow_enter(
        tenant=alice.tenant, actor=alice.user,
        entry=Entry(account=books["cfd"], kind="withdrawal", amount=Decimal("25000"), at=NOW),
    )  # fmt: skip
    assert (flow.status, flow.amount, flow.amount_usd) == ("requested", Decimal("-25000"), Decimal("-25000"))

    with pytest.raises(CashFlowError, match="second admin"):
        cash_flow_approve(flow=flow, actor=alice.user)
    approved = cash_flow_approve(flow=flow, actor=alex.user)

    assert (approved.status, approved.decided_by_id) == ("booked", alex.user.pk)
    assert actions(flow) == ["cash_flow_entered", "cash_flow_approved", "cash_flow_booked"]
    with pytest.raises(CashFlowError, match="awaiting approval"):
        cash_flow_reject(flow=approved, actor=alex.user)


def test_a_rejected_flow_is_never_booked(alice: Any, alex: Any, books: Any, frozen_clock: Any) -> None:
    [flow] = cash_flow_enter(
        tenant=alice.tenant, actor=alice.user,
        entry=Entry(account=books["cfd"], kind="deposit", amount=Decimal("20000"), at=NOW),
    )  # fmt: skip
    rejected = cash_flow_reject(flow=flow, actor=alex.user, reason="typo")
    assert (rejected.status, rejected.reject_reason) == ("rejected", "typo")
    assert cash_flows_book_due(NOW + timedelta(days=1)) == 0
    assert actions(flow) == ["cash_flow_entered", "cash_flow_rejected"]


def test_a_transfer_is_two_linked_rows_approved_together(alice: Any, alex: Any, books: Any, frozen_clock: Any) -> None:
    out, into = cash_flow_enter(
        tenant=alice.tenant, actor=alice.user,
        entry=Entry(account=books["perp"], kind="transfer_out", amount=Decimal("20000"), at=NOW,
                    to_account=books["cfd"]),
    )  # fmt: skip
    assert (out.kind, out.amount, out.currency, out.amount_usd) == (
        "transfer_out", Decimal("-20000"), "USDT", Decimal("-19980"),
    )  # fmt: skip
    # The same value in USD at the rate of the moment: the transfer nets to zero at the desk.
    assert (into.kind, into.amount, into.currency, into.amount_usd) == (
        "transfer_in", Decimal("19980"), "USD", Decimal("19980"),
    )  # fmt: skip
    assert (out.transfer_peer_id, into.transfer_peer_id) == (into.pk, out.pk)
    assert {out.status, into.status} == {"requested"}

    cash_flow_approve(flow=into, actor=alex.user)

    assert set(CashFlow.objects.values_list("status", flat=True)) == {"booked"}


def test_an_approved_flow_dated_ahead_is_booked_when_its_time_comes(alice: Any, books: Any, frozen_clock: Any) -> None:
    [flow] = cash_flow_enter(
        tenant=alice.tenant, actor=alice.user,
        entry=Entry(account=books["cfd"], kind="deposit", amount=Decimal("100"), at=NOW + timedelta(hours=2)),
    )  # fmt: skip
    assert flow.status == "approved"
    assert cash_flows_book_due(NOW + timedelta(hours=1)) == 0
    assert cash_flows_book_due(NOW + timedelta(hours=2)) == 1
    flow.refresh_from_db()
    assert flow.status == "booked"


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"kind": "deposit", "amount": Decimal(0)}, "amount"),
        ({"kind": "transfer_out", "amount": Decimal(1)}, "to_account"),
        ({"kind": "deposit", "amount": Decimal(1), "to_amount": Decimal(1)}, "to_account"),
        ({"kind": "transfer_in", "amount": Decimal(1)}, "kind"),
    ],
)
def test_it_refuses_an_entry_with_the_field_at_fault(alice: Any, books: Any, entry: Any, field: str) -> None:
    with pytest.raises(CashFlowError) as error:
        cash_flow_enter(tenant=alice.tenant, actor=alice.user, entry=Entry(account=books["perp"], at=NOW, **entry))
    assert error.value.field == field


def test_another_desks_account_is_refused(alice: Any, charlie: Any, books: Any) -> None:
    foreign = VenueAccount.objects.create(tenant=charlie.tenant, owner=charlie.user, venue="simulated-perp", label="X")
    with pytest.raises(CashFlowError):
        cash_flow_enter(
            tenant=alice.tenant, actor=alice.user,
            entry=Entry(account=foreign, kind="deposit", amount=Decimal(1), at=NOW),
        )  # fmt: skip


# --- read from the venues ----------------------------------------------------------------------------------------
def transfer(tran_id: int, amount: str, at: datetime) -> dict[str, Any]:
    return {"symbol": "", "incomeType": "TRANSFER", "income": amount, "asset": "USDT", "info": "TRANSFER",
            "time": int(at.timestamp() * 1000), "tranId": tran_id, "tradeId": ""}  # fmt: skip


def test_binance_transfers_are_booked_once_and_match_an_admins_entry(
    alice: Any, canary_accounts: dict[str, Any], binance_fake: BinanceFake, frozen_clock: Any
) -> None:
    account = point_at_fake(canary_accounts, binance_fake)
    [entered] = cash_flow_enter(
        tenant=alice.tenant, actor=alice.user,
        entry=Entry(account=account, kind="deposit", amount=Decimal("3000"), at=NOW - timedelta(hours=3)),
    )  # fmt: skip
    binance_fake.config(
        incomes=[
            transfer(7001, "3000.00000000", NOW - timedelta(hours=2)),  # the admin's deposit, as Binance saw it
            transfer(7002, "-250.50000000", NOW - timedelta(hours=1)),
            {**transfer(7003, "1.00000000", NOW), "incomeType": "FUNDING_FEE", "symbol": "XAUUSDT"},
        ]
    )

    assert import_account_cash_flows(account) == {"created": 1, "matched": 1, "known": 0}
    # Read again (from the last booked one on; the MT5 account is off): nothing is booked twice.
    assert import_venue_cash_flows() == {"created": 0, "matched": 0, "known": 1, "failed": 0}

    rows = list(CashFlow.objects.filter(account=account).order_by("at").values_list("venue_ref", "amount", "kind"))
    assert rows == [("binance:7001", Decimal("3000"), "deposit"), ("binance:7002", Decimal("-250.5"), "withdrawal")]
    entered.refresh_from_db()
    assert entered.venue_ref == "binance:7001"
    venue_row = CashFlow.objects.get(venue_ref="binance:7002")
    assert (venue_row.source, venue_row.status, venue_row.requested_by) == ("venue", "booked", None)
    assert actions(venue_row) == ["cash_flow_booked"]


def test_mt5_balance_deals_are_booked_once(alice: Any, frozen_clock: Any) -> None:
    from trading.venues.mt5.sim import simulated_terminal

    terminal = TerminalInstance.objects.create(tenant=alice.tenant, label="Sim terminal", backend="sim")
    account = VenueAccount.objects.create(
        tenant=alice.tenant, owner=alice.user, venue="bybit-mt5", label="MT5", mode="live", terminal=terminal,
        credentials={"login": "5001", "password": "x", "server": "Sim"},  # type: ignore[misc]  # encrypted JSON
        credential_hints={"login": "5001"},
    )  # fmt: skip
    sim = simulated_terminal(f"terminal:{terminal.pk}")
    sim.qa_reset()
    sim.qa_balance(1500.0, "deposit via card")
    sim.qa_manual_trade("buy", 0.1)  # a trade deal: not a cash flow
    sim.qa_balance(-200.0, "withdrawal")

    assert import_account_cash_flows(account) == {"created": 2, "matched": 0, "known": 0}
    assert import_account_cash_flows(account)["created"] == 0

    rows = list(CashFlow.objects.filter(account=account).order_by("at", "pk").values_list("amount", "currency", "note"))
    assert rows == [(Decimal("1500"), "USD", "deposit via card"), (Decimal("-200"), "USD", "withdrawal")]


# --- the portal page ---------------------------------------------------------------------------------------------
@override_settings(QUANTARB_CASH_FLOW_APPROVAL_USD="1000")
def test_the_page_enters_filters_approves_and_rejects(
    alice: Any, alex: Any, bob: Any, books: Any, frozen_clock: Any
) -> None:
    client = tenant_client(alice)
    url = reverse("cash_flows")
    answer = client.post(
        reverse("cash_flow_create"),
        {"account": books["cfd"].pk, "kind": "deposit", "amount": "5000", "at": "2026-11-17 10:00", "note": "seed"},
    )
    assert answer.status_code == 302
    flow = CashFlow.objects.get()
    assert flow.status == "requested"
    page = client.get(url).content.decode()
    assert "Another admin decides" in page and f'data-testid="approve-{flow.pk}"' not in page

    bad = client.post(reverse("cash_flow_create"), {"account": books["cfd"].pk, "kind": "deposit", "amount": "-1"})
    assert bad.status_code == 400 and "is-invalid" in bad.content.decode()

    second = tenant_client(alex)
    assert f'data-testid="approve-{flow.pk}"' in second.get(url).content.decode()
    assert second.post(reverse("cash_flow_approve", args=[flow.pk])).status_code == 302
    flow.refresh_from_db()
    assert flow.status == "booked"
    assert second.post(reverse("cash_flow_reject", args=[flow.pk])).status_code == 409

    viewer = tenant_client(bob)
    listing = viewer.get(url, {"status": "booked", "kind": "deposit"}).content.decode()
    assert "seed" in listing and "cash-flow-form" not in listing
    assert "seed" not in viewer.get(url, {"status": "rejected"}).content.decode()
    assert viewer.post(reverse("cash_flow_approve", args=[flow.pk])).status_code == 403


def test_the_page_paginates(alice: Any, books: Any, frozen_clock: Any) -> None:
    for day in range(30):
        cash_flow_enter(
            tenant=alice.tenant, actor=alice.user,
            entry=Entry(account=books["cfd"], kind="deposit", amount=Decimal(day + 1), at=NOW - timedelta(days=day)),
        )  # fmt: skip
    client = tenant_client(alice)
    first = client.get(reverse("cash_flows")).content.decode()
    second = client.get(reverse("cash_flows"), {"page": 2}).content.decode()
    assert first.count("data-flow=") == 25 and second.count("data-flow=") == 5
    assert "Page 1 of 2" in first


def test_a_foreign_flow_is_a_404(alice: Any, charlie: Any, frozen_clock: Any) -> None:
    account = VenueAccount.objects.create(tenant=charlie.tenant, owner=charlie.user, venue="simulated-cfd", label="B")
    [flow] = cash_flow_enter(
        tenant=charlie.tenant, actor=charlie.user,
        entry=Entry(account=account, kind="deposit", amount=Decimal("50000"), at=NOW),
    )  # fmt: skip
    client = tenant_client(alice)
    assert client.post(reverse("cash_flow_approve", args=[flow.pk])).status_code == 404
    assert api(alice).get(reverse("api-cash-flow", args=[flow.pk])).status_code == 404
    assert post(api(alice), reverse("api-cash-flow-approve", args=[flow.pk]), {}).status_code == 404
    assert api(alice).delete(reverse("api-cash-flow", args=[flow.pk])).status_code == 404
    flow.refresh_from_db()
    assert flow.status == "requested"


# --- the API -----------------------------------------------------------------------------------------------------
def test_the_api_enters_lists_approves_and_withdraws(
    alice: Any, alex: Any, bob: Any, books: Any, frozen_clock: Any
) -> None:
    url = reverse("api-cash-flows")
    created = post(api(alice), url, {"account": books["perp"].pk, "kind": "deposit", "amount": "50000",
                                      "at": "2026-11-17T09:00:00Z"})  # fmt: skip
    assert created.status_code == 201, created.content
    [row] = created.json()
    assert (row["status"], row["amount"], row["currency"], row["amount_usd"]) == (
        "requested", "50000.00000000", "USDT", "49950.00000000",
    )  # fmt: skip
    assert post(api(alice), reverse("api-cash-flow-approve", args=[row["id"]]), {}).status_code == 409
    approved = post(api(alex), reverse("api-cash-flow-approve", args=[row["id"]]), {})
    assert approved.status_code == 200 and approved.json()["status"] == "booked"
    assert api(alex).delete(reverse("api-cash-flow", args=[row["id"]])).status_code == 409

    listing = api(bob).get(url, {"status": "booked"})
    assert listing.status_code == 200 and listing.json()["count"] == 1
    assert (
        api(bob).get(url, {"account": books["perp"].pk, "since": "2026-11-17", "until": "2026-11-17"}).json()["count"]
        == 1
    )
    assert api(bob).get(url, {"until": "2026-11-16"}).json()["count"] == 0
    bad = api(bob).get(url, {"kind": "gift", "since": "someday", "account": books["perp"].pk + 1000})
    assert bad.status_code == 400 and set(bad.json()) == {"kind", "since", "account"}
    assert post(api(bob), url, {"account": books["perp"].pk, "kind": "deposit", "amount": "1"}).status_code == 403

    pending = post(api(alice), url, {"account": books["cfd"].pk, "kind": "withdrawal", "amount": "60000"}).json()[0]
    withdrawn = api(alex).delete(reverse("api-cash-flow", args=[pending["id"]]))
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    # Nothing is lost: the row stays, marked withdrawn, never booked, and the trail says who withdrew it.
    assert CashFlow.objects.get(pk=pending["id"]).status == "withdrawn"
    assert actions(CashFlow.objects.get(pk=pending["id"])) == ["cash_flow_entered", "cash_flow_withdrawn"]
    late = post(api(alex), reverse("api-cash-flow-approve", args=[pending["id"]]), {})
    assert late.status_code == 409 and "awaiting approval" in late.json()["detail"]
    assert cash_flows_book_due(NOW + timedelta(days=1)) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "deposit", "amount": "abc"}, "amount"),
        ({"kind": "gift", "amount": "1"}, "kind"),
        ({"kind": "transfer_out", "amount": "1"}, "to_account"),
        ({"kind": "deposit", "amount": "1", "at": "yesterday"}, "at"),
        ({"kind": "deposit", "amount": ["1"]}, "amount"),
        ({"kind": "deposit", "amount": "1", "surprise": 1}, "non_field_errors"),
    ],
)
def test_the_api_says_what_is_wrong(alice: Any, books: Any, body: dict[str, Any], field: str) -> None:
    answer = post(api(alice), reverse("api-cash-flows"), {"account": books["perp"].pk, **body})
    assert answer.status_code == 400, answer.content
    assert field in answer.json()


def test_the_api_refuses_another_desks_account(alice: Any, charlie: Any) -> None:
    foreign = VenueAccount.objects.create(tenant=charlie.tenant, owner=charlie.user, venue="simulated-cfd", label="Z")
    answer = post(api(alice), reverse("api-cash-flows"), {"account": foreign.pk, "kind": "deposit", "amount": "1"})
    assert answer.status_code == 400 and "account" in answer.json()
    assert not CashFlow.objects.exists()


# --- corrections: only while pending, only by the admin who entered it -------------------------------------------
def test_the_admin_who_entered_a_pending_flow_corrects_it_and_it_still_waits(
    alice: Any, alex: Any, books: Any, frozen_clock: Any
) -> None:
    body = {"account": books["perp"].pk, "kind": "deposit", "amount": "50000", "at": "2026-11-17T09:00:00Z"}
    [row] = post(api(alice), reverse("api-cash-flows"), body).json()
    url = reverse("api-cash-flow", args=[row["id"]])

    answer = patch(api(alice), url, {"amount": "40000", "note": "typo: forty thousand"})

    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["status"], body["amount"], body["amount_usd"], body["note"]) == (
        "requested", "40000.00000000", "39960.00000000", "typo: forty thousand",
    )  # fmt: skip
    flow = CashFlow.objects.get(pk=row["id"])
    assert actions(flow) == ["cash_flow_entered", "cash_flow_corrected"]
    event = AuditEvent.objects.get(object_id=str(flow.pk), action="cash_flow_corrected")
    before, after = Decimal(event.summary["before"]["amount"]), Decimal(event.summary["after"]["amount"])
    assert (before, after) == (Decimal("50000"), Decimal("40000"))
    # Someone else may not rewrite it (they reject it instead), and the author still may not approve it.
    other = patch(api(alex), url, {"amount": "1"})
    assert other.status_code == 403 and "Only the admin who entered" in other.json()["detail"]
    own = post(api(alice), reverse("api-cash-flow-approve", args=[row["id"]]), {})
    assert own.status_code == 409 and "second admin" in own.json()["detail"]
    assert post(api(alex), reverse("api-cash-flow-approve", args=[row["id"]]), {}).json()["status"] == "booked"
    # Booked: it stays as it is; a correction is a new entry.
    booked = patch(api(alice), url, {"amount": "39000"})
    assert booked.status_code == 409 and "correcting flow" in booked.json()["detail"]
    assert api(alice).delete(url).status_code == 409
    flow.refresh_from_db()
    assert (flow.status, flow.amount) == ("booked", Decimal("40000"))


def test_a_small_flow_approved_on_entry_cannot_be_changed(alice: Any, books: Any, frozen_clock: Any) -> None:
    [row] = post(api(alice), reverse("api-cash-flows"), {"account": books["cfd"].pk, "kind": "deposit",
                                                          "amount": "100"}).json()  # fmt: skip
    assert row["status"] == "booked"
    answer = patch(api(alice), reverse("api-cash-flow", args=[row["id"]]), {"note": "x"})
    assert answer.status_code == 409 and answer.json()["detail"]


def test_correcting_a_transfer_moves_both_sides(alice: Any, books: Any, frozen_clock: Any) -> None:
    out, into = cash_flow_enter(
        tenant=alice.tenant, actor=alice.user,
        entry=Entry(account=books["perp"], kind="transfer_out", amount=Decimal("20000"), at=NOW,
                    to_account=books["cfd"]),
    )  # fmt: skip
    answer = patch(api(alice), reverse("api-cash-flow", args=[into.pk]), {"amount": "30000"})
    assert answer.status_code == 200, answer.content
    out.refresh_from_db()
    into.refresh_from_db()
    assert (out.amount, out.amount_usd) == (Decimal("-30000"), Decimal("-29970"))
    assert (into.amount, into.amount_usd) == (Decimal("29970"), Decimal("29970"))  # the same value, in USD
    assert {out.status, into.status} == {"requested"}
    answer = patch(api(alice), reverse("api-cash-flow", args=[out.pk]), {"to_amount": "29950"})
    into.refresh_from_db()
    assert answer.status_code == 200 and into.amount == Decimal("29950")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "abc"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"amount": ""}, "amount"),
        ({"amount": ["1"]}, "amount"),
        ({"at": "yesterday"}, "at"),
        ({"at": "1999-01-01T00:00:00Z"}, "at"),
        ({"to_amount": "5"}, "to_amount"),
        ({"account": 1}, "non_field_errors"),
        ({"kind": "withdrawal"}, "non_field_errors"),
        ({"surprise": 1}, "non_field_errors"),
        ({}, "non_field_errors"),
    ],
)
def test_a_bad_correction_is_a_400_naming_the_field(
    alice: Any, books: Any, frozen_clock: Any, body: dict[str, Any], field: str
) -> None:
    [flow] = cash_flow_enter(
        tenant=alice.tenant, actor=alice.user,
        entry=Entry(account=books["cfd"], kind="deposit", amount=Decimal("50000"), at=NOW),
    )  # fmt: skip
    answer = patch(api(alice), reverse("api-cash-flow", args=[flow.pk]), body)
    assert answer.status_code == 400, answer.content
    assert field in answer.json() and answer.json()[field][0]
    flow.refresh_from_db()
    assert (flow.amount, flow.status) == (Decimal("50000"), "requested")


def test_a_json_list_body_is_a_400(alice: Any, books: Any, frozen_clock: Any) -> None:
    [flow] = cash_flow_enter(
        tenant=alice.tenant, actor=alice.user,
        entry=Entry(account=books["cfd"], kind="deposit", amount=Decimal("50000"), at=NOW),
    )  # fmt: skip
    answer = patch(api(alice), reverse("api-cash-flow", args=[flow.pk]), [1, 2])
    assert answer.status_code == 400 and "non_field_errors" in answer.json()


def test_viewers_and_traders_cannot_correct_or_withdraw(
    alice: Any, tom: Any, bob: Any, books: Any, frozen_clock: Any
) -> None:
    [flow] = cash_flow_enter(
        tenant=alice.tenant, actor=alice.user,
        entry=Entry(account=books["cfd"], kind="deposit", amount=Decimal("50000"), at=NOW),
    )  # fmt: skip
    url = reverse("api-cash-flow", args=[flow.pk])
    for persona in (tom, bob):
        assert patch(api(persona), url, {"amount": "1"}).status_code == 403
        assert api(persona).delete(url).status_code == 403
    flow.refresh_from_db()
    assert (flow.amount, flow.status) == (Decimal("50000"), "requested")


def test_a_withdrawn_entry_is_not_matched_by_the_venues_report(
    alice: Any, alex: Any, books: Any, frozen_clock: Any
) -> None:
    from trading.portfolio.cashflows import VenueFlow, cash_flow_withdraw, cash_flows_record

    [flow] = cash_flow_enter(
        tenant=alice.tenant, actor=alice.user,
        entry=Entry(account=books["cfd"], kind="deposit", amount=Decimal("50000"), at=NOW),
    )  # fmt: skip
    cash_flow_withdraw(flow=flow, actor=alex.user)
    counts = cash_flows_record(account=books["cfd"], rows=[VenueFlow("mt5:1", Decimal("50000"), "USD", NOW)])
    assert counts == {"created": 1, "matched": 0, "known": 0}
    flow.refresh_from_db()
    assert (flow.status, flow.venue_ref) == ("withdrawn", "")


@override_settings(QUANTARB_CASH_FLOW_APPROVAL_USD="1000")
def test_the_page_withdraws_the_authors_pending_flow(alice: Any, alex: Any, books: Any, frozen_clock: Any) -> None:
    [flow] = cash_flow_enter(
        tenant=alice.tenant, actor=alice.user,
        entry=Entry(account=books["cfd"], kind="deposit", amount=Decimal("5000"), at=NOW),
    )  # fmt: skip
    client = tenant_client(alice)
    assert f'data-testid="withdraw-{flow.pk}"' in client.get(reverse("cash_flows")).content.decode()
    assert client.post(reverse("cash_flow_withdraw", args=[flow.pk])).status_code == 302
    flow.refresh_from_db()
    assert flow.status == "withdrawn"
    assert client.post(reverse("cash_flow_withdraw", args=[flow.pk])).status_code == 409
    assert "Withdrawn" in client.get(reverse("cash_flows")).content.decode()
