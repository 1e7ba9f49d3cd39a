"""Retry with backoff behind a circuit breaker: the library API of SPEC §4.

Composes the pure pieces: ``tasks.classify`` (is it worth retrying?), ``tasks.backoff``
(how long to wait?) and ``tasks.breaker`` (may we call at all?). Everything that touches
the outside world is injected: ``sleep``, ``clock`` (aware UTC ``datetime``), ``rng`` and
the breaker store, so tests never sleep for real.

Async first, sync twin: the seed's names (``with_retry``, ``with_aggressive_retry``,
``with_fast_retry``, ``RetrySystem.execute_with_retry``, ``get_circuit_breaker_state``,
``reset_circuit_breaker``) are coroutines taking ``Callable[[], Awaitable[T]]``; each
has a blocking twin with a ``_sync`` suffix taking ``Callable[[], T]``. Two explicit
names type-check cleanly and avoid guessing whether a callable (a lambda, a partial)
returns a coroutine.

Expected failures are data: a call that fails after its retries, or that an open breaker
rejected, comes back as ``RetryResult(success=False, ...)``. Only ``BaseException``s that
are not ``Exception``s (cancellation, KeyboardInterrupt) propagate; a probe cancelled that
way holds the breaker's probe slot until it goes stale (see ``tasks.breaker``).

Exceptions::

    Exception
     +-- RetryableError     raised by callers (e.g. step probes) to report a classified
     |                      failure: ``error_type`` and optional ``retry_after_ms``
     +-- CircuitOpenError   never raised here: the ``error`` of a result the breaker rejected
    ValueError              a config that is not a valid retry profile (our fault, raised)
    TypeError               a ``_sync`` call on a breaker store without a sync interface

Breakers count failed *runs* (one ``execute_with_retry``), not attempts: SPEC §4 opens
the breaker after ``circuit_breaker_threshold`` consecutive failed runs.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeAlias, TypedDict, TypeVar, Unpack

import pydantic

from tasks.backoff import delay_ms
from tasks.breaker import (
    Admission,
    Breaker,
    BreakerPolicy,
    BreakerState,
    BreakerStore,
    InMemoryBreakerStore,
    SyncBreakerStore,
    admit,
    record,
)
from tasks.classify import classify_exception, is_retryable, requested_delay_ms
from wfmon.config.profiles import BUILTIN_RETRY_PROFILES
from wfmon.config.specs import RetryProfile
from wfmon.results import ErrorType

__all__ = [
    "BUILTIN_PROFILES",
    "DEFAULT_BREAKERS",
    "AttemptEvent",
    "CircuitOpenError",
    "EnhancedRetrySystem",
    "ProfileLike",
    "RetryResult",
    "RetrySystem",
    "RetryableError",
    "resolve_profile",
    "with_aggressive_retry",
    "with_aggressive_retry_sync",
    "with_fast_retry",
    "with_fast_retry_sync",
    "with_retry",
    "with_retry_sync",
]

T = TypeVar("T")

# One source of truth for the built-ins: the config package defines them (SPEC §4).
BUILTIN_PROFILES: Mapping[str, RetryProfile] = BUILTIN_RETRY_PROFILES
_STANDARD = BUILTIN_PROFILES["standard"]
"""The built-in retry profiles by name, aliases included (SPEC §4)."""

ProfileLike: TypeAlias = RetryProfile | Mapping[str, Any] | str | None
"""A profile, a partial mapping of profile fields over ``standard``, a built-in name, or None."""

Clock: TypeAlias = Callable[[], datetime]
AsyncSleep: TypeAlias = Callable[[float], Awaitable[None]]
SyncSleep: TypeAlias = Callable[[float], None]

# Process-wide so that separate ``with_retry`` calls for one name share a breaker, as the
# seed's module-level retry system did. ``RetrySystem`` instances get their own.
DEFAULT_BREAKERS = InMemoryBreakerStore()
"""The breaker store ``with_retry`` and friends use when given none."""


class RetryableError(Exception):
    """A failure the caller already classified, e.g. a probe's HTTP 503 or failed assertion."""

    def __init__(
        self, message: str, *, error_type: ErrorType, retry_after_ms: float | None = None
    ) -> None:
        super().__init__(message)
        self.error_type = error_type
        # Set when the server said when to come back (Retry-After), in milliseconds.
        self.retry_after_ms = retry_after_ms


