"""The retry library end to end: injected sleep and clock, async and sync twins, breakers."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tasks.backoff import delay_schedule
from tasks.breaker import Breaker, BreakerState, InMemoryBreakerStore
from tasks.retry import (
    BUILTIN_PROFILES,
    DEFAULT_BREAKERS,
    AttemptEvent,
    CircuitOpenError,
    EnhancedRetrySystem,
    ProfileLike,
    RetryableError,
    RetryResult,
    RetrySystem,
    resolve_profile,
    with_aggressive_retry,
    with_aggressive_retry_sync,
    with_fast_retry,
    with_fast_retry_sync,
    with_retry,
    with_retry_sync,
)
from tests.resilience.fakes import FakeClock
from wfmon.results import ErrorType

E = ErrorType
NO_JITTER = {"jitter_factor": 0}


def transient() -> RetryableError:
    return RetryableError("HTTP 503", error_type=E.TRANSIENT)


def permanent() -> RetryableError:
    return RetryableError("HTTP 404", error_type=E.PERMANENT)


def assertion() -> RetryableError:
    return RetryableError("status (200) == 201", error_type=E.ASSERTION)


def rate_limited(retry_after_ms: float | None = None) -> RetryableError:
    return RetryableError("HTTP 429", error_type=E.RATE_LIMIT, retry_after_ms=retry_after_ms)


@dataclass
class Script:
    """A callable that raises the given failures in order, then returns ``value``."""

    failures: list[Exception]
    value: str = "ok"
    calls: int = 0

    def call_sync(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return self.value

    async def call_async(self) -> str:
        await asyncio.sleep(0)
        return self.call_sync()


@dataclass
class Harness:
    """One retry system on a fake clock, run the async or the sync way."""

    mode: str
    clock: FakeClock = field(default_factory=FakeClock)
    breakers: InMemoryBreakerStore = field(default_factory=InMemoryBreakerStore)
    events: list[AttemptEvent] = field(default_factory=list)

    def system(self, config: ProfileLike = None) -> RetrySystem:
        return RetrySystem(
            config,
            breakers=self.breakers,
            sleep=self.clock.sleep,
            sleep_sync=self.clock.sleep_sync,
            clock=self.clock,
            rng=random.Random(0),
        )

    async def run(self, script: Script, config: ProfileLike = None, name: str = "w") -> Any:
        system = self.system(config)
        if self.mode == "async":
            return await system.execute_with_retry(
                script.call_async, name, on_attempt=self.events.append
            )
        return system.execute_with_retry_sync(script.call_sync, name, on_attempt=self.events.append)

    async def state(self, name: str = "w") -> BreakerState:
        if self.mode == "async":
            return await self.system().get_circuit_breaker_state(name)
        return self.system().get_circuit_breaker_state_sync(name)

    async def reset(self, name: str = "w") -> None:
        if self.mode == "async":
            await self.system().reset_circuit_breaker(name)
        else:
            self.system().reset_circuit_breaker_sync(name)


@pytest.fixture(params=["async", "sync"])
def harness(request: pytest.FixtureRequest) -> Harness:
    return Harness(mode=request.param)


FIVE = {**NO_JITTER, "max_attempts": 5}

OUTCOMES: list[tuple[str, dict[str, Any], list[Exception], int, ErrorType | None, list[float]]] = [
    # (name, config, failures before success, attempts, final error type, delays slept)
    ("first try succeeds", NO_JITTER, [], 1, None, []),
    ("transient once", NO_JITTER, [transient()], 2, None, [1000]),
    ("transient twice", NO_JITTER, [transient(), transient()], 3, None, [1000, 2000]),
    ("transient exhausts", NO_JITTER, [transient()] * 3, 3, E.TRANSIENT, [1000, 2000]),
    ("transient 4x, 5 attempts", FIVE, [transient()] * 4, 5, None, [1000, 2000, 4000, 8000]),
    ("permanent tried once", FIVE, [permanent()], 1, E.PERMANENT, []),
    ("assertion tried once", FIVE, [assertion()], 1, E.ASSERTION, []),
    ("unknown at most twice", FIVE, [ValueError("bug")] * 5, 2, E.UNKNOWN, [1000]),
    ("unknown once then success", FIVE, [ValueError("bug")], 2, None, [1000]),
    ("unknown on attempt 2 not retried", FIVE, [transient(), KeyError("x")], 2, E.UNKNOWN, [1000]),
    ("timeout retried", NO_JITTER, [httpx.ReadTimeout("slow")], 2, None, [1000]),
    ("network retried", NO_JITTER, [httpx.ConnectError("refused")] * 2, 3, None, [1000, 2000]),
    ("retry-after honoured", NO_JITTER, [rate_limited(2500)], 2, None, [2500]),
    ("retry-after capped", NO_JITTER, [rate_limited(999_999)], 2, None, [30_000]),
    ("rate limit w/o retry-after", NO_JITTER, [rate_limited()], 2, None, [1000]),
    ("retry-after mid-way", FIVE, [transient(), rate_limited(5000)], 3, None, [1000, 5000]),
]


@pytest.mark.parametrize(
    ("name", "config", "failures", "attempts", "error_type", "slept"),
    OUTCOMES,
    ids=[row[0] for row in OUTCOMES],
)
async def test_outcomes(
    harness: Harness,
    name: str,
    config: dict[str, Any],
    failures: list[Exception],
    attempts: int,
    error_type: ErrorType | None,
    slept: list[float],
) -> None:
    script = Script(list(failures))
    result = await harness.run(script, config)
    assert (result.attempts, result.error_type, harness.clock.slept_ms) == (
        attempts,
        error_type,
        slept,
    )
    assert script.calls == attempts
    assert result.success is (error_type is None)
    assert result.data == ("ok" if result.success else None)
    if not result.success:
        assert result.error is failures[attempts - 1]
    # The fake clock only moves when slept on, so the duration is exactly the delays.
    assert result.total_duration_ms == sum(slept)


async def test_attempt_events(harness: Harness) -> None:
    await harness.run(Script([transient(), rate_limited(2500)]), NO_JITTER)
    assert [(e.attempt, e.error_type, e.delay_ms, e.will_retry) for e in harness.events] == [
        (1, E.TRANSIENT, 1000, True),
        (2, E.RATE_LIMIT, 2500, True),
        (3, None, None, False),
    ]
    assert {e.name for e in harness.events} == {"w"}


async def test_last_attempt_event_says_no_retry(harness: Harness) -> None:
    await harness.run(Script([transient()] * 3), NO_JITTER)
    assert [e.delay_ms for e in harness.events] == [1000, 2000, None]


# -- breakers -------------------------------------------------------------------------------


async def test_open_breaker_fails_fast(harness: Harness) -> None:
    opened = Breaker(BreakerState.OPEN, 5, opened_at=harness.clock.now)
    harness.breakers.transition_sync("w", lambda _: (opened, None))
    script = Script([])
    result = await harness.run(script)
    assert (result.success, result.attempts, result.error_type) == (False, 0, None)
    assert isinstance(result.error, CircuitOpenError)
    assert result.circuit_open
    assert (script.calls, harness.clock.slept_ms, result.total_duration_ms) == (0, [], 0.0)
    assert harness.events == []


async def test_breaker_counts_failed_runs_then_probes(harness: Harness) -> None:
    # aggressive: threshold 3 runs, reset after 30 s.
    failing = Script([permanent()] * 4)
    for _ in range(3):
        assert (await harness.run(failing, "aggressive")).attempts == 1
    assert await harness.state() is BreakerState.OPEN
    assert (await harness.run(failing, "aggressive")).attempts == 0
    assert failing.calls == 3

    harness.clock.advance(30_000)
    probe = await harness.run(failing, "aggressive")  # the probe fails: open again
    assert (probe.attempts, failing.calls) == (1, 4)
    assert await harness.state() is BreakerState.OPEN
    assert (await harness.run(Script([]), "aggressive")).circuit_open

    harness.clock.advance(30_000)
    assert (await harness.run(Script([]), "aggressive")).success
    assert await harness.state() is BreakerState.CLOSED


async def test_retries_within_a_run_do_not_open_the_breaker(harness: Harness) -> None:
    # 5 failed attempts in one run are one failed run; threshold is 3 runs.
    await harness.run(Script([transient()] * 5), "aggressive")
    assert await harness.state() is BreakerState.CLOSED
    assert harness.breakers.get_sync("w").consecutive_failures == 1


async def test_manual_reset(harness: Harness) -> None:
    for _ in range(3):
        await harness.run(Script([permanent()]), "aggressive")
    assert await harness.state() is BreakerState.OPEN
    await harness.reset()
    assert await harness.state() is BreakerState.CLOSED
    assert (await harness.run(Script([]), "aggressive")).success


async def test_breakers_are_per_name(harness: Harness) -> None:
    for _ in range(3):
        await harness.run(Script([permanent()]), "aggressive", name="a@prod")
    assert await harness.state("a@prod") is BreakerState.OPEN
    assert await harness.state("a@staging") is BreakerState.CLOSED
    assert (await harness.run(Script([]), "aggressive", name="a@staging")).success


async def test_fast_profile_has_no_breaker(harness: Harness) -> None:
    script = Script([permanent()] * 20)
    for _ in range(20):
        assert (await harness.run(script, "fast")).attempts == 1
    assert await harness.state() is BreakerState.CLOSED
    assert harness.breakers.get_sync("w") == Breaker()  # never even written


async def test_only_one_of_eight_concurrent_runs_probes() -> None:
    clock = FakeClock()
    breakers = InMemoryBreakerStore()
    half_open = Breaker(BreakerState.HALF_OPEN, 3, opened_at=clock.now, probe_started_at=None)
    breakers.transition_sync("w", lambda _: (half_open, None))
    system = RetrySystem("aggressive", breakers=breakers, sleep=clock.sleep, clock=clock)
    release = asyncio.Event()
    calls = 0

    async def slow_call() -> str:
        nonlocal calls
        calls += 1
        await release.wait()  # keep the probe in flight while the others arrive
        return "ok"

    runs = [asyncio.create_task(system.execute_with_retry(slow_call, "w")) for _ in range(8)]
    for _ in range(100):  # bounded: a broken store must fail the test, not hang it
        if sum(run.done() for run in runs) == 7:
            break
        await asyncio.sleep(0)
    assert sum(run.done() for run in runs) == 7
    release.set()
    results = await asyncio.gather(*runs)
    assert calls == 1
    assert sorted(r.attempts for r in results) == [0] * 7 + [1]
    assert await system.get_circuit_breaker_state("w") is BreakerState.CLOSED


async def test_base_exceptions_propagate(harness: Harness) -> None:
    class Abort(BaseException):
        pass

    script = Script([Abort()])  # type: ignore[list-item]
    with pytest.raises(Abort):
        await harness.run(script)
    assert script.calls == 1


def test_sync_twin_needs_a_sync_store() -> None:
    class AsyncOnly:
        async def transition(self, key: str, fn: Callable[[Breaker], tuple[Breaker, Any]]) -> Any:
            raise NotImplementedError

        async def get(self, key: str) -> Breaker:
            raise NotImplementedError

        async def reset(self, key: str) -> None:
            raise NotImplementedError

    system = RetrySystem(breakers=AsyncOnly())
    with pytest.raises(TypeError, match="AsyncOnly has no sync interface"):
        system.execute_with_retry_sync(lambda: 1, "w")


def test_seed_name_is_kept() -> None:
    assert EnhancedRetrySystem is RetrySystem


# -- the module-level functions ---------------------------------------------------------------

AsyncEntry = Callable[..., Awaitable[RetryResult[str]]]
SyncEntry = Callable[..., RetryResult[str]]


@pytest.mark.parametrize(
    ("name", "entry", "sync_entry", "profile"),
    [
        ("with_retry", with_retry, with_retry_sync, "standard"),
        ("with_aggressive_retry", with_aggressive_retry, with_aggressive_retry_sync, "aggressive"),
        ("with_fast_retry", with_fast_retry, with_fast_retry_sync, "fast"),
    ],
)
async def test_entry_points_use_their_profile(
    name: str, entry: AsyncEntry, sync_entry: SyncEntry, profile: str
) -> None:
    builtin = BUILTIN_PROFILES[profile]
    for mode in ("async", "sync"):
        clock = FakeClock()
        script = Script([transient()] * 10)
        options: dict[str, Any] = {
            "breakers": InMemoryBreakerStore(),
            "clock": clock,
            "rng": random.Random(5),
        }
        if mode == "async":
            result = await entry(script.call_async, name, sleep=clock.sleep, **options)
        else:
            result = sync_entry(script.call_sync, name, sleep=clock.sleep_sync, **options)
        assert result.attempts == builtin.max_attempts
        assert result.error_type is E.TRANSIENT
        schedule = delay_schedule(builtin)
        assert len(clock.slept_ms) == len(schedule)
        for slept, base in zip(clock.slept_ms, schedule, strict=True):
            assert abs(slept - base) <= base * builtin.jitter_factor


@pytest.mark.parametrize(
    ("name", "config", "attempts", "slept"),
    [
        ("none is standard", None, 3, [1000, 2000]),
        ("partial dict over standard", {"max_attempts": 4, **NO_JITTER}, 4, [1000, 2000, 4000]),
        ("dict changes delays", {"initial_delay_ms": 10, **NO_JITTER}, 3, [10, 20]),
        (
            "whole profile as dict",
            {**BUILTIN_PROFILES["quick"].model_dump(), **NO_JITTER},
            2,
            [500],
        ),
    ],
)
async def test_with_retry_config(
    name: str, config: ProfileLike, attempts: int, slept: list[float]
) -> None:
    clock = FakeClock()
    result = await with_retry(
        Script([transient()] * 10).call_async,
        "w",
        config,
        breakers=InMemoryBreakerStore(),
        sleep=clock.sleep,
        clock=clock,
        rng=None if config else random.Random(0),
    )
    assert result.attempts == attempts
    if config is None:  # standard jitters
        assert [round(s, -3) for s in clock.slept_ms] == slept
    else:
        assert clock.slept_ms == slept


@pytest.mark.parametrize(
    ("name", "config", "message"),
    [
        ("unknown name", "sluggish", "unknown retry profile 'sluggish'"),
        ("unknown field", {"retries": 3}, "invalid retry config"),
        ("wrong type", {"max_attempts": "many"}, "invalid retry config"),
        ("zero attempts", {"max_attempts": 0}, "max_attempts must be >= 1"),
        ("jitter too big", {"jitter_factor": 1.5}, "jitter_factor must be within 0..1"),
        ("shrinking backoff", {"backoff_multiplier": 0.5}, "backoff_multiplier must be >= 1"),
        ("no threshold", {"circuit_breaker_threshold": 0}, "circuit_breaker_threshold"),
    ],
)
def test_bad_config_is_refused(name: str, config: ProfileLike, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_profile(config)


@pytest.mark.parametrize("name", ["standard", "aggressive", "critical", "fast", "quick"])
def test_builtin_names_resolve(name: str) -> None:
    assert resolve_profile(name) is BUILTIN_PROFILES[name]


def test_builtin_values() -> None:
    def values(name: str) -> tuple[Any, ...]:
        return tuple(BUILTIN_PROFILES[name].model_dump().values())

    assert values("standard") == (3, 1000, 30000, 2, 0.1, True, 5, 60000)
    assert values("aggressive") == values("critical") == (5, 2000, 60000, 3, 0.1, True, 3, 30000)
    assert values("fast") == values("quick") == (2, 500, 5000, 2, 0.05, False, 10, 30000)


async def test_default_store_is_shared_between_calls() -> None:
    clock = FakeClock()
    name = "test_default_store_is_shared_between_calls"
    try:
        for _ in range(2):
            await with_retry(Script([permanent()]).call_async, name, sleep=clock.sleep, clock=clock)
        with_retry_sync(Script([permanent()]).call_sync, name, sleep=clock.sleep_sync, clock=clock)
        assert DEFAULT_BREAKERS.get_sync(name).consecutive_failures == 3
    finally:
        DEFAULT_BREAKERS.reset_sync(name)


# -- over HTTP ------------------------------------------------------------------------------


async def test_http_status_errors_and_retry_after_header() -> None:
    replies = iter(
        [
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(503),
            httpx.Response(200, json={"id": 42}),
        ]
    )
    clock = FakeClock()
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(lambda request: next(replies)), base_url="http://app"
    ) as client:

        async def fetch() -> Any:
            response = await client.get("/orders/42")
            response.raise_for_status()
            return response.json()

        result = await with_retry(
            fetch,
            "orders",
            NO_JITTER,
            breakers=InMemoryBreakerStore(),
            sleep=clock.sleep,
            clock=clock,
        )
    assert (result.success, result.data, result.attempts) == (True, {"id": 42}, 3)
    assert clock.slept_ms == [7000, 2000]


def test_real_refused_connection_is_retried_as_network() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    clock = FakeClock()
    with httpx.Client(timeout=0.5) as client:
        result = with_retry_sync(
            lambda: client.get(f"http://127.0.0.1:{port}/").status_code,
            "refused",
            NO_JITTER,
            breakers=InMemoryBreakerStore(),
            sleep=clock.sleep_sync,
            clock=clock,
        )
    assert (result.success, result.attempts, result.error_type) == (False, 3, E.NETWORK)
    assert isinstance(result.error, httpx.ConnectError)
    assert clock.slept_ms == [1000, 2000]
