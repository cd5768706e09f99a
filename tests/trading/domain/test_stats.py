"""Time-bucketed rolling statistics of the basis (`trading.domain.stats.RollingStats`)."""

from __future__ import annotations

import math
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading.domain.stats import RollingStats

from .builders import T0

EXAMPLES = settings(max_examples=200, deadline=None)
BUCKET_MS = 1_000

# A realistic basis in USD/oz, at the cent or finer.
basis_values = st.integers(-5_000_000, 5_000_000).map(lambda units: units / 100_000)


@st.composite
def bucketed_feeds(draw: st.DrawFn) -> list[list[float]]:
    """Values grouped by consecutive non-empty buckets."""
    return draw(st.lists(st.lists(basis_values, min_size=1, max_size=5), min_size=1, max_size=40))


def push_all(stats: RollingStats, buckets: list[list[float]], gaps: list[int] | None = None) -> list[int]:
    """Push every bucket's values into `stats`, one bucket per second (plus optional empty seconds)."""
    ts = T0
    starts = []
    for index, values in enumerate(buckets):
        ts += BUCKET_MS * (1 + (gaps[index] if gaps else 0))
        starts.append(ts)
        for offset, value in enumerate(values):
            stats.score_and_push(ts + offset, value)
    return starts


def variance_tolerance(values: list[float]) -> float:
    # The running sums lose about one ulp of sum(x²) per update; compare variances, not standard deviations,
    # so a near-zero spread is judged on the scale of the data.
    return 1e-9 * (1 + max(value * value for value in values))


@EXAMPLES
@given(bucketed_feeds(), st.integers(2, 10))
def test_mean_and_std_are_those_of_the_last_window_of_completed_bucket_means(
    buckets: list[list[float]], window: int
) -> None:
    stats = RollingStats(window=window, bucket_ms=BUCKET_MS)

    push_all(stats, buckets)

    # The last bucket is still filling: only the ones before it are completed.
    completed = [statistics.fmean(values) for values in buckets[:-1]][-window:]
    assert stats.count == len(completed)
    if not completed:
        assert stats.mean is None and stats.std is None
        return
    assert stats.mean is not None
    assert math.isclose(stats.mean, statistics.fmean(completed), rel_tol=1e-9, abs_tol=1e-9)
    if len(completed) == 1:
        assert stats.std is None
    else:
        assert stats.std is not None
        assert math.isclose(stats.std**2, statistics.variance(completed), abs_tol=variance_tolerance(completed))


@EXAMPLES
@given(bucketed_feeds(), st.lists(st.integers(0, 30), min_size=40, max_size=40))
def test_empty_buckets_do_not_count_towards_the_window(buckets: list[list[float]], gaps: list[int]) -> None:
    stats = RollingStats(window=5, bucket_ms=BUCKET_MS)

    push_all(stats, buckets, gaps)

    completed = [statistics.fmean(values) for values in buckets[:-1]][-5:]
    assert stats.count == len(completed)
    if completed:
        assert stats.mean is not None
        assert math.isclose(stats.mean, statistics.fmean(completed), rel_tol=1e-9, abs_tol=1e-9)


def test_the_zscore_is_against_the_completed_buckets() -> None:
    stats = RollingStats(window=3, bucket_ms=BUCKET_MS)
    for second, value in enumerate([1.0, 2.0, 3.0]):
        stats.score_and_push(T0 + second * BUCKET_MS, value)

    # The tick opening bucket 4 closes bucket 3, then is scored against means 1, 2, 3 (mean 2, std 1).
    zscore = stats.score_and_push(T0 + 3 * BUCKET_MS, 4.5)

    assert stats.mean == pytest.approx(2.0)
    assert stats.std == pytest.approx(1.0)
    assert zscore == pytest.approx(2.5)


def test_there_is_no_zscore_until_two_buckets_are_complete() -> None:
    stats = RollingStats(window=3, bucket_ms=BUCKET_MS)

    first = stats.score_and_push(T0, 1.0)
    second = stats.score_and_push(T0 + BUCKET_MS, 2.0)  # one completed bucket: no spread yet
    third = stats.score_and_push(T0 + 2 * BUCKET_MS, 3.0)

    assert (first, second) == (None, None)
    assert third == pytest.approx((3.0 - 1.5) / math.sqrt(0.5))


def test_a_flat_basis_has_no_zscore() -> None:
    # A zero standard deviation would divide by zero: there is simply no score.
    stats = RollingStats(window=3, bucket_ms=BUCKET_MS)

    scores = [stats.score_and_push(T0 + second * BUCKET_MS, 2.0) for second in range(6)]

    assert scores == [None] * 6
    assert stats.std == 0.0


def test_the_window_slides_over_old_buckets() -> None:
    stats = RollingStats(window=2, bucket_ms=BUCKET_MS)
    for second, value in enumerate([100.0, 1.0, 3.0, 0.0]):
        stats.score_and_push(T0 + second * BUCKET_MS, value)

    # Completed: 100, 1, 3 → window keeps 1 and 3.
    assert stats.count == 2
    assert stats.mean == pytest.approx(2.0)
    assert stats.std == pytest.approx(math.sqrt(2.0))


def test_reset_forgets_everything() -> None:
    stats = RollingStats(window=3, bucket_ms=BUCKET_MS)
    for second in range(5):
        stats.score_and_push(T0 + second * BUCKET_MS, float(second))

    stats.reset()

    assert (stats.count, stats.mean, stats.std) == (0, None, None)
    assert stats.score_and_push(T0 + 10 * BUCKET_MS, 1.0) is None


@pytest.mark.parametrize(("window", "bucket_ms"), [(1, 1_000), (0, 1_000), (10, 0), (10, -5)])
def test_it_refuses_a_window_that_cannot_give_a_spread(window: int, bucket_ms: int) -> None:
    with pytest.raises(ValueError):
        RollingStats(window=window, bucket_ms=bucket_ms)
