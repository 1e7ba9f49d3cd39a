"""Rollups kept by ``record_run`` equal rollups rebuilt from the runs, on both backends, for
runs recorded in order, late, and over enough hours that old latency marks are pruned."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, literal, select, text

from store import record_run
from store.latency import (
    DAILY_MARKS_KEPT,
    GAMMA,
    HOURLY_MARKS_KEPT,
    RELATIVE_ERROR,
    bucket_expression,
    bucket_value,
    duration_bucket,
)
from store.rollups import rebuild_rollups
from tests.store.examples import failed_checkout, passed_run
from wfmon.results import RunStatus

# Kept run by run exactly as a rebuild makes them (the marks and snapshots: see below).
SAME_AS_REBUILT = (
    "rollup_hours",
    "rollup_days",
    "rollup_hour_totals",
    "latency_totals",
    "workflow_state",
)
ROLLUP_TABLES = (*SAME_AS_REBUILT, "latency_marks", "latency_snapshots")
T0 = datetime(2026, 3, 1, 10, 5, tzinfo=UTC)


def _contents(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as connection:
        return {
            table: sorted(tuple(row) for row in connection.execute(text(f"SELECT * FROM {table}")))
            for table in ROLLUP_TABLES
        }


def _moment(value: object) -> datetime:
    # Raw SELECTs bypass the column type: SQLite gives text, PostgreSQL an aware datetime.
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    assert isinstance(value, datetime)
    return value.astimezone(UTC)


def test_incremental_rollups_equal_a_rebuild(migrated_engine: Engine) -> None:
    # 80 days of runs every ~7 h in two workflows, some skipped, then three late ones.
    for index in range(280):
        at = T0 + timedelta(minutes=413 * index)
        status = [RunStatus.PASSED, RunStatus.FAILED, RunStatus.SKIPPED, RunStatus.DEGRADED][
            index % 4
        ]
        record_run(
            migrated_engine,
            result=passed_run(
                workflow=f"w{index % 2}",
                started_at=at,
                status=status,
                duration_ms=0.0 if status is RunStatus.SKIPPED else 40.0 + 17.3 * (index % 37),
                attempts=1 + index % 3,
            ),
        )
    for late in (T0 + timedelta(days=70, minutes=1), T0 + timedelta(days=79, hours=20)):
        record_run(migrated_engine, result=failed_checkout(started_at=late, finished_at=late))
    kept = _contents(migrated_engine)

    with migrated_engine.begin() as connection:
        rebuild_rollups(connection)
    rebuilt = _contents(migrated_engine)

    for table in SAME_AS_REBUILT:
        assert rebuilt[table] == kept[table], table
    assert sum(row[3] for row in kept["rollup_hours"]) == 282  # the runs column
    # A rebuild cannot tell late runs from others, so its marks may differ; at every mark
    # both have, the snapshot kept run by run (late runs added) equals the one counted anew.
    marks = {row[0] for row in kept["latency_marks"]} & {row[0] for row in rebuilt["latency_marks"]}
    assert len(marks) > 20
    for mark in marks:
        assert [row for row in kept["latency_snapshots"] if row[0] == mark] == [
            row for row in rebuilt["latency_snapshots"] if row[0] == mark
        ]
    # Old hourly marks are gone; the first mark of each day stays for DAILY_MARKS_KEPT.
    hours = [_moment(row[0]) for row in kept["latency_marks"]]
    assert max(hours) - min(hours) <= DAILY_MARKS_KEPT
    recent = [hour for hour in hours if hour > max(hours) - HOURLY_MARKS_KEPT]
    assert len(hours) - len(recent) <= DAILY_MARKS_KEPT / timedelta(days=1) + 1


@pytest.mark.parametrize(
    "duration",
    [0.0, 0.004, 0.01, 1.0, 1.04, 12.5, 99.99, 100.0, 1234.567, 29_999.0, 600_000.0],
)
def test_sql_and_python_put_a_duration_in_the_same_bucket(
    migrated_engine: Engine, duration: float
) -> None:
    with migrated_engine.connect() as connection:
        in_sql = connection.execute(select(bucket_expression(literal(duration)))).scalar_one()
    assert in_sql == duration_bucket(duration)


@pytest.mark.parametrize("duration", [0.5, 3.0, 87.0, 950.0, 2500.0, 31_000.0])
def test_a_bucket_value_is_within_the_relative_error(duration: float) -> None:
    value = bucket_value(duration_bucket(duration))
    assert abs(value - duration) <= RELATIVE_ERROR * duration
    assert pytest.approx((GAMMA - 1) / (GAMMA + 1)) == RELATIVE_ERROR
    # Buckets 8% wide: under 4% from any duration in them (the target is 5%).
    assert math.isclose(RELATIVE_ERROR, 0.0385, abs_tol=1e-3)
