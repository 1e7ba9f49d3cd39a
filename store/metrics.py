"""The numbers behind ``GET /api/monitoring/metrics``, aggregated by the database.

Periods (SPEC §6) and what they cover, ``now`` being the request's clock:

- ``1h``: the last 60 minutes exactly, read from the runs themselves (an hour of runs).
- ``24h``: the current UTC hour so far and the 24 whole hours before it.
- ``7d`` / ``30d``: the current UTC day so far and the 7 / 30 whole days before it.

The longer periods start at an hour or a day boundary so that they are made of whole
rollup rows (``store.rollups``): 30 days read about a thousand counts, a latency total
and snapshot row per workflow and bucket, and a state row per workflow, not a million
runs. The period before (for trends) is as many whole hours or days just before it (for
``1h``: the 60 minutes before). Runs count in the period their ``started_at`` falls in.

Definitions: *successful* runs passed or degraded; *retried* runs have ``attempts > 1``;
the success rate is successful / all runs (skipped ones included), in percent; durations
(average, percentiles) are over the runs that sent requests (skipped runs sent none).
Percentiles are nearest-rank, reported as their bucket's value (within
``store.latency.RELATIVE_ERROR``). A number with no run behind it is 0.
"""

from __future__ import annotations

import enum
import functools
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Engine,
    Select,
    and_,
    bindparam,
    case,
    func,
    literal,
    select,
    text,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, SQLModel, col

from store.alerts import AlertStatistics, count_alerts
from store.hourly import HourMetrics, last_hour_series, period_hours
from store.latency import bucket_expression, bucket_value, percentile_buckets
from store.reads import Reads
from store.rollups import COUNT_COLUMNS, count_sums
from store.sessions import session_for
from store.tables import Run, UTCDateTime
from store.utc import day_of, from_stored, hour_of
from wfmon.results import RunStatus

__all__ = [
    "Counts",
    "HourMetrics",
    "Percentiles",
    "Period",
    "PeriodMetrics",
    "PeriodWindow",
    "RecentRun",
    "StepMetrics",
    "WorkflowMetrics",
    "all_workflows",
    "period_metrics",
    "period_window",
]

RECENT_RUNS = 10
_HOUR = timedelta(hours=1)
_RUNS = SQLModel.metadata.tables["runs"]
_STEPS = SQLModel.metadata.tables["step_results"]
_ROLLUPS = {
    "hour": (SQLModel.metadata.tables["rollup_hours"], "hour"),
    "day": (SQLModel.metadata.tables["rollup_days"], "day"),
}
_STATE = SQLModel.metadata.tables["workflow_state"]
_BREAKERS = SQLModel.metadata.tables["circuit_breakers"]
# The database's round trip, timed for ``system.database``.
_PROBE = text("SELECT 1")


class Period(enum.StrEnum):
    """The periods the metrics API offers."""

    HOUR = "1h"
    DAY = "24h"
    WEEK = "7d"
    MONTH = "30d"


@dataclass(frozen=True, slots=True)
class PeriodWindow:
    """Where a period starts, and the period before it: ``[previous_start, start)``."""

    start: datetime
    previous_start: datetime
    # What the period is made of: runs, whole hours or whole days (plus the current one).
    grain: str
    # Lengths up to ``now``, in hours, to compare execution rates of unequal periods.
    hours: float
    previous_hours: float


@dataclass(frozen=True, slots=True)
class Counts:
    """Run counts and duration sums of a set of runs."""

    runs: int = 0
    passed: int = 0
    degraded: int = 0
    failed: int = 0
    skipped: int = 0
    retried: int = 0
    timed_runs: int = 0
    duration_sum_ms: float = 0.0

    @property
    def successful(self) -> int:
        """Passed or degraded runs."""
        return self.passed + self.degraded

    @property
    def success_rate(self) -> float:
        """Successful runs in percent of all runs; 0 without runs."""
        return 100.0 * self.successful / self.runs if self.runs else 0.0

    @property
    def average_duration_ms(self) -> float:
        """Mean duration of the runs that sent requests; 0 without any."""
        return self.duration_sum_ms / self.timed_runs if self.timed_runs else 0.0


@dataclass(frozen=True, slots=True)
class Percentiles:
    """Nearest-rank duration percentiles in ms (bucket values); 0 without timed runs."""

    p50: float = 0.0
    p95: float = 0.0
    p99: float = 0.0


