"""Properties of the spread formulas (ARCHITECTURE.md "Units and formulas") and of the integer tick path
that must agree with them."""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from trading.domain.fixed import EDGE_SCALE, PRICE_QUANTUM
from trading.domain.spread import (
    CostModel,
    Direction,
    Edges,
    basis,
    expected_carry,
    net_edges,
    round_trip_fees,
    spread_edges,
    to_bps,
)

from .builders import (
    T0,
    Book,
    books,
    cost_models,
    decimals,
    funding_rates,
    gold_prices,
    make_engine,
    swaps,
    usd_per_usdt,
)

EXAMPLES = settings(max_examples=200, deadline=None)
# The integer tick path carries the cost model through 2**64 coefficients; far below the booked 8 dp.
NET_TOLERANCE = Decimal("1e-12")


def edges_of(book: Book, rate: Decimal) -> Edges:
    return spread_edges(
        perp_bid=book.perp_bid,
        perp_ask=book.perp_ask,
        cfd_bid=book.cfd_bid,
        cfd_ask=book.cfd_ask,
        usd_per_usdt=rate,
    )


def net_of(book: Book, costs: CostModel, rate: Decimal) -> Edges:
    return net_edges(edges_of(book, rate), costs, perp_mid=book.perp_mid, cfd_mid=book.cfd_mid, usd_per_usdt=rate)


# --- raw edges -----------------------------------------------------------------------------------------
def test_it_prices_both_edges_of_a_known_book() -> None:
    book = Book(Decimal("4600.10"), Decimal("4600.12"), Decimal("4598.50"), Decimal("4598.80"))

    edges = edges_of(book, Decimal("0.9995"))

    # e_sp = 4600.10·0.9995 − 4598.80 ; e_bp = 4598.50 − 4600.12·0.9995
    assert edges.sell_perp == Decimal("-1.00005")
    assert edges.buy_perp == Decimal("0.68006")
    assert edges.best() == (Direction.BUY_PERP, Decimal("0.68006"))
    assert edges.of(Direction.SELL_PERP) == Decimal("-1.00005")


@EXAMPLES
@given(books(), usd_per_usdt)
def test_the_two_raw_edges_sum_to_minus_both_spreads(book: Book, rate: Decimal) -> None:
    edges = edges_of(book, rate)

    both_spreads = (book.perp_ask - book.perp_bid) * rate + (book.cfd_ask - book.cfd_bid)
    assert edges.sell_perp + edges.buy_perp == -both_spreads  # exact, not approximate
    # Hence on a valid book at most one direction can ever be profitable.
    assert not (edges.sell_perp > 0 and edges.buy_perp > 0)


@EXAMPLES
@given(books(), usd_per_usdt, usd_per_usdt)
def test_e_sp_rises_and_e_bp_falls_with_usd_per_usdt(book: Book, rate_a: Decimal, rate_b: Decimal) -> None:
    assume(rate_a != rate_b)
    low, high = sorted((rate_a, rate_b))

    at_low, at_high = edges_of(book, low), edges_of(book, high)

    assert at_high.sell_perp > at_low.sell_perp
    assert at_high.buy_perp < at_low.buy_perp


@EXAMPLES
@given(gold_prices, gold_prices, usd_per_usdt)
def test_basis_is_the_converted_perp_mid_minus_the_cfd_mid(perp_mid: Decimal, cfd_mid: Decimal, rate: Decimal) -> None:
    assert basis(perp_mid=perp_mid, cfd_mid=cfd_mid, usd_per_usdt=rate) == perp_mid * rate - cfd_mid


def test_to_bps_expresses_an_edge_against_a_reference_price() -> None:
    assert to_bps(Decimal("4.6"), Decimal("4600")) == Decimal("10")
    with pytest.raises(ValueError, match="positive"):
        to_bps(Decimal(1), Decimal(0))


