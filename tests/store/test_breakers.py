"""Circuit breakers in the database, on SQLite and PostgreSQL: storage, keys, and that exactly
one of many concurrent callers, each on its own connection, gets the half-open probe."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, event

from store import (
    DatabaseBreakerStore,
    StoreError,
    breaker_key,
    create_engine_for,
    split_breaker_key,
)
from store.sessions import session_for
from store.tables import CircuitBreaker
from tasks.breaker import (
    Admission,
    Breaker,
    BreakerPolicy,
    BreakerState,
    BreakerStore,
    SyncBreakerStore,
    admit,
    record,
)
from tests.store.examples import T0

POLICY = BreakerPolicy(threshold=3, reset_time_ms=30_000)
CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN
ALLOWED, PROBE, REJECTED = Admission.ALLOWED, Admission.PROBE, Admission.REJECTED
KEY = "checkout@prod"
CALLERS = 8

# Open for longer than the reset time: the next admission takes the one probe slot.
OPEN_EXPIRED = Breaker(OPEN, 3, opened_at=T0 - timedelta(minutes=1))


def put(breaker: Breaker) -> Callable[[Breaker], tuple[Breaker, None]]:
    """A transition that stores ``breaker`` whatever was there."""
    return lambda _: (breaker, None)


def admit_at(now: datetime) -> Callable[[Breaker], tuple[Breaker, Admission]]:
    return lambda breaker: admit(breaker, policy=POLICY, now=now)


def record_at(now: datetime, *, success: bool) -> Callable[[Breaker], tuple[Breaker, None]]:
    return lambda breaker: (record(breaker, policy=POLICY, success=success, now=now), None)


@pytest.fixture
def store(migrated_engine: Engine) -> DatabaseBreakerStore:
    return DatabaseBreakerStore(migrated_engine, clock=lambda: T0)


@pytest.fixture
def caller_engines(database_url: str, migrated_engine: Engine) -> Iterator[list[Engine]]:
    """One engine per concurrent caller, as separate workers would have, already connected."""
    engines = [create_engine_for(database_url) for _ in range(CALLERS)]
    # Connect now, so that the callers' first statements, not their connection set-ups
    # (milliseconds on PostgreSQL), are what starts together.
    for engine in engines:
        engine.connect().close()
    yield engines
    for engine in engines:
        engine.dispose()


# --- storage -------------------------------------------------------------------------------


def test_round_trip_keeps_every_field(store: DatabaseBreakerStore) -> None:
    plus_two = timezone(timedelta(hours=2))
    breaker = Breaker(
        HALF_OPEN,
        7,
        opened_at=datetime(2026, 5, 20, 14, 0, 0, 123456, tzinfo=plus_two),
        probe_started_at=T0 + timedelta(microseconds=1),
    )

    store.transition_sync(KEY, put(breaker))
    stored = store.get_sync(KEY)

    assert stored == breaker
    assert stored.opened_at is not None and stored.opened_at.tzinfo is UTC
    assert stored.probe_started_at is not None and stored.probe_started_at.tzinfo is UTC


def test_transition_returns_what_the_function_decided(store: DatabaseBreakerStore) -> None:
    assert store.transition_sync(KEY, lambda breaker: (breaker, "decided")) == "decided"


def test_unknown_key_is_a_closed_breaker_and_get_stores_nothing(
    store: DatabaseBreakerStore,
) -> None:
    assert store.get_sync("never@seen") == Breaker()
    assert store.list_breakers_sync() == []


def test_reset_closes_and_forgets_failures(store: DatabaseBreakerStore) -> None:
    store.transition_sync(KEY, put(Breaker(OPEN, 4, opened_at=T0, probe_started_at=T0)))
    store.transition_sync("other@prod", put(Breaker(CLOSED, 2)))

    store.reset_sync(KEY)

    assert store.get_sync(KEY) == Breaker()
    assert store.get_sync("other@prod") == Breaker(CLOSED, 2)  # keys are independent


def test_reset_of_an_unknown_key_stores_nothing(store: DatabaseBreakerStore) -> None:
    store.reset_sync("typo@prod")

    assert store.list_breakers_sync() == []


def test_list_is_every_breaker_by_key(store: DatabaseBreakerStore) -> None:
    store.transition_sync("b@prod", put(Breaker(OPEN, 3, opened_at=T0)))
    store.transition_sync("a@prod", put(Breaker(CLOSED, 1)))
    store.transition_sync("a@staging", admit_at(T0))  # first use: stored, still closed

    assert store.list_breakers_sync() == [
        ("a@prod", Breaker(CLOSED, 1)),
        ("a@staging", Breaker()),
        ("b@prod", Breaker(OPEN, 3, opened_at=T0)),
    ]


def test_updated_at_is_when_the_breaker_last_changed(migrated_engine: Engine) -> None:
    clock = [T0]
    store = DatabaseBreakerStore(migrated_engine, clock=lambda: clock[0])

    def updated_at() -> datetime:
        with session_for(migrated_engine) as session:
            row = session.get(CircuitBreaker, KEY)
            assert row is not None
            return row.updated_at

    store.transition_sync(KEY, admit_at(T0))
    assert updated_at() == T0
    clock[0] = T0 + timedelta(seconds=1)
    store.transition_sync(KEY, admit_at(clock[0]))  # closed stays closed: no write
    assert updated_at() == T0
    clock[0] = T0 + timedelta(seconds=2)
    store.transition_sync(KEY, record_at(clock[0], success=False))
    assert updated_at() == clock[0]
    clock[0] = T0 + timedelta(seconds=3)
    store.reset_sync(KEY)
    assert updated_at() == clock[0]


def test_a_failing_transition_leaves_nothing_behind(store: DatabaseBreakerStore) -> None:
    store.transition_sync(KEY, put(Breaker(CLOSED, 2)))

    def explode(_: Breaker) -> tuple[Breaker, None]:
        raise RuntimeError("decision failed")

    with pytest.raises(RuntimeError, match="decision failed"):
        store.transition_sync(KEY, explode)
    with pytest.raises(RuntimeError, match="decision failed"):
        store.transition_sync("new@prod", explode)

    # Not even the closed row a first-time key gets before it is locked.
    assert store.list_breakers_sync() == [(KEY, Breaker(CLOSED, 2))]


def test_naive_timestamps_are_refused(store: DatabaseBreakerStore) -> None:
    naive = Breaker(OPEN, 3, opened_at=datetime(2026, 5, 20, 12, 0))

    with pytest.raises(ValueError, match="aware"):
        store.transition_sync(KEY, put(naive))

    assert store.list_breakers_sync() == []


async def test_async_interface(store: DatabaseBreakerStore) -> None:
    breakers: BreakerStore = store
    assert isinstance(store, SyncBreakerStore)

    assert await breakers.get(KEY) == Breaker()
    assert await breakers.transition(KEY, admit_at(T0)) is ALLOWED
    await breakers.transition(KEY, put(OPEN_EXPIRED))
    assert await breakers.get(KEY) == OPEN_EXPIRED
    assert await store.list_breakers() == [(KEY, OPEN_EXPIRED)]
    await breakers.reset(KEY)
    assert await breakers.get(KEY) == Breaker()


# --- the state machine through the store ---------------------------------------------------


def test_full_cycle_on_a_fake_clock(store: DatabaseBreakerStore) -> None:
    def at(seconds: float) -> datetime:
        return T0 + timedelta(seconds=seconds)

    # (seconds after T0, transition, expected outcome, expected stored state)
    steps: list[tuple[float, str, Admission | None, BreakerState]] = [
        (0, "admit", ALLOWED, CLOSED),
        (1, "fail", None, CLOSED),
        (2, "fail", None, CLOSED),
        (3, "fail", None, OPEN),  # threshold 3: opens, timer starts at 3 s
        (4, "admit", REJECTED, OPEN),
        (32.9, "admit", REJECTED, OPEN),  # reset time not over yet
        (33, "admit", PROBE, HALF_OPEN),  # reset time over: this call probes
        (34, "admit", REJECTED, HALF_OPEN),  # the probe is out: nobody else
        (35, "fail", None, OPEN),  # probe failed: open again, timer restarts at 35 s
        (64.9, "admit", REJECTED, OPEN),
        (65, "admit", PROBE, HALF_OPEN),
        (66, "ok", None, CLOSED),  # probe succeeded
        (67, "admit", ALLOWED, CLOSED),
    ]
    for seconds, action, expected, state in steps:
        now = at(seconds)
        outcome: Admission | None
        if action == "admit":
            outcome = store.transition_sync(KEY, admit_at(now))
        else:
            outcome = store.transition_sync(KEY, record_at(now, success=action == "ok"))
        stored = store.get_sync(KEY)
        assert (seconds, outcome, stored.state) == (seconds, expected, state)

    assert store.get_sync(KEY) == Breaker()


def test_opened_at_and_probe_are_stored(store: DatabaseBreakerStore) -> None:
    for seconds in range(3):
        store.transition_sync(KEY, record_at(T0 + timedelta(seconds=seconds), success=False))
    opened = T0 + timedelta(seconds=2)
    assert store.get_sync(KEY) == Breaker(OPEN, 3, opened_at=opened)

    probe_at = opened + POLICY.reset_time
    assert store.transition_sync(KEY, admit_at(probe_at)) is PROBE
    assert store.get_sync(KEY) == Breaker(HALF_OPEN, 3, opened_at=opened, probe_started_at=probe_at)


# --- concurrency: separate connections, as separate workers --------------------------------


def test_exactly_one_of_eight_threads_on_their_own_engines_probes(
    store: DatabaseBreakerStore, caller_engines: list[Engine]
) -> None:
    store.transition_sync(KEY, put(OPEN_EXPIRED))
    stores = [DatabaseBreakerStore(engine) for engine in caller_engines]
    barrier = threading.Barrier(CALLERS)

    def caller(own: DatabaseBreakerStore) -> Admission:
        barrier.wait()
        return own.transition_sync(KEY, admit_at(T0))

    with ThreadPoolExecutor(max_workers=CALLERS) as pool:
        admissions = list(pool.map(caller, stores))

    assert admissions.count(PROBE) == 1
    assert admissions.count(REJECTED) == CALLERS - 1
    assert store.get_sync(KEY) == Breaker(
        HALF_OPEN, 3, opened_at=OPEN_EXPIRED.opened_at, probe_started_at=T0
    )


async def test_exactly_one_of_eight_async_callers_on_their_own_engines_probes(
    store: DatabaseBreakerStore, caller_engines: list[Engine]
) -> None:
    await store.transition(KEY, put(OPEN_EXPIRED))
    stores: list[BreakerStore] = [DatabaseBreakerStore(engine) for engine in caller_engines]

    admissions = await asyncio.gather(*(own.transition(KEY, admit_at(T0)) for own in stores))

    assert admissions.count(PROBE) == 1
    assert admissions.count(REJECTED) == CALLERS - 1
    assert (await store.get(KEY)).probe_started_at == T0


class _Probed(Exception):
    """Raised inside a transition to roll it back once it got the lock."""


def lock_is_free(database_url: str, key: str) -> bool:
    """Whether another worker's transition on ``key`` could go ahead now, without waiting."""
    engine = create_engine_for(database_url)

    @event.listens_for(engine, "connect")
    def _do_not_wait(dbapi_connection: Any, _record: Any) -> None:
        # Runs after create_engine_for's own hook: fail at once instead of queueing behind
        # the lock (PostgreSQL's smallest lock_timeout is 1 ms; 0 would mean "forever").
        sqlite = engine.dialect.name == "sqlite"
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=0" if sqlite else "SET lock_timeout = '1ms'")
        cursor.close()

    def give_up(_: Breaker) -> tuple[Breaker, None]:
        raise _Probed

    try:
        DatabaseBreakerStore(engine).transition_sync(key, give_up)
    except _Probed:
        return True
    except StoreError as exc:
        assert "lock" in str(exc)
        return False
    finally:
        engine.dispose()
    raise AssertionError("unreachable: give_up always raises")


