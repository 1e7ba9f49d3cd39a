"""Latency histograms: each workflow's durations in buckets, kept so that any period's
percentiles are read from a few thousand rows without a window function.

Durations fall in geometric buckets (``GAMMA`` wide: a bucket's representative value is
within ``RELATIVE_ERROR`` of any duration in it). The counts are *cumulative*:

- ``latency_totals`` holds, per workflow and environment (a *series*) and bucket, how many
  of its timed runs so far fell in that bucket or a lower one, and on every row how many it
  has in all. A series has a row for every bucket from its lowest to its highest, so "at or
  below b" is one row, never a sum. The series ``ALL_SERIES`` counts every workflow
  together: the overall percentiles are read like any workflow's.
- ``latency_snapshots`` holds copies of those rows taken at *marks* (the start of an hour in
  which a run was recorded): the runs started before the mark. A snapshot either has no
  rows for a series (none of its runs started before the mark) or exactly the rows the
  totals have: when a series' range widens, its snapshots widen with it.
- Since a mark, a series has ``totals - snapshot`` runs at or below each bucket, and as many
  in all on the same row. Its p95 is the lowest bucket where the first reaches 95% of the
  second: one pass over the rows, a filter and a ``min``, no running sum. Marks are kept
  for ``HOURLY_MARKS_KEPT``, the first of each UTC day for ``DAILY_MARKS_KEPT``.

A snapshot is only taken when its hour is later than every mark, so every run recorded so
far started before it and the copy is exact; a run recorded late (after a mark later than
its start) is added to the snapshots of those marks. A period that starts between marks
reads the runs from its start to the next mark raw (normally there are none: no mark means
no run was recorded in that time). So every histogram is exact at bucket resolution.

Writers are serialised by the caller (``store.rollups``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnExpressionArgument,
    Connection,
    Float,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import SQLModel

from store.tables import UTCDateTime
from store.utc import day_of, from_stored, hour_of
from wfmon.results import RunStatus

__all__ = [
    "ALL_SERIES",
    "DAILY_MARKS_KEPT",
    "GAMMA",
    "HOURLY_MARKS_KEPT",
    "RELATIVE_ERROR",
    "PercentileBuckets",
    "bucket_expression",
    "bucket_value",
    "duration_bucket",
    "percentile_buckets",
    "rebuild_latency",
    "record_latency",
]

# Bucket b holds durations in [GAMMA**b, GAMMA**(b+1)) ms: under 4% error at any percentile.
# Reading a percentile costs a row per bucket; 8% buckets halve that against 4% ones.
GAMMA = 1.08
RELATIVE_ERROR = (GAMMA - 1) / (GAMMA + 1)
_LN_GAMMA = math.log(GAMMA)
# Shorter durations (0 ms included) share the lowest bucket.
_MIN_DURATION_MS = 0.01

# The 24h period starts at most 25 hours back; 30d at a UTC midnight at most 31 days back.
HOURLY_MARKS_KEPT = timedelta(hours=26)
DAILY_MARKS_KEPT = timedelta(days=62)

_RUNS = SQLModel.metadata.tables["runs"]
_TOTALS = SQLModel.metadata.tables["latency_totals"]
_SNAPSHOTS = SQLModel.metadata.tables["latency_snapshots"]
_MARKS = SQLModel.metadata.tables["latency_marks"]
_TIMED = _RUNS.c.status != RunStatus.SKIPPED.value
# After any run: "no mark yet" as an upper bound the runs index can range over.
_FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)

Series = tuple[str, str]
# Every workflow and environment together (no workflow is named ""): overall percentiles.
ALL_SERIES: Series = ("", "")
# Overall p50 / p95 / p99 and each series' p95, as buckets (None: no timed run).
PercentileBuckets = tuple[tuple[int | None, int | None, int | None], dict[Series, int]]


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


# --- writing one run ---------------------------------------------------------------------


def record_latency(
    session: Session,
    *,
    workflow: str,
    environment: str,
    started_at: datetime,
    duration_ms: float | None,
) -> None:
    """Count a run (``duration_ms`` None: skipped, it sent no request) in the histograms.

    Call inside the transaction that inserts the run, writers serialised.
    """
    # Before this run is counted: the snapshot at its hour holds only runs before that hour.
    _mark_if_new(session, hour_of(started_at))
    if duration_ms is None:
        return
    bucket = duration_bucket(duration_ms)
    # Normally no mark is later than a run being recorded: one look, for both series.
    late = session.execute(select(exists().where(_MARKS.c.starts_at > started_at))).scalar()
    for series in ((workflow, environment), ALL_SERIES):
        _count(session, series, started_at, bucket, late=bool(late))


def _count(
    session: Session, series: Series, started_at: datetime, bucket: int, *, late: bool
) -> None:
    workflow, environment = series
    mine = _series(_TOTALS, workflow, environment)
    lowest, highest = session.execute(
        select(func.min(_TOTALS.c.bucket), func.max(_TOTALS.c.bucket)).where(mine)
    ).one()
    if lowest is None:
        session.execute(
            insert(_TOTALS).values(
                workflow=workflow,
                environment=environment,
                bucket=bucket,
                runs_at_most=0,
                series_runs=0,
            )
        )
    elif bucket < lowest:
        _widen(session, workflow, environment, range(bucket, lowest), edge=lowest, below=True)
    elif bucket > highest:
        _widen(session, workflow, environment, range(highest + 1, bucket + 1), edge=highest)
    session.execute(update(_TOTALS).where(mine).values(_counted(_TOTALS, bucket)))
    if late:
        _count_in_later_snapshots(session, workflow, environment, started_at, bucket)


def _counted(table: Any, bucket: int) -> dict[str, Any]:
    """A series' row counts once a run in ``bucket`` is added."""
    return {
        "runs_at_most": table.c.runs_at_most + case((table.c.bucket >= bucket, 1), else_=0),
        "series_runs": table.c.series_runs + 1,
    }


