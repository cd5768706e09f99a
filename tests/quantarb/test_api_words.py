"""The API's own error words are in the caller's language (Accept-Language), like every other message: a body that
is not a JSON object, a strategy without a name, a mode that is neither paper nor live."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.helpers.clients import obtain

pytestmark = pytest.mark.django_db


def _post(persona: Any, path: str, body: Any, language: str) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {obtain(persona)['access']}", "HTTP_ACCEPT_LANGUAGE": language}
    return Client().post("/api/v1/" + path, body, content_type="application/json", **headers)


@pytest.mark.parametrize(
    ("language", "words"),
    [("en", "Send a JSON object."), ("zh-Hans", "请发送一个 JSON 对象。")],
)
def test_a_body_that_is_not_an_object_is_refused_in_the_callers_language(alice: Any, language: str, words: str) -> None:
    for path in ("risk/limits/", "transfers/", "alerts/channels/"):
        answer = _post(alice, path, [1, 2], language)
        assert answer.status_code == 400, (path, answer.content)
        assert answer.json()["non_field_errors"] == [words], path


def test_the_strategy_serializers_words_are_translated(alice: Any, paper_pool: Any) -> None:
    answer = _post(alice, "strategies/", {"name": "", "pool": paper_pool.pk, "mode": "demo"}, "zh-Hans")
    assert answer.status_code == 400
    body = answer.json()
    assert body["name"] == ["请为策略命名。"] and body["mode"] == ["请选择模拟或实盘。"], body


def test_every_write_refuses_a_field_it_does_not_know_and_saves_nothing(
    alice: Any, paper_pool: Any, strategy: Any
) -> None:
    """A misspelt field is named back (in the caller's language), never silently dropped: `{"enabeld": false}`
    ignored would leave the account enabled while the caller believes it disabled."""
    writes = [
        ("post", "accounts/"),
        ("patch", f"accounts/{paper_pool.perp_account_id}/"),
        ("post", "pools/"),
        ("patch", f"pools/{paper_pool.pk}/"),
        ("post", "strategies/"),
        ("patch", f"strategies/{strategy.pk}/"),
        ("post", f"strategies/{strategy.pk}/start/"),
        ("post", "kill-switches/"),
        ("post", "reconciliation/"),
        ("post", "manual-commands/"),
        ("post", "transfers/"),
        ("post", "mt5/terminals/"),
    ]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {obtain(alice)['access']}"}
    for language, words in (("en", "Unknown field(s): bogus."), ("zh-Hans", "未知字段：bogus。")):
        for method, path in writes:
            send = getattr(Client(), method)
            answer = send("/api/v1/" + path, {"bogus": 1}, content_type="application/json",
                          HTTP_ACCEPT_LANGUAGE=language, **headers)  # fmt: skip
            assert answer.status_code == 400, (path, answer.content)
            assert answer.json()["non_field_errors"] == [words], (path, answer.json())
    paper_pool.refresh_from_db()
    strategy.refresh_from_db()
    assert paper_pool.enabled and strategy.state == "stopped"
