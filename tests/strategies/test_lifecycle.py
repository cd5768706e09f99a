"""Strategy configuration, lifecycle requests and the runner lease."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from accounts.models import AuditEvent
from strategies.choices import StrategyState
from strategies.domain.params import StrategyParams
from strategies.models import Strategy
from strategies.services import (
    TransitionRefused,
    lease_acquire,
    lease_renew,
    strategy_create,
    strategy_request,
    strategy_update,
)
from trading.execution.leases import LeaseLost, fence

TTL = timedelta(seconds=10)


def test_it_refuses_inconsistent_parameters_naming_the_field(alice: Any, paper_pool: Any) -> None:
    params = StrategyParams(entry_threshold=Decimal("1"), exit_threshold=Decimal("2"), size_oz=Decimal("0.5"))
    with pytest.raises(ValidationError) as refused:
        strategy_create(tenant=alice.tenant, name="Bad", pool=paper_pool, mode="paper", params=params, actor=alice.user)
    fields = refused.value.message_dict
    assert "exit_threshold" in fields
    assert "size_oz" in fields  # 0.5 oz is not a multiple of the CFD step (0.01 lot × 100 oz = 1 oz)
    assert not Strategy.objects.exists()


def test_a_live_strategy_needs_live_accounts(alice: Any, paper_pool: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        strategy_create(
            tenant=alice.tenant, name="Live", pool=paper_pool, mode="live", params=StrategyParams(), actor=alice.user
        )
    assert "mode" in refused.value.message_dict


def test_every_change_is_a_new_version(alice: Any, strategy: Any) -> None:
    first = strategy.current_version
    params = StrategyParams.from_json(first.params).replace(entry_threshold=Decimal("1.50"))
    second = strategy_update(strategy=strategy, params=params, actor=alice.user)
    assert (first.number, second.number) == (1, 2)
    first.refresh_from_db()
    assert first.params["entry_threshold"] == "1.00"  # the old version is kept as it was
    strategy.refresh_from_db()
    assert strategy.current_version == second
    event = AuditEvent.objects.filter(action="settings_changed").order_by("-seq").first()
    assert event is not None and event.summary["changed"]["entry_threshold"] == ["1.00", "1.50"]


def test_lifecycle_requests_follow_the_state(alice: Any, strategy: Any) -> None:
    with pytest.raises(TransitionRefused):
        strategy_request(strategy=strategy, action="pause", actor=alice.user)
    strategy = strategy_request(strategy=strategy, action="start", actor=alice.user)
    assert strategy.state == StrategyState.STARTING
    with pytest.raises(TransitionRefused):
        strategy_request(strategy=strategy, action="start", actor=alice.user)
    strategy = strategy_request(strategy=strategy, action="stop", actor=alice.user)
    assert strategy.state == StrategyState.STOPPING
    assert AuditEvent.objects.filter(action__in=["strategy_started", "strategy_stopped"]).count() == 2


def test_a_pool_is_traded_by_one_strategy_at_a_time(alice: Any, strategy: Any, paper_pool: Any) -> None:
    other = strategy_create(
        tenant=alice.tenant,
        name="Basis B",
        pool=paper_pool,
        mode="paper",
        params=StrategyParams.from_json(strategy.current_version.params),
        actor=alice.user,
    )
    strategy_request(strategy=strategy, action="start", actor=alice.user)
    with pytest.raises(TransitionRefused, match="already traded"):
        strategy_request(strategy=other, action="start", actor=alice.user)


def test_one_runner_holds_the_lease_and_a_stale_one_cannot_write(alice: Any, strategy: Any, frozen_clock: Any) -> None:
    strategy_request(strategy=strategy, action="start", actor=alice.user)
    first = lease_acquire(strategy_id=strategy.pk, runner_id="engine-a", ttl=TTL)
    assert first is not None
    assert lease_acquire(strategy_id=strategy.pk, runner_id="engine-b", ttl=TTL) is None  # held and alive
    frozen_clock.advance(11)  # engine-a stopped renewing (crashed, partitioned)
    second = lease_acquire(strategy_id=strategy.pk, runner_id="engine-b", ttl=TTL)
    assert second is not None and second.epoch == first.epoch + 1
    with pytest.raises(LeaseLost):
        lease_renew(first, ttl=TTL)
    from django.db import transaction

    with pytest.raises(LeaseLost), transaction.atomic():
        fence(first)
    with transaction.atomic():
        assert fence(second).runner_id == "engine-b"


def test_restart_takes_the_lease_away(alice: Any, strategy: Any) -> None:
    strategy_request(strategy=strategy, action="start", actor=alice.user)
    lease = lease_acquire(strategy_id=strategy.pk, runner_id="engine-a", ttl=TTL)
    assert lease is not None
    Strategy.objects.filter(pk=strategy.pk).update(state=StrategyState.RUNNING)
    strategy_request(strategy=strategy, action="restart", actor=alice.user)
    with pytest.raises(LeaseLost):
        lease_renew(lease, ttl=TTL)
    again = lease_acquire(strategy_id=strategy.pk, runner_id="engine-a", ttl=TTL)
    assert again is not None and again.epoch > lease.epoch
