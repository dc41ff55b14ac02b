"""Fault injection for the emulator: by rate (seeded RNG) and by schedule (the n-th event).

Kinds, by where they strike:

* POST (n = the n-th POST to the submit endpoint, counted from 1, every POST counts):
  ``post_429`` (429 with ``Retry-After``), ``post_500`` (500, nothing accepted),
  ``drop`` (connection closed before any answer, nothing accepted or charged),
  ``drop_after`` (the job is accepted, processed and charged, then the connection is closed
  before the 202 reaches the client).
* job (n = the n-th accepted job): ``failed`` (ends FAILED, charged), ``error`` (ends ERROR, not charged).
* status GET (n = the n-th status request): ``slow_status`` (answered after `slow_seconds`),
  ``status_500`` (500 instead of the status).

Spec strings: items separated by ``,`` or ``;``; ``kind=rate`` (0–1) or ``kind@n,m,a-b`` (a schedule),
plus the options ``seed=N``, ``retry_after=S``, ``slow_seconds=S``.

Example:
    >>> plan = FaultPlan.parse("post_429@1,3;failed=0.5", seed=1)
    >>> inj = plan.injector()
    >>> [inj.on_post(n) for n in (1, 2, 3)]
    ['post_429', None, 'post_429']
    >>> FaultPlan.parse("post_429@1,3;failed=0.5").to_spec()
    'failed=0.5;post_429@1,3'
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from zonos_lab.errors import InvalidParameter

POST_KINDS: tuple[str, ...] = ("post_429", "post_500", "drop", "drop_after")
JOB_KINDS: tuple[str, ...] = ("failed", "error")
STATUS_KINDS: tuple[str, ...] = ("slow_status", "status_500")
KINDS: tuple[str, ...] = POST_KINDS + JOB_KINDS + STATUS_KINDS
OPTIONS: tuple[str, ...] = ("seed", "retry_after", "slow_seconds")

_ALLOWED = (f"items 'kind=rate' (rate 0–1) or 'kind@n,m,a-b' (1-based event numbers), separated by ',' or ';'; "
            f"kinds: {', '.join(KINDS)}; options: seed=N, retry_after=S, slow_seconds=S")


def _bad(spec: Any, reason: str) -> InvalidParameter:
    return InvalidParameter("faults", spec, _ALLOWED, reason=reason)


def _parse_numbers(token: str, spec: str) -> set[int]:
    token = token.strip()
    if "-" in token:
        lo_s, hi_s = token.split("-", 1)
        try:
            lo, hi = int(lo_s), int(hi_s)
        except ValueError:
            raise _bad(spec, f"{token!r} is not an event number or range") from None
        if lo < 1 or hi < lo:
            raise _bad(spec, f"range {token!r} must be a-b with 1 <= a <= b")
        return set(range(lo, hi + 1))
    try:
        n = int(token)
    except ValueError:
        raise _bad(spec, f"{token!r} is not an event number") from None
    if n < 1:
        raise _bad(spec, f"event numbers count from 1, got {n}")
    return {n}


@dataclass(frozen=True)
class FaultPlan:
    """Which faults to inject: `rates` (probability per event) and `schedule` (event numbers).

    Example:
        >>> FaultPlan(rates={"error": 0.1}, seed=3).rates["error"]
        0.1
        >>> FaultPlan().active
        False
    """

    rates: dict[str, float] = field(default_factory=dict)
    schedule: dict[str, frozenset[int]] = field(default_factory=dict)
    seed: int = 0
    retry_after: float = 1.0
    slow_seconds: float = 2.0

    def __post_init__(self) -> None:
        for kind, rate in self.rates.items():
            if kind not in KINDS:
                raise _bad(self.rates, f"unknown fault kind {kind!r}")
            if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0.0 <= float(rate) <= 1.0:
                raise _bad(self.rates, f"rate of {kind} must be a number from 0 to 1, got {rate!r}")
        for group in (POST_KINDS, JOB_KINDS, STATUS_KINDS):
            total = sum(float(self.rates.get(k, 0.0)) for k in group)
            if total > 1.0 + 1e-9:
                raise _bad(self.rates, f"rates of {', '.join(group)} add up to {total:g} > 1")
        for kind, numbers in self.schedule.items():
            if kind not in KINDS:
                raise _bad(self.schedule, f"unknown fault kind {kind!r}")
            if any((not isinstance(n, int)) or n < 1 for n in numbers):
                raise _bad(self.schedule, f"schedule of {kind} must hold event numbers >= 1")
        object.__setattr__(self, "schedule", {k: frozenset(v) for k, v in self.schedule.items()})
        object.__setattr__(self, "rates", {k: float(v) for k, v in self.rates.items()})
        if self.retry_after < 0 or self.slow_seconds < 0:
            raise _bad(self.to_spec(), "retry_after and slow_seconds must be >= 0")

    @classmethod
    def parse(cls, spec: str | FaultPlan | None, *, seed: int | None = None) -> FaultPlan:
        """Parse a spec string such as ``"post_429=0.1,drop=0.05"`` or ``"post_429@3,7;drop_after@5"``.

        Example:
            >>> FaultPlan.parse("drop_after@5;slow_status=0.2,slow_seconds=0.5").slow_seconds
            0.5
        """
        if isinstance(spec, FaultPlan):
            return spec
        if spec is None or not str(spec).strip() or str(spec).strip().lower() in ("none", "off"):
            return cls(seed=seed or 0)
        text = str(spec)
        rates: dict[str, float] = {}
        schedule: dict[str, set[int]] = {}
        options: dict[str, float] = {}
        current: str | None = None  # the schedule item that bare numbers continue
        for piece in text.split(";"):
            current = None
            for token in piece.split(","):
                token = token.strip()
                if not token:
                    continue
                if "@" in token:
                    kind, numbers = token.split("@", 1)
                    kind = kind.strip()
                    if kind not in KINDS:
                        raise _bad(text, f"unknown fault kind {kind!r}")
                    schedule.setdefault(kind, set()).update(_parse_numbers(numbers, text))
                    current = kind
                elif "=" in token:
                    name, value = (s.strip() for s in token.split("=", 1))
                    try:
                        number = float(value)
                    except ValueError:
                        raise _bad(text, f"{name}={value!r}: the value must be a number") from None
                    if name in KINDS:
                        rates[name] = number
                    elif name in OPTIONS:
                        options[name] = number
                    else:
                        raise _bad(text, f"unknown fault kind or option {name!r}")
                    current = None
                elif current is not None:
                    schedule[current].update(_parse_numbers(token, text))
                else:
                    raise _bad(text, f"cannot read {token!r}")
        plan_seed = int(options.pop("seed")) if "seed" in options else 0
        if seed is not None:  # an explicit argument wins over the spec's seed=
            plan_seed = int(seed)
        return cls(rates=rates, schedule={k: frozenset(v) for k, v in schedule.items()}, seed=plan_seed,
                   **{k: float(v) for k, v in options.items()})

    @property
    def active(self) -> bool:
        """True when any fault can happen."""
        return any(r > 0 for r in self.rates.values()) or any(self.schedule.values())

    def to_spec(self) -> str:
        """The plan as a spec string (``"none"`` when inactive); `parse` reads it back."""
        items = [f"{k}={v:g}" for k, v in sorted(self.rates.items()) if v > 0]
        for kind, numbers in sorted(self.schedule.items()):
            if numbers:
                items.append(f"{kind}@{','.join(str(n) for n in sorted(numbers))}")
        if not items:
            return "none"
        if self.seed:
            items.append(f"seed={self.seed}")
        if self.retry_after != 1.0:
            items.append(f"retry_after={self.retry_after:g}")
        if self.slow_seconds != 2.0:
            items.append(f"slow_seconds={self.slow_seconds:g}")
        return ";".join(items)

    def injector(self) -> FaultInjector:
        """A fresh, stateful decision maker for this plan (same seed → same decisions)."""
        return FaultInjector(self)


class FaultInjector:
    """Decides, event by event, which fault (if any) strikes. Thread-safe.

    Schedules win over rates. A rate decision depends only on (seed, event group, event number),
    so the n-th POST meets the same fate whatever the timing, and e.g. extra status polls never
    change which jobs fail.
    """

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan

    def _decide(self, group: str, kinds: tuple[str, ...], n: int) -> str | None:
        for kind in kinds:
            if n in self.plan.schedule.get(kind, ()):
                return kind
        if not any(self.plan.rates.get(k, 0.0) > 0 for k in kinds):
            return None
        u = random.Random(f"{self.plan.seed}:{group}:{n}").random()  # a function of (seed, group, n) only
        acc = 0.0
        for kind in kinds:
            acc += self.plan.rates.get(kind, 0.0)
            if u < acc:
                return kind
        return None

    def on_post(self, n: int) -> str | None:
        """Fault for the n-th POST: one of `POST_KINDS` or None."""
        return self._decide("post", POST_KINDS, n)

    def on_job(self, n: int) -> str | None:
        """Fault for the n-th accepted job: ``"failed"``, ``"error"`` or None."""
        return self._decide("job", JOB_KINDS, n)

    def on_status(self, n: int) -> str | None:
        """Fault for the n-th status GET: ``"slow_status"``, ``"status_500"`` or None."""
        return self._decide("status", STATUS_KINDS, n)


__all__ = ["JOB_KINDS", "KINDS", "POST_KINDS", "STATUS_KINDS", "FaultInjector", "FaultPlan"]
