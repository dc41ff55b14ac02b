"""Poll schedules (`PollPolicy`) and retry backoff, pure and seedable.

Example:
    >>> import random
    >>> p = ExponentialPollPolicy(jitter=0.0)
    >>> [round(p.delay(i, None), 2) for i in range(4)]
    [5.0, 7.5, 10.0, 10.0]
"""

from __future__ import annotations

import random
import statistics
from collections import deque
from typing import Protocol, runtime_checkable

SPEC_MAX_POLL = 10.0
DEFAULT_FIRST_POLL = 5.0


@runtime_checkable
class PollPolicy(Protocol):
    """Decides how long to sleep before status poll number ``attempt`` (0 = first)."""

    def delay(self, attempt: int, median_completion: float | None) -> float:
        """Seconds to wait before poll ``attempt`` given the observed median completion time."""
        ...


class ExponentialPollPolicy:
    """First poll at the observed median completion time (or `default_first`), then ×`factor`
    with ±`jitter` relative jitter, never above `max_delay` (the spec's 10 s).

    Example:
        >>> ExponentialPollPolicy(first=1.0, jitter=0).delay(1, None)
        1.5
    """

    def __init__(self, *, first: float | None = None, factor: float = 1.5, max_delay: float = SPEC_MAX_POLL,
                 min_delay: float = 0.05, jitter: float = 0.2, default_first: float = DEFAULT_FIRST_POLL,
                 rng: random.Random | None = None) -> None:
        self.first = first
        self.factor = factor
        self.max_delay = max_delay
        self.min_delay = min_delay
        self.jitter = jitter
        self.default_first = default_first
        self.rng = rng or random.Random()

    def delay(self, attempt: int, median_completion: float | None) -> float:
        first = self.first if self.first is not None else (
            median_completion if median_completion is not None else self.default_first)
        base = min(max(first, self.min_delay) * self.factor ** attempt, self.max_delay)
        if self.jitter:
            base *= 1 + self.rng.uniform(-self.jitter, self.jitter)
        return max(self.min_delay, min(base, self.max_delay))

    def __repr__(self) -> str:
        return (f"ExponentialPollPolicy(first={self.first}, factor={self.factor}, "
                f"max_delay={self.max_delay}, jitter={self.jitter})")


class CompletionStats:
    """Running median of the last `window` observed completion times (seconds)."""

    def __init__(self, window: int = 50) -> None:
        self._values: deque[float] = deque(maxlen=window)

    def add(self, seconds: float) -> None:
        if seconds >= 0:
            self._values.append(float(seconds))

    @property
    def median(self) -> float | None:
        return statistics.median(self._values) if self._values else None

    def __len__(self) -> int:
        return len(self._values)


def backoff(attempt: int, *, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: uniform(0, min(cap, base·2^attempt)).

    Example:
        >>> 0 <= backoff(3, rng=random.Random(1)) <= 4.0
        True
    """
    return (rng or random).uniform(0, min(cap, base * 2 ** attempt))
