"""Transfer advice between the venues, on hand-computed cases."""

from __future__ import annotations

from decimal import Decimal

import pytest

from risk.domain.transfers import MarginPolicy, VenueMargin, advise, needed_usd, spare_usd

D = Decimal
PERP_POLICY = MarginPolicy(low_pct=D(300), target_pct=D(500))
CFD_POLICY = MarginPolicy(low_pct=D(200), target_pct=D(300))


def perp(equity: str, used: str = "4000", maintenance: str | None = "400") -> VenueMargin:
    return VenueMargin(
        1, "Binance", "perp", "USDT", D(equity), D(used), usd_per_unit=D("0.999"),
        maintenance_margin=None if maintenance is None else D(maintenance),
    )  # fmt: skip


def cfd(equity: str, used: str = "10000") -> VenueMargin:
    return VenueMargin(2, "MT5", "cfd", "USD", D(equity), D(used))


def test_a_low_perp_is_topped_up_from_the_cfds_spare() -> None:
    # Perp 10,000 USDT on 4,000 used: 250 % (low < 300). To 500 % it needs 10,000 USDT = 9,990 USD at 0.999.
    # CFD 50,000 on 10,000 used: keeping 300 % it can give 20,000 USD.
    advice = advise(perp("10000"), cfd("50000"), perp_policy=PERP_POLICY, cfd_policy=CFD_POLICY)
    assert advice is not None
    assert advice.amount_usd == D("9990.00") and advice.short_usd == 0
    assert (advice.source.leg, advice.source.amount, advice.source.currency) == ("cfd", D("-9990.00"), "USD")
    assert (advice.target.leg, advice.target.amount, advice.target.currency) == ("perp", D("10000.00"), "USDT")
    assert advice.target.level_before_pct == D(250) and advice.target.level_after_pct == D(500)
    assert advice.source.level_before_pct == D(500) and advice.source.level_after_pct == D("400.1")
    # Binance's margin ratio (liquidation at 100 %): 400 ÷ 10,000 = 4 % before, 400 ÷ 20,000 = 2 % after.
    assert advice.target.ratio_before_pct == D(4) and advice.target.ratio_after_pct == D(2)
    assert advice.source.ratio_before_pct is None


def test_the_donor_gives_no_more_than_keeps_it_at_its_target() -> None:
    # CFD 35,000 on 10,000 (350 %): it can give 5,000 USD and stay at 300 %; the perp stays 4,990 USD short.
    advice = advise(perp("10000"), cfd("35000"), perp_policy=PERP_POLICY, cfd_policy=CFD_POLICY)
    assert advice is not None
    assert advice.amount_usd == D("5000.00") and advice.short_usd == D("4990.00")
    assert advice.target.amount == D("5005.00")  # 5,000 ÷ 0.999 = 5,005.005 USDT, rounded down
    assert advice.target.level_after_pct == D("375.125")
    assert advice.source.level_after_pct == D(300)


def test_a_low_cfd_is_topped_up_from_the_perp() -> None:
    # CFD 15,000 on 10,000: 150 % (low < 200); to 300 % it needs 15,000 USD. Perp 40,000 USDT on 4,000 (1,000 %)
    # can give min(40,000 − 20,000, free 36,000) = 20,000 USDT = 19,980 USD.
    advice = advise(perp("40000"), cfd("15000"), perp_policy=PERP_POLICY, cfd_policy=CFD_POLICY)
    assert advice is not None
    assert advice.amount_usd == D("15000.00")
    assert advice.source.leg == "perp" and advice.source.amount == D("-15015.01")  # 15,000 ÷ 0.999, down
    assert advice.target.amount == D("15000.00") and advice.target.level_after_pct == D(300)


def test_no_advice_when_both_are_fine_both_low_or_the_amount_is_small() -> None:
    assert advise(perp("40000"), cfd("50000"), perp_policy=PERP_POLICY, cfd_policy=CFD_POLICY) is None
    assert advise(perp("10000"), cfd("15000"), perp_policy=PERP_POLICY, cfd_policy=CFD_POLICY) is None
    # The CFD can spare 50 USD only: below the minimum worth a transfer.
    assert advise(perp("10000"), cfd("30050"), perp_policy=PERP_POLICY, cfd_policy=CFD_POLICY) is None
    assert (
        advise(perp("10000"), cfd("30050"), perp_policy=PERP_POLICY, cfd_policy=CFD_POLICY, min_usd=D(10)) is not None
    )
    # A side that uses no margin is never low.
    assert needed_usd(perp("10", used="0"), PERP_POLICY) == 0


def test_spare_is_bounded_by_free_margin_and_never_negative() -> None:
    assert spare_usd(cfd("50000"), MarginPolicy(D(50), D(50))) == D(40000)  # free margin binds, not the level
    assert spare_usd(cfd("5000"), CFD_POLICY) == 0


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        MarginPolicy(D(300), D(200))
    with pytest.raises(ValueError):
        VenueMargin(1, "x", "perp", "USDT", D(1), D(1), usd_per_unit=D(0))


def test_the_workflow_needs_a_second_admin_and_ends_where_it_ends() -> None:
    from risk.domain.transfers import WorkflowError, transition

    assert transition("requested", "approved", actor_id=2, requester_id=1) == "approved"
    assert transition("approved", "done", actor_id=1, requester_id=1) == "done"  # anyone records the venue's ref
    assert transition("requested", "cancelled", actor_id=1, requester_id=1) == "cancelled"
    for current, to, actor in (
        ("requested", "approved", 1),  # own request
        ("requested", "rejected", 1),
        ("requested", "done", 2),  # not approved yet
        ("done", "cancelled", 2),
        ("rejected", "approved", 2),
        ("cancelled", "approved", 2),
    ):
        with pytest.raises(WorkflowError):
            transition(current, to, actor_id=actor, requester_id=1)
