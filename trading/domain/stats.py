"""Rolling statistics of the basis. Floats are fine here: these are filters and charts, never order prices.

The window is in time, not in ticks (tick rates vary by venue and hour): values are averaged into buckets
of `bucket_ms` and the mean and standard deviation are taken over the last `window` completed buckets.
Per tick this is a bucket accumulation and one subtraction and division for the z-score.
"""

from __future__ import annotations

import math
from collections import deque


class RollingStats:
    __slots__ = (
        "_bucket",
        "_bucket_count",
        "_bucket_sum",
        "_buckets",
        "_sum",
        "_sum_sq",
        "bucket_ms",
        "mean",
        "std",
        "window",
    )

    def __init__(self, window: int, bucket_ms: int = 1_000) -> None:
        if window < 2:
            raise ValueError("window must be at least 2 buckets")
        if bucket_ms <= 0:
            raise ValueError("bucket_ms must be positive")
        self.window = window
        self.bucket_ms = bucket_ms
        self._buckets: deque[float] = deque()
        self._sum = 0.0
        self._sum_sq = 0.0
        self._bucket: int | None = None
        self._bucket_sum = 0.0
        self._bucket_count = 0
        self.mean: float | None = None
        self.std: float | None = None

    def score_and_push(self, ts_ms: int, value: float) -> float | None:
        """Add `value` observed at `ts_ms` and return its z-score against the completed buckets."""
        bucket = ts_ms // self.bucket_ms
        if bucket != self._bucket:
            if self._bucket_count:
                self._close_bucket(self._bucket_sum / self._bucket_count)
            self._bucket = bucket
            self._bucket_sum = 0.0
            self._bucket_count = 0
        self._bucket_sum += value
        self._bucket_count += 1
        std = self.std
        if not std:
            return None
        return (value - self.mean) / std  # type: ignore[operator]

    def _close_bucket(self, value: float) -> None:
        buckets = self._buckets
        buckets.append(value)
        self._sum += value
        self._sum_sq += value * value
        if len(buckets) > self.window:
            old = buckets.popleft()
            self._sum -= old
            self._sum_sq -= old * old
        n = len(buckets)
        self.mean = self._sum / n
        if n > 1:
            variance = (self._sum_sq - self._sum * self._sum / n) / (n - 1)
            self.std = math.sqrt(variance) if variance > 0 else 0.0

    def reset(self) -> None:
        self._buckets.clear()
        self._sum = self._sum_sq = 0.0
        self._bucket = None
        self._bucket_sum = 0.0
        self._bucket_count = 0
        self.mean = self.std = None

    @property
    def count(self) -> int:
        return len(self._buckets)
