"""The risk centre, live (risk/live.py): a risk history minute, a limit's level changing, a breach, a limit saved, a
kill switch tripped or reset each send the desk's members one `risk.changed` (no figures) after the commit — once per
desk per transaction, nothing for another desk, nothing when nothing changed; the spreads socket's control-only
mode (`?controls=1`, the risk centre's) carries it and no spread frames."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction

from quantarb.asgi import application
from quantarb.events import pair_group
from quantarb.live import group_send
from risk.domain.limits import Metric, Scope, ScopeKind
from risk.models import RiskLimit
from tests.sockets import drain, headers_for, update

# The pushes wait for a real commit; the sockets' database work runs in other threads.
pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("thread_connections_closed"),
]


@pytest.fixture
def sent() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """The `risk.changed` messages sent (the alerts' and the trading strip's pushes are theirs)."""
    messages: list[tuple[str, dict[str, Any]]] = []

    def record(group: str, message: dict[str, Any]) -> None:
        if message["type"] == "risk.changed":
            messages.append((group, message))

    with mock.patch("quantarb.live.send_on_commit", side_effect=record):
        yield messages


def risk_users(sent: list[tuple[str, dict[str, Any]]]) -> list[int]:
    for group, message in sent:
        assert message["type"] == "risk.changed" and group == f"user.{message['user_id']}"
        assert set(message) == {"type", "user_id", "tenant_id"}  # no figure travels
    return sorted(message["user_id"] for _group, message in sent)


def test_a_limit_level_change_pushes_once_per_member_and_a_steady_one_nothing(
    alice: Any, bob: Any, charlie: Any, sent: list[Any]
) -> None:
    from risk.limits import evaluate_limits

    row = RiskLimit.objects.create(
        tenant=alice.tenant, scope_kind="desk", metric="unhedged_oz", warning_level=Decimal(1), breach_level=Decimal(2)
    )
    RiskLimit.objects.create(
        tenant=alice.tenant, scope_kind="desk", metric="loss_streak", warning_level=Decimal(2), breach_level=Decimal(3)
    )
    desk = Scope(ScopeKind.DESK, alice.tenant.pk)

    def at(oz: str) -> None:
        figures = {(Metric.UNHEDGED_OZ, desk): Decimal(oz), (Metric.LOSS_STREAK, desk): Decimal(0)}
        evaluate_limits([alice.tenant.pk], metrics={alice.tenant.pk: figures})

    at("0.5")  # first evaluation: both ok, as before — no change
    assert sent == []
    at("3")  # a breach starts (two limits, one desk: one push per member)
    assert risk_users(sent) == sorted([alice.user.pk, bob.user.pk])
    sent.clear()
    at("3")  # the breach lasts: nothing changed
    assert sent == []
    at("0")  # the breach ends
    assert risk_users(sent) == sorted([alice.user.pk, bob.user.pk]) and row.breaches.get().ended_at is not None


def test_a_history_minute_pushes_each_desk_once(alice: Any, bob: Any, charlie: Any, sent: list[Any]) -> None:
    from risk.history import risk_record

    risk_record()
    assert risk_users(sent) == sorted([alice.user.pk, bob.user.pk, charlie.user.pk])
    assert {(m["user_id"], m["tenant_id"]) for _g, m in sent} >= {(charlie.user.pk, charlie.tenant.pk)}


def test_a_kill_switch_and_a_limit_saved_push_their_desk_only(
    alice: Any, bob: Any, charlie: Any, sent: list[Any]
) -> None:
    from risk.limits import limit_save
    from risk.services import kill_switch_reset, kill_switch_trip

    with transaction.atomic():
        switch = kill_switch_trip(scope="tenant", trigger="manual", reason="t", tenant=alice.tenant, actor=alice.user)
        limit_save(
            row=RiskLimit(tenant=alice.tenant, scope_kind="desk", metric="drawdown_pct", breach_level=Decimal(5)),
            actor=alice.user,
        )
        assert sent == []  # nothing before the commit
    assert risk_users(sent) == sorted([alice.user.pk, bob.user.pk])  # one transaction: once per member
    sent.clear()
    kill_switch_reset(switch=switch, actor=alice.user, note="done")
    assert risk_users(sent) == sorted([alice.user.pk, bob.user.pk])
    sent.clear()
    with pytest.raises(RuntimeError), transaction.atomic():
        kill_switch_trip(scope="tenant", trigger="manual", reason="rolled back", tenant=charlie.tenant)
        raise RuntimeError
    assert sent == []


def test_a_rolled_back_savepoint_takes_its_push_with_it(alice: Any, bob: Any, charlie: Any, sent: list[Any]) -> None:
    from risk.live import push_risk

    with transaction.atomic():
        push_risk([alice.tenant.pk])
        with pytest.raises(RuntimeError), transaction.atomic():
            push_risk([charlie.tenant.pk, alice.tenant.pk])
            raise RuntimeError
        push_risk([alice.tenant.pk, None])
    assert risk_users(sent) == sorted([alice.user.pk, bob.user.pk])  # charlie's desk was rolled back; alice's once
    sent.clear()
    with pytest.raises(RuntimeError), transaction.atomic():
        push_risk([charlie.tenant.pk])
        raise RuntimeError
    push_risk([charlie.tenant.pk])  # the next transaction (here autocommit) is not deduplicated by a rolled-back one
    assert risk_users(sent) == [charlie.user.pk]


async def open_socket(headers: Any, path: str) -> tuple[WebsocketCommunicator, bool]:
    socket = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await socket.connect(timeout=3)
    return socket, connected


async def test_the_control_only_socket_hears_risk_changed_and_no_spreads(
    alice: Any,
    charlie: Any,
    alpha_pair: Any,
    pair_state: Callable[[int], dict[str, Any]],
) -> None:
    from risk.services import kill_switch_trip
    from trading.marketdata.pipeline import now_ms

    risk_page, connected = await open_socket(await sync_to_async(headers_for)(alice.user), "/ws/spreads/?controls=1")
    assert connected
    hello = await risk_page.receive_json_from(timeout=3)
    assert (hello["type"], hello["pairs"]) == ("hello", [])
    other, connected = await open_socket(await sync_to_async(headers_for)(charlie.user), "/ws/spreads/?controls=1")
    assert connected and (await other.receive_json_from(timeout=3))["type"] == "hello"

    assert await group_send(pair_group(alpha_pair.pk), update(pair_state(now_ms())))
    assert await risk_page.receive_nothing(timeout=0.5)  # no quotes on the risk centre's socket
    await sync_to_async(kill_switch_trip)(scope="tenant", trigger="manual", reason="x", tenant=alice.tenant)
    frames = [await risk_page.receive_json_from(timeout=3), *await drain(risk_page)]
    assert {"type": "risk.changed"} in frames  # beside the switch's other control frames (alerts, trading strip)
    assert all(set(frame) == {"type"} for frame in frames)  # control frames only, no figures
    assert await other.receive_nothing(timeout=0.3)  # another desk hears nothing
    await risk_page.disconnect()
    await other.disconnect()
