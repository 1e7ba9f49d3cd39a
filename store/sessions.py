"""One place that turns SQLAlchemy failures into ``StoreError`` / ``StoreUnavailable``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlmodel import Session

from store.errors import StoreError, StoreUnavailable


@contextmanager
def session_for(engine: Engine) -> Iterator[Session]:
    """A session on its own connection; storage failures surface as ``StoreError``."""
    try:
        connection = engine.connect()
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
