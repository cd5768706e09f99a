"""The dashboard's trading strip (strategies/strip.py): the tenant's running strategies with
state and PnL, open and legged hedges, tripped kill switches, the lowest margin level, hedge markers for the basis
chart; only the tenant's; only for the roles that read trading data; pushed as `trading.changed` to the tenant's
members when a strategy, a hedge or a kill switch changes (once per transaction)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.db import transaction
from django.urls import reverse

from accounts.models import AccountSnapshot
from quantarb import clock
from strategies import strip
from strategies.models import Strategy
from tests.helpers.clients import client_for
from tests.helpers.desk import make_hedge

pytestmark = pytest.mark.django_db


def test_the_strip_shows_the_tenants_strategies_hedges_switches_and_margin(
    desk: dict[str, Any],
    alice: Any,
) -> None:
    from risk.services import kill_switch_trip

    strategy = desk["strategy"]
    Strategy.objects.filter(pk__in=[strategy.pk, desk["bravo_strategy"].pk]).update(state="running")
    legged = make_hedge(strategy, status="legged")
    kill_switch_trip(scope="strategy", trigger="manual", reason="test", strategy=strategy, actor=alice.user)
    account = strategy.pool.cfd_account
    for level, minutes_ago in (("180.5", 0), ("95", 10)):  # the latest snapshot counts, not the lowest ever
        AccountSnapshot.objects.create(
            account=account,
            tenant=alice.tenant,
            at=clock.now() - timedelta(minutes=minutes_ago),
            currency="USD",
            balance=Decimal(1000),
            equity=Decimal(1000),
            used_margin=Decimal(10),
            margin_level=Decimal(level),
        )
    page = client_for(alice).get(reverse("trading_strip"))
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-strategy-id="{strategy.pk}" data-state="running"' in html
    assert "Other" not in html  # stopped strategies are not on the strip
    assert "Bravo" not in html  # never another desk's strategies or switches
    assert 'data-testid="strip-open-hedges">1<' in html  # the desk's open hedge; the legged one is listed apart
    assert f'href="{reverse("hedge", args=[legged.pk])}"' in html
    assert "Manual" in html and "tripped" in html
    assert "181 %" in html and account.label in html
    data = strip.trading_strip(alice.tenant)
    assert [row.strategy.pk for row in data.strategies] == [strategy.pk]
    assert data.strategies[0].halted
    assert [switch.strategy_id for switch in data.switches] == [strategy.pk]  # bravo's tripped switch is not here
    assert data.worst_margin is not None and data.worst_margin.level == Decimal("180.5")


def test_hedge_markers_are_per_pair_for_the_charts_window(
    desk: dict[str, Any],
    alice: Any,
) -> None:
    from trading.instruments import pair_id_for_pool

    strategy = desk["strategy"]
    pair_id = pair_id_for_pool(strategy.pool)
    assert pair_id is not None
    hedge = desk["hedge"]
    closed = make_hedge(strategy, status="closed")
    closed.closed_at = clock.now()
    closed.save(update_fields=["closed_at"])
    old = make_hedge(strategy, status="closed")
    old.opened_at = clock.now() - timedelta(hours=2)
    old.closed_at = clock.now() - timedelta(hours=1)
    old.save(update_fields=["opened_at", "closed_at"])
    markers = strip.hedge_markers(alice.tenant, clock.now() - timedelta(minutes=30))
    rows = markers[str(pair_id)]
    kinds = {(row["hedge"], row["kind"]) for row in rows}
    assert (hedge.pk, "open") in kinds and (closed.pk, "open") in kinds and (closed.pk, "close") in kinds
    assert all(row["hedge"] != old.pk for row in rows)  # outside the chart's window
    assert rows == sorted(rows, key=lambda row: (row["t"], row["hedge"]))
    assert desk["bravo_hedge"].pk not in {row["hedge"] for row in rows}
    page = client_for(alice).get(reverse("trading_strip")).content.decode()
    assert 'id="hedge-markers-data"' in page


# Transactional: the pushes wait for a real commit (and a test's own transaction would already hold one).
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_state_change_pushes_one_trading_changed_per_member_after_commit(
    desk: dict[str, Any],
    alice: Any,
    bob: Any,
    tom: Any,
    charlie: Any,
) -> None:
    strategy = desk["strategy"]
    sent: list[tuple[str, dict[str, Any]]] = []
    record = mock.patch("quantarb.live.send_on_commit", side_effect=lambda group, msg: sent.append((group, msg)))
    with record, transaction.atomic():
        strategy.state = "paused"
        strategy.save(update_fields=["state"])
        make_hedge(strategy)  # several writes of one transaction: one push
        assert sent == []  # nothing before the commit
    users = sorted(message["user_id"] for _group, message in sent)
    assert sorted({alice.user.pk, bob.user.pk, tom.user.pk}) == users  # each of alpha's members once, not charlie
    for group, message in sent:
        assert message["type"] == "trading.changed" and group == f"user.{message['user_id']}"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_rolled_back_change_pushes_nothing_and_does_not_silence_the_next(
    desk: dict[str, Any],
    alice: Any,
) -> None:
    strategy = desk["strategy"]
    sent: list[Any] = []
    with mock.patch("quantarb.live.send_on_commit", side_effect=lambda group, message: sent.append(message)):
        with pytest.raises(RuntimeError), transaction.atomic():
            strategy.save(update_fields=["state"])
            raise RuntimeError("rolled back")
        assert sent == []
        strategy.save(update_fields=["state"])
    assert alice.user.pk in {message["user_id"] for message in sent}


def test_the_strip_is_for_the_roles_that_read_trading_data(alice: Any, cora: Any, sim_pair: Any) -> None:
    assert client_for(cora).get(reverse("trading_strip")).status_code == 403
    dashboard = client_for(cora).get("/").content.decode()
    assert 'id="trading-strip"' not in dashboard
    assert 'id="trading-strip"' in client_for(alice).get("/").content.decode()
    empty = client_for(alice).get(reverse("trading_strip")).content.decode()
    assert "No strategy is running." in empty and "none tripped" in empty and "no margin in use" in empty
