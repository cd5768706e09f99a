"""Capital between venues: when one venue's margin runs low while the other has spare, advise a
transfer — amount, direction and the margin levels both accounts would have after it. Pure: Decimal, no Django.

Each side is read from its account's latest snapshot (`VenueMargin`): equity and used margin in the account's own
currency (USDT on Binance, the MT5 account's currency), and what one unit of it is worth in USD. The margin level
is equity ÷ used margin × 100 (trading/domain/margin.py `margin_level`) on both venues; for Binance the snapshot's
maintenance margin also gives the margin ratio (maintenance ÷ margin balance × 100, liquidation at 100 —
risk/domain/liquidation.py `binance_margin_ratio`), shown before and after.

A side is **low** below its policy's `low_pct`; the advice tops it up to `target_pct`, taking no more than the
other side can give while staying at or above its own `target_pct` and within its free margin (equity − used
margin: what a venue lets leave). An amount below `min_usd` is not worth the transfer: no advice. Amounts are
rounded down to whole cents. Nothing here moves money: advice only, an admin records the transfer.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from risk.domain.liquidation import binance_margin_ratio
from trading.domain.margin import free_margin, margin_level

ZERO = Decimal(0)
HUNDRED = Decimal(100)
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class VenueMargin:
    """One account's margin as its latest snapshot has it. `usd_per_unit`: USD per unit of `currency`."""

    account_id: int
    label: str
    leg: str  # "perp" or "cfd"
    currency: str
    equity: Decimal
    used_margin: Decimal
    usd_per_unit: Decimal = Decimal(1)
    maintenance_margin: Decimal | None = None  # Binance only

    def __post_init__(self) -> None:
        if self.usd_per_unit <= 0:
            raise ValueError("A currency's USD value must be positive.")
        if self.used_margin < 0:
            raise ValueError("Used margin cannot be negative.")

    @property
    def level_pct(self) -> Decimal | None:
        return margin_level(equity=self.equity, used_margin=self.used_margin)

    def level_after(self, change: Decimal) -> Decimal | None:
        """The margin level with `change` (in the account's currency) added to its equity."""
        return margin_level(equity=self.equity + change, used_margin=self.used_margin)

    def ratio_after(self, change: Decimal) -> Decimal | None:
        """Binance's margin ratio (liquidation at 100 %) with `change` added; None without maintenance margin."""
        if self.maintenance_margin is None:
            return None
        return binance_margin_ratio(maintenance_margin=self.maintenance_margin, margin_balance=self.equity + change)

    @property
    def free(self) -> Decimal:
        return free_margin(equity=self.equity, used_margin=self.used_margin)


@dataclass(frozen=True, slots=True)
class MarginPolicy:
    """When a side is low (`low_pct`) and the level a transfer aims at (`target_pct`), both margin levels in %."""

    low_pct: Decimal
    target_pct: Decimal

    def __post_init__(self) -> None:
        if self.low_pct <= 0 or self.target_pct < self.low_pct:
            raise ValueError("A margin policy needs 0 < low ≤ target.")


@dataclass(frozen=True, slots=True)
class SideAfter:
    account_id: int
    label: str
    leg: str
    currency: str
    amount: Decimal  # signed, in the account's currency: − leaves, + arrives
    level_before_pct: Decimal | None
    level_after_pct: Decimal | None
    ratio_before_pct: Decimal | None = None
    ratio_after_pct: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Advice:
    """Move `amount_usd` of value from `source` to `target`. `short_usd` > 0: the donor could not give all the
    needy side asked for (the target stays below its aim by that much)."""

    amount_usd: Decimal
    source: SideAfter
    target: SideAfter
    short_usd: Decimal = ZERO


def _down(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_DOWN)


def needed_usd(side: VenueMargin, policy: MarginPolicy) -> Decimal:
    """What brings a low side up to its target level, in USD (0: not low, or it uses no margin)."""
    level = side.level_pct
    if level is None or level >= policy.low_pct:
        return ZERO
    return max(ZERO, (policy.target_pct / HUNDRED * side.used_margin - side.equity) * side.usd_per_unit)


def spare_usd(side: VenueMargin, policy: MarginPolicy) -> Decimal:
    """What may leave a side and keep it at its target level and within its free margin, in USD."""
    keep = policy.target_pct / HUNDRED * side.used_margin
    return max(ZERO, min(side.equity - keep, side.free)) * side.usd_per_unit


def advise(
    perp: VenueMargin,
    cfd: VenueMargin,
    *,
    perp_policy: MarginPolicy,
    cfd_policy: MarginPolicy,
    min_usd: Decimal = Decimal(100),
) -> Advice | None:
    """The transfer to make now, or None (neither side is low, the other has nothing to spare, or the amount is
    below `min_usd`). When both are low there is nothing to move: None."""
    perp_need, cfd_need = needed_usd(perp, perp_policy), needed_usd(cfd, cfd_policy)
    if (perp_need > 0) == (cfd_need > 0):
        return None
    if perp_need > 0:
        needy, donor, need, donor_policy = perp, cfd, perp_need, cfd_policy
    else:
        needy, donor, need, donor_policy = cfd, perp, cfd_need, perp_policy
    spare = spare_usd(donor, donor_policy)
    amount_usd = _down(min(need, spare))
    if amount_usd < min_usd or amount_usd <= 0:
        return None
    out = _down(amount_usd / donor.usd_per_unit)
    arrives = _down(amount_usd / needy.usd_per_unit)
    return Advice(
        amount_usd=amount_usd,
        source=_after(donor, -out),
        target=_after(needy, arrives),
        short_usd=_down(max(ZERO, need - amount_usd)),
    )


def _after(side: VenueMargin, change: Decimal) -> SideAfter:
    return SideAfter(
        account_id=side.account_id,
        label=side.label,
        leg=side.leg,
        currency=side.currency,
        amount=change,
        level_before_pct=side.level_pct,
        level_after_pct=side.level_after(change),
        ratio_before_pct=side.ratio_after(ZERO),
        ratio_after_pct=side.ratio_after(change),
    )


# --- the workflow ----------------------------------------------------------------------------------------------
REQUESTED, APPROVED, DONE, REJECTED, CANCELLED = "requested", "approved", "done", "rejected", "cancelled"
MOVES: dict[str, frozenset[str]] = {
    REQUESTED: frozenset({APPROVED, REJECTED, CANCELLED}),
    APPROVED: frozenset({DONE, CANCELLED}),
    DONE: frozenset(),
    REJECTED: frozenset(),
    CANCELLED: frozenset(),
}


class WorkflowError(ValueError):
    pass


def transition(current: str, to: str, *, actor_id: int, requester_id: int) -> str:
    """The transfer's next state: approving and rejecting need a second admin (not the requester); done only
    after approval; nothing leaves done, rejected or cancelled."""
    if to not in MOVES.get(current, frozenset()):
        raise WorkflowError(f"A transfer {current} cannot become {to}.")
    if to in (APPROVED, REJECTED) and actor_id == requester_id:
        raise WorkflowError("A second admin must decide: you requested this transfer.")
    return to
