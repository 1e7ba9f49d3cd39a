"""Engines for SQLite (the default) and PostgreSQL, and where the database URL comes from."""

from __future__ import annotations

import os
import time
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError

DEFAULT_DATABASE_URL = "sqlite:///./wfmon.db"

# Concurrent writers (several flow runs, the API, `wfmon db upgrade`) wait this long for
# SQLite's write lock before giving up, instead of failing at once with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 30_000

# A PostgreSQL connection back in the pool for less than this is handed out without a
# ping: it worked a moment ago (HikariCP's aliveBypassWindowMs has the same default;
# PgBouncer's server_check_delay is the same idea). One that idled longer is pinged first,
# and replaced if the server has gone away meanwhile.
PING_AFTER_IDLE_S = 0.5
_IDLE_SINCE = "wfmon_idle_since"


def database_url_from_env() -> str:
    """The database URL from ``WFMON_DATABASE_URL``, else ``DEFAULT_DATABASE_URL``."""
    return os.environ.get("WFMON_DATABASE_URL") or DEFAULT_DATABASE_URL


def _normalise(url: str) -> URL:
    parsed = make_url(url)
    # Bare postgresql:// means psycopg2 to SQLAlchemy, which we do not ship; users copy
    # URLs from hosting dashboards, so accept them and use psycopg 3.
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def create_engine_for(url: str) -> Engine:
    """An engine for ``url``: SQLite tuned for concurrent writers, or PostgreSQL via psycopg."""
    parsed = _normalise(url)
    engine = create_engine(parsed)
    if parsed.get_backend_name() == "sqlite":
        _configure_sqlite(engine)
    elif parsed.get_backend_name() == "postgresql":
        _configure_postgres(engine)
        _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """``pool_pre_ping``, skipped for connections that were in use a moment ago.

    A request that reads at once on several connections (``store.reads``) would otherwise
    spend a round trip per connection on a ping. A connection that dies inside the window
    fails its first statement instead: SQLAlchemy then replaces every pooled connection,
    writers retry (``StoreUnavailable``), and the API answers that one request with 503.
    """

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _idle_from_now(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get(_IDLE_SINCE, 0.0) < PING_AFTER_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool discards this connection and checks out another (up to 3 tries).
            raise DisconnectionError(f"the database dropped an idle connection: {exc}") from exc


def _configure_postgres(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # wfmon's statements are small and indexed; a rare one whose estimate crosses
        # jit_above_cost (a correlated count over late runs, a long period's step rows)
        # would spend far longer compiling than running. Set once per connection, so that
        # no request spends a round trip on it.
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET jit = off")
        dbapi_connection.commit()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module, which would otherwise
        # BEGIN lazily on the first write and never on reads (see below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # WAL lets readers (the API) work while a run is being written.
            cursor.execute("PRAGMA journal_mode=WAL")
            # SQLite ignores foreign keys (and so ON DELETE CASCADE) unless asked, per connection.
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            # Safe with WAL (a crash may lose the last commit, never corrupt the file).
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front, where busy_timeout applies. A deferred
        # transaction that reads and then writes fails at once with SQLITE_BUSY if another
        # writer committed in between (read-modify-write, e.g. circuit breakers), and the
        # busy handler is not consulted. Writes are milliseconds, so readers barely wait.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