# --- costs ---------------------------------------------------------------------------------------------
def test_round_trip_fees_charge_four_fills() -> None:
    costs = CostModel(
        perp_fee_rate=Decimal("0.0005"), cfd_fee_rate=Decimal("0.0001"), cfd_commission_per_oz=Decimal("0.03")
    )

    fees = round_trip_fees(costs, perp_price=Decimal(4600), cfd_price=Decimal(4598), usd_per_usdt=Decimal(1))

    # perp: 2 × 0.0005 × 4600 = 4.6; CFD: 2 × (0.0001 × 4598 + 0.03) = 0.9796
    assert fees == Decimal("5.5796")


@pytest.mark.parametrize(
    "field",
    [
        "perp_fee_rate",
        "cfd_fee_rate",
        "cfd_commission_per_oz",
        "slippage_usd_per_oz",
        "expected_holding_hours",
    ],
)
def test_the_cost_model_refuses_negative_costs(field: str) -> None:
    with pytest.raises(ValueError, match="negative"):
        CostModel(**{field: Decimal("-0.0001")})


def test_the_cost_model_refuses_a_non_positive_funding_interval() -> None:
    with pytest.raises(ValueError, match="positive"):
        CostModel(funding_interval_hours=Decimal(0))


@pytest.mark.parametrize(
    ("field", "bumps"),
    [
        ("perp_fee_rate", decimals("0", "0.001", 8)),
        ("cfd_fee_rate", decimals("0", "0.001", 8)),
        ("cfd_commission_per_oz", decimals("0", "0.5", 4)),
        ("slippage_usd_per_oz", decimals("0", "0.5", 4)),
    ],
)
@EXAMPLES
@given(data=st.data())
def test_net_edges_fall_as_a_fee_or_buffer_rises(
    field: str, bumps: st.SearchStrategy[Decimal], data: st.DataObject
) -> None:
    book, rate, costs = data.draw(books()), data.draw(usd_per_usdt), data.draw(cost_models())
    bump = data.draw(bumps)
    dearer = replace(costs, **{field: getattr(costs, field) + bump})

    before, after = net_of(book, costs, rate), net_of(book, dearer, rate)

    if bump == 0:
        assert after == before
    else:
        assert after.sell_perp < before.sell_perp
        assert after.buy_perp < before.buy_perp


@EXAMPLES
@given(books(), usd_per_usdt, cost_models(holding=decimals("0.01", "240", 2)), decimals("0.00000001", "0.001", 8))
def test_net_edges_fall_as_funding_turns_against_the_direction(
    book: Book, rate: Decimal, costs: CostModel, bump: Decimal
) -> None:
    # A higher funding rate pays the short perp more and charges the long perp more.
    higher = replace(costs, funding_rate=costs.funding_rate + bump)

    before, after = net_of(book, costs, rate), net_of(book, higher, rate)

    assert after.buy_perp < before.buy_perp  # adverse for the long perp
    assert before.sell_perp < after.sell_perp  # so lower funding is adverse for the short perp


@EXAMPLES
@given(books(), usd_per_usdt, cost_models(), decimals("0", "1", 4))
def test_net_edges_fall_as_the_held_cfd_sides_swap_gets_more_negative(
    book: Book, rate: Decimal, costs: CostModel, bump: Decimal
) -> None:
    before = net_of(book, costs, rate)
    # sell_perp holds the CFD long, buy_perp holds it short: each direction pays only its own side's swap.
    long_worse = net_of(book, replace(costs, swap_long_per_oz_night=costs.swap_long_per_oz_night - bump), rate)
    short_worse = net_of(book, replace(costs, swap_short_per_oz_night=costs.swap_short_per_oz_night - bump), rate)

    assert long_worse.buy_perp == before.buy_perp
    assert short_worse.sell_perp == before.sell_perp
    if bump == 0 or costs.expected_holding_hours == 0:
        assert long_worse.sell_perp == before.sell_perp
        assert short_worse.buy_perp == before.buy_perp
    else:
        assert long_worse.sell_perp < before.sell_perp
        assert short_worse.buy_perp < before.buy_perp


