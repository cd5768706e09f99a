"""A stale USDT/USD rate blocks new entries through the pre-trade gate (the default of the limit the `rate_stale`
rule became): the desk's limit evaluated on the metrics risk/metrics.py computes from the stored rate — no rate
from the pair's source: the breach starts, opening by hand is refused naming the limit while closing passes; a
fresh observation ends the breach and opening goes through again."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from quantarb import clock
from risk.limits import evaluate_limits, limit_save
from risk.models import Breach, RiskLimit
from tests.helpers.clients import Api
from trading.models import ManualCommand, RateTick

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stored_quotes")]


def open_body(pool: Any) -> dict[str, Any]:
    return {"pool": pool.pk, "kind": "open_hedge", "direction": "buy_perp", "size_oz": "1"}


def test_a_missing_or_stale_rate_blocks_opening_through_the_gate_until_it_is_fresh(
    desk: dict[str, Any],
    alice: Any,
    tom: Any,
    sim_pair: Any,
) -> None:
    pool, pair = desk["pool"], sim_pair
    limit_save(
        row=RiskLimit(tenant=alice.tenant, name="USDT/USD rate", scope_kind="desk", metric="usdt_rate_age_s",
                      breach_level=Decimal(30), action="block_entries"),
        actor=None,
    )  # fmt: skip
    RateTick.objects.create(source=pair.rate_source, ts=clock.now(), usd_per_usdt=Decimal("0.9998"))
    evaluate_limits()
    assert not Breach.objects.exists()

    RateTick.objects.all().delete()  # the source stops answering (nothing within a day)
    evaluate_limits()
    breach = Breach.objects.get()
    assert breach.metric == "usdt_rate_age_s" and breach.start_value == Decimal(86_400)
    assert breach.action_status == "done"
    refused = Api(tom).post("manual-commands/", open_body(pool))
    assert refused.status_code == 400
    assert "Limit USDT/USD rate is breached: only orders that reduce a position pass." in str(refused.json())
    assert not ManualCommand.objects.filter(pool=pool, kind="open_hedge").exists()
    closing = Api(tom).post("manual-commands/", {"pool": pool.pk, "kind": "close_hedge", "hedge": desk["hedge"].pk})
    assert closing.status_code == 202  # reducing orders pass the block
    ManualCommand.objects.filter(kind="close_hedge").update(status="done")  # the desk carried it out

    RateTick.objects.create(source=pair.rate_source, ts=clock.now() - timedelta(seconds=45), usd_per_usdt=Decimal(1))
    evaluate_limits()  # 45 s old: still past the 30 s level
    breach.refresh_from_db()
    assert breach.ended_at is None and breach.peak_value == Decimal(86_400)

    RateTick.objects.create(source=pair.rate_source, ts=clock.now(), usd_per_usdt=Decimal(1))
    evaluate_limits()
    breach.refresh_from_db()
    assert breach.ended_at is not None
    again = Api(tom).post("manual-commands/", open_body(pool))
    assert again.status_code == 202, again.json()