def _series(table: Any, workflow: str, environment: str) -> ColumnElement[bool]:
    return and_(table.c.workflow == workflow, table.c.environment == environment)


def _widen(
    session: Session,
    workflow: str,
    environment: str,
    buckets: Iterable[int],
    *,
    edge: int,
    below: bool = False,
) -> None:
    """Add rows for ``buckets`` to the series' totals and to every snapshot holding it.

    Above the range a new row repeats the count at its top (``edge``); below it, no run is
    that short yet: 0. The series' total is the edge's, as on every row.
    """
    for bucket in buckets:
        for table in (_TOTALS, _SNAPSHOTS):
            keys = [column for column in table.c if column.name not in {"bucket", "runs_at_most"}]
            count = literal(0) if below else table.c.runs_at_most
            copied = select(*keys, literal(bucket), count).where(
                _series(table, workflow, environment), table.c.bucket == edge
            )
            session.execute(
                insert(table).from_select(
                    [*(key.name for key in keys), "bucket", "runs_at_most"], copied
                )
            )


def _mark_if_new(session: Session, hour: datetime) -> None:
    latest = from_stored(session.execute(select(func.max(_MARKS.c.starts_at))).scalar_one())
    if latest is not None and hour <= latest:
        return
    first_of_day = latest is None or day_of(latest) < day_of(hour)
    session.execute(insert(_MARKS).values(starts_at=hour, first_of_day=first_of_day))
    copy = select(
        literal(hour, UTCDateTime()),
        _TOTALS.c.workflow,
        _TOTALS.c.environment,
        _TOTALS.c.bucket,
        _TOTALS.c.runs_at_most,
        _TOTALS.c.series_runs,
    )
    session.execute(insert(_SNAPSHOTS).from_select(list(_SNAPSHOTS.c.keys()), copy))
    # Old marks are read by no period any more.
    expired = or_(
        (_MARKS.c.starts_at < hour - HOURLY_MARKS_KEPT) & _MARKS.c.first_of_day.is_(False),
        _MARKS.c.starts_at < hour - DAILY_MARKS_KEPT,
    )
    expired_marks = select(_MARKS.c.starts_at).where(expired)
    session.execute(delete(_SNAPSHOTS).where(_SNAPSHOTS.c.starts_at.in_(expired_marks)))
    session.execute(delete(_MARKS).where(expired))


def _count_in_later_snapshots(
    session: Session, workflow: str, environment: str, started_at: datetime, bucket: int
) -> None:
    # A run recorded late: the snapshots of later marks count it too. A later snapshot
    # without the series gets its rows (at 0) first.
    later = _MARKS.c.starts_at > started_at
    held = exists().where(
        _SNAPSHOTS.c.starts_at == _MARKS.c.starts_at,
        _series(_SNAPSHOTS, workflow, environment),
    )
    missing = (
        select(
            _MARKS.c.starts_at,
            _TOTALS.c.workflow,
            _TOTALS.c.environment,
            _TOTALS.c.bucket,
            literal(0),
            literal(0),
        )
        .select_from(_MARKS.join(_TOTALS, _series(_TOTALS, workflow, environment)))
        .where(later, ~held)
    )
    session.execute(insert(_SNAPSHOTS).from_select(list(_SNAPSHOTS.c.keys()), missing))
    session.execute(
        update(_SNAPSHOTS)
        .where(_SNAPSHOTS.c.starts_at > started_at, _series(_SNAPSHOTS, workflow, environment))
        .values(_counted(_SNAPSHOTS, bucket))
    )