class CircuitOpenError(Exception):
    """The breaker for ``name`` rejected the call; nothing was sent."""

    def __init__(self, name: str) -> None:
        super().__init__(f"circuit breaker {name!r} is open: call not attempted")
        self.name = name


@dataclass(frozen=True, slots=True)
class RetryResult(Generic[T]):
    """How a retried call ended (the seed's ``RetryResult``)."""

    success: bool
    data: T | None
    error: Exception | None
    attempts: int  # 0 when an open breaker rejected the call
    total_duration_ms: float  # on the injected clock, delays included
    error_type: ErrorType | None

    @property
    def circuit_open(self) -> bool:
        """Whether the call was skipped because its breaker was open."""
        return isinstance(self.error, CircuitOpenError)


@dataclass(frozen=True, slots=True)
class AttemptEvent:
    """One finished attempt, for the ``on_attempt`` hook (spans, log lines, metrics)."""

    name: str
    attempt: int  # 1-based
    error_type: ErrorType | None  # None: this attempt succeeded
    error: Exception | None
    delay_ms: float | None  # the wait before the next attempt; None: no next attempt

    @property
    def will_retry(self) -> bool:
        """Whether another attempt follows this one."""
        return self.delay_ms is not None


OnAttempt: TypeAlias = Callable[[AttemptEvent], None]


def resolve_profile(config: ProfileLike = None) -> RetryProfile:
    """The retry profile ``config`` stands for; ValueError if it is not a valid one."""
    if config is None:
        profile = _STANDARD
    elif isinstance(config, RetryProfile):
        profile = config
    elif isinstance(config, str):
        try:
            profile = BUILTIN_PROFILES[config]
        except KeyError:
            known = ", ".join(sorted(BUILTIN_PROFILES))
            raise ValueError(f"unknown retry profile {config!r} (known: {known})") from None
    else:
        try:
            profile = RetryProfile.model_validate({**_STANDARD.model_dump(), **config})
        except pydantic.ValidationError as exc:
            # Re-raised as ValueError so callers need not import pydantic to catch it.
            raise ValueError(f"invalid retry config: {exc}") from exc
    _check(profile)
    return profile


def _check(profile: RetryProfile) -> None:
    problems = [
        message
        for bad, message in (
            (profile.max_attempts < 1, "max_attempts must be >= 1"),
            (profile.initial_delay_ms < 0, "initial_delay_ms must be >= 0"),
            (profile.max_delay_ms < 0, "max_delay_ms must be >= 0"),
            (profile.backoff_multiplier < 1, "backoff_multiplier must be >= 1"),
            (not 0 <= profile.jitter_factor <= 1, "jitter_factor must be within 0..1"),
            (profile.circuit_breaker_threshold < 1, "circuit_breaker_threshold must be >= 1"),
            (profile.circuit_breaker_reset_time_ms < 0, "circuit_breaker_reset_time_ms >= 0"),
        )
        if bad
    ]
    if problems:
        raise ValueError("invalid retry profile: " + "; ".join(problems))


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _elapsed_ms(start: datetime, end: datetime) -> float:
    # A wall clock can step backwards (NTP); a negative duration would be nonsense.
    return max(0.0, (end - start).total_seconds() * 1000.0)


