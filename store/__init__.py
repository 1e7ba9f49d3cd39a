"""Storage: SQLModel tables, engines, migrations and the queries on them (SQLite or PostgreSQL).

Exceptions are for broken storage only; a failed run is data, stored like any other::

    StoreError            a query, constraint or migration failed
    └── StoreUnavailable  the database could not be reached (connect refused, file unopenable,
                          connection lost mid-query)

Naive datetimes and other misuse raise ``ValueError`` before the database is touched.
"""

from __future__ import annotations

from store.breakers import DatabaseBreakerStore, breaker_key, split_breaker_key
from store.database import DEFAULT_DATABASE_URL, create_engine_for, database_url_from_env
from store.errors import StoreError, StoreUnavailable
from store.migrate import current_revision, head_revision, upgrade
from store.records import json_timestamp, run_record_json
from store.runs import RunRecord, count_runs, get_run, list_runs, record_run

__all__ = [
    "DEFAULT_DATABASE_URL",
    "DatabaseBreakerStore",
    "RunRecord",
    "StoreError",
    "StoreUnavailable",
    "breaker_key",
    "count_runs",
    "create_engine_for",
    "current_revision",
    "database_url_from_env",
    "get_run",
    "head_revision",
    "json_timestamp",
    "list_runs",
    "record_run",
    "run_record_json",
    "split_breaker_key",
    "upgrade",
]