# --- rebuilding from the runs ------------------------------------------------------------


def rebuild_latency(connection: Connection, *, hours: list[datetime]) -> None:
    """Recompute totals, marks and snapshots from the stored runs.

    ``hours`` are the UTC hours runs started in, ascending: the marks are chosen among them
    as ``record_latency`` would have made them, had every run been recorded on time.
    """
    for table in (_SNAPSHOTS, _MARKS, _TOTALS):
        connection.execute(delete(table))
    series = (_RUNS.c.workflow, _RUNS.c.environment)
    bucket = bucket_expression(_RUNS.c.duration_ms)
    by_bucket = select(*series, bucket, func.count()).where(_TIMED).group_by(*series, bucket)
    histograms: dict[Series, dict[int, int]] = {}
    for workflow, environment, at, runs in connection.execute(by_bucket):
        _add_to(histograms, (workflow, environment), int(at), int(runs))
    ranges = {key: (min(counts), max(counts)) for key, counts in histograms.items()}
    _insert_cumulative(connection, _TOTALS, histograms, ranges, prefix=())
    if not hours:
        return
    before: dict[Series, dict[int, int]] = {}
    previous: datetime | None = None
    for mark, first_of_day in _marks_for(hours):
        between = by_bucket.where(_RUNS.c.started_at < mark)
        if previous is not None:
            between = between.where(_RUNS.c.started_at >= previous)
        for workflow, environment, at, runs in connection.execute(between):
            _add_to(before, (workflow, environment), int(at), int(runs))
        connection.execute(insert(_MARKS).values(starts_at=mark, first_of_day=first_of_day))
        _insert_cumulative(connection, _SNAPSHOTS, before, ranges, prefix=(mark,))
        previous = mark


def _add_to(
    histograms: dict[Series, dict[int, int]], series: Series, bucket: int, runs: int
) -> None:
    """Count ``runs`` in ``bucket`` of ``series`` and of ``ALL_SERIES``."""
    for key in (series, ALL_SERIES):
        counts = histograms.setdefault(key, {})
        counts[bucket] = counts.get(bucket, 0) + runs


def _marks_for(hours: list[datetime]) -> list[tuple[datetime, bool]]:
    latest = hours[-1]
    marks = []
    previous_day: datetime | None = None
    for hour in hours:
        first_of_day = previous_day is None or previous_day < day_of(hour)
        previous_day = day_of(hour)
        if hour >= latest - (DAILY_MARKS_KEPT if first_of_day else HOURLY_MARKS_KEPT):
            marks.append((hour, first_of_day))
    return marks


def _insert_cumulative(
    connection: Connection,
    table: Any,
    histograms: dict[Series, dict[int, int]],
    ranges: dict[Series, tuple[int, int]],
    *,
    prefix: tuple[Any, ...],
) -> None:
    rows = []
    for (workflow, environment), counts in histograms.items():
        lowest, highest = ranges[(workflow, environment)]
        series_runs = sum(counts.values())
        at_most = 0
        for bucket in range(lowest, highest + 1):
            at_most += counts.get(bucket, 0)
            rows.append(
                dict(
                    zip(
                        table.c.keys(),
                        (*prefix, workflow, environment, bucket, at_most, series_runs),
                        strict=True,
                    )
                )
            )
    if rows:
        connection.execute(insert(table), rows)


# --- reading a period ----------------------------------------------------------------------


def percentile_buckets(session: Session, *, start: datetime) -> PercentileBuckets:
    """Overall p50/p95/p99 and each series' p95 (nearest rank) of the runs since ``start``.

    ``start`` should be an hour at which a mark may exist (hour or day periods).
    """
    # The usual case, in one statement: a mark since the start, and no run before it that
    # was recorded late. The statement also says whether that is the case.
    rows = session.execute(_usual_percentiles(), {"start": start}).all()
    if not rows or rows[0].mark is None or rows[0].late:
        # Otherwise (or no row to tell): the mark first, then the statement of its shape.
        mark, raw = session.execute(_mark_lookup(), {"start": start}).one()
        mark = from_stored(mark)
        statement = _percentile_statement(has_mark=mark is not None, has_raw=bool(raw))
        rows = session.execute(statement, {"start": start, "mark": mark or _FAR_FUTURE}).all()
    overall: tuple[int | None, int | None, int | None] = (None, None, None)
    p95s: dict[Series, int] = {}
    for workflow, environment, p50, p95, p99, *_ in rows:
        if (workflow, environment) == ALL_SERIES:
            overall = (p50, p95, p99)
        else:
            p95s[(workflow, environment)] = int(p95)
    return overall, p95s


