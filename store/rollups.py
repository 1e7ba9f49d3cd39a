"""Rollups of recorded runs, written in the transaction that records each run.

The metrics API answers from these, never from the raw ``runs`` of a long period:

- ``rollup_hours`` / ``rollup_days``: run counts by status, retried runs and duration sums
  per workflow, environment and UTC hour / day. ``rollup_hour_totals``: the same per hour
  for every workflow together (the hourly series and a period's totals).
- Latency: durations fall in geometric buckets (``GAMMA`` wide, so a bucket's
  representative value is within ``RELATIVE_ERROR`` of any duration in it).
  ``latency_totals`` counts each workflow's runs per bucket since the beginning;
  ``latency_snapshots`` holds copies of those totals taken at *marks* (the start of an hour
  in which a run was recorded). The histogram of the runs started since a mark is
  ``totals - snapshot``: two small reads, whatever the length of the period. Marks are kept
  for ``HOURLY_MARKS_KEPT``, and the first mark of each UTC day for ``DAILY_MARKS_KEPT``.

A snapshot is only taken when its hour is later than every mark (so every run recorded so
far started before it and the copy is exact). A run recorded late, after a mark later
than its start, is added to the snapshots of those marks. A period that starts between
marks reads the runs from its start to the next mark raw (normally none: no mark means no
run was recorded in that time). So every histogram is exact at bucket resolution.

Writers take one lock (PostgreSQL: an advisory transaction lock; SQLite: ``BEGIN
IMMEDIATE`` already serialises writers): runs are recorded seconds apart, and the mark
logic above needs to see every earlier write.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnExpressionArgument,
    Connection,
    Float,
    Integer,
    Select,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    type_coerce,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import SQLModel, col

from store.tables import (
    DailyRollup,
    HourlyRollup,
    HourTotal,
    LatencyMark,
    LatencySnapshot,
    LatencyTotal,
    Run,
    UTCDateTime,
)
from wfmon.results import RunStatus

__all__ = [
    "COUNT_COLUMNS",
    "DAILY_MARKS_KEPT",
    "GAMMA",
    "HOURLY_MARKS_KEPT",
    "RELATIVE_ERROR",
    "bucket_expression",
    "bucket_value",
    "count_sums",
    "day_of",
    "duration_bucket",
    "hour_of",
    "rebuild_rollups",
    "record_rollups",
    "truncate_to_hour",
]

# Bucket b holds durations in [GAMMA**b, GAMMA**(b+1)) ms; ~2% error at any percentile.
GAMMA = 1.04
RELATIVE_ERROR = (GAMMA - 1) / (GAMMA + 1)
_LN_GAMMA = math.log(GAMMA)
# Shorter durations (0 ms included) share the lowest bucket.
_MIN_DURATION_MS = 0.01

# The 24h period starts at most 25 hours back; 30d at a UTC midnight at most 31 days back.
HOURLY_MARKS_KEPT = timedelta(hours=26)
DAILY_MARKS_KEPT = timedelta(days=62)

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

_PG_ROLLUP_LOCK = 0x77666D6F6E0004  # "wfmon" + this revision


def duration_bucket(duration_ms: float) -> int:
    """The latency bucket of a duration (the same arithmetic as ``bucket_expression``)."""
    return math.floor(math.log(max(duration_ms, _MIN_DURATION_MS)) / _LN_GAMMA)


def bucket_value(bucket: int) -> float:
    """The value reported for a bucket: within ``RELATIVE_ERROR`` of all its durations."""
    return 2 * GAMMA ** (bucket + 1) / (1 + GAMMA)


def bucket_expression(duration_ms: ColumnExpressionArgument[float]) -> ColumnElement[int]:
    """``duration_bucket`` in SQL (SQLite >= 3.35 with math functions, or PostgreSQL)."""
    duration = type_coerce(duration_ms, Float)
    floored = case((duration < _MIN_DURATION_MS, _MIN_DURATION_MS), else_=duration)
    return cast(func.floor(func.ln(floored) / literal(_LN_GAMMA)), Integer)


def hour_of(moment: datetime) -> datetime:
    """The start of the UTC hour of ``moment``."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def day_of(moment: datetime) -> datetime:
    """The start (midnight) of the UTC day of ``moment``."""
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def truncate_to_hour(
    started_at: ColumnExpressionArgument[datetime], dialect: str
) -> ColumnElement[Any]:
    """SQL for the start of the UTC hour of a stored timestamp, as the column stores it."""
    return _truncate(started_at, dialect, "hour")


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
    # Before this run is counted: the snapshot at its hour holds only runs before that hour.
    _mark_if_new(session, hour)
    if run.status == RunStatus.SKIPPED.value:
        return
    bucket = duration_bucket(run.duration_ms)
    _count_in_later_snapshots(session, dialect, run, bucket)
    _add(session, dialect, LatencyTotal, {**where, "bucket": bucket}, {"runs": 1})


def rebuild_rollups(connection: Connection) -> None:
    """Recompute every rollup from the stored runs (migration backfill, bulk loads)."""
    dialect = connection.dialect.name
    for table in (LatencySnapshot, LatencyMark, LatencyTotal, HourTotal, DailyRollup, HourlyRollup):
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
    bucket = bucket_expression(col(Run.duration_ms))
    latency = (
        select(workflow, environment, bucket, func.count())
        .where(col(Run.status) != RunStatus.SKIPPED.value)
        .group_by(workflow, environment, bucket)
    )
    connection.execute(
        insert(LatencyTotal).from_select(["workflow", "environment", "bucket", "runs"], latency)
    )
    _rebuild_marks(connection)


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


