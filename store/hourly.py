"""A period's hour totals: its counts, the previous period's, and its hourly series.

``1h`` reads its runs (``store.metrics``). Longer periods read ``rollup_hour_totals``, and
most of it from memory: a *closed* hour (before ``OPEN_HOURS`` ago) only changes when a
run that started in it is recorded late, and then its ``runs`` grows, because runs are
only ever added. So the sums and the series of the closed hours of a period and of the
period before it are kept, per engine, beside their *fingerprint* (how many hour rows,
how many runs in all), and each request checks that fingerprint in the statement that
reads the open hours. Equal, the kept numbers are what the database holds; different (a
late run, a rebuild after runs were lost), they are read again. Exact either way; a
dashboard that refreshes reads a few rows instead of 1,488 for 30 days.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    Engine,
    Float,
    Integer,
    Select,
    bindparam,
    func,
    literal,
    select,
    union_all,
)
from sqlmodel import Session, SQLModel, col

from store.rollups import COUNT_COLUMNS, count_sums, epoch_hour
from store.tables import Run, UTCDateTime
from store.utc import hour_of

__all__ = ["OPEN_HOURS", "HourMetrics", "PeriodHours", "last_hour_series", "period_hours"]

# The current hour and the one before it are read every time: runs that start in an hour
# are mostly recorded in it or just after it closes.
OPEN_HOURS = 2
# Periods kept per engine: the three longer periods, and the ones just before them.
_KEPT_PER_ENGINE = 8

_HOUR_TOTALS = SQLModel.metadata.tables["rollup_hour_totals"]
_START = bindparam("start", type_=UTCDateTime())
_PREVIOUS_START = bindparam("previous_start", type_=UTCDateTime())
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


# The sums of ``COUNT_COLUMNS`` over some hours, in that order (the last one a float).
Sums = tuple[float, ...]
_NO_RUNS: Sums = (0,) * (len(COUNT_COLUMNS) - 1) + (0.0,)


class PeriodHours(NamedTuple):
    """What the hour totals say of a period."""

    current: Sums
    previous: Sums
    series: tuple[HourMetrics, ...]


class _Closed(NamedTuple):
    fingerprint: Fingerprint
    current: Sums
    previous: Sums
    series: tuple[HourMetrics, ...]


_kept: weakref.WeakKeyDictionary[Engine, OrderedDict[tuple[datetime, ...], _Closed]] = (
    weakref.WeakKeyDictionary()
)
_kept_lock = threading.Lock()


def period_hours(
    session: Session, *, previous_start: datetime, start: datetime, now: datetime
) -> PeriodHours:
    """Sums over ``[start, now]`` and ``[previous_start, start)``, and each hour from
    ``start``'s to ``now``'s (zeros where no run started). Starts are whole hours."""
    bind = session.get_bind()
    dialect = bind.dialect.name
    open_from = max(hour_of(now) - timedelta(hours=OPEN_HOURS - 1), start)
    bounds = {"previous_start": previous_start, "open_from": open_from}
    open_rows: list[Any] = []
    fingerprint: Fingerprint = (0, 0)
    for row in session.execute(_open_statement(dialect), bounds).all():
        if row[0] is None:
            fingerprint = (int(row[9]), int(row[10]))
        else:
            open_rows.append(row[:9])
    engine, key = bind.engine, (previous_start, start, open_from)
    closed = _kept_closed(engine, key)
    if closed is None or closed.fingerprint != fingerprint:
        rows = session.execute(_closed_statement(dialect), bounds).all()
        closed = _closed(rows, start=start, open_from=open_from)
        _keep(engine, key, closed)
    return PeriodHours(
        current=_add(closed.current, _sums(open_rows)),
        previous=closed.previous,
        series=closed.series + _series(_index(open_from), _index(now), open_rows),
    )


def last_hour_series(
    session: Session, *, start: datetime, now: datetime
) -> tuple[HourMetrics, ...]:
    """Each hour from ``start``'s to ``now``'s, counted from the runs themselves."""
    dialect = session.get_bind().dialect.name
    rows = session.execute(_from_runs(dialect), {"start": start}).all()
    return _series(_index(start), _index(now), rows)


def _closed(rows: Sequence[Any], *, start: datetime, open_from: datetime) -> _Closed:
    """The kept numbers of the closed hours, from their rows (hour index, then the sums)."""
    first = _index(start)
    current = [row for row in rows if row[0] >= first]
    previous = _sums([row for row in rows if row[0] < first])
    current_sums = _sums(current)
    return _Closed(
        fingerprint=(len(rows), int(current_sums[0] + previous[0])),
        current=current_sums,
        previous=previous,
        series=_series(first, _index(open_from) - 1, current),
    )


def _sums(rows: Sequence[Any]) -> Sums:
    """Column by column, the sums of rows of (hour index, ``COUNT_COLUMNS``...)."""
    return _add(_NO_RUNS, *(tuple(row[1:]) for row in rows))


def _add(*sums: Sums) -> Sums:
    return tuple(sum(column) for column in zip(*sums, strict=True))


def _index(moment: datetime) -> int:
    """Whole hours since 1970 (UTC)."""
    return int(moment.timestamp()) // 3600


def _series(first: int, last: int, rows: Any) -> tuple[HourMetrics, ...]:
    """Rows of (hour index, ``COUNT_COLUMNS``...) as the series' points, hour by hour."""
    # Hours without runs are part of the series too (zeros), so charts keep their scale.
    # 30 days are 744 hours: each is built straight from its row, without defaults.
    found = {row[0]: row for row in rows}
    series = []
    for index in range(first, last + 1):
        hour = datetime.fromtimestamp(index * 3600, UTC)
        row = found.get(index)
        if row is None:
            series.append(HourMetrics(hour))
            continue
        _, runs, passed, degraded, failed, _, _, timed, duration = row
        average = duration / timed if timed else 0.0
        series.append(HourMetrics._make((hour, runs, passed + degraded, failed, average)))
    return tuple(series)


