"""trading/marketdata/live_render.py writes the live partials byte for byte as the templates render them.

States are built the way the pipeline builds them (trading/marketdata/live_state.py) from generated markets that reach
every branch of `_venues.html`, `_venue_card.html`, `_edges.html` and `_edge_card.html`: each session state,
demo or not, no quote yet, no sample, no z-score, edges below zero / under / at / over the entry threshold, a
zero threshold, an open opportunity either way, a fixed or a live rate, no rate yet, labels with characters
that are escaped, each rate source, a missing or stale rate — in English and in Simplified Chinese.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trading.domain.calendar import SessionState, SessionStatus
from trading.domain.spread import Edges
from trading.marketdata import live_render
from trading.marketdata.live_render import PartialRenderer, edges_html, template_partials, venues_html
from trading.marketdata.live_state import pair_state, quote_state, sample_state

LANGUAGES = ("en", "zh-hans")
NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)


def money(low: str, high: str, places: int) -> st.SearchStrategy[Decimal]:
    return st.decimals(Decimal(low), Decimal(high), places=places, allow_nan=False, allow_infinity=False)


@st.composite
def states(draw: st.DrawFn) -> dict[str, Any]:
    session_state = draw(st.sampled_from(list(SessionState)))
    is_open = session_state is SessionState.OPEN
    session = SessionStatus(
        state=session_state,
        opened_at=NOW if is_open else None,
        closes_at=NOW + timedelta(hours=3) if is_open else None,
        opens_at=None if is_open else draw(st.sampled_from([None, NOW + timedelta(hours=9)])),
        demo=draw(st.booleans()),
    )

    def quote(label: str, places: int) -> dict[str, Any]:
        ts_ms = draw(st.sampled_from([None, 1_795_003_200_000, 1_795_003_200_123]))
        if draw(st.integers(0, 5)) == 0:
            return quote_state(label, places, None, None, ts_ms)
        bid = draw(money("1000", "9000", 4))
        ask = bid + draw(money("0", "2", 4))
        return quote_state(label, places, bid, ask, ts_ms)

    sample = None
    if draw(st.integers(0, 5)):
        edge = money("-30", "30", 10)
        edges = Edges(draw(edge), draw(edge))
        net = Edges(draw(edge), draw(edge))
        std = draw(st.sampled_from([None, 0.0, 0.73]))
        sample = sample_state(
            ts_ms=1_795_003_200_000,
            edges=edges,
            net=net,
            basis=draw(money("-40", "40", 8)),
            cfd_mid=draw(money("1000", "9000", 3)),
            basis_mean=None if std is None else draw(st.floats(-40, 40)),
            basis_std=std,
            zscore=draw(st.one_of(st.none(), st.floats(-8, 8), st.just(0.0), st.just(-0.004))),
        )
    entry = draw(st.sampled_from([Decimal("0"), Decimal("0.50"), Decimal("2.5"), Decimal("12")]))
    opportunity = draw(
        st.one_of(
            st.none(),
            st.builds(
                lambda direction, peak: {"direction": direction, "started_ms": 1, "peak": str(peak)},
                st.sampled_from(["sell_perp", "buy_perp"]),
                money("0", "30", 16),
            ),
        )
    )
    assumed = draw(st.booleans())
    return pair_state(
        pair_id=draw(st.integers(1, 3)),
        name="XAU",
        at_ms=1_795_003_200_500,
        stale_after_ms=draw(st.sampled_from([5000, 15000])),
        perp=quote(draw(st.sampled_from(["Perp XAUUSDT (sim)", 'A & B <"perp">'])), 2),
        cfd=quote(draw(st.sampled_from(["CFD XAUUSD.s (sim)", "Bybit 'MT5' & co"])), 2),
        cfd_lot_ounces=draw(st.sampled_from([Decimal("100"), Decimal("10.5")])),
        session=session,
        usd_per_usdt=draw(st.sampled_from([None, Decimal("0.999600"), Decimal("1.000000"), Decimal("0.99965")])),
        rate_ts_ms=draw(st.sampled_from([None, 1_795_003_199_000])),
        rate_source=draw(st.sampled_from(["fixed" if assumed else "simulated", "binance-usdcusdt", "binance"])),
        rate_assumed=assumed,
        entry_threshold=entry,
        exit_threshold=draw(st.sampled_from([Decimal("0"), Decimal("0.25")])),
        dropped=0,
        sample=sample,
        opportunity=opportunity,
        rate_problem=draw(st.sampled_from([None, "missing", "stale"])),
    )


@pytest.mark.parametrize("language", LANGUAGES)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(state=states())
def test_the_same_bytes_as_the_templates(language: str, state: dict[str, Any]) -> None:
    from django.utils import translation

    venues, edges = template_partials(state, language)
    with translation.override(language):
        assert venues_html(state, language) == venues
        assert edges_html(state, language) == edges


@pytest.mark.parametrize(
    ("net", "entry"),
    [("-0.004", "2.5"), ("0", "2.5"), ("1.24", "2.5"), ("2.5", "2.5"), ("31", "2.5"), ("1", "0"), ("NaN", "1")],
)
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_meter_and_its_label_at_every_level(net: str, entry: str, language: str) -> None:
    """Each branch of the edge card's meter: none, a share, reached, beyond, a zero threshold (widthratio says
    0) and a value widthratio cannot use (an empty ratio, every comparison false)."""
    from django.utils import translation

    state = pair_state(
        pair_id=1,
        name="XAU",
        at_ms=0,
        stale_after_ms=5000,
        perp=quote_state("P", 2, Decimal("4600.10"), Decimal("4600.12"), 1),
        cfd=quote_state("C", 2, Decimal("4598.00"), Decimal("4598.25"), 1),
        cfd_lot_ounces=Decimal("100"),
        session=SessionStatus(SessionState.OPEN, NOW, None, None),
        usd_per_usdt=Decimal("0.9996"),
        rate_ts_ms=1,
        rate_source="simulated",
        rate_assumed=False,
        entry_threshold=Decimal(entry),
        exit_threshold=Decimal("0.5"),
        dropped=0,
        sample=sample_state(
            ts_ms=1,
            edges=Edges(Decimal("1"), Decimal("-1")),
            net=Edges(Decimal("1"), Decimal("-1")),
            basis=Decimal("2"),
            cfd_mid=Decimal("4598.125"),
            basis_mean=None,
            basis_std=None,
            zscore=None,
        ),
        opportunity=None,
    )
    state["sample"]["net_sell_perp"] = net
    with translation.override(language):
        assert edges_html(state, language) == template_partials(state, language)[1]


def test_the_renderer_checks_itself_and_falls_back_to_the_templates_on_a_difference(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    state = pair_state(
        pair_id=1,
        name="XAU",
        at_ms=0,
        stale_after_ms=5000,
        perp=quote_state("P", 2, None, None, None),
        cfd=quote_state("C", 2, None, None, None),
        cfd_lot_ounces=Decimal("100"),
        session=SessionStatus(SessionState.WEEKEND, None, None, NOW),
        usd_per_usdt=None,
        rate_ts_ms=None,
        rate_source="fixed",
        rate_assumed=True,
        entry_threshold=Decimal("2"),
        exit_threshold=Decimal("0.5"),
        dropped=0,
        sample=None,
        opportunity=None,
    )
    renderer = PartialRenderer(check_every=3)
    assert renderer.render(state, "en") == template_partials(state, "en")
    assert renderer.enabled

    # A template edited without this module: the next check notices and the templates take over.
    monkeypatch.setattr(live_render, "edges_html", lambda state, language: "stale copy")
    assert renderer.render(state, "zh-hans") == template_partials(state, "zh-hans")  # first of its language
    assert not renderer.enabled
    assert "differs from the templates" in caplog.text
    assert renderer.render(state, "en") == template_partials(state, "en")
