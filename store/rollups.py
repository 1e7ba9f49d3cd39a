"""Rollups of recorded runs, written in the transaction that records each run.

The metrics API answers from these, never from the raw ``runs`` of a long period:

- ``rollup_hours`` / ``rollup_days``: run counts by status, retried runs and duration sums
  per workflow, environment and UTC hour / day. ``rollup_hour_totals``: the same per hour
  for every workflow together (the hourly series and a period's totals).
- Latency histograms, for percentiles: ``store.latency``.
- Each workflow's newest run and failure streak: ``store.workflow_state``.

Writers take one lock (PostgreSQL: an advisory transaction lock; SQLite: ``BEGIN
IMMEDIATE`` already serialises writers): runs are recorded seconds apart, and the latency
marks need to see every earlier write.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnExpressionArgument,
    Connection,
    Integer,
    case,
    cast,
    delete,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import SQLModel, col

from store.latency import rebuild_latency, record_latency
from store.tables import DailyRollup, HourlyRollup, HourTotal, Run
from store.utc import day_of, hour_of
from store.workflow_state import rebuild_state, record_state
from wfmon.results import RunStatus

__all__ = [
    "COUNT_COLUMNS",
    "count_sums",
    "epoch_hour",
    "rebuild_rollups",
    "record_rollups",
]

COUNT_COLUMNS = (
    "runs",
    "passed",
    "degraded",
    "failed",
    "skipped",
    "retried",
    "timed_runs",
    "duration_sum_ms",
)

_PG_ROLLUP_LOCK = 0x77666D6F6E0004  # "wfmon" + the rollups' first revision


def epoch_hour(moment: ColumnExpressionArgument[datetime], dialect: str) -> ColumnElement[int]:
    """SQL for the whole hours since 1970 (UTC) of a stored timestamp: a plain integer."""
    if dialect == "sqlite":
        seconds: Any = cast(func.strftime("%s", moment), Integer)
    elif dialect == "postgresql":
        # date_part is double precision; EXTRACT's numeric costs several times more per row.
        seconds = cast(func.floor(func.date_part("epoch", moment)), Integer)
    else:
        raise ValueError(f"rollups need SQLite or PostgreSQL, not {dialect}")
    hours: ColumnElement[int] = seconds // 3600
    return hours


def record_rollups(session: Session, run: Run) -> None:
    """Add ``run`` to every rollup; call inside the transaction that inserts it."""
    dialect = _dialect(session)
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_ROLLUP_LOCK})
    counts = _counts_of(run)
    hour = hour_of(run.started_at)
    where = {"workflow": run.workflow, "environment": run.environment}
    _add(session, dialect, HourlyRollup, {"hour": hour, **where}, counts)
    _add(session, dialect, DailyRollup, {"day": day_of(run.started_at), **where}, counts)
    _add(session, dialect, HourTotal, {"hour": hour}, counts)
    record_latency(
        session,
        workflow=run.workflow,
        environment=run.environment,
        started_at=run.started_at,
        duration_ms=None if run.status == RunStatus.SKIPPED.value else run.duration_ms,
    )
    record_state(session, run)


def rebuild_rollups(connection: Connection) -> None:
    """Recompute every rollup from the stored runs (migration backfill, bulk loads)."""
    dialect = connection.dialect.name
    for table in (HourTotal, DailyRollup, HourlyRollup):
        connection.execute(delete(table))
    hour = _truncate(col(Run.started_at), dialect, "hour")
    day = _truncate(col(Run.started_at), dialect, "day")
    workflow, environment = col(Run.workflow), col(Run.environment)
    for table, keys in (
        (HourlyRollup, {"hour": hour, "workflow": workflow, "environment": environment}),
        (DailyRollup, {"day": day, "workflow": workflow, "environment": environment}),
        (HourTotal, {"hour": hour}),
    ):
        grouped = select(*keys.values(), *count_sums()).group_by(*keys.values())
        connection.execute(insert(table).from_select([*keys, *COUNT_COLUMNS], grouped))
    hours = connection.execute(select(col(HourTotal.hour)).order_by(col(HourTotal.hour)))
    rebuild_latency(connection, hours=list(hours.scalars()))
    rebuild_state(connection)


# --- writing one run ---------------------------------------------------------------------


def _dialect(session: Session) -> str:
    bind = session.get_bind()
    return bind.dialect.name


def _counts_of(run: Run) -> dict[str, Any]:
    timed = run.status != RunStatus.SKIPPED.value
    return {
        "runs": 1,
        "passed": int(run.status == RunStatus.PASSED.value),
        "degraded": int(run.status == RunStatus.DEGRADED.value),
        "failed": int(run.status == RunStatus.FAILED.value),
        "skipped": int(not timed),
        "retried": int(run.attempts > 1),
        "timed_runs": int(timed),
        "duration_sum_ms": run.duration_ms if timed else 0.0,
    }


def _insert_for(dialect: str, table: type[SQLModel]) -> Any:
    # ON CONFLICT is dialect-specific in SQLAlchemy; both backends support DO UPDATE.
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise ValueError(f"rollups need SQLite or PostgreSQL, not {dialect}")


def _add(
    session: Session,
    dialect: str,
    table: type[SQLModel],
    keys: Mapping[str, Any],
    counts: Mapping[str, Any],
) -> None:
    statement = _insert_for(dialect, table).values({**keys, **counts})
    columns = table.__table__.c  # type: ignore[attr-defined]
    statement = statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: columns[name] + statement.excluded[name] for name in counts},
    )
    session.execute(statement)


# --- rebuilding from the runs ------------------------------------------------------------


def count_sums() -> list[ColumnElement[Any]]:
    """SQL sums over ``runs`` in the order of ``COUNT_COLUMNS``."""
    status = col(Run.status)
    timed = status != RunStatus.SKIPPED.value

    def count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    return [
        func.count(),
        count_if(status == RunStatus.PASSED.value),
        count_if(status == RunStatus.DEGRADED.value),
        count_if(status == RunStatus.FAILED.value),
        count_if(status == RunStatus.SKIPPED.value),
        count_if(col(Run.attempts) > 1),
        count_if(timed),
        func.coalesce(func.sum(case((timed, col(Run.duration_ms)), else_=0.0)), 0.0),
    ]


def _truncate(
    started_at: ColumnExpressionArgument[datetime], dialect: str, unit: str
) -> ColumnElement[Any]:
    if dialect == "sqlite":
        # The text SQLAlchemy stores for a naive UTC DateTime, cut to the hour or day.
        pattern = "%Y-%m-%d %H:00:00.000000" if unit == "hour" else "%Y-%m-%d 00:00:00.000000"
        return func.strftime(pattern, started_at)
    if dialect == "postgresql":
        # date_trunc works in the session's time zone: truncate the UTC wall time instead.
        utc = func.timezone("UTC", started_at)
        return func.timezone("UTC", func.date_trunc(unit, utc))
    raise ValueError(f"rollups need SQLite or PostgreSQL, not {dialect}")
