"""The circuit breaker: a pure state machine over frozen values, and where breakers live.

::

    CLOSED --(threshold consecutive failed runs)--> OPEN
    OPEN --(reset_time elapsed; next admit takes the one probe slot)--> HALF_OPEN
    HALF_OPEN --(probe succeeds)--> CLOSED
    HALF_OPEN --(probe fails)--> OPEN (opened_at = now)

``admit`` and ``record`` are pure: ``(breaker, policy, now) -> breaker`` (plus an
``Admission`` for ``admit``), tested as step sequences with an injected clock. A
``BreakerStore`` applies them atomically to a shared breaker (read-modify-write under a
lock or a row lock), so every worker sees the same breaker and exactly one of them gets
the half-open probe.

Decisions where SPEC §4 is silent:

- A probe whose holder died (cancelled, crashed worker) would hold the half-open slot
  forever. After another ``reset_time`` without a result the slot is considered stale
  and the next ``admit`` retakes it as a new probe.
- ``record`` cannot tell the probe from a straggler admitted while the breaker was still
  CLOSED; in HALF_OPEN any result counts as the probe's. In OPEN a straggler's failure is
  counted but does not move ``opened_at`` (it must not prolong the open period); any
  success closes the breaker, since the service demonstrably answered.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol, TypeVar, runtime_checkable

from wfmon.config.specs import RetryProfile

__all__ = [
    "Admission",
    "Breaker",
    "BreakerPolicy",
    "BreakerState",
    "BreakerStore",
    "InMemoryBreakerStore",
    "SyncBreakerStore",
    "admit",
    "record",
    "reset",
]

T = TypeVar("T")


class BreakerState(enum.StrEnum):
    """Where a breaker is in its cycle."""

    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


class Admission(enum.StrEnum):
    """What ``admit`` decided for one call."""

    ALLOWED = "allowed"  # breaker closed: call normally
    PROBE = "probe"  # half-open: this call alone tests the service
    REJECTED = "rejected"  # open, or another probe in flight: fail fast, no call


@dataclass(frozen=True, slots=True)
class Breaker:
    """One breaker's state, as stored."""

    state: BreakerState = BreakerState.CLOSED
    consecutive_failures: int = 0
    opened_at: datetime | None = None  # when it last went OPEN; drives the reset timer
    probe_started_at: datetime | None = None  # set while a half-open probe is out

    @property
    def probe_in_flight(self) -> bool:
        """Whether a half-open probe has been admitted and has not reported yet."""
        return self.probe_started_at is not None


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When a breaker opens and how long it stays open."""

    threshold: int
    reset_time_ms: int

    def __post_init__(self) -> None:
        if self.threshold < 1:
            raise ValueError(f"circuit breaker threshold must be >= 1, got {self.threshold}")
        if self.reset_time_ms < 0:
            raise ValueError(f"circuit breaker reset time must be >= 0, got {self.reset_time_ms}")

    @classmethod
    def from_profile(cls, profile: RetryProfile) -> BreakerPolicy:
        """The policy a retry profile declares."""
        return cls(
            threshold=profile.circuit_breaker_threshold,
            reset_time_ms=profile.circuit_breaker_reset_time_ms,
        )

    @property
    def reset_time(self) -> timedelta:
        """``reset_time_ms`` as a timedelta."""
        return timedelta(milliseconds=self.reset_time_ms)


def admit(breaker: Breaker, *, policy: BreakerPolicy, now: datetime) -> tuple[Breaker, Admission]:
    """Whether a call may go ahead now, and the breaker after deciding."""
    if breaker.state is BreakerState.CLOSED:
        return breaker, Admission.ALLOWED
    if breaker.state is BreakerState.OPEN:
        if breaker.opened_at is not None and now - breaker.opened_at < policy.reset_time:
            return breaker, Admission.REJECTED
        # Reset time is over (or the stored row lost its timestamp): this call probes.
        probing = replace(breaker, state=BreakerState.HALF_OPEN, probe_started_at=now)
        return probing, Admission.PROBE
    started = breaker.probe_started_at
    if started is not None and now - started < policy.reset_time:
        return breaker, Admission.REJECTED
    # No probe out, or its holder has been silent for a whole reset time: retake the slot.
    return replace(breaker, probe_started_at=now), Admission.PROBE


def record(breaker: Breaker, *, policy: BreakerPolicy, success: bool, now: datetime) -> Breaker:
    """The breaker after a run admitted by ``admit`` finished."""
    if success:
        return reset()
    failures = breaker.consecutive_failures + 1
    if breaker.state is BreakerState.HALF_OPEN:
        return Breaker(state=BreakerState.OPEN, consecutive_failures=failures, opened_at=now)
    if breaker.state is BreakerState.OPEN:
        return replace(breaker, consecutive_failures=failures)
    if failures >= policy.threshold:
        return Breaker(state=BreakerState.OPEN, consecutive_failures=failures, opened_at=now)
    return replace(breaker, consecutive_failures=failures)


def reset() -> Breaker:
    """A closed breaker with no failures: the initial state and the manual reset."""
    return Breaker()


class BreakerStore(Protocol):
    """Where breakers live for async callers; ``transition`` is an atomic read-modify-write."""

    async def transition(self, key: str, fn: Callable[[Breaker], tuple[Breaker, T]]) -> T:
        """Apply ``fn`` to the breaker at ``key`` atomically, store its breaker, return its T."""
        ...

    async def get(self, key: str) -> Breaker:
        """The breaker at ``key``; a fresh closed one if none is stored."""
        ...

    async def reset(self, key: str) -> None:
        """Close the breaker at ``key`` and forget its failures."""
        ...


@runtime_checkable
class SyncBreakerStore(Protocol):
    """The blocking twin of ``BreakerStore``, for synchronous callers."""

    def transition_sync(self, key: str, fn: Callable[[Breaker], tuple[Breaker, T]]) -> T:
        """Blocking ``BreakerStore.transition``."""
        ...

    def get_sync(self, key: str) -> Breaker:
        """Blocking ``BreakerStore.get``."""
        ...

    def reset_sync(self, key: str) -> None:
        """Blocking ``BreakerStore.reset``."""
        ...


class InMemoryBreakerStore:
    """Breakers in a dict: one process only; the library default and the tests' store.

    Only a ``threading.Lock``: the critical section calls a pure function and never
    awaits, so holding it is atomic for asyncio tasks and threads alike, and unlike an
    ``asyncio.Lock`` it is not bound to one event loop (sync callers may each run their
    own).
    """

    def __init__(self) -> None:
        self._breakers: dict[str, Breaker] = {}
        self._lock = threading.Lock()

    def transition_sync(self, key: str, fn: Callable[[Breaker], tuple[Breaker, T]]) -> T:
        """Apply ``fn`` to the breaker at ``key`` atomically, store its breaker, return its T."""
        with self._lock:
            breaker, outcome = fn(self._breakers.get(key, Breaker()))
            self._breakers[key] = breaker
            return outcome

    def get_sync(self, key: str) -> Breaker:
        """The breaker at ``key``; a fresh closed one if none is stored."""
        with self._lock:
            return self._breakers.get(key, Breaker())

    def reset_sync(self, key: str) -> None:
        """Close the breaker at ``key`` and forget its failures."""
        with self._lock:
            self._breakers.pop(key, None)

    async def transition(self, key: str, fn: Callable[[Breaker], tuple[Breaker, T]]) -> T:
        """Apply ``fn`` to the breaker at ``key`` atomically, store its breaker, return its T."""
        return self.transition_sync(key, fn)

    async def get(self, key: str) -> Breaker:
        """The breaker at ``key``; a fresh closed one if none is stored."""
        return self.get_sync(key)

    async def reset(self, key: str) -> None:
        """Close the breaker at ``key`` and forget its failures."""
        self.reset_sync(key)
