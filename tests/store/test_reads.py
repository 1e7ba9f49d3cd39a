"""Independent reads: on PostgreSQL at once, each on a connection of its own; on SQLite one
after another in one session. Failures surface as ``StoreError`` either way."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from store.errors import StoreError
from store.reads import Reads

# Bounds a wait that only ends early if the other read runs at the same time.
TOGETHER_TIMEOUT_S = 30


def _backend_pid(session: Session) -> int:
    pid: int = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    return pid


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_postgres_reads_run_together_on_their_own_connections(migrated_engine: Engine) -> None:
    first_holds = threading.Event()
    second_ran = threading.Event()

    def first(session: Session) -> tuple[int, bool]:
        pid = _backend_pid(session)
        first_holds.set()
        # Only true if the second read runs while this one still holds its connection.
        return pid, second_ran.wait(TOGETHER_TIMEOUT_S)

    def second(session: Session) -> int:
        assert first_holds.wait(TOGETHER_TIMEOUT_S)
        pid = _backend_pid(session)
        second_ran.set()
        return pid

    with Reads(migrated_engine) as reads:
        waiting = reads.submit(first)
        # In this thread, while the submitted read waits on the pool's thread.
        second_pid = reads.run(second)
        first_pid, together = waiting.result()

    assert together
    assert first_pid != second_pid


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_reads_share_one_session_in_order(migrated_engine: Engine) -> None:
    seen: list[Session] = []

    def read(session: Session) -> int:
        seen.append(session)
        return len(seen)

    with Reads(migrated_engine) as reads:
        first = reads.submit(read)
        # Already done: SQLite reads run when submitted.
        assert first.done()
        second = reads.submit(read)
        third = reads.run(read)

    assert (first.result(), second.result(), third) == (1, 2, 3)
    assert seen[0] is seen[1] is seen[2]


def test_a_failing_read_raises_store_error_and_the_others_finish(
    migrated_engine: Engine,
) -> None:
    finished: list[int] = []

    def good(session: Session) -> None:
        finished.append(session.execute(text("SELECT 1")).scalar_one())

    def bad(session: Session) -> None:
        session.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(StoreError, match="no_such_table"), Reads(migrated_engine) as reads:
        ok = reads.submit(good)
        reads.submit(bad).result()

    assert ok.done()
    assert finished == [1]
