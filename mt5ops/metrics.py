"""Prometheus metrics per MT5 terminal, read at scrape time from what the health job stored —
the web process's `/metrics` serves them (trading/marketdata/feeds.py `web_registry`), whichever worker ran the
checks. Labels: the terminal's id and its tenant's slug — never its label, a desk's own text (the endpoint
answers loopback callers and the metrics token, whichever desk they belong to)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from quantarb import clock

from .choices import TerminalStateChoice
from .models import TerminalEvent, TerminalHealth, TerminalInstance, TerminalStatus

log = logging.getLogger(__name__)
STATES = [value for value, _label in TerminalStateChoice.choices]


class TerminalCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        labels = ["terminal", "tenant"]
        state = GaugeMetricFamily(
            "quantarb_mt5_terminal_state",
            "1 for the terminal's current state (healthy, degraded, down, maintenance), 0 for the others.",
            labels=[*labels, "state"],
        )
        up = GaugeMetricFamily("quantarb_mt5_terminal_ready", "1 when the terminal is ready to trade.", labels=labels)
        latency = GaugeMetricFamily(
            "quantarb_mt5_bridge_roundtrip_seconds",
            "The bridge round trip of the latest health check (its calls' median and 99th percentile).",
            labels=[*labels, "quantile"],
        )
        tick_age = GaugeMetricFamily(
            "quantarb_mt5_tick_age_seconds",
            "Age of the hedge symbol's last tick at the latest check, during its session.",
            labels=labels,
        )
        check_age = GaugeMetricFamily(
            "quantarb_mt5_check_age_seconds", "Age of the terminal's latest health check.", labels=labels
        )
        restarts = CounterMetricFamily(
            "quantarb_mt5_terminal_restarts",
            "Restarts through the supervisor agent (automatic and manual) kept in the health log (90 days).",
            labels=labels,
        )
        restarts_hour = GaugeMetricFamily(
            "quantarb_mt5_terminal_restarts_last_hour", "Restarts in the last hour (the budget's count).", labels=labels
        )
        now = clock.now()
        try:
            terminals = list(TerminalInstance.objects.select_related("tenant").order_by("pk"))
            statuses = {row.terminal_id: row for row in TerminalStatus.objects.all()}
        except Exception:
            log.warning("metrics: terminal states unreadable")
            return
        for terminal in terminals:
            values = [str(terminal.pk), terminal.tenant.slug]
            status = statuses.get(terminal.pk)
            current = status.state if status is not None else ""
            for name in STATES:
                state.add_metric([*values, name], 1.0 if name == current else 0.0)
            up.add_metric(values, 1.0 if current == TerminalStateChoice.HEALTHY else 0.0)
            if status is not None and status.last_check_at is not None:
                check_age.add_metric(values, max(0.0, (now - status.last_check_at).total_seconds()))
            health = TerminalHealth.objects.filter(terminal=terminal).order_by("-at", "-pk").first()
            if health is not None:
                if health.rtt_p50_ms is not None:
                    latency.add_metric([*values, "0.5"], float(health.rtt_p50_ms) / 1000)
                if health.rtt_p99_ms is not None:
                    latency.add_metric([*values, "0.99"], float(health.rtt_p99_ms) / 1000)
                if health.tick_age_s is not None:
                    tick_age.add_metric(values, float(health.tick_age_s))
            done = TerminalEvent.objects.filter(
                terminal=terminal, kind="action", action="restart_via_agent", outcome__in=("done", "failed")
            )
            restarts.add_metric(values, float(done.count()))
            restarts_hour.add_metric(values, float(done.filter(at__gt=now - timedelta(hours=1)).count()))
        yield from (state, up, latency, tick_age, check_age, restarts, restarts_hour)