def _kept_closed(engine: Engine, key: tuple[datetime, ...]) -> _Closed | None:
    with _kept_lock:
        periods = _kept.get(engine)
        return None if periods is None else periods.get(key)


def _keep(engine: Engine, key: tuple[datetime, ...], closed: _Closed) -> None:
    with _kept_lock:
        periods = _kept.setdefault(engine, OrderedDict())
        periods[key] = closed
        periods.move_to_end(key)
        while len(periods) > _KEPT_PER_ENGINE:
            periods.popitem(last=False)


# --- statements, built once per dialect --------------------------------------------------


@functools.cache
def _open_statement(dialect: str) -> Select[Any]:
    """The open hours' rows, then one row of the closed hours' fingerprint."""
    totals = _HOUR_TOTALS
    null = literal(None, Integer)
    open_rows = select(*_hour_row(dialect), null, null).where(totals.c.hour >= _OPEN_FROM)
    # Typed nulls where the rows have the hour and its sums (the duration sum a float).
    nulls = [null] * len(COUNT_COLUMNS) + [literal(None, Float)]
    fingerprint = select(*nulls, func.count(), func.coalesce(func.sum(totals.c.runs), 0)).where(
        totals.c.hour >= _PREVIOUS_START, totals.c.hour < _OPEN_FROM
    )
    return union_all(open_rows, fingerprint)  # type: ignore[return-value]


@functools.cache
def _closed_statement(dialect: str) -> Select[Any]:
    totals = _HOUR_TOTALS
    return select(*_hour_row(dialect)).where(
        totals.c.hour >= _PREVIOUS_START, totals.c.hour < _OPEN_FROM
    )


@functools.cache
def _from_runs(dialect: str) -> Select[Any]:
    hour = epoch_hour(col(Run.started_at), dialect).label("hour")
    return select(hour, *count_sums()).where(col(Run.started_at) >= _START).group_by(hour)


def _hour_row(dialect: str) -> list[Any]:
    # Hours come back as integers (hours since 1970): no timestamp to parse per row.
    totals = _HOUR_TOTALS
    return [epoch_hour(totals.c.hour, dialect), *(totals.c[name] for name in COUNT_COLUMNS)]
