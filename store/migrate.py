"""Schema migrations, run programmatically: no ``alembic.ini`` on disk (``wfmon db upgrade``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from store.database import create_engine_for
from store.errors import StoreError, StoreUnavailable

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Any constant shared by every wfmon process: serialises concurrent `upgrade` calls on
# PostgreSQL (SQLite's BEGIN IMMEDIATE already does).
_PG_MIGRATION_LOCK = 0x77666D6F6E  # "wfmon"


def alembic_config(url: str) -> Config:
    """An Alembic ``Config`` for this package's migrations against ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # The config is a ConfigParser: a literal % (URL-encoded passwords) must be doubled.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest revision this code knows."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:
        raise StoreError("no migrations found in " + str(MIGRATIONS_DIR))
    return head


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` to ``revision``; a no-op when it is already there."""
    config = alembic_config(url)
    with _migration_connection(url) as connection:
        config.attributes["connection"] = connection
        try:
            command.upgrade(config, revision)
        except SQLAlchemyError as exc:
            raise StoreError(f"migration to {revision} failed: {exc}") from exc


def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at, or ``None`` when it was never migrated."""
    with _migration_connection(url) as connection:
        return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def _migration_connection(url: str) -> Iterator[Connection]:
    engine = create_engine_for(url)
    if engine.dialect.name == "sqlite":
        # Batch migrations rebuild a table by DROP + rename; with foreign keys on, dropping
        # `runs` would cascade-delete every step. PRAGMA is a no-op inside a transaction,
        # so switch them off as the connection opens, and check integrity at the end.
        @event.listens_for(engine, "connect")
        def _foreign_keys_off(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA foreign_keys=OFF")

    try:
        try:
            connection = engine.connect()
        except OperationalError as exc:
            raise StoreUnavailable(f"cannot reach the database: {exc.orig}") from exc
        with connection, connection.begin():
            if engine.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
                )
            yield connection
            if engine.dialect.name == "sqlite":
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise StoreError(f"migration left broken foreign keys: {broken[:5]}")
    finally:
        engine.dispose()
