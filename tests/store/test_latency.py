"""Percentiles read from the cumulative latency counts equal exact nearest-rank ones (at
bucket resolution), on both backends, whatever order the runs were recorded in: ranges that
widen up and down, runs recorded hours late, and a period starting in an hour whose only
runs were recorded after a later mark (read raw)."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, event
from sqlmodel import Session

from store import record_run
from store.latency import duration_bucket, percentile_buckets
from tests.store.examples import passed_run
from wfmon.results import RunStatus

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _nearest_rank(buckets: list[int], percent: int) -> int | None:
    if not buckets:
        return None
    ordered = sorted(buckets)
    return ordered[max(math.ceil(percent * len(ordered) / 100), 1) - 1]


def _runs() -> list[tuple[str, datetime, float, RunStatus]]:
    rng = random.Random(5)
    runs = []
    for index in range(240):
        # Three workflows over ~3 days; the first hours have few runs, so ranges widen.
        workflow = ("login", "search", "checkout")[index % 3]
        at = T0 + timedelta(minutes=17 * index + rng.randrange(0, 10))
        median = {"login": 80.0, "search": 400.0, "checkout": 2500.0}[workflow]
        status = rng.choice([RunStatus.PASSED] * 8 + [RunStatus.FAILED, RunStatus.SKIPPED])
        duration = 0.0 if status is RunStatus.SKIPPED else rng.lognormvariate(math.log(median), 1)
        runs.append((workflow, at, duration, status))
    return runs


def _recording_order(
    runs: list[tuple[str, datetime, float, RunStatus]],
) -> list[tuple[str, datetime, float, RunStatus]]:
    rng = random.Random(11)
    # Every tenth run is recorded up to five hours late.
    order = sorted(
        runs,
        key=lambda run: (
            run[1] + (timedelta(hours=rng.uniform(1, 5)) if rng.random() < 0.1 else timedelta())
        ),
    )
    # Hour 10 of the second day: its only run is recorded after a run of hour 11.
    gap = T0 + timedelta(days=1, hours=10)
    order = [run for run in order if not gap <= run[1] < gap + timedelta(hours=2)]
    order += [
        ("search", gap + timedelta(hours=1, minutes=5), 350.0, RunStatus.PASSED),
        ("login", gap + timedelta(minutes=30), 9000.0, RunStatus.FAILED),
    ]
    return order


def test_percentiles_since_any_hour_equal_nearest_rank(migrated_engine: Engine) -> None:
    recorded = _recording_order(_runs())
    for workflow, at, duration, status in recorded:
        record_run(
            migrated_engine,
            result=passed_run(
                workflow=workflow, started_at=at, duration_ms=duration, status=status
            ),
        )
    gap = T0 + timedelta(days=1, hours=10)
    starts = [T0 + timedelta(hours=hours) for hours in range(0, 80, 3)] + [
        gap,
        gap + timedelta(hours=1),
    ]
    for start in starts:
        timed = [
            (workflow, duration_bucket(duration))
            for workflow, at, duration, status in recorded
            if at >= start and status is not RunStatus.SKIPPED
        ]
        every = [bucket for _, bucket in timed]
        with Session(migrated_engine) as session:
            overall, by_series = percentile_buckets(session, start=start)
        assert overall == tuple(_nearest_rank(every, percent) for percent in (50, 95, 99)), start
        expected = {
            (workflow, "production"): _nearest_rank([b for w, b in timed if w == workflow], 95)
            for workflow in {w for w, _ in timed}
        }
        assert by_series == expected, start


def test_no_runs_since_the_start_gives_no_percentiles(migrated_engine: Engine) -> None:
    record_run(migrated_engine, result=passed_run(workflow="login", started_at=T0))
    with Session(migrated_engine) as session:
        assert percentile_buckets(session, start=T0 + timedelta(hours=1)) == (
            (None, None, None),
            {},
        )
        bucket = duration_bucket(100.0)  # passed_run's duration
        assert percentile_buckets(session, start=T0) == (
            (bucket, bucket, bucket),
            {("login", "production"): bucket},
        )


def test_a_period_with_a_mark_and_no_late_runs_is_one_statement(migrated_engine: Engine) -> None:
    for hours in range(4):
        record_run(
            migrated_engine,
            result=passed_run(workflow="login", started_at=T0 + timedelta(hours=hours)),
        )
    statements: list[str] = []

    def reads(_connection: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.startswith("SELECT"):  # not SQLite's BEGIN
            statements.append(statement)

    event.listen(migrated_engine, "before_cursor_execute", reads)
    with Session(migrated_engine) as session:
        # Hour 2 has a mark and every run before it was recorded in time.
        usual = percentile_buckets(session, start=T0 + timedelta(hours=2))
        assert len(statements) == 1
        # After the last run there is no mark: the mark lookup and a statement of its shape.
        assert percentile_buckets(session, start=T0 + timedelta(hours=5)) == ((None,) * 3, {})
        assert len(statements) == 1 + 3
    bucket = duration_bucket(100.0)
    assert usual == ((bucket,) * 3, {("login", "production"): bucket})
