"""The circuit breaker as step sequences on a fake clock, and the in-memory store's atomicity."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import pytest

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
    reset,
)
from tasks.retry import BUILTIN_PROFILES
from tests.resilience.fakes import T0

POLICY = BreakerPolicy(threshold=3, reset_time_ms=30_000)
CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN
ALLOWED, PROBE, REJECTED = Admission.ALLOWED, Admission.PROBE, Admission.REJECTED


@dataclass(frozen=True)
class Step:
    """At ``at_ms`` after T0 do ``action``; expect ``admission`` (admit only) and ``state``."""

    at_ms: int
    action: str  # "admit", "ok", "fail" or "reset"
    state: BreakerState
    admission: Admission | None = None


def admits(at_ms: int, admission: Admission, state: BreakerState) -> Step:
    return Step(at_ms, "admit", state, admission)


def ok(at_ms: int, state: BreakerState = CLOSED) -> Step:
    return Step(at_ms, "ok", state)


def fail(at_ms: int, state: BreakerState) -> Step:
    return Step(at_ms, "fail", state)


def manual_reset(at_ms: int) -> Step:
    return Step(at_ms, "reset", CLOSED)


OPEN_AT_2 = (fail(0, CLOSED), fail(1, CLOSED), fail(2, OPEN))

SCENARIOS: list[tuple[str, tuple[Step, ...]]] = [
    ("closed allows", (admits(0, ALLOWED, CLOSED), ok(1), admits(2, ALLOWED, CLOSED))),
    ("opens at threshold", (*OPEN_AT_2, admits(3, REJECTED, OPEN))),
    (
        "success zeroes the count",
        (fail(0, CLOSED), fail(1, CLOSED), ok(2), fail(3, CLOSED), fail(4, CLOSED), fail(5, OPEN)),
    ),
    (
        "rejects until reset time, then one probe",
        (
            *OPEN_AT_2,
            admits(10_000, REJECTED, OPEN),
            admits(30_001, REJECTED, OPEN),
            admits(30_002, PROBE, HALF_OPEN),
            admits(30_003, REJECTED, HALF_OPEN),
            admits(45_000, REJECTED, HALF_OPEN),
        ),
    ),
    (
        "probe success closes",
        (*OPEN_AT_2, admits(30_002, PROBE, HALF_OPEN), ok(30_500), admits(30_501, ALLOWED, CLOSED)),
    ),
    (
        "probe failure reopens from now",
        (
            *OPEN_AT_2,
            admits(30_002, PROBE, HALF_OPEN),
            fail(31_000, OPEN),
            admits(60_999, REJECTED, OPEN),
            admits(61_000, PROBE, HALF_OPEN),
            ok(61_001),
        ),
    ),
    (
        "manual reset closes",
        (*OPEN_AT_2, manual_reset(5), admits(6, ALLOWED, CLOSED), fail(7, CLOSED), fail(8, CLOSED)),
    ),
    (
        "stale probe is retaken after another reset time",
        (
            *OPEN_AT_2,
            admits(30_002, PROBE, HALF_OPEN),
            admits(60_001, REJECTED, HALF_OPEN),
            admits(60_002, PROBE, HALF_OPEN),
            admits(60_003, REJECTED, HALF_OPEN),
            ok(60_004),
        ),
    ),
    (
        "straggler failure while open does not prolong it",
        (*OPEN_AT_2, fail(20_000, OPEN), admits(30_002, PROBE, HALF_OPEN)),
    ),
    ("straggler success while open closes", (*OPEN_AT_2, ok(10), admits(11, ALLOWED, CLOSED))),
]


@pytest.mark.parametrize(("name", "steps"), SCENARIOS, ids=[name for name, _ in SCENARIOS])
def test_breaker_sequence(name: str, steps: tuple[Step, ...]) -> None:
    breaker = reset()
    for index, step in enumerate(steps):
        now = T0 + timedelta(milliseconds=step.at_ms)
        admission = None
        if step.action == "admit":
            breaker, admission = admit(breaker, policy=POLICY, now=now)
        elif step.action == "reset":
            breaker = reset()
        else:
            breaker = record(breaker, policy=POLICY, success=step.action == "ok", now=now)
        assert (breaker.state, admission) == (step.state, step.admission), f"step {index}: {step}"


def test_opening_records_when_and_how_many() -> None:
    breaker = Breaker()
    for ms in (0, 1, 2):
        breaker = record(breaker, policy=POLICY, success=False, now=T0 + timedelta(milliseconds=ms))
    assert breaker == Breaker(
        OPEN, consecutive_failures=3, opened_at=T0 + timedelta(milliseconds=2)
    )
    assert not breaker.probe_in_flight


def test_probe_failure_clears_the_probe_and_restarts_the_timer() -> None:
    later = T0 + timedelta(minutes=5)
    probing, admission = admit(Breaker(OPEN, 3, opened_at=T0), policy=POLICY, now=later)
    assert admission is PROBE
    assert probing.probe_in_flight
    assert probing.probe_started_at == later
    failed = record(probing, policy=POLICY, success=False, now=later + timedelta(seconds=1))
    assert failed == Breaker(OPEN, 4, opened_at=later + timedelta(seconds=1))


def test_success_forgets_everything() -> None:
    probing = Breaker(HALF_OPEN, 7, opened_at=T0, probe_started_at=T0)
    assert record(probing, policy=POLICY, success=True, now=T0) == Breaker()


def test_open_without_timestamp_admits_a_probe() -> None:
    # A stored row that lost its timestamp must not keep the breaker open forever.
    _, admission = admit(Breaker(OPEN, 5, opened_at=None), policy=POLICY, now=T0)
    assert admission is PROBE


@pytest.mark.parametrize(
    ("threshold", "reset_time_ms", "message"),
    [(0, 1000, "threshold must be >= 1"), (1, -1, "reset time must be >= 0")],
)
def test_policy_rejects_nonsense(threshold: int, reset_time_ms: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BreakerPolicy(threshold=threshold, reset_time_ms=reset_time_ms)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("standard", BreakerPolicy(5, 60_000)),
        ("aggressive", BreakerPolicy(3, 30_000)),
        ("fast", BreakerPolicy(10, 30_000)),
    ],
)
def test_policy_from_profile(name: str, expected: BreakerPolicy) -> None:
    assert BreakerPolicy.from_profile(BUILTIN_PROFILES[name]) == expected


# -- the in-memory store --------------------------------------------------------------------

HALF_OPEN_FREE = Breaker(HALF_OPEN, 3, opened_at=T0, probe_started_at=None)
OPEN_EXPIRED = Breaker(OPEN, 3, opened_at=T0 - timedelta(minutes=1))


@pytest.mark.parametrize("start", [HALF_OPEN_FREE, OPEN_EXPIRED], ids=["half-open", "open"])
async def test_store_admits_exactly_one_of_eight_async_callers(start: Breaker) -> None:
    store: BreakerStore = InMemoryBreakerStore()
    await store.transition("w@prod", lambda _: (start, None))

    async def caller() -> Admission:
        await asyncio.sleep(0)  # interleave the callers
        return await store.transition("w@prod", lambda b: admit(b, policy=POLICY, now=T0))

    admissions = await asyncio.gather(*(caller() for _ in range(8)))
    assert sorted(admissions) == sorted([PROBE] + [REJECTED] * 7)
    assert (await store.get("w@prod")).probe_started_at == T0


def test_store_admits_exactly_one_of_eight_threads() -> None:
    store = InMemoryBreakerStore()
    store.transition_sync("w@prod", lambda _: (HALF_OPEN_FREE, None))
    barrier = threading.Barrier(8)

    def caller() -> Admission:
        barrier.wait()
        return store.transition_sync("w@prod", lambda b: admit(b, policy=POLICY, now=T0))

    with ThreadPoolExecutor(max_workers=8) as pool:
        admissions = [future.result() for future in [pool.submit(caller) for _ in range(8)]]
    assert admissions.count(PROBE) == 1
    assert admissions.count(REJECTED) == 7


async def test_store_get_and_reset() -> None:
    store = InMemoryBreakerStore()
    assert await store.get("unknown") == Breaker()
    await store.transition("a", lambda _: (Breaker(OPEN, 5, opened_at=T0), None))
    await store.transition("b", lambda _: (Breaker(CLOSED, 1), None))
    assert (await store.get("a")).state is OPEN
    await store.reset("a")
    assert await store.get("a") == Breaker()
    assert store.get_sync("b") == Breaker(CLOSED, 1)  # keys are independent
    store.reset_sync("b")
    assert store.get_sync("b") == Breaker()


def test_store_has_both_interfaces() -> None:
    assert isinstance(InMemoryBreakerStore(), SyncBreakerStore)