@dataclass(frozen=True, slots=True)
class StepMetrics:
    """One step of one workflow over the period."""

    name: str
    runs: int
    failures: int
    average_duration_ms: float
    p95_duration_ms: float


@dataclass(frozen=True, slots=True)
class RecentRun:
    """A run in a workflow's recent list."""

    id: uuid.UUID
    status: str
    started_at: datetime
    duration_ms: float
    attempts: int
    error_type: str | None
    failed_step: str | None


@dataclass(frozen=True, slots=True)
class WorkflowMetrics:
    """One workflow in one environment: the period's numbers and its current state."""

    workflow: str
    environment: str
    priority: str
    counts: Counts
    p95_duration_ms: float
    last_status: str
    last_started_at: datetime
    # Failed runs since the last passed or degraded one (skipped runs neither count nor break).
    consecutive_failures: int
    circuit_state: str
    steps: tuple[StepMetrics, ...] | None = None
    recent: tuple[RecentRun, ...] | None = None


@dataclass(frozen=True, slots=True)
class PeriodMetrics:
    """Everything the metrics endpoint reports for one period."""

    period: Period
    window: PeriodWindow
    summary: Counts
    percentiles: Percentiles
    previous: Counts
    workflows: tuple[WorkflowMetrics, ...]
    hours: tuple[HourMetrics, ...]
    alerts: AlertStatistics
    database_latency_ms: float


def period_window(period: Period, *, now: datetime) -> PeriodWindow:
    """The window ``period`` covers at ``now`` (see the module docstring)."""
    if now.tzinfo is None:
        raise ValueError(f"now must be an aware datetime (UTC), got naive {now!r}")
    now = now.astimezone(UTC)
    if period is Period.HOUR:
        start, length, grain = now - _HOUR, _HOUR, "run"
    elif period is Period.DAY:
        length = timedelta(hours=24)
        start, grain = hour_of(now) - length, "hour"
    else:
        length = timedelta(days=7 if period is Period.WEEK else 30)
        start, grain = day_of(now) - length, "day"
    return PeriodWindow(
        start=start,
        previous_start=start - length,
        grain=grain,
        hours=(now - start) / _HOUR,
        previous_hours=length / _HOUR,
    )


def period_metrics(
    engine: Engine, *, period: Period, now: datetime, details: bool = False
) -> PeriodMetrics:
    """The period's metrics; ``details`` adds per-step numbers and recent runs.

    Two independent groups of reads (``store.reads``: at once on PostgreSQL): the counts
    with the hourly series, and the rest.
    """
    window = period_window(period, now=now)
    with Reads(engine) as reads:
        state = reads.submit(lambda session: _state(session, window, details=details))
        (summary, previous), hours = reads.run(
            lambda session: _counts_and_hours(session, window, now=now)
        )
        latency_ms, percentiles, workflows, alerts = state.result()
    return PeriodMetrics(
        period=period,
        window=window,
        summary=summary,
        percentiles=percentiles,
        previous=previous,
        workflows=workflows,
        hours=hours,
        alerts=alerts,
        database_latency_ms=latency_ms,
    )


def _counts_and_hours(
    session: Session, window: PeriodWindow, *, now: datetime
) -> tuple[tuple[Counts, Counts], tuple[HourMetrics, ...]]:
    """The period's counts, the previous period's, and the hourly series."""
    if window.grain == "run":
        hours = last_hour_series(session, start=window.start, now=now)
        return _counts(session, window), hours
    totals = period_hours(
        session, previous_start=window.previous_start, start=window.start, now=now
    )
    return (_to_counts(totals.current), _to_counts(totals.previous)), totals.series


def _state(
    session: Session, window: PeriodWindow, *, details: bool
) -> tuple[float, Percentiles, tuple[WorkflowMetrics, ...], AlertStatistics]:
    """The database's round trip, the percentiles, the workflows and the alerts."""
    latency_ms = _probe(session)
    percentiles, p95s = _percentiles(session, window)
    workflows = _workflows(session, window, p95s, details=details)
    return latency_ms, percentiles, workflows, count_alerts(session)


def _probe(session: Session) -> float:
    """The database's round trip in ms, for ``system.database``."""
    started = time.perf_counter()
    session.execute(_PROBE)
    return (time.perf_counter() - started) * 1000