@EXAMPLES
@given(
    gold_prices,
    usd_per_usdt,
    decimals("0.00000001", "0.003", 8),
    decimals("0.01", "240", 2),
    st.sampled_from([Decimal(1), Decimal(4), Decimal(8)]),
)
def test_carry_sign_follows_the_direction_and_the_funding_sign(
    mark: Decimal, rate: Decimal, funding: Decimal, hours: Decimal, interval: Decimal
) -> None:
    paying_longs = CostModel(expected_holding_hours=hours, funding_rate=funding, funding_interval_hours=interval)
    paying_shorts = replace(paying_longs, funding_rate=-funding)

    def carry(costs: CostModel, direction: Direction) -> Decimal:
        return expected_carry(costs, direction, perp_mark=mark, usd_per_usdt=rate)

    # Positive funding: the short perp (sell_perp) receives, the long perp (buy_perp) pays.
    assert carry(paying_longs, Direction.SELL_PERP) > 0
    assert carry(paying_longs, Direction.BUY_PERP) < 0
    # Negated funding flips both signs, with the same size.
    assert carry(paying_shorts, Direction.SELL_PERP) == -carry(paying_longs, Direction.SELL_PERP)
    assert carry(paying_shorts, Direction.BUY_PERP) == -carry(paying_longs, Direction.BUY_PERP)


@EXAMPLES
@given(gold_prices, usd_per_usdt, funding_rates, swaps, swaps)
def test_there_is_no_carry_without_a_holding_time(
    mark: Decimal, rate: Decimal, funding: Decimal, swap_long: Decimal, swap_short: Decimal
) -> None:
    costs = CostModel(funding_rate=funding, swap_long_per_oz_night=swap_long, swap_short_per_oz_night=swap_short)

    for direction in Direction:
        assert expected_carry(costs, direction, perp_mark=mark, usd_per_usdt=rate) == 0


def test_carry_counts_funding_events_and_nights_over_the_holding_time() -> None:
    costs = CostModel(
        expected_holding_hours=Decimal(48),
        funding_rate=Decimal("0.0001"),
        swap_long_per_oz_night=Decimal("-0.5"),
        swap_short_per_oz_night=Decimal("0.2"),
    )

    sell_perp = expected_carry(costs, Direction.SELL_PERP, perp_mark=Decimal(4600), usd_per_usdt=Decimal(1))
    buy_perp = expected_carry(costs, Direction.BUY_PERP, perp_mark=Decimal(4600), usd_per_usdt=Decimal(1))

    # 48 h = 6 funding events of 0.0001 × 4600 = 0.46 each, and 2 nights of swap.
    assert sell_perp == Decimal("2.76") - Decimal("1.0")
    assert buy_perp == Decimal("-2.76") + Decimal("0.4")


# --- the integer tick path against the Decimal truth ----------------------------------------------------
@EXAMPLES
@given(books(), usd_per_usdt, cost_models())
def test_the_integer_engine_matches_the_decimal_truth(book: Book, rate: Decimal, costs: CostModel) -> None:
    engine = make_engine(costs, rate=rate)
    perp, cfd = book.quotes(T0)

    engine.on_quote(perp, now_ms=T0)
    sample = engine.on_quote(cfd, now_ms=T0).sample

    assert sample is not None
    edges = edges_of(book, rate)
    # Raw edges and the basis are exact integer arithmetic in units of 1e-16 USD/oz.
    assert Decimal(sample.sell_perp) == edges.sell_perp * EDGE_SCALE
    assert Decimal(sample.buy_perp) == edges.buy_perp * EDGE_SCALE
    assert sample.edges_usd == Edges(
        edges.sell_perp.quantize(PRICE_QUANTUM, rounding=ROUND_HALF_EVEN),
        edges.buy_perp.quantize(PRICE_QUANTUM, rounding=ROUND_HALF_EVEN),
    )
    expected_basis = basis(perp_mid=book.perp_mid, cfd_mid=book.cfd_mid, usd_per_usdt=rate)
    assert Decimal(sample.basis) == expected_basis * EDGE_SCALE
    assert sample.usd_per_usdt == rate
    # Net edges go through rounded cost coefficients: compare unquantized units with the Decimal.
    net = net_of(book, costs, rate)
    assert abs(Decimal(sample.net_sell_perp) / EDGE_SCALE - net.sell_perp) <= NET_TOLERANCE
    assert abs(Decimal(sample.net_buy_perp) / EDGE_SCALE - net.buy_perp) <= NET_TOLERANCE