def _mark_if_new(session: Session, hour: datetime) -> None:
    latest = _aware(session.execute(select(func.max(col(LatencyMark.starts_at)))).scalar_one())
    if latest is not None and hour <= latest:
        return
    first_of_day = latest is None or day_of(latest) < day_of(hour)
    session.execute(insert(LatencyMark).values(starts_at=hour, first_of_day=first_of_day))
    copy = select(
        literal(hour, UTCDateTime()),
        col(LatencyTotal.workflow),
        col(LatencyTotal.environment),
        col(LatencyTotal.bucket),
        col(LatencyTotal.runs),
    )
    session.execute(
        insert(LatencySnapshot).from_select(
            ["starts_at", "workflow", "environment", "bucket", "runs_before"], copy
        )
    )
    # Old marks are read by no period any more.
    expired = or_(
        (col(LatencyMark.starts_at) < hour - HOURLY_MARKS_KEPT)
        & (col(LatencyMark.first_of_day).is_(False)),
        col(LatencyMark.starts_at) < hour - DAILY_MARKS_KEPT,
    )
    expired_marks = select(col(LatencyMark.starts_at)).where(expired)
    session.execute(
        delete(LatencySnapshot).where(col(LatencySnapshot.starts_at).in_(expired_marks))
    )
    session.execute(delete(LatencyMark).where(expired))


def _count_in_later_snapshots(session: Session, dialect: str, run: Run, bucket: int) -> None:
    # Normally no mark is later than a run being recorded: this reads one index entry.
    later = select(
        col(LatencyMark.starts_at),
        literal(run.workflow),
        literal(run.environment),
        literal(bucket),
        literal(1),
    ).where(col(LatencyMark.starts_at) > run.started_at)
    statement = _insert_for(dialect, LatencySnapshot).from_select(
        ["starts_at", "workflow", "environment", "bucket", "runs_before"], later
    )
    statement = statement.on_conflict_do_update(
        index_elements=["starts_at", "workflow", "environment", "bucket"],
        set_={"runs_before": LatencySnapshot.__table__.c.runs_before + 1},  # type: ignore[attr-defined]
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


def _rebuild_marks(connection: Connection) -> None:
    newest = _aware(connection.execute(select(func.max(col(Run.started_at)))).scalar_one())
    if newest is None:
        return
    latest_hour = hour_of(newest)
    # Whole days, so "first mark of its day" is judged as record_run judges it.
    hours = [
        _aware(value)
        for value in connection.execute(
            select(col(HourTotal.hour))
            .where(col(HourTotal.hour) >= day_of(latest_hour - DAILY_MARKS_KEPT))
            .order_by(col(HourTotal.hour))
        ).scalars()
    ]
    marks: list[tuple[datetime, bool]] = []
    previous_day: datetime | None = None
    for hour in hours:
        assert hour is not None
        first_of_day = previous_day is None or previous_day < day_of(hour)
        previous_day = day_of(hour)
        kept = hour >= latest_hour - (DAILY_MARKS_KEPT if first_of_day else HOURLY_MARKS_KEPT)
        if kept:
            marks.append((hour, first_of_day))
    previous: datetime | None = None
    for mark, first_of_day in marks:
        connection.execute(insert(LatencyMark).values(starts_at=mark, first_of_day=first_of_day))
        connection.execute(
            insert(LatencySnapshot).from_select(
                ["starts_at", "workflow", "environment", "bucket", "runs_before"],
                _snapshot_at(mark, previous),
            )
        )
        previous = mark


def _snapshot_at(mark: datetime, previous: datetime | None) -> Select[Any]:
    # The previous snapshot plus the runs between it and this mark: one pass over the runs.
    bucket = bucket_expression(col(Run.duration_ms)).label("bucket")
    between: Any = select(
        col(Run.workflow).label("workflow"),
        col(Run.environment).label("environment"),
        bucket,
        literal(1).label("n"),
    ).where(col(Run.status) != RunStatus.SKIPPED.value, col(Run.started_at) < mark)
    parts: list[Any] = []
    if previous is not None:
        between = between.where(col(Run.started_at) >= previous)
        snapshot: Any = select(
            col(LatencySnapshot.workflow).label("workflow"),
            col(LatencySnapshot.environment).label("environment"),
            col(LatencySnapshot.bucket).label("bucket"),
            col(LatencySnapshot.runs_before).label("n"),
        ).where(col(LatencySnapshot.starts_at) == previous)
        parts.append(snapshot)
    parts.append(between)
    both = union_all(*parts).subquery()
    return select(
        literal(mark, UTCDateTime()),
        both.c.workflow,
        both.c.environment,
        both.c.bucket,
        func.sum(both.c.n),
    ).group_by(both.c.workflow, both.c.environment, both.c.bucket)


def _aware(value: datetime | str | None) -> datetime | None:
    # Aggregates (max) may bypass the column type: SQLite gives naive UTC text.
    if value is None:
        return None
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