def all_workflows(engine: Engine) -> tuple[WorkflowMetrics, ...]:
    """Every workflow and environment ever recorded, with all-time counts and current state."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    forever = PeriodWindow(
        start=epoch, previous_start=epoch, grain="day", hours=0.0, previous_hours=0.0
    )
    with session_for(engine, read_only=True) as session:
        return _workflows(session, forever, {}, details=False)


# --- counts --------------------------------------------------------------------------------


def _sums_of(table: Any) -> list[Any]:
    return [func.coalesce(func.sum(table.c[name]), 0) for name in COUNT_COLUMNS]


def _labelled(sums: list[Any]) -> list[Any]:
    return [total.label(name) for total, name in zip(sums, COUNT_COLUMNS, strict=True)]


def _to_counts(values: Any) -> Counts:
    runs, passed, degraded, failed, skipped, retried, timed, duration = values
    return Counts(
        runs=int(runs),
        passed=int(passed),
        degraded=int(degraded),
        failed=int(failed),
        skipped=int(skipped),
        retried=int(retried),
        timed_runs=int(timed),
        duration_sum_ms=float(duration),
    )


def _counts(session: Session, window: PeriodWindow) -> tuple[Counts, Counts]:
    """The last hour's counts and the hour's before, in one statement."""
    row = session.execute(_counts_statement(), _bounds(window)).one()
    width = len(COUNT_COLUMNS)
    return _to_counts(row[:width]), _to_counts(row[width:])


def _bounds(window: PeriodWindow) -> dict[str, datetime]:
    # The parameters of the statements below, built once per grain (and dialect).
    return {"start": window.start, "previous_start": window.previous_start}


_START = bindparam("start", type_=UTCDateTime())
_PREVIOUS_START = bindparam("previous_start", type_=UTCDateTime())


@functools.cache
def _counts_statement() -> Select[Any]:
    """The last hour's counts and the hour's before, from the runs (longer: store.hourly)."""
    slot = _RUNS.c.started_at
    values = _run_values()
    current = [
        func.coalesce(func.sum(case((slot >= _START, value), else_=0)), 0) for value in values
    ]
    earlier = [
        func.coalesce(func.sum(case((slot < _START, value), else_=0)), 0) for value in values
    ]
    return select(*current, *earlier).where(slot >= _PREVIOUS_START)


def _run_values() -> list[Any]:
    """Per run, what it adds to each of ``COUNT_COLUMNS`` (summed by ``_counts``)."""
    status = _RUNS.c.status
    timed = status != RunStatus.SKIPPED.value

    def one_if(condition: Any) -> Any:
        return case((condition, 1), else_=0)

    return [
        literal(1),
        one_if(status == RunStatus.PASSED.value),
        one_if(status == RunStatus.DEGRADED.value),
        one_if(status == RunStatus.FAILED.value),
        one_if(status == RunStatus.SKIPPED.value),
        one_if(_RUNS.c.attempts > 1),
        one_if(timed),
        case((timed, _RUNS.c.duration_ms), else_=0.0),
    ]


# --- latency -------------------------------------------------------------------------------


def _histogram(window: PeriodWindow) -> Any:
    """A CTE (workflow, environment, bucket, n) of the timed runs since the window's start."""
    bucket = bucket_expression(_RUNS.c.duration_ms).label("bucket")
    return (
        select(_RUNS.c.workflow, _RUNS.c.environment, bucket, literal(1).label("n"))
        .where(_RUNS.c.status != RunStatus.SKIPPED.value, _RUNS.c.started_at >= window.start)
        .cte("histogram")
    )


def _picks(running: Any, quantiles: dict[str, int]) -> list[Any]:
    # Integer arithmetic: cumulative >= q% of total, without float rounding at the rank.
    return [
        func.min(
            case((running.c.cumulative * 100 >= percent * running.c.total, running.c.bucket))
        ).label(name)
        for name, percent in quantiles.items()
    ]


def _ranked(histogram: Any, keys: list[Any], quantiles: dict[str, int]) -> Any:
    """Per group of ``keys``, the first bucket whose cumulative count reaches each quantile."""
    running = select(
        *keys,
        histogram.c.bucket,
        func.sum(histogram.c.n)
        .over(partition_by=keys, order_by=histogram.c.bucket)
        .label("cumulative"),
        func.sum(histogram.c.n).over(partition_by=keys).label("total"),
    ).subquery("running")
    group = [running.c[key.name] for key in keys]
    return select(*group, *_picks(running, quantiles)).group_by(*group)