@EXAMPLES
@given(
    books(),
    usd_per_usdt,
    cost_models(),
    st.lists(st.tuples(st.integers(-300, 300), st.integers(-300, 300)), min_size=1, max_size=20),
)
def test_the_integer_engine_stays_on_the_decimal_truth_as_quotes_move(
    book: Book, rate: Decimal, costs: CostModel, moves: list[tuple[int, int]]
) -> None:
    # Moves of up to ±3 USD/oz stay inside the outlier filter, so every quote is priced.
    engine = make_engine(costs, rate=rate)
    engine.on_quote(book.quotes(T0)[0], now_ms=T0)
    ts = T0
    for perp_cents, cfd_cents in moves:
        ts += 250
        book = Book(
            book.perp_bid + Decimal(perp_cents) / 100,
            book.perp_ask + Decimal(perp_cents) / 100,
            book.cfd_bid + Decimal(cfd_cents) / 100,
            book.cfd_ask + Decimal(cfd_cents) / 100,
        )
        perp, cfd = book.quotes(ts)
        engine.on_quote(perp, now_ms=ts)
        sample = engine.on_quote(cfd, now_ms=ts).sample

        assert sample is not None
        edges, net = edges_of(book, rate), net_of(book, costs, rate)
        assert Decimal(sample.sell_perp) == edges.sell_perp * EDGE_SCALE
        assert Decimal(sample.buy_perp) == edges.buy_perp * EDGE_SCALE
        assert abs(Decimal(sample.net_sell_perp) / EDGE_SCALE - net.sell_perp) <= NET_TOLERANCE
        assert abs(Decimal(sample.net_buy_perp) / EDGE_SCALE - net.buy_perp) <= NET_TOLERANCE


def test_the_engine_refuses_a_non_positive_rate() -> None:
    engine = make_engine()

    with pytest.raises(ValueError, match="positive"):
        engine.set_rate(Decimal(0))


def test_the_engine_reprices_with_new_costs() -> None:
    engine = make_engine(CostModel(perp_fee_rate=Decimal(0)), entry_threshold=Decimal(100))
    book = Book(Decimal("4600.10"), Decimal("4600.12"), Decimal("4598.50"), Decimal("4598.80"))
    perp, cfd = book.quotes(T0)
    engine.on_quote(perp, now_ms=T0)
    before = engine.on_quote(cfd, now_ms=T0).sample
    slippage = CostModel(perp_fee_rate=Decimal(0), slippage_usd_per_oz=Decimal("0.25"))

    engine.set_costs(slippage, Decimal("0.5"))
    after = engine.on_quote(perp, now_ms=T0).sample

    assert before is not None and after is not None
    assert after.net_usd.sell_perp == before.net_usd.sell_perp - Decimal("0.25")
    assert engine.tracker.entry_threshold == Decimal("0.5") * EDGE_SCALE


@given(st.one_of(st.integers(-(10**24), 10**24), st.integers(-3, 3).map(lambda k: k * 5 * 10**7)))
@settings(max_examples=1000)
def test_edges_round_half_even_to_eight_places_exactly_as_decimal_does(units: int) -> None:
    from trading.domain.fixed import edge_decimal

    truth = (Decimal(units) / EDGE_SCALE).quantize(PRICE_QUANTUM, rounding=ROUND_HALF_EVEN)
    booked = edge_decimal(units)
    assert booked == truth and booked.as_tuple().exponent == -8
    assert not (booked.is_zero() and booked.is_signed())  # no negative zero reaches a row
