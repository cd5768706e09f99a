"""The limits API validates with its write serializer, in the very words of the limits editor (`RiskLimitForm`):
the checks of `RiskLimit.clean`, and a scope object that is not the desk's."""

from __future__ import annotations

from typing import Any

import pytest

from risk.forms import RiskLimitForm
from risk.models import RiskLimit
from tests.helpers.clients import Api
from tests.risk.helpers import form

pytestmark = pytest.mark.django_db


def body(pool: Any, **fields: Any) -> dict[str, Any]:
    return {"scope_kind": "pool", "pool": pool.pk, "metric": "unhedged_oz", "warning_level": "1", "breach_level": "2",
            "action": "block_entries", **fields}  # fmt: skip


def form_errors(data: dict[str, Any], tenant: Any, field: str) -> list[str]:
    editor = RiskLimitForm(data=data, tenant=tenant)
    assert not editor.is_valid()
    return [str(message) for message in editor.errors[field]]


def test_a_level_out_of_range_has_the_same_words_on_the_api_and_the_page(paper_pool: Any, alice: Any) -> None:
    levels = {"metric": "drawdown_pct", "warning_level": "5", "breach_level": "150"}
    answer = Api(alice).post("risk/limits/", body(paper_pool, **levels))
    assert answer.status_code == 400
    assert answer.json()["breach_level"] == form_errors(form(paper_pool, **levels), alice.tenant, "breach_level")
    assert not RiskLimit.objects.exists()


def test_a_pool_not_the_desks_has_the_same_words_on_the_api_and_the_page(paper_pool: Any, alice: Any) -> None:
    foreign = paper_pool.pk + 1000
    answer = Api(alice).post("risk/limits/", {**body(paper_pool), "pool": foreign})
    assert answer.status_code == 400
    expected = form_errors({**form(paper_pool), "pool": foreign}, alice.tenant, "pool")
    # The page goes on to `RiskLimit.clean`, which finds no pool either; the API stops at the field.
    assert answer.json()["pool"] == expected[:1] == ["Choose one of this desk's."]


def test_put_starts_from_the_defaults_and_patch_from_what_is_stored(paper_pool: Any, alice: Any) -> None:
    api = Api(alice)
    created = api.post("risk/limits/", body(paper_pool, name="Unhedged", confirm=False)).json()
    patched = api.patch(f"risk/limits/{created['id']}/", {"breach_level": "3"})
    assert patched.status_code == 200 and patched.json()["name"] == "Unhedged"
    assert patched.json()["warning_level"] == "1.000000"
    replaced = api.client.put(f"/api/v1/risk/limits/{created['id']}/", {"scope_kind": "desk", "metric": "unhedged_oz",
                              "breach_level": "4"}, content_type="application/json", **api.headers)  # fmt: skip
    assert replaced.status_code == 200, replaced.content
    assert (replaced.json()["name"], replaced.json()["pool"], replaced.json()["warning_level"]) == ("", None, None)


def test_an_unknown_field_is_refused_in_the_callers_language(paper_pool: Any, alice: Any) -> None:
    api = Api(alice)
    headers = {**api.headers, "HTTP_ACCEPT_LANGUAGE": "zh-Hans"}
    answer = api.client.post("/api/v1/risk/limits/", {**body(paper_pool), "colour": "red"},
                             content_type="application/json", **headers)  # fmt: skip
    assert answer.status_code == 400 and answer.json() == {"non_field_errors": ["未知字段：colour。"]}
