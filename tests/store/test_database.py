"""Engines: SQLite tuned for concurrent writers, PostgreSQL via psycopg, unreachable databases."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from store import (
    DEFAULT_DATABASE_URL,
    StoreUnavailable,
    count_runs,
    create_engine_for,
    database,
    database_url_from_env,
    record_run,
    upgrade,
)
from tests.store.examples import T0, failed_checkout


def test_sqlite_connections_use_wal_foreign_keys_and_wait_for_locks(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'w.db'}")
    try:
        with engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA busy_timeout").scalar() == 30_000
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u@db.example.com/wfmon", "postgresql+psycopg"),
        ("postgres://u@db.example.com/wfmon", "postgresql+psycopg"),
        ("postgresql+psycopg://u@db.example.com/wfmon", "postgresql+psycopg"),
        ("sqlite:///./wfmon.db", "sqlite"),
    ],
)
def test_engine_driver(url: str, driver: str) -> None:
    engine = create_engine_for(url)  # lazy: nothing connects here
    assert engine.url.drivername == driver
    engine.dispose()


def test_database_url_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WFMON_DATABASE_URL", raising=False)
    assert database_url_from_env() == DEFAULT_DATABASE_URL == "sqlite:///./wfmon.db"

    monkeypatch.setenv("WFMON_DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert database_url_from_env() == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("sqlite:////nonexistent-dir/wfmon.db", id="sqlite-missing-dir"),
        pytest.param("postgresql+psycopg://postgres@127.0.0.1:{port}/wfmon", id="postgres-refused"),
    ],
)
def test_unreachable_database_is_store_unavailable(url: str) -> None:
    import socket

    # A port that was free a moment ago: connection refused, at once.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = url.format(port=port)
    engine = create_engine_for(url)
    try:
        with pytest.raises(StoreUnavailable):
            count_runs(engine)
        with pytest.raises(StoreUnavailable):
            upgrade(url)
    finally:
        engine.dispose()


def test_concurrent_sqlite_writers_wait_instead_of_failing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    upgrade(url)
    # Separate engines, as separate processes (flow runs, the API) would have.
    engines: list[Engine] = [create_engine_for(url) for _ in range(4)]

    def write(index: int) -> None:
        engine = engines[index % len(engines)]
        started_at = T0 + timedelta(seconds=index)
        record_run(engine, result=failed_checkout(started_at=started_at))

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(write, range(40)))
        assert count_runs(engines[0]) == 40
    finally:
        for engine in engines:
            engine.dispose()


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        pid: int = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        return pid


@pytest.mark.postgres
def test_an_idle_connection_the_server_dropped_is_replaced_unseen(
    postgres_database_url: str, postgres_admin: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every connection counts as idle: each checkout pings.
    monkeypatch.setattr(database, "PING_AFTER_IDLE_S", 0.0)
    engine = create_engine_for(postgres_database_url)
    try:
        dropped = _backend_pid(engine)
        with postgres_admin.connect() as admin:
            admin.exec_driver_sql(f"SELECT pg_terminate_backend({dropped}, 10000)")

        # The ping finds the dead connection; the pool opens another, and the read works.
        assert _backend_pid(engine) != dropped
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize(("idle_window_s", "pings"), [(3600.0, 0), (0.0, 3)])
def test_connections_in_use_a_moment_ago_skip_the_ping(
    postgres_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    idle_window_s: float,
    pings: int,
) -> None:
    monkeypatch.setattr(database, "PING_AFTER_IDLE_S", idle_window_s)
    engine = create_engine_for(postgres_database_url)
    counted: list[object] = []
    ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: counted.append(conn) or ping(conn))
    try:
        # Three checkouts of one connection: inside the window none pings (the first opens
        # it), with no window each does, as pool_pre_ping would.
        first = _backend_pid(engine)
        assert [_backend_pid(engine), _backend_pid(engine)] == [first, first]
        assert len(counted) == pings
    finally:
        engine.dispose()