@functools.cache
def _mark_lookup() -> Select[Any]:
    """The first mark at or after ``start``, and whether timed runs started in between."""
    mark, late = _mark_and_late()
    return select(mark.label("mark"), late.label("late"))


def _mark_and_late() -> tuple[ColumnElement[Any], ColumnElement[bool]]:
    start = bindparam("start", type_=UTCDateTime())
    mark_after_start = (
        select(func.min(_MARKS.c.starts_at)).where(_MARKS.c.starts_at >= start).scalar_subquery()
    )
    late = exists().where(
        _TIMED,
        _RUNS.c.started_at >= start,
        _RUNS.c.started_at < func.coalesce(mark_after_start, literal(_FAR_FUTURE, UTCDateTime())),
    )
    return mark_after_start, late


@functools.cache
def _usual_percentiles() -> Select[Any]:
    """The percentiles read against the first mark since ``start``, found in the same
    statement; each row also carries that ``mark`` and whether runs between ``start`` and
    the mark were recorded ``late``. Right when there is a mark and no late run."""
    mark, late = _mark_and_late()
    return _percentiles_against(mark, has_mark=True, has_raw=False).add_columns(
        mark.label("mark"), late.label("late")
    )


@functools.cache
def _percentile_statement(*, has_mark: bool, has_raw: bool) -> Select[Any]:
    """Built once per shape: the statement only takes ``start`` and ``mark`` as parameters."""
    return _percentiles_against(
        bindparam("mark", type_=UTCDateTime()), has_mark=has_mark, has_raw=has_raw
    )


def _percentiles_against(mark: ColumnElement[Any], *, has_mark: bool, has_raw: bool) -> Select[Any]:
    """Percentiles since ``start`` (a parameter), read against the snapshot at ``mark``.

    One pass over the totals (joined to the snapshot at the mark): each row knows its
    series' runs at or below its bucket and in all since the mark, so each percentile is
    the ``min`` bucket whose count reaches its share. Workflows report their p95 only, so p50
    and p99 are only worked out for ``ALL_SERIES`` (a ``FILTER``, cheaper than the ``CASE``).
    """
    start = bindparam("start", type_=UTCDateTime())
    totals = _TOTALS
    # No mark since the start: every run the totals count started before it.
    at_most: ColumnElement[Any] = literal(0)
    runs: ColumnElement[Any] = literal(0)
    source: Any = totals
    if has_mark:
        # Joined as it is: PostgreSQL hashes one side, SQLite looks each row up in the
        # snapshots' key. Reading the snapshot first (a materialised CTE) cost both twice.
        before = _SNAPSHOTS
        at_most = totals.c.runs_at_most - func.coalesce(before.c.runs_at_most, 0)
        runs = totals.c.series_runs - func.coalesce(before.c.series_runs, 0)
        source = totals.outerjoin(
            before,
            and_(
                before.c.starts_at == mark,
                before.c.workflow == totals.c.workflow,
                before.c.environment == totals.c.environment,
                before.c.bucket == totals.c.bucket,
            ),
        )
    if has_raw:
        # Runs from the start to the mark were recorded late: count them one by one.
        late = [
            _TIMED,
            _RUNS.c.started_at >= start,
            _RUNS.c.started_at < mark,
            or_(
                totals.c.workflow == ALL_SERIES[0],
                and_(
                    _RUNS.c.workflow == totals.c.workflow,
                    _RUNS.c.environment == totals.c.environment,
                ),
            ),
        ]
        at_most = at_most + (
            select(func.count())
            .where(*late, bucket_expression(_RUNS.c.duration_ms) <= totals.c.bucket)
            .scalar_subquery()
        )
        runs = runs + select(func.count()).where(*late).scalar_subquery()

    def pick(percent: int) -> Any:
        # Integer arithmetic: at_most >= p% of runs, without float rounding at the rank.
        return func.min(case((at_most * 100 >= percent * runs, totals.c.bucket)))

    overall = totals.c.workflow == ALL_SERIES[0]
    series = (totals.c.workflow, totals.c.environment)
    statement: Select[Any] = (
        select(*series, pick(50).filter(overall), pick(95), pick(99).filter(overall))
        .select_from(source)
        .where(runs > 0)
        .group_by(*series)
    )
    return statement
