"""The paper account's book (trading.domain.paper.PaperBook): entries averaged, PnL realised on the ounces closed,
a fill through zero reopening at its price, and cash conserved — realised + unrealised is what the fills paid and
received plus the open position at the mark."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trading.domain.paper import PaperBook

D = Decimal


def test_adding_to_a_position_averages_the_entry() -> None:
    book = PaperBook().fill(signed_oz=D(-2), price=D("4600")).fill(signed_oz=D(-1), price=D("4603"))
    assert book == PaperBook(D(-3), D("4601.00000000"), D(0))  # (2 × 4600 + 4603) / 3


def test_reducing_realises_on_the_ounces_closed_at_the_entry() -> None:
    short = PaperBook(D(-3), D("4601"), D(0))
    covered = short.fill(signed_oz=D(1), price=D("4590"))
    # a short of 1 oz closed 11 below its entry: +11; the rest keeps its entry
    assert covered == PaperBook(D(-2), D("4601"), D(11))
    flat = covered.fill(signed_oz=D(2), price=D("4610"))
    assert flat == PaperBook(D(0), None, D(11) - D(18))  # 2 oz closed 9 above: −18


def test_a_fill_through_zero_reopens_the_rest_at_its_price() -> None:
    book = PaperBook(D(2), D("4600"), D(0)).fill(signed_oz=D(-5), price=D("4620"))
    assert book == PaperBook(D(-3), D("4620"), D(40))  # 2 oz long closed +20 each


def test_unrealised_pnl_is_signed_ounces_times_the_move() -> None:
    assert PaperBook(D(-3), D("4601"), D(0)).unrealised(D("4611")) == D(-30)
    assert PaperBook(D("1.5"), D("4600"), D(0)).unrealised(D("4610")) == D(15)
    assert PaperBook().unrealised(D("4600")) == 0


def test_a_fill_needs_a_positive_price() -> None:
    with pytest.raises(ValueError):
        PaperBook().fill(signed_oz=D(1), price=D(0))
    assert PaperBook().fill(signed_oz=D(0), price=D(0)) == PaperBook()


fills = st.lists(
    st.tuples(
        st.decimals(min_value=-50, max_value=50, places=3).filter(lambda q: q != 0),
        st.decimals(min_value=4000, max_value=5000, places=2),
    ),
    min_size=1,
    max_size=12,
)


@given(fills=fills, mark=st.decimals(min_value=4000, max_value=5000, places=2))
def test_cash_is_conserved(fills: list[tuple[Decimal, Decimal]], mark: Decimal) -> None:
    book = PaperBook()
    cash = tolerance = D(0)
    for signed_oz, price in fills:
        book = book.fill(signed_oz=signed_oz, price=price)
        cash -= signed_oz * price
        # the entry is rounded to 8 dp at each fill (off by ≤ 0.5e-8 on every ounce held), the realised PnL too
        tolerance += D("1e-8") * (abs(book.quantity_oz) + abs(signed_oz) + 1)
    # What the fills paid and received plus the position at the mark = realised + unrealised, up to that rounding.
    assert abs(cash + book.quantity_oz * mark - (book.realised + book.unrealised(mark))) <= tolerance
    assert book.quantity_oz == sum((q for q, _ in fills), D(0))
    assert (book.avg_price is None) == (book.quantity_oz == 0)
