"""The market-data API: tenant-scoped reads, DRF pagination, and parameters that answer 400, never 500.

Personas: alice (admin of alpha, which sees the simulated pair), bob (viewer in alpha), charlie (admin of bravo,
which sees no pair). The data is written by the real MarketStore (`alpha_market`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from accounts.models import Membership, User
from trading.marketdata import selectors
from trading.models import BasisCandle, PairAccess, QuoteTick, SourcePair, SpreadSample

pytestmark = pytest.mark.django_db

QUOTES = "/api/v1/market/quotes/"
LATEST = "/api/v1/market/spreads/latest/"
CANDLES = "/api/v1/market/spreads/candles/"
OPPORTUNITIES = "/api/v1/market/opportunities/"
ENDPOINTS = [QUOTES, LATEST, CANDLES, OPPORTUNITIES]


def api(persona: Any) -> Client:
    client = Client()
    client.force_login(persona.user)
    return client


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def assert_page(body: dict[str, Any]) -> list[dict[str, Any]]:
    assert set(body) == {"count", "next", "previous", "results"}
    results: list[dict[str, Any]] = body["results"]
    assert all("id" in row for row in results)
    return results


# --- quotes ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["alice", "bob"])
def test_members_of_the_tenant_see_its_quotes_newest_first(who: str, request: Any, alpha_market: Any) -> None:
    persona = request.getfixturevalue(who)

    response = api(persona).get(QUOTES)

    assert response.status_code == 200
    rows = assert_page(response.json())
    assert response.json()["count"] == QuoteTick.objects.count() == 8
    assert {row["source"] for row in rows} == {"simulated-perp-xauusdt", "simulated-cfd-xauusd-s"}
    assert [row["ts"] for row in rows] == sorted((row["ts"] for row in rows), reverse=True)
    newest_cfd = next(row for row in rows if row["source"] == "simulated-cfd-xauusd-s")
    # Booked prices are exact decimals with 8 places, as strings.
    assert (newest_cfd["bid"], newest_cfd["ask"]) == ("4600.10000000", "4600.35000000")
    assert newest_cfd["symbol"] == "XAUUSD.s"


def test_quotes_filter_by_source_and_time_range(alice: Any, alpha_market: Any) -> None:
    second, third = alpha_market.times[1], alpha_market.times[2]

    response = api(alice).get(
        QUOTES, {"source": "simulated-perp-xauusdt", "since": iso(second), "until": iso(third + timedelta(seconds=1))}
    )

    assert response.status_code == 200
    rows = assert_page(response.json())
    assert [row["ts"] for row in rows] == [iso(third), iso(second)]
    assert {row["source"] for row in rows} == {"simulated-perp-xauusdt"}


def test_another_tenant_sees_no_quotes(charlie: Any, alpha_market: Any) -> None:
    response = api(charlie).get(QUOTES)

    assert response.status_code == 200
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


@pytest.mark.parametrize("key", ["simulated-perp-xauusdt", "no-such-source"])
def test_a_foreign_or_unknown_source_key_answers_404(charlie: Any, alpha_market: Any, key: str) -> None:
    response = api(charlie).get(QUOTES, {"source": key})

    # A source of another tenant is indistinguishable from one that does not exist.
    assert response.status_code == 404


def test_quotes_paginate_with_links(bob: Any, alpha_market: Any) -> None:
    client = api(bob)

    first = client.get(QUOTES, {"page_size": 3}).json()
    last = client.get(QUOTES, {"page_size": 3, "page": 3}).json()

    assert (first["count"], len(assert_page(first)), first["previous"]) == (8, 3, None)
    assert "page=2" in first["next"]
    assert (len(assert_page(last)), last["next"]) == (2, None)
    assert "page=2" in last["previous"]
    ids = {row["id"] for row in first["results"]} | {row["id"] for row in last["results"]}
    assert len(ids) == 5


# --- latest spreads ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["alice", "bob"])
def test_members_see_the_latest_sample_of_each_pair(who: str, request: Any, alpha_market: Any) -> None:
    persona = request.getfixturevalue(who)
    latest = SpreadSample.objects.order_by("-ts", "-pk").first()
    assert latest is not None

    response = api(persona).get(LATEST)

    assert response.status_code == 200
    rows = assert_page(response.json())
    assert len(rows) == 1
    row = rows[0]
    assert (row["id"], row["pair"], row["ts"]) == (latest.pk, alpha_market.pair.pk, iso(alpha_market.last))
    assert row["usd_per_usdt"] == "0.999600"
    assert row["pair_name"] == alpha_market.pair.name


def _sample(pair: Any, at: datetime, basis: str) -> SpreadSample:
    price = Decimal("4600")
    return SpreadSample.objects.create(
        pair=pair,
        ts=at,
        **dict.fromkeys(["perp_bid", "perp_ask", "cfd_bid", "cfd_ask"], price),
        usd_per_usdt=Decimal("0.9996"),
        **dict.fromkeys(["edge_sell_perp", "edge_buy_perp", "net_sell_perp", "net_buy_perp"], Decimal(0)),
        basis=Decimal(basis),
    )


def test_the_latest_of_each_pair_comes_from_one_query_whatever_the_number_of_pairs(
    alice: Any, charlie: Any, alpha_market: Any, django_assert_num_queries: Any
) -> None:
    sim = alpha_market.pair
    own = SourcePair.objects.create(
        tenant=alice.tenant, name="alpha's own", perp_source=sim.perp_source, cfd_source=sim.cfd_source
    )
    PairAccess.objects.create(tenant=alice.tenant, pair=own)
    foreign = SourcePair.objects.create(
        tenant=charlie.tenant, name="bravo's", perp_source=sim.perp_source, cfd_source=sim.cfd_source
    )
    PairAccess.objects.create(tenant=charlie.tenant, pair=foreign)
    at = alpha_market.last + timedelta(seconds=5)
    _sample(own, at - timedelta(seconds=1), "1")
    tied_first = _sample(own, at, "2")
    tied_second = _sample(own, at, "3")  # same time: the later row is the latest, as the ORM's ordering said
    _sample(foreign, at + timedelta(seconds=1), "9")  # newer, but bravo's
    sim_latest = SpreadSample.objects.filter(pair=sim).order_by("-ts", "-pk").first()
    assert sim_latest is not None and tied_first.pk < tied_second.pk

    membership = Membership.objects.get(user=alice.user)
    with django_assert_num_queries(1):
        samples: list[Any] = selectors.latest_samples_for(membership=membership)

    assert [(row.pk, row.pair_id, row.pair_name) for row in samples] == [
        (sim_latest.pk, sim.pk, sim.name),
        (tied_second.pk, own.pk, "alpha's own"),
    ]
    assert samples[1].basis == Decimal("3.00000000")  # decimals converted as the ORM converts them
    rows = assert_page(api(alice).get(LATEST).json())
    assert [(row["id"], row["pair_name"], row["basis"]) for row in rows] == [
        (sim_latest.pk, sim.name, str(sim_latest.basis)),
        (tied_second.pk, "alpha's own", "3.00000000"),
    ]
    assert [row["id"] for row in assert_page(api(charlie).get(LATEST).json())] == [
        SpreadSample.objects.get(pair=foreign, basis=9).pk
    ]


def test_another_tenant_sees_no_latest_spread(charlie: Any, alpha_market: Any) -> None:
    response = api(charlie).get(LATEST)

    assert response.status_code == 200
    assert assert_page(response.json()) == []


# --- candles -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("interval", "starts"), [("1m", ["11:57", "11:58"]), ("5m", ["11:55"]), ("1h", ["11:00"])])
@pytest.mark.parametrize("who", ["alice", "bob"])
def test_members_see_candles_of_each_interval(
    who: str, request: Any, alpha_market: Any, interval: str, starts: list[str]
) -> None:
    persona = request.getfixturevalue(who)

    response = api(persona).get(CANDLES, {"pair": alpha_market.pair.pk, "interval": interval})

    assert response.status_code == 200
    rows = assert_page(response.json())
    assert [row["start"][11:16] for row in rows] == starts
    assert {row["interval"] for row in rows} == {interval}
    assert sum(row["samples"] for row in rows) == len(alpha_market.tape.samples)


def test_candles_default_to_one_minute_and_honour_since_and_until(alice: Any, alpha_market: Any) -> None:
    minute = alpha_market.last.replace(second=0)
    client = api(alice)

    default = client.get(CANDLES, {"pair": alpha_market.pair.pk})
    ranged = client.get(
        CANDLES, {"pair": alpha_market.pair.pk, "since": iso(minute), "until": iso(minute + timedelta(minutes=1))}
    )

    assert [row["interval"] for row in assert_page(default.json())] == ["1m", "1m"]
    assert [row["start"] for row in assert_page(ranged.json())] == [iso(minute)]


def test_candles_outside_the_default_day_are_left_out(alice: Any, alpha_market: Any, frozen_clock: Any) -> None:
    frozen_clock.advance(25 * 3600)

    response = api(alice).get(CANDLES, {"pair": alpha_market.pair.pk, "interval": "1h"})

    assert response.status_code == 200
    assert assert_page(response.json()) == []


def test_a_foreign_pair_answers_404_for_candles(charlie: Any, alpha_market: Any) -> None:
    response = api(charlie).get(CANDLES, {"pair": alpha_market.pair.pk})

    assert response.status_code == 404
    assert BasisCandle.objects.filter(pair=alpha_market.pair).exists()  # the pair exists, just not for charlie


def test_an_unknown_pair_answers_404_for_candles(alice: Any, alpha_market: Any) -> None:
    response = api(alice).get(CANDLES, {"pair": alpha_market.pair.pk + 1000})

    assert response.status_code == 404


# --- opportunities -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["alice", "bob"])
def test_members_see_recorded_opportunities(who: str, request: Any, alpha_market: Any) -> None:
    persona = request.getfixturevalue(who)
    opened = alpha_market.tape.opened[0]

    response = api(persona).get(OPPORTUNITIES)

    assert response.status_code == 200
    rows = assert_page(response.json())
    assert len(rows) == 1
    row = rows[0]
    assert (row["pair"], row["direction"]) == (alpha_market.pair.pk, "sell_perp")
    assert row["started_at"] == iso(alpha_market.times[1])
    assert row["ended_at"] == iso(alpha_market.times[3])
    assert row["duration_seconds"] == 3.0
    assert row["peak_net_edge"] == str(opened.peak_usd)
    assert row["threshold"] == "0.50000000"


def test_opportunities_filter_by_pair_direction_and_since(alice: Any, alpha_market: Any) -> None:
    client = api(alice)
    pair = alpha_market.pair.pk

    matching = client.get(OPPORTUNITIES, {"pair": pair, "direction": "sell_perp"}).json()
    other_direction = client.get(OPPORTUNITIES, {"pair": pair, "direction": "buy_perp"}).json()
    later = client.get(OPPORTUNITIES, {"since": iso(alpha_market.last)}).json()

    assert len(assert_page(matching)) == 1
    assert assert_page(other_direction) == []
    assert assert_page(later) == []


def test_another_tenant_sees_no_opportunities(charlie: Any, alpha_market: Any) -> None:
    client = api(charlie)

    listed = client.get(OPPORTUNITIES)
    by_foreign_pair = client.get(OPPORTUNITIES, {"pair": alpha_market.pair.pk})

    assert assert_page(listed.json()) == []
    assert by_foreign_pair.status_code == 404


# --- who may call ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ENDPOINTS)
def test_anonymous_callers_are_refused(client: Client, alpha_market: Any, url: str) -> None:
    response = client.get(url, {"pair": alpha_market.pair.pk})

    assert response.status_code in (401, 403)
    assert "results" not in response.json()


@pytest.mark.parametrize("url", ENDPOINTS)
def test_a_user_without_a_tenant_is_refused(alpha_market: Any, url: str) -> None:
    loner = User.objects.create_user(username="dave", password="correct horse battery staple 1")

    response = api(type("P", (), {"user": loner})).get(url, {"pair": alpha_market.pair.pk})

    assert response.status_code == 403
    assert "tenant" in response.json()["detail"]


# --- parameters --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        (CANDLES, {"interval": "2m"}, "interval"),
        (CANDLES, {"pair": "abc"}, "pair"),
        (CANDLES, {"pair": "0"}, "pair"),
        (CANDLES, {"pair": None}, "pair"),
        (CANDLES, {"since": "2026-11-18T12:00:00Z", "until": "2026-11-18T11:00:00Z"}, "until"),
        (CANDLES, {"since": "2026-11-18T12:00:00Z", "until": "2026-11-18T12:00:00Z"}, "until"),
        (CANDLES, {"since": "yesterday"}, "since"),
        (CANDLES, {"since": "2026-01-01T00:00:00Z", "until": "2026-11-18T00:00:00Z"}, "since"),
        (CANDLES, {"interval": "5m", "since": "2026-01-01T00:00:00Z", "until": "2026-11-18T00:00:00Z"}, "since"),
        (CANDLES, {"interval": "1h", "since": "2020-01-01T00:00:00Z", "until": "2026-11-18T00:00:00Z"}, "since"),
        # Without `until` the range ends now, and it is bounded all the same.
        (CANDLES, {"since": "2000-01-01T00:00:00Z"}, "since"),
        # The default range (24 h before `until`) would start before year 1.
        (CANDLES, {"until": "0001-01-01T00:30:00Z"}, "until"),
        (QUOTES, {"since": "2026-11-18T12:00:00Z", "until": "2026-11-18T11:00:00Z"}, "until"),
        (QUOTES, {"source": "not a slug!"}, "source"),
        (QUOTES, {"until": "2026-13-45T99:00:00Z"}, "until"),
        (OPPORTUNITIES, {"pair": "abc"}, "pair"),
        (OPPORTUNITIES, {"direction": "sideways"}, "direction"),
        (OPPORTUNITIES, {"since": "soon"}, "since"),
    ],
)
def test_bad_parameters_answer_400_with_field_messages(
    alice: Any, alpha_market: Any, url: str, params: dict[str, Any], field: str
) -> None:
    query = {"pair": alpha_market.pair.pk, **params} if url == CANDLES else dict(params)
    query = {key: value for key, value in query.items() if value is not None}

    response = api(alice).get(url, query)

    assert response.status_code == 400, response.content
    body = response.json()
    assert isinstance(body[field], list)
    assert body[field]
    assert all(isinstance(message, str) and message for message in body[field])


@pytest.mark.parametrize("page", ["99", "abc"])
def test_a_page_out_of_range_answers_404_not_500(alice: Any, alpha_market: Any, page: str) -> None:
    response = api(alice).get(QUOTES, {"page": page})

    assert response.status_code == 404
    assert "detail" in response.json()


@pytest.mark.parametrize("url", [CANDLES, OPPORTUNITIES])
def test_a_pair_id_beyond_any_row_answers_404(alice: Any, alpha_market: Any, url: str) -> None:
    response = api(alice).get(url, {"pair": "9" * 25})

    assert response.status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {"since": "9999-12-31T23:59:59Z"},
        {"since": "0001-01-01T00:00:00Z", "until": "0001-01-01T12:00:00Z"},
        {"since": "9999-12-31T23:00:00-05:00"},
        {"since": "0001-01-01T00:00:00+05:00"},
    ],
)
@pytest.mark.parametrize("url", [QUOTES, CANDLES, OPPORTUNITIES])
def test_dates_at_the_ends_of_the_calendar_never_answer_500(
    alice: Any, alpha_market: Any, url: str, params: dict[str, str]
) -> None:
    query = {"pair": alpha_market.pair.pk, **params} if url == CANDLES else params

    response = api(alice).get(url, query)

    assert response.status_code in (200, 400)
    if response.status_code == 200:
        assert_page(response.json())