def _percentiles(
    session: Session, window: PeriodWindow
) -> tuple[Percentiles, dict[tuple[str, str], float]]:
    """Overall p50/p95/p99 and each workflow's p95, in one statement."""
    if window.grain != "run":
        # Whole hours or days: cumulative latency counts (store.latency), no running sums.
        (low, high, highest), by_series = percentile_buckets(session, start=window.start)
        return (
            Percentiles(p50=_value(low), p95=_value(high), p99=_value(highest)),
            {key: _value(bucket) for key, bucket in by_series.items()},
        )
    # The last hour: a few thousand runs at most, read as they are.
    histogram = _histogram(window)
    keys = [histogram.c.workflow, histogram.c.environment]
    by_workflow = select(
        *keys,
        histogram.c.bucket,
        func.sum(histogram.c.n)
        .over(partition_by=keys, order_by=histogram.c.bucket)
        .label("cumulative"),
        func.sum(histogram.c.n).over(partition_by=keys).label("total"),
    ).subquery("by_workflow")
    # A few hundred buckets in all: add them up before the running sum, not after.
    buckets = (
        select(histogram.c.bucket, func.sum(histogram.c.n).label("n"))
        .group_by(histogram.c.bucket)
        .subquery("buckets")
    )
    overall = select(
        buckets.c.bucket,
        func.sum(buckets.c.n).over(order_by=buckets.c.bucket).label("cumulative"),
        func.sum(buckets.c.n).over().label("total"),
    ).subquery("overall")
    workflow_rows = select(
        by_workflow.c.workflow,
        by_workflow.c.environment,
        literal(None).label("p50"),
        *_picks(by_workflow, {"p95": 95}),
        literal(None).label("p99"),
    ).group_by(by_workflow.c.workflow, by_workflow.c.environment)
    overall_row = select(
        literal(None).label("workflow"),
        literal(None).label("environment"),
        *_picks(overall, {"p50": 50, "p95": 95, "p99": 99}),
    )
    percentiles = Percentiles()
    p95s: dict[tuple[str, str], float] = {}
    for workflow, environment, p50, p95, p99 in session.execute(
        union_all(workflow_rows, overall_row)
    ):
        if workflow is None:
            percentiles = Percentiles(p50=_value(p50), p95=_value(p95), p99=_value(p99))
        else:
            p95s[(workflow, environment)] = _value(p95)
    return percentiles, p95s


def _value(bucket: int | None) -> float:
    return 0.0 if bucket is None else bucket_value(int(bucket))


# --- workflows -----------------------------------------------------------------------------


def _workflow_counts(grain: str) -> Any:
    if grain == "run":
        return (
            select(col(Run.workflow).label("workflow"), col(Run.environment).label("environment"))
            .add_columns(
                *(
                    total.label(name)
                    for total, name in zip(count_sums(), COUNT_COLUMNS, strict=True)
                )
            )
            .where(col(Run.started_at) >= _START)
            .group_by(col(Run.workflow), col(Run.environment))
            .subquery("counts")
        )
    rollup, slot_name = _ROLLUPS[grain]
    return (
        select(rollup.c.workflow, rollup.c.environment)
        .add_columns(
            *(
                total.label(name)
                for total, name in zip(_sums_of(rollup), COUNT_COLUMNS, strict=True)
            )
        )
        .where(rollup.c[slot_name] >= _START)
        .group_by(rollup.c.workflow, rollup.c.environment)
        .subquery("counts")
    )


def _workflows(
    session: Session,
    window: PeriodWindow,
    p95s: dict[tuple[str, str], float],
    *,
    details: bool,
) -> tuple[WorkflowMetrics, ...]:
    rows = session.execute(_workflows_statement(window.grain), _bounds(window)).all()
    steps = _steps(session, window) if details else {}
    workflows = []
    for row in rows:
        workflow, environment = row[0], row[1]
        priority, status, started_at, failures, circuit_state = row[10:]
        key = (workflow, environment)
        workflows.append(
            WorkflowMetrics(
                workflow=workflow,
                environment=environment,
                priority=priority,
                counts=_to_counts(row[2:10]),
                p95_duration_ms=p95s.get(key, 0.0),
                last_status=status,
                last_started_at=_required(started_at),
                consecutive_failures=int(failures),
                circuit_state=circuit_state or "CLOSED",
                steps=steps.get(key, ()) if details else None,
                recent=_recent(session, window, key) if details else None,
            )
        )
    return tuple(workflows)


