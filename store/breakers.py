"""Circuit breakers in the database: one row per ``workflow@environment``, shared by every
process and worker (SPEC §4).

``tasks.breaker`` decides (pure functions over a ``Breaker``); this module only makes each
decision atomic against the shared row. ``transition`` reads, decides and writes in one
transaction that holds the row's write lock throughout:

- PostgreSQL: ``INSERT ... ON CONFLICT DO NOTHING`` (so a first-time key has a row to
  lock), then ``SELECT ... FOR UPDATE``; a second caller blocks on the row until the first
  commits, then reads what the first wrote.
- SQLite: every transaction starts with ``BEGIN IMMEDIATE`` (``store.database``), which
  takes the database's write lock before the read, so writers are serialised as a whole.
  (The INSERT comes first and is a write, so the lock precedes the read regardless.)

Storage failures raise ``StoreError`` / ``StoreUnavailable`` (see ``store``); a naive
datetime in a breaker, or a key that cannot be split back, raises ``ValueError``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select

from store.sessions import session_for
from store.tables import CircuitBreaker
from tasks.breaker import Breaker, BreakerState
from tasks.breaker import reset as closed_breaker

__all__ = ["DatabaseBreakerStore", "breaker_key", "split_breaker_key"]

T = TypeVar("T")

_KEY_SEPARATOR = "@"


def breaker_key(workflow: str, environment: str) -> str:
    """The key of the breaker for ``workflow`` in ``environment``: ``workflow@environment``."""
    if not workflow or not environment:
        raise ValueError(f"empty workflow or environment: {workflow!r}, {environment!r}")
    # The key is split at its last '@', so only the workflow may contain one.
    if _KEY_SEPARATOR in environment:
        raise ValueError(f"environment {environment!r} must not contain {_KEY_SEPARATOR!r}")
    return f"{workflow}{_KEY_SEPARATOR}{environment}"


def split_breaker_key(key: str) -> tuple[str, str]:
    """The ``(workflow, environment)`` a ``breaker_key`` was made from."""
    workflow, separator, environment = key.rpartition(_KEY_SEPARATOR)
    if not separator or not workflow or not environment:
        raise ValueError(f"{key!r} is not a breaker key of the form workflow@environment")
    return workflow, environment


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DatabaseBreakerStore:
    """Breakers in the ``circuit_breakers`` table: a ``BreakerStore`` and a ``SyncBreakerStore``.

    The async methods run the blocking ones in a worker thread. A cancelled caller does not
    cancel that thread: its transaction still commits, and a probe slot it took is retaken
    once stale (see ``tasks.breaker``).
    """

    __slots__ = ("_clock", "_engine")

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self._engine = engine
        # Only stamps ``updated_at``; the state machine gets its ``now`` from the caller's fn.
        self._clock = clock

    def transition_sync(self, key: str, fn: Callable[[Breaker], tuple[Breaker, T]]) -> T:
        """Apply ``fn`` to the breaker at ``key`` atomically, store its breaker, return its T."""
        with session_for(self._engine) as session:
            session.execute(self._insert_closed(key))
            locked = select(CircuitBreaker).where(col(CircuitBreaker.key) == key).with_for_update()
            row = session.exec(locked).one()
            before = _breaker(row)
            after, outcome = fn(before)
            # Most admissions change nothing (closed, or open and rejected): skip the write,
            # and ``updated_at`` keeps meaning "last changed".
            if after != before:
                for name, value in _columns(after, updated_at=self._clock()).items():
                    setattr(row, name, value)
                session.add(row)
            session.commit()
        return outcome

    def get_sync(self, key: str) -> Breaker:
        """The breaker at ``key``; a fresh closed one if none is stored."""
        with session_for(self._engine) as session:
            row = session.get(CircuitBreaker, key)
            return closed_breaker() if row is None else _breaker(row)

    def reset_sync(self, key: str) -> None:
        """Close the breaker at ``key`` and forget its failures."""
        # One UPDATE is atomic on its own. An unknown key stays unknown (it reads as closed
        # anyway), so a mistyped `wfmon breaker reset` does not invent a breaker.
        values = _columns(closed_breaker(), updated_at=self._clock())
        statement = update(CircuitBreaker).where(col(CircuitBreaker.key) == key).values(**values)
        with session_for(self._engine) as session:
            session.execute(statement)
            session.commit()

    def list_breakers_sync(self) -> list[tuple[str, Breaker]]:
        """Every stored breaker with its key, ordered by key."""
        query = select(CircuitBreaker).order_by(col(CircuitBreaker.key))
        with session_for(self._engine) as session:
            return [(row.key, _breaker(row)) for row in session.exec(query).all()]

    async def transition(self, key: str, fn: Callable[[Breaker], tuple[Breaker, T]]) -> T:
        """Apply ``fn`` to the breaker at ``key`` atomically, store its breaker, return its T."""
        return await asyncio.to_thread(self.transition_sync, key, fn)

    async def get(self, key: str) -> Breaker:
        """The breaker at ``key``; a fresh closed one if none is stored."""
        return await asyncio.to_thread(self.get_sync, key)

    async def reset(self, key: str) -> None:
        """Close the breaker at ``key`` and forget its failures."""
        await asyncio.to_thread(self.reset_sync, key)

    async def list_breakers(self) -> list[tuple[str, Breaker]]:
        """Every stored breaker with its key, ordered by key."""
        return await asyncio.to_thread(self.list_breakers_sync)

    def _insert_closed(self, key: str) -> Any:
        values = {"key": key, **_columns(closed_breaker(), updated_at=self._clock())}
        dialect = self._engine.dialect.name
        # ON CONFLICT is dialect-specific in SQLAlchemy; both backends support DO NOTHING.
        if dialect == "postgresql":
            return postgresql.insert(CircuitBreaker).values(values).on_conflict_do_nothing()
        if dialect == "sqlite":
            return sqlite.insert(CircuitBreaker).values(values).on_conflict_do_nothing()
        raise ValueError(f"circuit breakers need SQLite or PostgreSQL, not {dialect}")


def _breaker(row: CircuitBreaker) -> Breaker:
    return Breaker(
        state=BreakerState(row.state),
        consecutive_failures=row.consecutive_failures,
        opened_at=row.opened_at,
        probe_started_at=row.probe_started_at,
    )


def _columns(breaker: Breaker, *, updated_at: datetime) -> dict[str, object]:
    for name, value in (
        ("opened_at", breaker.opened_at),
        ("probe_started_at", breaker.probe_started_at),
        ("updated_at", updated_at),
    ):
        # A naive time is ambiguous, and every worker compares against it: refuse it here.
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise ValueError(f"{name} must be an aware datetime (UTC), got naive {value!r}")
    return {
        "state": BreakerState(breaker.state).value,
        "consecutive_failures": breaker.consecutive_failures,
        "opened_at": breaker.opened_at,
        "probe_started_at": breaker.probe_started_at,
        "updated_at": updated_at,
    }
