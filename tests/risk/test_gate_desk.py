"""A refused command says why: a manual open of a billion ounces, or any manual open under a
kill switch, is refused before it is queued — in the API (400 naming every reason) and on the manual desk's form —
by the same pre-trade gate the engine asks; the desk shows an active kill switch before anyone fills the form; its
dialogs ask what they will do when they open. For alice (admin), tom (trader, granted the pool), bob (viewer) and
charlie (another tenant)."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from risk.services import kill_switch_trip
from tests.helpers.clients import Api, tenant_client
from tests.helpers.desk import make_hedge
from trading.models import ManualCommand

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stored_quotes")]


def open_body(pool: Any, size: str, direction: str = "buy_perp") -> dict[str, Any]:
    return {"pool": pool.pk, "kind": "open_hedge", "direction": direction, "size_oz": size}


def test_a_billion_ounce_open_is_refused_with_its_reasons_before_it_is_queued(desk: dict[str, Any], tom: Any) -> None:
    refused = Api(tom).post("manual-commands/", open_body(desk["pool"], "1e9"))
    assert refused.status_code == 400
    reasons = " ".join(refused.json()["size_oz"])
    assert "1000000000 oz is above the perp maximum 1000 oz per order." in reasons
    assert "1000000000 oz is above the CFD maximum 10000 oz per order." in reasons
    assert "The perp position would reach 999999999 oz (limit 1 oz)." in reasons  # the strategy holds -1 oz
    assert "USDT of margin" in reasons and "USD of margin" in reasons
    assert "E+" not in refused.content.decode()  # numbers people read
    assert not ManualCommand.objects.filter(pool=desk["pool"]).exists()
    # Within the limits the same request is queued.
    assert Api(tom).post("manual-commands/", open_body(desk["pool"], "1")).status_code == 202


@pytest.mark.parametrize(
    ("scope", "words"),
    [("tenant", "the desk"), ("global", "global"), ("strategy", "strategy Basis A")],
)
def test_any_manual_open_under_a_kill_switch_is_refused_with_its_reason(
    desk: dict[str, Any],
    alice: Any,
    tom: Any,
    scope: str,
    words: str,
) -> None:
    kill_switch_trip(
        scope=scope,
        trigger="manual",
        reason="fat finger",
        tenant=alice.tenant,
        strategy=desk["strategy"] if scope == "strategy" else None,
        actor=alice.user,
    )
    api = Api(tom)
    refused = api.post("manual-commands/", open_body(desk["pool"], "1"))
    assert refused.status_code == 400
    assert refused.json()["non_field_errors"] == [
        f"Halted by a kill switch ({words}: fat finger): only orders that reduce a position may be sent."
    ]
    assert not ManualCommand.objects.filter(pool=desk["pool"]).exists()
    # Closing only reduces: it still goes through.
    closing = api.post("manual-commands/", {"pool": desk["pool"].pk, "kind": "close_hedge", "hedge": desk["hedge"].pk})
    assert closing.status_code == 202


def test_the_api_refuses_others_as_before(desk: dict[str, Any], bob: Any, charlie: Any) -> None:
    assert Api(bob).post("manual-commands/", open_body(desk["pool"], "1")).status_code == 403
    assert Api(charlie).post("manual-commands/", open_body(desk["pool"], "1")).status_code == 400  # not its pool


def test_the_desk_form_refuses_with_the_reasons_and_queues_nothing(desk: dict[str, Any], tom: Any) -> None:
    url = reverse("pool_manual", args=[desk["pool"].pk])
    review = tenant_client(tom).post(url, {"kind": "open_hedge", "direction": "buy_perp", "size_oz": "1000000000"})
    page = review.content.decode()
    assert review.status_code == 400
    assert "1000000000 oz is above the perp maximum 1000 oz per order." in page
    assert 'data-testid="form-errors"' in page and not ManualCommand.objects.filter(pool=desk["pool"]).exists()


def test_the_desk_shows_an_active_kill_switch_before_anyone_fills_the_form(
    desk: dict[str, Any],
    alice: Any,
    tom: Any,
    bob: Any,
) -> None:
    url = reverse("pool_desk", args=[desk["pool"].pk])
    assert 'data-testid="desk-halted"' not in tenant_client(tom).get(url).content.decode()  # bravo's switch is not ours
    kill_switch_trip(scope="tenant", trigger="manual", reason="fat finger", tenant=alice.tenant, actor=alice.user)
    for persona in (tom, bob):  # a viewer sees why nothing opens, too
        page = tenant_client(persona).get(url).content.decode()
        assert 'data-testid="desk-halted"' in page and "fat finger" in page and "bravo" not in page
    review = tenant_client(tom).post(
        reverse("pool_manual", args=[desk["pool"].pk]), {"kind": "open_hedge", "direction": "buy_perp", "size_oz": "1"}
    )
    assert review.status_code == 400 and "Halted by a kill switch (the desk: fat finger)" in review.content.decode()


def test_dialogs_say_what_happens_as_they_open(desk: dict[str, Any], tom: Any, bob: Any, charlie: Any) -> None:
    flatten = reverse("pool_confirm", args=[desk["pool"].pk, "flatten_pool"])
    page = tenant_client(tom).get(reverse("pool_desk", args=[desk["pool"].pk])).content.decode()
    assert f'hx-get="{flatten}"' in page
    assert "both legs of 1 open hedges and the remaining legs of 0 legged hedges" in (
        tenant_client(tom).get(flatten).content.decode()
    )
    # Hedges open and leg while the page stays open: the dialog, opened now, counts them.
    make_hedge(desk["strategy"])
    make_hedge(desk["strategy"], status="legged")
    text = tenant_client(tom).get(flatten).content.decode()
    assert "both legs of 2 open hedges and the remaining legs of 1 legged hedges" in text
    assert 'data-testid="confirm-manual-flatten_pool"' in text
    assert tenant_client(tom).get(reverse("pool_confirm", args=[desk["pool"].pk, "open_hedge"])).status_code == 404
    assert tenant_client(bob).get(flatten).status_code == 403
    assert tenant_client(charlie).get(flatten).status_code == 404


def test_margin_and_a_closed_cfd_market_are_reasons_too(desk: dict[str, Any], alice: Any, frozen_clock: Any) -> None:
    api = Api(alice)
    # The other pool has 1,000 USDT for its perp leg: 1 oz bought at the ask, 4,600.10 USDT, needs 920.02 at the
    # pool's 5×, and the checks keep a 1.2 buffer: 1,104.02.
    refused = api.post("manual-commands/", open_body(desk["other_pool"], "1"))
    assert refused.status_code == 400
    assert "The perp order needs 1104.02 USDT of margin; 1000.00 USDT is available." in refused.json()["size_oz"]
    frozen_clock.advance(3 * 24 * 3600)  # Saturday: the CFD is closed
    closed = api.post("manual-commands/", open_body(desk["pool"], "1"))
    assert closed.status_code == 400 and "The CFD market is closed." in closed.json()["non_field_errors"]


def test_the_cfd_margin_follows_the_venues_rules(desk: dict[str, Any]) -> None:
    """The gate margins the CFD as the venue would (trading/domain/margin.py): a paper account by its simulated symbol
    (CFD-leverage mode, 1:100, margin rate 1), a live account by its terminal's own per-lot figures."""
    from dataclasses import replace
    from decimal import Decimal

    from risk.gate import RiskGate
    from strategies.limits import risk_limits_for
    from trading.domain.quotes import Quote

    gate = RiskGate(limits_for=risk_limits_for)
    state = gate.read_state(pool=desk["pool"], strategy_id=None)
    quote = Quote.of("cfd", Decimal("4600.00"), Decimal("4600.40"), 0)
    # Paper: one lot of 100 oz bought at 4,600.40 at 1:100 needs 4,600.40 USD, i.e. 46.004 USD per ounce.
    assert state.cfd_account_leverage == 100 and state.cfd_contract_size == Decimal(100)
    assert gate._cfd_margin_per_oz(state, quote) == Decimal("46.004")
    # Live: the terminal said 2,300.20 per lot to buy and 2,300.00 to sell (a metal at its own 1:200): the dearer.
    live = replace(state, cfd_margin_spec=None, cfd_terminal_per_lot=(Decimal("2300.20"), Decimal("2300.00")))
    assert gate._cfd_margin_per_oz(live, quote) == Decimal("23.002")
    # Neither known: the configured share of the mid (1 %).
    unknown = replace(state, cfd_margin_spec=None, cfd_terminal_per_lot=None)
    assert gate._cfd_margin_per_oz(unknown, quote) == Decimal("46.0020")
