"""What a failed send means, decided from the venue's own code alone (trading/venues/errors.py): not sent, refused,
or unknown — and the reads before an MT5 order asked again on an IPC timeout, on both MT5 backends."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import ccxt
import pytest

from tests.trading.venues.helpers import Rig, gateway_for
from tests.waiting import until
from trading.venues.backoff import BackoffRegistry, account_key
from trading.venues.base import OrderRequest
from trading.venues.binance.gateway import classify
from trading.venues.errors import VenueError, VenueErrorKind
from trading.venues.mt5.gateway import REFUSAL_RETCODES, Mt5Position, error_from_retcode
from trading.venues.mt5.orders import Mt5ExecutionVenue, position_to_close

pytestmark = pytest.mark.timeout(60)


def binance_answer(code: int, message: str = "x") -> ccxt.ExchangeError:
    return ccxt.ExchangeError(f'binanceusdm {{"code":{code},"msg":"{message}"}}')


@pytest.mark.parametrize("code", [-2019, -2022, -1111, -4164, -4411, -1021, -2015])
def test_a_binance_error_code_is_a_refusal(code: int) -> None:
    error = classify(binance_answer(code), write=True)
    assert error.refused and error.sent and error.code == code


@pytest.mark.parametrize("code", [-1007, -1006, -1001, -1000])
def test_binance_codes_of_an_unknown_outcome_are_not_refusals(code: int) -> None:
    error = classify(binance_answer(code, "Timeout waiting for response from backend server."), write=True)
    assert error.kind is VenueErrorKind.AMBIGUOUS and not error.refused


def test_a_duplicated_client_id_is_not_a_refusal_the_venue_holds_the_order() -> None:
    error = classify(binance_answer(-4116), write=True)
    assert error.kind is VenueErrorKind.DUPLICATE_CLIENT_ID and not error.refused


def test_a_lost_binance_answer_is_unknown_and_no_connection_is_not_sent() -> None:
    lost = classify(ccxt.RequestTimeout("binanceusdm POST timed out"), write=True)
    assert lost.kind is VenueErrorKind.AMBIGUOUS and not lost.refused and lost.sent
    cause = ConnectionRefusedError("refused")
    exc = ccxt.NetworkError("binanceusdm connect failed")
    exc.__cause__ = cause
    never = classify(exc, write=True)
    assert never.kind is VenueErrorKind.UNREACHABLE and not never.sent


@pytest.mark.parametrize("retcode", [10004, 10006, 10014, 10018, 10019, 10020, 10027, 10030])
def test_mt5_refusal_retcodes(retcode: int) -> None:
    assert retcode in REFUSAL_RETCODES and error_from_retcode(retcode).refused


@pytest.mark.parametrize("retcode", [10011, 10012, 10023, 10099])
def test_other_mt5_retcodes_leave_the_order_unknown(retcode: int) -> None:
    error = error_from_retcode(retcode)
    assert not error.refused and error.sent and error.kind is VenueErrorKind.AMBIGUOUS


def test_a_back_off_is_shared_by_key_and_ends() -> None:
    registry = BackoffRegistry()
    key = account_key("binance-usdm", "http://127.0.0.1:1", "KEY")
    assert key == account_key("binance-usdm", "http://127.0.0.1:1", "KEY") and "KEY" not in key
    registry.hold(key, 30, now=100.0)
    registry.hold(key, 5, now=101.0)  # a shorter wait does not cut the longer one short
    assert registry.remaining(key, now=110.0) == 20.0
    assert registry.remaining(account_key("binance-usdm", "http://127.0.0.1:1", "OTHER"), now=110.0) == 0
    assert registry.remaining(key, now=130.0) == 0


# --- MT5 reads before an order, on both backends ------------------------------------------------------------------
def buy(client_order_id: str, quantity_oz: str = "1", *, reduce_only: bool = False) -> OrderRequest:
    return OrderRequest(client_order_id, "buy", Decimal(quantity_oz), deviation=50, reduce_only=reduce_only)


def test_a_read_before_an_order_is_asked_again_after_an_ipc_timeout(rig: Rig) -> None:
    venue = Mt5ExecutionVenue(rig.connected(read_retry_wait_s=0.01), connected=True)
    rig.terminal.qa_arm("ipc_timeout", count=2)
    answer = venue._place(buy("pre-1"))
    assert answer.report.filled == Decimal(1)
    assert len(rig.state()["sent"]) == 1


def test_reads_failing_past_the_budget_are_not_sent(rig: Rig) -> None:
    venue = Mt5ExecutionVenue(rig.connected(read_retry_wait_s=0.01, read_retry_attempts=3), connected=True)
    rig.terminal.qa_arm("ipc_timeout", count=3)
    with pytest.raises(VenueError) as caught:
        venue._place(buy("pre-2"))
    assert not caught.value.sent and caught.value.code == -10005
    assert rig.state()["sent"] == []


def test_closing_without_a_position_of_ours_is_not_sent(rig: Rig) -> None:
    venue = Mt5ExecutionVenue(rig.connected(), connected=True)
    with pytest.raises(VenueError) as caught:
        venue._place(OrderRequest("pre-3", "sell", Decimal(1), deviation=50, reduce_only=True))
    assert not caught.value.sent and rig.state()["sent"] == []


def test_closing_a_hedge_s_cfd_leg_closes_that_hedge_s_own_position(rig: Rig) -> None:
    # Two hedges long the CFD on a hedging account: hedge 1 with 0.01 lot, hedge 2 with 0.02. Closing hedge 1 must
    # close its own position — not hedge 2's larger one (a partial close the broker may refuse, and hedge 2's swap
    # moved onto hedge 1's closing deal).
    venue = Mt5ExecutionVenue(rig.connected(), connected=True)
    venue._place(buy("qa1-1CO1", "1"))
    venue._place(buy("qa1-2CO1", "2"))
    answer = venue._place(OrderRequest("qa1-1CX1", "sell", Decimal(1), deviation=50, reduce_only=True))
    assert answer.report.filled == Decimal(1) and answer.report.status.value == "filled"
    assert [(p["comment"], p["volume"]) for p in rig.state()["positions"]] == [("qa1-2CO1", 0.02)]
    answer = venue._place(OrderRequest("qa1-2CX1", "sell", Decimal(2), deviation=50, reduce_only=True))
    assert answer.report.filled == Decimal(2) and rig.state()["positions"] == []


def test_a_close_falls_back_to_any_position_of_ours_when_the_broker_rewrote_comments() -> None:
    positions = [
        Mt5Position(7, "buy", Decimal("0.02"), Decimal(1), Decimal(1), Decimal(0), Decimal(0), 1, "x", 0, True),
        Mt5Position(8, "buy", Decimal("0.01"), Decimal(1), Decimal(1), Decimal(0), Decimal(0), 1, "y", 0, True),
    ]
    assert position_to_close(positions, client_order_id="qa1-1CX1", lots=Decimal("0.01")).ticket == 8
    assert position_to_close(positions, client_order_id="qa1-1CX1", lots=Decimal("0.03")).ticket == 7


def test_a_read_after_the_send_that_times_out_does_not_fail_an_executed_order(rig: Rig) -> None:
    venue = Mt5ExecutionVenue(rig.connected(), connected=True)
    rig.terminal.qa_arm("hang_after_send", calls=1)
    answer = venue._place(buy("post-1"))
    assert answer.report.filled == Decimal(1) and answer.report.status.value == "filled"


async def test_an_order_sent_whose_lookup_meets_a_back_off_stays_unknown_never_not_sent(binance_fake: Any) -> None:
    from trading.venues.backoff import BACKOFFS

    binance_fake.arm("order_timeout", seconds=3)  # the venue takes the order, its answer comes too late
    async with gateway_for(binance_fake, timeout_ms=1_500) as gateway:
        placing = asyncio.create_task(
            gateway.place_order(client_order_id="bo-1", side="buy", quantity=Decimal("0.010"), max_sends=1)
        )
        try:
            await until(lambda: binance_fake.orders_with("bo-1"), 10, "the order at the fake", every_s=0.02)
            # While the answer is held, another gateway of the account is told to back off.
            BACKOFFS.hold(gateway.backoff_key, 60, now=gateway.monotonic())
            with pytest.raises(VenueError) as raised:
                await placing
        finally:
            BACKOFFS.clear()
        # The lookup was not sent (back-off), but the order was: unknown, to be looked up — never withdrawn.
        assert raised.value.kind is VenueErrorKind.AMBIGUOUS and raised.value.sent and not raised.value.refused
        assert (await gateway.lookup_order("bo-1")) is not None
    assert len(binance_fake.orders_with("bo-1")) == 1