@functools.cache
def _workflows_statement(grain: str) -> Select[Any]:
    """The period's counts per workflow beside its current state (``store.workflow_state``)."""
    counts = _workflow_counts(grain)
    state, breakers = _STATE, _BREAKERS
    return (
        select(
            *(counts.c[name] for name in ("workflow", "environment", *COUNT_COLUMNS)),
            state.c.priority,
            state.c.last_status,
            state.c.last_started_at,
            state.c.consecutive_failures,
            breakers.c.state,
        )
        .select_from(
            counts.join(state, _same_workflow(state, counts)).outerjoin(
                # The breakers' own key format (store.breakers.breaker_key).
                breakers,
                breakers.c.key == state.c.workflow + "@" + state.c.environment,
            )
        )
        .order_by(counts.c.workflow, counts.c.environment)
    )


def _same_workflow(left: Any, right: Any) -> ColumnElement[bool]:
    """Rows of ``left`` and ``right`` (tables or subqueries) of one workflow and environment."""
    return and_(left.c.workflow == right.c.workflow, left.c.environment == right.c.environment)


def _steps(
    session: Session, window: PeriodWindow
) -> dict[tuple[str, str], tuple[StepMetrics, ...]]:
    # Steps have no rollups: ``details`` reads the period's step rows.
    joined = _STEPS.join(_RUNS, _RUNS.c.id == _STEPS.c.run_id)
    in_period = _RUNS.c.started_at >= window.start
    keys = [_RUNS.c.workflow, _RUNS.c.environment, _STEPS.c.name]
    bucket = bucket_expression(_STEPS.c.duration_ms).label("bucket")
    histogram = (
        select(*keys, bucket, func.count().label("n"))
        .select_from(joined)
        .where(in_period)
        .group_by(*keys, bucket)
        .subquery("step_histogram")
    )
    p95 = _ranked(
        histogram, [histogram.c.workflow, histogram.c.environment, histogram.c.name], {"p95": 95}
    ).subquery("step_p95")
    stats = (
        select(
            *keys,
            func.count().label("runs"),
            func.coalesce(
                func.sum(case((_STEPS.c.status == RunStatus.FAILED.value, 1), else_=0)), 0
            ).label("failures"),
            func.avg(_STEPS.c.duration_ms).label("average"),
            func.min(_STEPS.c.position).label("position"),
        )
        .select_from(joined)
        .where(in_period)
        .group_by(*keys)
        .subquery("step_stats")
    )
    query = (
        select(
            stats.c.workflow,
            stats.c.environment,
            stats.c.name,
            stats.c.runs,
            stats.c.failures,
            stats.c.average,
            p95.c.p95,
        )
        .select_from(stats.join(p95, and_(_same_workflow(p95, stats), p95.c.name == stats.c.name)))
        .order_by(stats.c.workflow, stats.c.environment, stats.c.position, stats.c.name)
    )
    steps: dict[tuple[str, str], list[StepMetrics]] = {}
    for workflow, environment, name, runs, failures, average, p95_bucket in session.execute(query):
        steps.setdefault((workflow, environment), []).append(
            StepMetrics(
                name=name,
                runs=int(runs),
                failures=int(failures),
                average_duration_ms=float(average or 0.0),
                p95_duration_ms=_value(p95_bucket),
            )
        )
    return {key: tuple(values) for key, values in steps.items()}


def _recent(session: Session, window: PeriodWindow, key: tuple[str, str]) -> tuple[RecentRun, ...]:
    workflow, environment = key
    query = (
        select(
            _RUNS.c.id,
            _RUNS.c.status,
            _RUNS.c.started_at,
            _RUNS.c.duration_ms,
            _RUNS.c.attempts,
            _RUNS.c.error_type,
            _RUNS.c.failed_step,
        )
        .where(
            _RUNS.c.workflow == workflow,
            _RUNS.c.environment == environment,
            _RUNS.c.started_at >= window.start,
        )
        .order_by(_RUNS.c.started_at.desc(), _RUNS.c.id.desc())
        .limit(RECENT_RUNS)
    )
    return tuple(
        RecentRun(
            id=row[0],
            status=row[1],
            started_at=_required(row[2]),
            duration_ms=float(row[3]),
            attempts=int(row[4]),
            error_type=row[5],
            failed_step=row[6],
        )
        for row in session.execute(query)
    )


def _required(value: datetime | str | None) -> datetime:
    if isinstance(value, datetime) and value.tzinfo is UTC:
        return value
    aware = from_stored(value)
    if aware is None:
        raise ValueError("a stored run has no start time")
    return aware
