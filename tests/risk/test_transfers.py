"""Transfers between venue accounts, wired: the advice from the accounts' latest snapshots, the
workflow (a second admin approves, the venue's reference completes it, reject and cancel) audited at each step and
booked in the cash-flow ledger when done, never before; the page (advice, validated form, list, confirmations,
pagination, empty state) and `/api/v1/transfers/` (permission matrix, another desk's id 404, bad input 400 with a
message, one's own approval 403 with a message, a step out of order 409)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.choices import AuditAction
from accounts.models import AccountPool, AccountSnapshot, AuditEvent, VenueAccount
from quantarb import clock
from risk.models import Transfer
from risk.transfers import TransferError, transfer_advice, transfer_approve, transfer_complete, transfer_request
from tests.helpers.clients import obtain, tenant_client
from tests.helpers.personas import persona
from trading.models import CashFlow

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def adam(alice: Any) -> Any:
    """A second admin of alpha."""
    return persona("adam", "alpha", "admin")


@pytest.fixture
def pool(alice: Any) -> AccountPool:
    perp = VenueAccount.objects.create(
        tenant=alice.tenant, owner=alice.user, venue="simulated-perp", label="Perp A", mode="paper"
    )
    cfd = VenueAccount.objects.create(
        tenant=alice.tenant, owner=alice.user, venue="simulated-cfd", label="CFD A", mode="paper"
    )
    return AccountPool.objects.create(
        tenant=alice.tenant, name="Pool A", perp_account=perp, cfd_account=cfd,
        perp_allocation=D(10000), cfd_allocation=D(10000),
    )  # fmt: skip


def snapshot(account: VenueAccount, currency: str, equity: str, used: str, **extra: Any) -> None:
    AccountSnapshot.objects.create(
        account=account, tenant_id=account.tenant_id, at=clock.now(), currency=currency, balance=D(equity),
        equity=D(equity), used_margin=D(used), **extra,
    )  # fmt: skip


class Api:
    def __init__(self, persona: Any) -> None:
        self.client = Client()
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {obtain(persona)['access']}"}

    def get(self, path: str) -> Any:
        return self.client.get("/api/v1/" + path, **self.headers)

    def post(self, path: str, body: Any = None) -> Any:
        return self.client.post("/api/v1/" + path, body or {}, content_type="application/json", **self.headers)


def actions(tenant: Any) -> list[str]:
    return list(
        AuditEvent.objects.filter(tenant=tenant, action__startswith="transfer_")
        .order_by("pk")
        .values_list("action", flat=True)
    )


def test_the_advice_reads_the_latest_snapshots(pool: AccountPool, alice: Any) -> None:
    snapshot(pool.perp_account, "USDT", "9000", "1000")  # older: replaced below
    snapshot(pool.perp_account, "USDT", "10000", "4000", margin_terms={"maintenance_margin": "400"})
    snapshot(pool.cfd_account, "USD", "50000", "10000")
    (item,) = transfer_advice(tenant=alice.tenant)
    assert item.advice is not None and not item.rate_observed  # no USDT/USD sample: 1 assumed
    # Perp 250 % (< 300): to 500 % it needs 10,000 USDT; the CFD, kept at 300 %, could give 20,000 USD.
    assert item.advice.amount_usd == D("10000.00")
    assert (item.advice.source.label, item.advice.target.label) == ("CFD A", "Perp A")
    assert item.advice.target.level_after_pct == D(500) and item.advice.source.level_after_pct == D(400)
    assert item.advice.target.ratio_after_pct == D(2)


def test_no_snapshot_no_advice(pool: AccountPool, alice: Any) -> None:
    (item,) = transfer_advice(tenant=alice.tenant)
    assert item.missing and item.advice is None


def test_the_workflow_books_the_ledger_only_when_done(pool: AccountPool, alice: Any, adam: Any, settings: Any) -> None:
    settings.QUANTARB_CASH_FLOW_APPROVAL_USD = 1000  # the ledger's own four eyes apply: the approver's
    transfer = transfer_request(
        tenant=alice.tenant, actor=alice.user, from_account=pool.cfd_account, to_account=pool.perp_account,
        amount=D("5000.00"), note="top up the perp",
    )  # fmt: skip
    assert transfer.currency == "USD" and transfer.status == "requested"
    with pytest.raises(TransferError) as own:
        transfer_approve(transfer=transfer, actor=alice.user)
    assert own.value.status == 403 and "A second admin must decide" in str(own.value)
    with pytest.raises(TransferError) as early:
        transfer_complete(transfer=transfer, actor=adam.user, venue_ref="T-1")
    assert early.value.status == 409
    assert not CashFlow.objects.exists()
    transfer = transfer_approve(transfer=transfer, actor=adam.user)
    assert not CashFlow.objects.exists()  # approval moves no money and books nothing
    with pytest.raises(TransferError) as no_ref:
        transfer_complete(transfer=transfer, actor=alice.user, venue_ref="  ")
    assert no_ref.value.field == "venue_ref"
    transfer = transfer_complete(transfer=transfer, actor=alice.user, venue_ref="MT5-DEAL-42", received=D("4995.00"))
    assert transfer.status == "done" and transfer.venue_ref == "MT5-DEAL-42" and transfer.received == D("4995.00")
    out, into = CashFlow.objects.order_by("pk")
    assert (out.account_id, out.kind, out.amount, out.status) == (
        pool.cfd_account.pk,
        "transfer_out",
        D(-5000),
        "booked",
    )
    assert (into.account_id, into.kind, into.amount, into.status) == (
        pool.perp_account.pk,
        "transfer_in",
        D(4995),
        "booked",
    )
    assert out.venue_ref == "MT5-DEAL-42" and out.transfer_peer_id == into.pk and transfer.cash_flow_id == out.pk
    assert out.requested_by_id == alice.user.pk and out.decided_by_id == adam.user.pk
    assert actions(alice.tenant) == ["transfer_requested", "transfer_approved", "transfer_done"]
    with pytest.raises(TransferError) as again:
        transfer_complete(transfer=transfer, actor=alice.user, venue_ref="again")
    assert again.value.status == 409


def test_bad_requests_are_refused_with_their_field(pool: AccountPool, alice: Any, charlie: Any) -> None:
    foreign = VenueAccount.objects.create(
        tenant=charlie.tenant, owner=charlie.user, venue="simulated-perp", label="BRAVO", mode="paper"
    )
    cases = [
        ({"from_account": pool.cfd_account, "to_account": pool.cfd_account, "amount": D(1)}, "to_account"),
        ({"from_account": pool.cfd_account, "to_account": foreign, "amount": D(1)}, "to_account"),
        ({"from_account": pool.cfd_account, "to_account": pool.perp_account, "amount": D(0)}, "amount"),
        ({"from_account": pool.cfd_account, "to_account": pool.perp_account, "amount": D("1.001")}, "amount"),
    ]
    for kwargs, field in cases:
        with pytest.raises(TransferError) as refused:
            transfer_request(tenant=alice.tenant, actor=alice.user, **kwargs)
        assert refused.value.field == field and refused.value.status == 400
    assert not Transfer.objects.exists()


def test_the_page_requests_approves_completes_with_confirmations(
    pool: AccountPool, alice: Any, adam: Any, bob: Any, charlie: Any
) -> None:
    url = reverse("transfers")
    empty = tenant_client(alice).get(url).content.decode()
    assert 'data-testid="transfers-empty"' in empty and 'data-testid="transfer-form"' in empty
    assert "No balance snapshot of both accounts yet." in empty
    viewer = tenant_client(bob).get(url)
    assert viewer.status_code == 200 and 'data-testid="transfer-form"' not in viewer.content.decode()
    body = {"from_account": pool.cfd_account.pk, "to_account": pool.perp_account.pk, "amount": "250.50", "note": ""}
    assert tenant_client(bob).post(url, body).status_code == 403
    bad = tenant_client(alice).post(url, {**body, "amount": "-3", "to_account": pool.cfd_account.pk})
    assert bad.status_code == 400
    text = bad.content.decode()
    assert "Ensure this value is greater than or equal to 0.01." in text
    assert tenant_client(alice).post(url, body).status_code == 302
    transfer = Transfer.objects.get()
    page = tenant_client(alice).get(url).content.decode()
    assert "Another admin approves" in page and f'data-testid="approve-{transfer.pk}"' not in page
    page = tenant_client(adam).get(url).content.decode()
    assert f'data-testid="approve-{transfer.pk}"' in page and "data-confirm=" in page
    action = reverse("transfer_action", args=[transfer.pk, "approve"])
    assert tenant_client(alice).post(action).status_code == 302  # refused with a message, nothing changes
    assert Transfer.objects.get().status == "requested"
    tenant_client(adam).post(action)
    assert Transfer.objects.get().status == "approved"
    complete = reverse("transfer_action", args=[transfer.pk, "complete"])
    assert tenant_client(adam).post(complete, {"venue_ref": ""}).status_code == 303
    assert Transfer.objects.get().status == "approved"
    tenant_client(adam).post(complete, {"venue_ref": "BN-77", "received": ""})
    assert Transfer.objects.get().status == "done" and CashFlow.objects.count() == 2
    # Another desk's id is a 404; a viewer may not act.
    assert tenant_client(charlie).post(action).status_code == 404
    assert tenant_client(bob).post(reverse("transfer_action", args=[transfer.pk, "cancel"])).status_code == 403
    assert tenant_client(alice).post(reverse("transfer_action", args=[transfer.pk, "bogus"])).status_code == 404


def test_the_list_is_paginated(pool: AccountPool, alice: Any) -> None:
    for _ in range(23):
        transfer_request(
            tenant=alice.tenant, actor=alice.user, from_account=pool.cfd_account, to_account=pool.perp_account,
            amount=D(1),
        )  # fmt: skip
    first = tenant_client(alice).get(reverse("transfers")).content.decode()
    assert first.count("data-transfer=") == 20 and "page=2" in first
    assert tenant_client(alice).get(reverse("transfers"), {"page": 2}).content.decode().count("data-transfer=") == 3


def test_the_api(pool: AccountPool, alice: Any, adam: Any, bob: Any, charlie: Any) -> None:
    body = {"from_account": pool.perp_account.pk, "to_account": pool.cfd_account.pk, "amount": "1200.00"}
    assert Api(bob).post("transfers/", body).status_code == 403
    assert Api(bob).get("transfers/").status_code == 200
    for bad, field in (
        ({**body, "amount": "lots"}, "amount"),
        ({**body, "amount": "-1"}, "amount"),
        ({**body, "amount": "NaN"}, "amount"),
        ({**body, "to_account": pool.perp_account.pk}, "to_account"),
        ({**body, "from_account": 999999}, "from_account"),
        ({**body, "colour": "red"}, "non_field_errors"),
        ({"amount": "1"}, "from_account"),
    ):
        answer = Api(alice).post("transfers/", bad)
        assert answer.status_code == 400 and field in answer.json(), (bad, answer.content)
    created = Api(alice).post("transfers/", body)
    assert created.status_code == 201
    transfer_id = created.json()["id"]
    assert created.json()["currency"] == "USDT" and created.json()["status"] == "requested"
    own = Api(alice).post(f"transfers/{transfer_id}/approve/")
    assert own.status_code == 403 and "A second admin must decide" in own.json()["detail"]
    assert Api(adam).post(f"transfers/{transfer_id}/complete/", {"venue_ref": "X"}).status_code == 409
    assert Api(charlie).post(f"transfers/{transfer_id}/approve/").status_code == 404
    assert Api(charlie).get(f"transfers/{transfer_id}/").status_code == 404
    assert Api(adam).post(f"transfers/{transfer_id}/approve/").json()["approved_by"] == "adam"
    assert Api(adam).post(f"transfers/{transfer_id}/complete/", {}).status_code == 400
    bad_received = Api(adam).post(f"transfers/{transfer_id}/complete/", {"venue_ref": "X", "received": "0"})
    assert bad_received.status_code == 400 and "received" in bad_received.json()
    done = Api(adam).post(f"transfers/{transfer_id}/complete/", {"venue_ref": "BN-TRAN-9"})
    assert done.status_code == 200 and done.json()["status"] == "done" and done.json()["cash_flow"]
    assert Api(alice).post(f"transfers/{transfer_id}/reject/").status_code == 403  # her own
    assert Api(adam).post(f"transfers/{transfer_id}/reject/").status_code == 409  # done
    assert Api(adam).post(f"transfers/{transfer_id}/cancel/", {"reason": "x"}).status_code == 409
    listed = Api(bob).get("transfers/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [row["id"] for row in rows] == [transfer_id]
    assert Api(charlie).get("transfers/").json() in ([], {"count": 0, "next": None, "previous": None, "results": []})
    second = Api(alice).post("transfers/", body).json()["id"]
    cancelled = Api(alice).post(f"transfers/{second}/cancel/", {"reason": "not needed"})
    assert cancelled.status_code == 200 and cancelled.json()["reason"] == "not needed"
    assert AuditEvent.objects.filter(action=AuditAction.TRANSFER_CANCELLED).count() == 1
