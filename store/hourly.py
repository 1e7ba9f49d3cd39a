"""A period's hourly series: every UTC hour from its start to now, all workflows together.

``1h`` reads its runs. Longer periods read ``rollup_hour_totals``, and most of it from
memory: a *closed* hour (before ``OPEN_HOURS`` ago) only changes when a run that started
in it is recorded late, and then its ``runs`` grows, because runs are only ever added.
So the closed hours of a period are kept, per engine, beside their *fingerprint* (how
many hour rows, how many runs in all), and each request checks that fingerprint in the
statement that reads the open hours. Equal, the kept hours are what the database holds;
different (a late run, a rebuild after runs were lost), they are read again. Exact
either way; a dashboard that refreshes reads a few rows instead of 744 for 30 days.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    Engine,
    Float,
    Integer,
    Select,
    bindparam,
    case,
    func,
    literal,
    select,
    type_coerce,
    union_all,
)
from sqlmodel import Session, SQLModel, col

from store.rollups import COUNT_COLUMNS, count_sums, epoch_hour
from store.tables import Run, UTCDateTime
from store.utc import hour_of

__all__ = ["OPEN_HOURS", "HourMetrics", "hourly_series"]

# The current hour and the one before it are read every time: runs that start in an hour
# are mostly recorded in it or just after it closes.
OPEN_HOURS = 2
# Periods kept per engine: the three longer periods, and the ones just before them.
_KEPT_PER_ENGINE = 8

_HOUR_TOTALS = SQLModel.metadata.tables["rollup_hour_totals"]
_START = bindparam("start", type_=UTCDateTime())
_OPEN_FROM = bindparam("open_from", type_=UTCDateTime())

# (row count, total runs) of the closed hours
Fingerprint = tuple[int, int]


class HourMetrics(NamedTuple):
    """Every workflow together in one UTC hour of the period: a point of the hourly series."""

    # A named tuple, not a frozen dataclass: 30 days are 744 of these per request, and a
    # tuple is built several times faster.

    hour: datetime
    runs: int = 0
    successful: int = 0
    failed: int = 0
    average_duration_ms: float = 0.0


class _Closed(NamedTuple):
    fingerprint: Fingerprint
    hours: tuple[HourMetrics, ...]


_kept: weakref.WeakKeyDictionary[Engine, OrderedDict[tuple[datetime, datetime], _Closed]] = (
    weakref.WeakKeyDictionary()
)
_kept_lock = threading.Lock()


def hourly_series(
    session: Session, *, start: datetime, now: datetime, from_runs: bool
) -> tuple[HourMetrics, ...]:
    """Each hour from ``start``'s to ``now``'s, zeros where no run started.

    ``from_runs``: count the runs themselves (the last hour), not the hourly totals.
    """
    bind = session.get_bind()
    dialect = bind.dialect.name
    first, last = _index(start), _index(now)
    if from_runs:
        rows = session.execute(_from_runs(dialect), {"start": start}).all()
        return _series(first, last, rows)
    open_from = max(hour_of(now) - timedelta(hours=OPEN_HOURS - 1), hour_of(start))
    found, fingerprint = _open_hours(session, dialect, start=start, open_from=open_from)
    engine, key = bind.engine, (start, open_from)
    closed = _kept_closed(engine, key)
    if closed is None or closed.fingerprint != fingerprint:
        rows = session.execute(
            _closed_statement(dialect), {"start": start, "open_from": open_from}
        ).all()
        hours = _series(first, _index(open_from) - 1, rows)
        closed = _Closed(_fingerprint_of(hours), hours)
        _keep(engine, key, closed)
    return closed.hours + _series(_index(open_from), last, found)


def _index(moment: datetime) -> int:
    """Whole hours since 1970 (UTC)."""
    return int(moment.timestamp()) // 3600


def _series(first: int, last: int, rows: Any) -> tuple[HourMetrics, ...]:
    # Hours without runs are part of the series too (zeros), so charts keep their scale.
    # 30 days are 744 hours: each is built straight from its row, without defaults or copies.
    found = {row[0]: row for row in rows}
    series = []
    for index in range(first, last + 1):
        hour = datetime.fromtimestamp(index * 3600, UTC)
        row = found.get(index)
        series.append(
            HourMetrics(hour)
            if row is None
            else HourMetrics._make((hour, row[1], row[2], row[3], row[4]))
        )
    return tuple(series)


def _fingerprint_of(hours: tuple[HourMetrics, ...]) -> Fingerprint:
    counted = [hour.runs for hour in hours if hour.runs]
    return len(counted), sum(counted)


def _open_hours(
    session: Session, dialect: str, *, start: datetime, open_from: datetime
) -> tuple[list[Any], Fingerprint]:
    """The open hours' rows, and the closed hours' fingerprint, in one statement."""
    fingerprint: Fingerprint = (0, 0)
    found = []
    for row in session.execute(
        _open_statement(dialect), {"start": start, "open_from": open_from}
    ).all():
        if row[0] is None:
            fingerprint = (int(row[5]), int(row[6]))
        else:
            found.append(row)
    return found, fingerprint


def _kept_closed(engine: Engine, key: tuple[datetime, datetime]) -> _Closed | None:
    with _kept_lock:
        periods = _kept.get(engine)
        return None if periods is None else periods.get(key)


def _keep(engine: Engine, key: tuple[datetime, datetime], closed: _Closed) -> None:
    with _kept_lock:
        periods = _kept.setdefault(engine, OrderedDict())
        periods[key] = closed
        periods.move_to_end(key)
        while len(periods) > _KEPT_PER_ENGINE:
            periods.popitem(last=False)


# --- statements, built once per dialect --------------------------------------------------


@functools.cache
def _open_statement(dialect: str) -> Select[Any]:
    totals = _HOUR_TOTALS
    nothing = literal(None, Integer)
    open_rows = select(*_hour_columns(dialect), nothing, nothing).where(totals.c.hour >= _OPEN_FROM)
    fingerprint = select(
        nothing,
        nothing,
        nothing,
        nothing,
        literal(None, Float),
        func.count(),
        func.coalesce(func.sum(totals.c.runs), 0),
    ).where(totals.c.hour >= _START, totals.c.hour < _OPEN_FROM)
    return union_all(open_rows, fingerprint)  # type: ignore[return-value]


@functools.cache
def _closed_statement(dialect: str) -> Select[Any]:
    totals = _HOUR_TOTALS
    return select(*_hour_columns(dialect)).where(
        totals.c.hour >= _START, totals.c.hour < _OPEN_FROM
    )


@functools.cache
def _from_runs(dialect: str) -> Select[Any]:
    hour = epoch_hour(col(Run.started_at), dialect).label("hour")
    sums = dict(zip(COUNT_COLUMNS, count_sums(), strict=True))
    return select(hour, *_hour_values(sums)).where(col(Run.started_at) >= _START).group_by(hour)


def _hour_columns(dialect: str) -> list[Any]:
    # Hours come back as integers (hours since 1970): no timestamp to parse per row. Only
    # what the series shows is read: every value costs the database and the driver.
    totals = _HOUR_TOTALS
    return [
        epoch_hour(totals.c.hour, dialect),
        *_hour_values({name: totals.c[name] for name in COUNT_COLUMNS}),
    ]


def _hour_values(counts: dict[str, Any]) -> list[Any]:
    """``HourMetrics``' numbers from an hour's ``COUNT_COLUMNS`` (SQL expressions)."""
    timed = counts["timed_runs"]
    return [
        counts["runs"],
        counts["passed"] + counts["degraded"],
        counts["failed"],
        # A float divisor: dividing by an integer, SQLAlchemy casts it to NUMERIC.
        case((timed > 0, counts["duration_sum_ms"] / type_coerce(timed, Float)), else_=0.0),
    ]
