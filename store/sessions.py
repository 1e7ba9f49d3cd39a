"""One place that turns SQLAlchemy failures into ``StoreError`` / ``StoreUnavailable``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlmodel import Session

from store.errors import StoreError, StoreUnavailable


@contextmanager
def session_for(engine: Engine, *, read_only: bool = False) -> Iterator[Session]:
    """A session on its own connection; storage failures surface as ``StoreError``.

    ``read_only`` sessions on PostgreSQL run each statement on its own (autocommit): under
    READ COMMITTED each statement sees its own snapshot anyway, and there is no BEGIN or
    COMMIT to wait for, nor a ROLLBACK, which makes psycopg forget its prepared statements.
    On SQLite (no round trips) they keep their transaction: one snapshot for every read.
    """
    try:
        connection = engine.connect()
        if read_only and connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
    except OperationalError as exc:
        raise StoreUnavailable(f"cannot reach the database: {exc.orig}") from exc
    try:
        with connection, Session(bind=connection) as session:
            yield session
    except DBAPIError as exc:
        # A dropped connection mid-query is the database going away, not a bad query.
        if exc.connection_invalidated:
            raise StoreUnavailable(f"lost the database connection: {exc.orig}") from exc
        raise StoreError(str(exc.orig)) from exc
    except SQLAlchemyError as exc:
        raise StoreError(str(exc)) from exc