@pytest.mark.parametrize("start", [OPEN_EXPIRED, None], ids=["stored", "first-use"])
def test_the_breaker_stays_locked_while_the_function_decides(
    store: DatabaseBreakerStore, database_url: str, start: Breaker | None
) -> None:
    # Deterministic where the races above are statistical: a read and write in separate
    # transactions, or a read without FOR UPDATE, leaves the lock free here.
    if start is not None:
        store.transition_sync(KEY, put(start))
    assert lock_is_free(database_url, KEY)

    def decide(breaker: Breaker) -> tuple[Breaker, bool]:
        return admit(breaker, policy=POLICY, now=T0)[0], lock_is_free(database_url, KEY)

    assert store.transition_sync(KEY, decide) is False
    assert lock_is_free(database_url, KEY)


def test_first_use_of_a_key_by_eight_threads_at_once(
    store: DatabaseBreakerStore, caller_engines: list[Engine]
) -> None:
    # Every caller inserts the closed row first; the losers must neither fail nor lose
    # another's failure count.
    stores = [DatabaseBreakerStore(engine) for engine in caller_engines]
    barrier = threading.Barrier(CALLERS)

    def caller(own: DatabaseBreakerStore) -> None:
        barrier.wait()
        own.transition_sync("new@prod", record_at(T0, success=False))

    with ThreadPoolExecutor(max_workers=CALLERS) as pool:
        list(pool.map(caller, stores))

    assert store.get_sync("new@prod") == Breaker(OPEN, CALLERS, opened_at=T0)


# --- keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("workflow", "environment", "key"),
    [
        ("checkout", "prod", "checkout@prod"),
        ("user@login", "eu-west", "user@login@eu-west"),  # '@' in a workflow name is fine
        ("pay flow", "staging 2", "pay flow@staging 2"),
    ],
)
def test_breaker_key_round_trip(workflow: str, environment: str, key: str) -> None:
    assert breaker_key(workflow, environment) == key
    assert split_breaker_key(key) == (workflow, environment)


@pytest.mark.parametrize(
    ("workflow", "environment", "message"),
    [
        ("checkout", "prod@eu", "must not contain"),
        ("", "prod", "empty"),
        ("checkout", "", "empty"),
    ],
)
def test_breaker_key_refuses_what_it_could_not_split(
    workflow: str, environment: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        breaker_key(workflow, environment)


@pytest.mark.parametrize("key", ["checkout", "@prod", "checkout@", ""])
def test_split_breaker_key_refuses_other_strings(key: str) -> None:
    with pytest.raises(ValueError, match="not a breaker key"):
        split_breaker_key(key)