class RetrySystem:
    """Retries calls per one profile behind per-name breakers (seed: ``EnhancedRetrySystem``)."""

    def __init__(
        self,
        config: ProfileLike = None,
        *,
        breakers: BreakerStore | None = None,
        sleep: AsyncSleep | None = None,
        sleep_sync: SyncSleep | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.profile = resolve_profile(config)
        self._policy = BreakerPolicy.from_profile(self.profile)
        self._breakers: BreakerStore = breakers if breakers is not None else InMemoryBreakerStore()
        self._sleep: AsyncSleep = sleep if sleep is not None else asyncio.sleep
        self._sleep_sync: SyncSleep = sleep_sync if sleep_sync is not None else time.sleep
        self._clock: Clock = clock if clock is not None else _utc_now
        # Jitter exists to de-synchronise workers, so the default is an unseeded generator.
        self._rng = rng if rng is not None else random.Random()

    # -- async ---------------------------------------------------------------------------

    async def execute_with_retry(
        self, fn: Callable[[], Awaitable[T]], name: str, *, on_attempt: OnAttempt | None = None
    ) -> RetryResult[T]:
        """Await ``fn`` until it succeeds, a failure is not worth retrying, or attempts run out."""
        started = self._clock()
        if self.profile.enable_circuit_breaker:
            admission = await self._breakers.transition(name, self._admit(started))
            if admission is Admission.REJECTED:
                return _rejected(name)
        attempt = 0
        while True:
            attempt += 1
            try:
                data = await fn()
            except Exception as exc:
                step = self._after_failure(exc, name=name, attempt=attempt, on_attempt=on_attempt)
                if step.delay_ms is None:
                    result = self._failed(exc, step.error_type, attempt, started)
                    break
                await self._sleep(step.delay_ms / 1000.0)
            else:
                result = self._succeeded(data, name, attempt, started, on_attempt)
                break
        if self.profile.enable_circuit_breaker:
            await self._breakers.transition(name, self._record(success=result.success))
        return result

    async def get_circuit_breaker_state(self, name: str) -> BreakerState:
        """The state of the breaker for ``name`` (CLOSED if it never failed)."""
        return (await self._breakers.get(name)).state

    async def reset_circuit_breaker(self, name: str) -> None:
        """Close the breaker for ``name`` and forget its failures."""
        await self._breakers.reset(name)

    # -- sync ----------------------------------------------------------------------------

    def execute_with_retry_sync(
        self, fn: Callable[[], T], name: str, *, on_attempt: OnAttempt | None = None
    ) -> RetryResult[T]:
        """Blocking ``execute_with_retry``: call ``fn`` until it succeeds or retries run out."""
        breakers = self._sync_breakers()
        started = self._clock()
        if self.profile.enable_circuit_breaker:
            admission = breakers.transition_sync(name, self._admit(started))
            if admission is Admission.REJECTED:
                return _rejected(name)
        attempt = 0
        while True:
            attempt += 1
            try:
                data = fn()
            except Exception as exc:
                step = self._after_failure(exc, name=name, attempt=attempt, on_attempt=on_attempt)
                if step.delay_ms is None:
                    result = self._failed(exc, step.error_type, attempt, started)
                    break
                self._sleep_sync(step.delay_ms / 1000.0)
            else:
                result = self._succeeded(data, name, attempt, started, on_attempt)
                break
        if self.profile.enable_circuit_breaker:
            breakers.transition_sync(name, self._record(success=result.success))
        return result

    def get_circuit_breaker_state_sync(self, name: str) -> BreakerState:
        """Blocking ``get_circuit_breaker_state``."""
        return self._sync_breakers().get_sync(name).state

    def reset_circuit_breaker_sync(self, name: str) -> None:
        """Blocking ``reset_circuit_breaker``."""
        self._sync_breakers().reset_sync(name)

    # -- shared decisions ----------------------------------------------------------------

    def _sync_breakers(self) -> SyncBreakerStore:
        if not isinstance(self._breakers, SyncBreakerStore):
            raise TypeError(f"{type(self._breakers).__name__} has no sync interface")
        return self._breakers

    def _admit(self, now: datetime) -> Callable[[Breaker], tuple[Breaker, Admission]]:
        return lambda breaker: admit(breaker, policy=self._policy, now=now)

    def _record(self, *, success: bool) -> Callable[[Breaker], tuple[Breaker, None]]:
        # The clock is read inside the transition so opened_at is the moment it is written.
        return lambda breaker: (
            record(breaker, policy=self._policy, success=success, now=self._clock()),
            None,
        )

    def _after_failure(
        self, exc: Exception, *, name: str, attempt: int, on_attempt: OnAttempt | None
    ) -> _Step:
        error_type = classify_exception(exc)
        delay: float | None = None
        if attempt < self.profile.max_attempts and is_retryable(error_type, attempt=attempt):
            delay = delay_ms(
                self.profile,
                attempt=attempt,
                rng=self._rng,
                retry_after_ms=requested_delay_ms(exc, now=self._clock()),
            )
        if on_attempt is not None:
            on_attempt(AttemptEvent(name, attempt, error_type, exc, delay))
        return _Step(error_type, delay)

    def _succeeded(
        self, data: T, name: str, attempt: int, started: datetime, on_attempt: OnAttempt | None
    ) -> RetryResult[T]:
        if on_attempt is not None:
            on_attempt(AttemptEvent(name, attempt, None, None, None))
        return RetryResult(
            success=True,
            data=data,
            error=None,
            attempts=attempt,
            total_duration_ms=_elapsed_ms(started, self._clock()),
            error_type=None,
        )

    def _failed(
        self, exc: Exception, error_type: ErrorType, attempt: int, started: datetime
    ) -> RetryResult[Any]:
        return RetryResult(
            success=False,
            data=None,
            error=exc,
            attempts=attempt,
            total_duration_ms=_elapsed_ms(started, self._clock()),
            error_type=error_type,
        )


EnhancedRetrySystem = RetrySystem
"""The seed's (and SPEC §4's) name for ``RetrySystem``."""


@dataclass(frozen=True, slots=True)
class _Step:
    error_type: ErrorType
    delay_ms: float | None  # None: give up


def _rejected(name: str) -> RetryResult[Any]:
    return RetryResult(
        success=False,
        data=None,
        error=CircuitOpenError(name),
        attempts=0,
        total_duration_ms=0.0,
        error_type=None,
    )


class _AsyncOptions(TypedDict, total=False):
    """The keyword options of ``with_retry``, passed on by its per-profile variants."""

    breakers: BreakerStore | None
    sleep: AsyncSleep | None
    clock: Clock | None
    rng: random.Random | None
    on_attempt: OnAttempt | None


class _SyncOptions(TypedDict, total=False):
    """The keyword options of ``with_retry_sync``, passed on by its per-profile variants."""

    breakers: BreakerStore | None
    sleep: SyncSleep | None
    clock: Clock | None
    rng: random.Random | None
    on_attempt: OnAttempt | None


async def with_retry(
    fn: Callable[[], Awaitable[T]],
    name: str,
    config: ProfileLike = None,
    *,
    breakers: BreakerStore | None = None,
    sleep: AsyncSleep | None = None,
    clock: Clock | None = None,
    rng: random.Random | None = None,
    on_attempt: OnAttempt | None = None,
) -> RetryResult[T]:
    """Await ``fn`` with retries per ``config`` (default: standard); breaker keyed by ``name``."""
    system = RetrySystem(
        config,
        breakers=breakers if breakers is not None else DEFAULT_BREAKERS,
        sleep=sleep,
        clock=clock,
        rng=rng,
    )
    return await system.execute_with_retry(fn, name, on_attempt=on_attempt)


async def with_aggressive_retry(
    fn: Callable[[], Awaitable[T]], name: str, **options: Unpack[_AsyncOptions]
) -> RetryResult[T]:
    """``with_retry`` with the ``aggressive`` profile: 5 attempts, slower backoff."""
    return await with_retry(fn, name, "aggressive", **options)


async def with_fast_retry(
    fn: Callable[[], Awaitable[T]], name: str, **options: Unpack[_AsyncOptions]
) -> RetryResult[T]:
    """``with_retry`` with the ``fast`` profile: 2 attempts, no breaker."""
    return await with_retry(fn, name, "fast", **options)


def with_retry_sync(
    fn: Callable[[], T],
    name: str,
    config: ProfileLike = None,
    *,
    breakers: BreakerStore | None = None,
    sleep: SyncSleep | None = None,
    clock: Clock | None = None,
    rng: random.Random | None = None,
    on_attempt: OnAttempt | None = None,
) -> RetryResult[T]:
    """Blocking ``with_retry``."""
    system = RetrySystem(
        config,
        breakers=breakers if breakers is not None else DEFAULT_BREAKERS,
        sleep_sync=sleep,
        clock=clock,
        rng=rng,
    )
    return system.execute_with_retry_sync(fn, name, on_attempt=on_attempt)


def with_aggressive_retry_sync(
    fn: Callable[[], T], name: str, **options: Unpack[_SyncOptions]
) -> RetryResult[T]:
    """Blocking ``with_aggressive_retry``."""
    return with_retry_sync(fn, name, "aggressive", **options)


def with_fast_retry_sync(
    fn: Callable[[], T], name: str, **options: Unpack[_SyncOptions]
) -> RetryResult[T]:
    """Blocking ``with_fast_retry``."""
    return with_retry_sync(fn, name, "fast", **options)
