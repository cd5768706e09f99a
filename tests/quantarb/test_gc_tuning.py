"""quantarb/gc_tuning.py: what start-up built is frozen out of later collections, and the young generation is
collected less often; collections still run (cyclic garbage is still freed)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from quantarb import gc_tuning


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_settle_freezes_what_start_up_built_and_raises_the_young_threshold(restored_gc: None) -> None:
    built_at_start_up = {"resolvers": [object() for _ in range(10)]}

    gc_tuning.settle()

    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == gc_tuning.THRESHOLDS
    assert not any(o is built_at_start_up for o in gc.get_objects())  # frozen: no collection walks it
    assert gc.isenabled()

    class Cycle:
        pass

    a, b = Cycle(), Cycle()
    a.other, b.other = b, a  # type: ignore[attr-defined]
    del a, b
    assert gc.collect() >= 2  # cycles made after start-up are still freed
