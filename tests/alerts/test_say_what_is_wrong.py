"""Say what is wrong: a missing USDT/USD rate is the rate source's fault, not the quote feeds' (the
desk's limit on the rate's age says so, naming the source);
an MT5 terminal that disconnects and a scheduled reconciliation that fails each raise an alert; a kill-switch trip
is one alert; `/metrics` reports each feed's state and age as they are when scraped, not a stale copy."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from accounts.models import VenueAccount
from alerts.models import Alert
from alerts.rules import evaluate_types
from mt5ops.health import check_terminals
from mt5ops.models import TerminalInstance
from quantarb import clock
from risk.services import kill_switch_reset, kill_switch_trip
from strategies.housekeeping import reconcile_pools
from strategies.models import Strategy
from tests import canary
from tests.fakes.fixtures import Mt5BridgeFake
from tests.mt5ops.helpers import advance, log_in
from trading.choices import RateSource
from trading.models import Heartbeat, ReconciliationReport, SourcePair

pytestmark = pytest.mark.django_db


def open_alerts(tenant: Any, prefix: str) -> list[Alert]:
    return list(
        Alert.objects.filter(tenant=tenant, dedup_key__startswith=prefix).exclude(status="resolved").order_by("pk")
    )


def now_ms() -> int:
    return int(clock.now().timestamp() * 1000)


# --- the rate source is to blame ----------------------------------------------------------------------------------
def engine_beat(pair: Any, *, rate_ts_ms: int | None) -> None:
    """The engine's heartbeat with both legs quoting now and the rate as given (what trading/marketdata/pipeline.py
    writes).
    """
    at = now_ms()
    detail = {
        "pairs": {
            str(pair.pk): {
                "sources": {pair.perp_source.key: at, pair.cfd_source.key: at},
                "session": "open",
                "dropped": 0,
                "rate_source": pair.rate_source,
                "rate_ts_ms": rate_ts_ms,
            }
        },
        "feeds": {},
    }
    Heartbeat.objects.update_or_create(component="engine", defaults={"beat_at": clock.now(), "detail": detail})


def rate_limit(alice: Any) -> Any:
    """The desk's limit on the USDT/USD rate's age (what the `rate_stale` rule became: risk/migrations/0006)."""
    from decimal import Decimal

    from risk.limits import limit_save
    from risk.models import RiskLimit

    return limit_save(
        row=RiskLimit(tenant=alice.tenant, name="USDT/USD rate", scope_kind="desk", metric="usdt_rate_age_s",
                      breach_level=Decimal(30), action="block_entries"),
        actor=None,
    )  # fmt: skip


def rate_tick(pair: Any, age_s: float) -> None:
    from decimal import Decimal

    from trading.models import RateTick

    RateTick.objects.create(
        source=pair.rate_source, ts=clock.now() - timedelta(seconds=age_s), usd_per_usdt=Decimal("0.9998")
    )


def test_a_missing_rate_is_the_rate_source_s_alert_and_the_quote_feeds_stay_quiet(
    alice: Any, alpha_pair: Any, frozen_clock: Any
) -> None:
    from risk.limits import evaluate_limits
    from tests.risk.factories import pool

    SourcePair.objects.filter(pk=alpha_pair.pk).update(rate_source=RateSource.BINANCE_USDC)
    alpha_pair.refresh_from_db()
    pool(alice.tenant, alice.user, "P1")  # priced by the pair
    rate_limit(alice)
    engine_beat(alpha_pair, rate_ts_ms=None)

    evaluate_limits()
    evaluate_types(tenant=alice.tenant, rule_types=["feed_stale"])

    [alert] = open_alerts(alice.tenant, "rule:risk_limit_breach:")
    assert alert.title.startswith(
        "No USDT/USD rate from Binance USDC/USDT book (1 USDC taken as 1 USD): edges are not priced. Limit breached:"
    ), alert.title
    assert alert.detail["rate_sources"][0]["rate_source"] == RateSource.BINANCE_USDC and alert.category == "risk"
    assert open_alerts(alice.tenant, "rule:feed_stale:") == []  # the quote feeds are healthy

    rate_tick(alpha_pair, 60)
    evaluate_limits()
    evaluate_types(tenant=alice.tenant, rule_types=["risk_limit_breach"])  # the rule keeps it open, words refreshed
    [alert] = open_alerts(alice.tenant, "rule:risk_limit_breach:")
    assert "USDT/USD rate from Binance USDC/USDT book (1 USDC taken as 1 USD) is 60 s old" in alert.title
    assert alert.detail["rate_sources"][0]["age_s"] == "60"

    rate_tick(alpha_pair, 0)
    evaluate_limits()
    assert open_alerts(alice.tenant, "rule:risk_limit_breach:") == []


def test_a_fixed_rate_or_a_disabled_pair_raises_nothing(alice: Any, alpha_pair: Any, frozen_clock: Any) -> None:
    from risk.limits import evaluate_limits
    from tests.risk.factories import pool

    SourcePair.objects.filter(pk=alpha_pair.pk).update(rate_source=RateSource.FIXED)
    pool(alice.tenant, alice.user, "P1")
    rate_limit(alice)
    engine_beat(alpha_pair, rate_ts_ms=None)
    evaluate_limits()
    assert open_alerts(alice.tenant, "rule:risk_limit_") == []
    SourcePair.objects.filter(pk=alpha_pair.pk).update(rate_source=RateSource.BINANCE_USDC, enabled=False)
    Heartbeat.objects.filter(component="engine").update(beat_at=clock.now() - timedelta(hours=1))
    evaluate_limits()
    evaluate_types(tenant=alice.tenant, rule_types=["feed_stale"])
    assert open_alerts(alice.tenant, "rule:risk_limit_") == [] and open_alerts(alice.tenant, "rule:feed_stale:") == []


# --- MT5 terminals --------------------------------------------------------------------------------------------------
@pytest.mark.timeout(120)
def test_a_terminal_that_disconnects_raises_one_alert_and_its_return_resolves_it(
    canary_accounts: Any, mt5_bridge: Mt5BridgeFake, alice: Any
) -> None:
    log_in(mt5_bridge)
    terminal: TerminalInstance = canary_accounts["terminal"]
    terminal.bridge_port = mt5_bridge.port
    terminal.save()
    check_terminals()
    assert open_alerts(alice.tenant, "rule:mt5_terminal_down:") == []

    mt5_bridge.terminal.qa_arm("ipc_timeout", count=-1)  # the terminal stops answering (IPC timeouts)
    check_terminals()  # degraded: opening orders wait, no alert yet
    assert open_alerts(alice.tenant, "rule:mt5_terminal_down:") == []
    check_terminals()  # down: the alert
    check_terminals()  # still down: the same alert, not a second one

    [alert] = open_alerts(alice.tenant, "rule:mt5_terminal_down:")
    assert alert.category == "mt5" and alert.severity == "critical"
    assert alert.title.startswith("MT5 terminal Terminal A is down: IPC timeout ("), alert.title
    assert canary.CANARY_MT5_PASSWORD not in str(alert.detail) and alert.detail["error_code"] == -10005

    mt5_bridge.terminal.qa_reset()
    log_in(mt5_bridge)
    frozen = clock.FrozenClock(clock.now())
    previous = clock.set_clock(frozen)
    try:
        for _ in range(3):  # healthy again, and for long enough (two minutes) that the alert re-arms
            check_terminals()
            advance(mt5_bridge, frozen, 70)
    finally:
        clock.set_clock(previous)
    assert open_alerts(alice.tenant, "rule:mt5_terminal_down:") == []


@pytest.mark.timeout(120)
def test_autotrading_switched_off_is_said_too(canary_accounts: Any, mt5_bridge: Mt5BridgeFake, alice: Any) -> None:
    log_in(mt5_bridge)
    mt5_bridge.terminal.qa_configure(terminal_trade_allowed=False)
    terminal: TerminalInstance = canary_accounts["terminal"]
    terminal.bridge_port = mt5_bridge.port
    terminal.save()
    check_terminals()
    check_terminals()
    [alert] = open_alerts(alice.tenant, "rule:mt5_terminal_down:")
    assert alert.title.startswith("MT5 terminal Terminal A is down: AutoTrading off"), alert.title


@pytest.mark.timeout(60)
def test_an_unreachable_terminal_says_where(canary_accounts: Any, alice: Any) -> None:
    terminal: TerminalInstance = canary_accounts["terminal"]
    terminal.bridge_port = 9  # nothing listens
    terminal.save()
    check_terminals()
    check_terminals()
    [alert] = open_alerts(alice.tenant, "rule:mt5_terminal_down:")
    assert "bridge down (no bridge answered at 127.0.0.1:9)" in alert.title, alert.title


# --- scheduled reconciliation ------------------------------------------------------------------------------------
@pytest.mark.timeout(120)
def test_a_scheduled_reconciliation_that_fails_raises_an_alert(canary_accounts: Any, alice: Any) -> None:
    pool = canary_accounts["live_pool"]
    Strategy.objects.create(tenant=alice.tenant, name="Live basis", pool=pool, mode="live")
    # The MT5 account lost its terminal: the pool's venues cannot even be built (an error on our side).
    VenueAccount.objects.filter(pk=canary_accounts["mt5"].pk).update(terminal=None)

    counts = reconcile_pools()

    assert counts["failed"] == 1
    report = ReconciliationReport.objects.get(pool=pool)
    assert report.status == "failed" and report.trigger == "schedule" and "no MT5 terminal" in report.error
    [alert] = open_alerts(alice.tenant, "rule:reconciliation_failed:")
    assert alert.title.startswith("Scheduled reconciliation of Live pool failed: ")
    assert alert.category == "execution" and alert.detail["report"] == report.pk


@pytest.mark.timeout(120)
def test_an_unreachable_venue_fails_the_round_with_an_alert_that_a_good_round_resolves(
    canary_accounts: Any, alice: Any
) -> None:
    pool = canary_accounts["live_pool"]  # its Binance account points at a closed port, its MT5 terminal too
    Strategy.objects.create(tenant=alice.tenant, name="Live basis", pool=pool, mode="live")
    reconcile_pools()
    assert ReconciliationReport.objects.get(pool=pool).status == "failed"
    assert len(open_alerts(alice.tenant, "rule:reconciliation_failed:")) == 1

    ReconciliationReport.objects.create(
        tenant=alice.tenant, pool=pool, trigger="schedule", status="matched", started_at=clock.now(),
        finished_at=clock.now(),
    )  # fmt: skip
    evaluate_types(tenant=alice.tenant, rule_types=["reconciliation_failed"])
    assert open_alerts(alice.tenant, "rule:reconciliation_failed:") == []


# --- the kill switch ------------------------------------------------------------------------------------------------
def test_a_kill_switch_trip_is_one_alert(alice: Any) -> None:
    switch = kill_switch_trip(scope="tenant", trigger="manual", reason="desk check", tenant=alice.tenant,
                              actor=alice.user)  # fmt: skip
    evaluate_types(tenant=alice.tenant, rule_types=["kill_switch_active"])  # the rule's round after the trip

    active = Alert.objects.filter(tenant=alice.tenant).exclude(status="resolved")
    assert active.count() == 1
    [alert] = active
    assert alert.severity == "critical" and alert.count == 2 and "desk check" in alert.title

    kill_switch_reset(switch=switch, actor=alice.user, note="checked")
    evaluate_types(tenant=alice.tenant, rule_types=["kill_switch_active"])
    assert not Alert.objects.filter(tenant=alice.tenant).exclude(status="resolved").exists()


# --- /metrics -------------------------------------------------------------------------------------------------------
def metric(text: str, line_start: str) -> float:
    [line] = [line for line in text.splitlines() if line.startswith(line_start)]
    return float(line.rsplit(" ", 1)[1])


def beat_with_feed(*, beat_age_s: float, last_message_age_s: float) -> None:
    """The engine's heartbeat as an engine writes it (`SourceHealth.as_dict`), `beat_age_s` old, with one source
    that said *live* then and last heard from its stream `last_message_age_s` ago."""
    from trading.domain.feeds import SourceHealth
    from trading.domain.quotes import Quote

    at = now_ms()
    heard = at - int(last_message_age_s * 1000)
    health = SourceHealth("binance-xauusdt", stale_after_ms=5_000, down_after_ms=30_000, started_ms=heard - 60_000)
    health.on_stream_quote(Quote.of("binance-xauusdt", "4600.1", "4600.2", heard), heard)
    health.evaluate(heard)
    assert health.state.value == "live"
    Heartbeat.objects.update_or_create(
        component="engine",
        defaults={
            "beat_at": clock.now() - timedelta(seconds=beat_age_s),
            "detail": {"feeds": {"binance-xauusdt": health.as_dict(heard)}},
        },
    )


def scrape() -> str:
    response = Client(REMOTE_ADDR="127.0.0.1").get("/metrics")
    assert response.status_code == 200
    return response.content.decode()


def test_metrics_report_a_feed_s_state_and_age_as_they_are_now(frozen_clock: Any) -> None:
    # The copy the web process used to report: *live* as recorded, ~2,975 s ago.
    beat_with_feed(beat_age_s=2_975, last_message_age_s=2_975)
    text = scrape()
    assert metric(text, 'quantarb_feed_state{source="binance-xauusdt",state="down"}') == 1.0
    assert metric(text, 'quantarb_feed_state{source="binance-xauusdt",state="live"}') == 0.0
    assert metric(text, 'quantarb_feed_quote_age_seconds{source="binance-xauusdt"}') == pytest.approx(2_975, abs=1)
    assert metric(text, 'quantarb_feeder_heartbeat_age_seconds{feeder="engine"}') == pytest.approx(2_975, abs=1)

    beat_with_feed(beat_age_s=1, last_message_age_s=1)  # a feeder that streams now
    text = scrape()
    assert metric(text, 'quantarb_feed_state{source="binance-xauusdt",state="live"}') == 1.0
    assert metric(text, 'quantarb_feed_quote_age_seconds{source="binance-xauusdt"}') == pytest.approx(1, abs=0.5)

    frozen_clock.advance(8)  # silent past its 5 s limit, not yet 30 s: stale, judged at the scrape
    assert metric(scrape(), 'quantarb_feed_state{source="binance-xauusdt",state="stale"}') == 1.0


def test_the_poller_s_copy_goes_once_the_engine_streams(alpha_pair: Any, frozen_clock: Any) -> None:
    from trading.marketdata import polling

    polling.poll_feeds()  # no engine: the poller feeds the sources
    assert polling._poller_feeds is not None and polling._poller_feeds.sources
    Heartbeat.objects.update_or_create(component="engine", defaults={"beat_at": clock.now(), "detail": {}})
    polling.poll_feeds()
    assert polling._poller_feeds is None  # not kept as a copy that says *live* while it grows old
