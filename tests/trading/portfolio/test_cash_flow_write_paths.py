"""The cash-flow API validates entries and corrections with its write serializers, in the very words of the
portal's entry form: the checks across fields (`entry_errors`, `correction_errors`) are the same ones."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from tests.helpers.clients import api, patch, post
from trading.models import CashFlow
from trading.portfolio.forms import CashFlowForm

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(120)]


def form_errors(data: dict[str, Any], tenant: Any, field: str) -> list[str]:
    form = CashFlowForm(data=data, tenant=tenant)
    assert not form.is_valid()
    return [str(message) for message in form.errors[field]]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"kind": "transfer_out"}, "to_account"),  # a transfer names the receiving account
        ({"kind": "deposit", "at": "1999-12-31T23:00:00Z"}, "at"),
    ],
)
def test_an_entry_s_bad_field_has_the_same_words_on_the_api_and_the_page(
    alice: Any, books: Any, extra: dict[str, Any], field: str
) -> None:
    body = {"account": books["perp"].pk, "amount": "10", **extra}
    answer = post(api(alice), reverse("api-cash-flows"), body)
    assert answer.status_code == 400
    assert answer.json()[field] == form_errors(body, alice.tenant, field)
    assert not CashFlow.objects.exists()


def test_an_account_not_the_desks_has_the_same_words_on_the_api_and_the_page(alice: Any, books: Any) -> None:
    body = {"account": books["perp"].pk + 1000, "kind": "deposit", "amount": "10"}
    answer = post(api(alice), reverse("api-cash-flows"), body)
    assert answer.status_code == 400
    assert (
        answer.json()["account"]
        == form_errors(body, alice.tenant, "account")
        == ["Choose one of this desk's accounts."]
    )


def test_a_correction_sending_an_empty_amount_is_refused_by_the_serializer(
    alice: Any, books: Any, frozen_clock: Any
) -> None:
    [row] = post(api(alice), reverse("api-cash-flows"), {"account": books["perp"].pk, "kind": "deposit",
                                                          "amount": "50000"}).json()  # fmt: skip
    url = reverse("api-cash-flow", args=[row["id"]])
    assert patch(api(alice), url, {"amount": None}).json() == {"amount": ["This field cannot be empty."]}
    assert patch(api(alice), url, {}).json() == {
        "non_field_errors": ["Send at least one of amount, at, to_amount, venue_ref and note."]
    }
    assert patch(api(alice), url, {"note": "typo"}).status_code == 200
