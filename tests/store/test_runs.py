"""Recording and reading runs, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, delete, func
from sqlmodel import Session, col, select

from store import RunRecord, StoreError, count_runs, get_run, list_runs, record_run
from store.tables import Run, RunStep
from tests.store.examples import T0, failed_checkout, passed_run
from wfmon.results import RunStatus, StepResult


def test_round_trip_keeps_every_field(migrated_engine: Engine) -> None:
    result = failed_checkout()

    run_id = record_run(migrated_engine, result=result)
    record = get_run(migrated_engine, run_id=run_id)

    assert record is not None
    assert record.id == run_id
    assert record.result == result
    assert record.result.started_at.tzinfo is UTC
    assert record.result.finished_at.tzinfo is UTC
    assert [step.name for step in record.result.steps] == ["sign in", "pay", "sign out"]


def test_round_trip_of_an_empty_run(migrated_engine: Engine) -> None:
    result = passed_run(workflow="health", started_at=T0, attempts=0)

    run_id = record_run(migrated_engine, result=result)

    record = get_run(migrated_engine, run_id=run_id)
    assert record is not None
    assert record.result == result


def test_other_time_zones_are_stored_as_the_same_instant_in_utc(migrated_engine: Engine) -> None:
    plus_two = timezone(timedelta(hours=2))
    local_start = datetime(2026, 5, 20, 14, 0, tzinfo=plus_two)
    run_id = record_run(migrated_engine, result=passed_run(workflow="w", started_at=local_start))

    record = get_run(migrated_engine, run_id=run_id)

    assert record is not None
    assert record.result.started_at == local_start
    assert record.result.started_at.tzinfo is UTC
    assert record.result.started_at.hour == 12


def test_naive_timestamps_are_refused_before_writing(migrated_engine: Engine) -> None:
    naive = datetime(2026, 5, 20, 12, 0)

    with pytest.raises(ValueError, match="aware"):
        record_run(migrated_engine, result=failed_checkout(started_at=naive))
    with pytest.raises(ValueError, match="aware"):
        list_runs(migrated_engine, since=naive)

    assert count_runs(migrated_engine) == 0


def test_get_run_of_an_unknown_id_is_none(migrated_engine: Engine) -> None:
    assert get_run(migrated_engine, run_id=uuid.uuid4()) is None


def test_a_failing_step_insert_leaves_no_partial_run(migrated_engine: Engine) -> None:
    # The run row inserts fine; the second step breaks the step_results CHECK constraint
    # on http_status, so the database itself rejects the INSERT after the run row is in.
    good = failed_checkout()
    broken_step = dataclasses.replace(good.steps[1], http_status=1503)
    result = dataclasses.replace(good, steps=(good.steps[0], broken_step, good.steps[2]))

    with pytest.raises(StoreError):
        record_run(migrated_engine, result=result)

    with Session(migrated_engine) as session:
        assert session.exec(select(func.count()).select_from(Run)).one() == 0
        assert session.exec(select(func.count()).select_from(RunStep)).one() == 0


def test_deleting_a_run_deletes_its_steps(migrated_engine: Engine) -> None:
    run_id = record_run(migrated_engine, result=failed_checkout())

    # Core DELETE, so only the database's ON DELETE CASCADE can remove the steps
    # (on SQLite that needs PRAGMA foreign_keys, which create_engine_for turns on).
    with Session(migrated_engine) as session:
        session.execute(delete(Run).where(col(Run.id) == run_id))
        session.commit()
        assert session.exec(select(func.count()).select_from(RunStep)).one() == 0


def test_list_runs_newest_first_with_filters(migrated_engine: Engine) -> None:
    times = [T0 + timedelta(minutes=minutes) for minutes in range(6)]
    ids = {}
    for minute, started_at in enumerate(times):
        workflow = "login" if minute % 2 == 0 else "checkout"
        status = RunStatus.FAILED if minute in (3, 4) else RunStatus.PASSED
        ids[minute] = record_run(
            migrated_engine,
            result=passed_run(workflow=workflow, started_at=started_at, status=status),
        )

    def minutes(records: list[RunRecord]) -> list[int]:
        by_id = {run_id: minute for minute, run_id in ids.items()}
        return [by_id[record.id] for record in records]

    assert minutes(list_runs(migrated_engine)) == [5, 4, 3, 2, 1, 0]
    assert minutes(list_runs(migrated_engine, workflow="login")) == [4, 2, 0]
    assert minutes(list_runs(migrated_engine, status=RunStatus.FAILED)) == [4, 3]
    assert minutes(list_runs(migrated_engine, since=times[3])) == [5, 4, 3]
    assert minutes(
        list_runs(migrated_engine, workflow="checkout", status=RunStatus.PASSED, since=times[1])
    ) == [5, 1]
    assert minutes(list_runs(migrated_engine, limit=2)) == [5, 4]
    assert list_runs(migrated_engine, workflow="nope") == []


def test_list_runs_returns_steps_of_every_run(migrated_engine: Engine) -> None:
    first = failed_checkout()
    second = failed_checkout(
        started_at=T0 + timedelta(minutes=1),
        steps=(StepResult(name="only", status=RunStatus.PASSED, http_status=200),),
    )
    record_run(migrated_engine, result=first)
    record_run(migrated_engine, result=second)

    newest, oldest = list_runs(migrated_engine)

    assert newest.result == second
    assert oldest.result == first


def test_since_compares_instants_not_wall_clocks(migrated_engine: Engine) -> None:
    record_run(migrated_engine, result=passed_run(workflow="w", started_at=T0))
    # 13:00+02:00 is 11:00 UTC, before the run; 15:00+02:00 is after it.
    plus_two = timezone(timedelta(hours=2))

    assert count_runs(migrated_engine, since=datetime(2026, 5, 20, 13, tzinfo=plus_two)) == 1
    assert count_runs(migrated_engine, since=datetime(2026, 5, 20, 15, tzinfo=plus_two)) == 0


def test_count_runs(migrated_engine: Engine) -> None:
    for minute in range(3):
        record_run(
            migrated_engine,
            result=passed_run(workflow="w", started_at=T0 + timedelta(minutes=minute)),
        )

    assert count_runs(migrated_engine) == 3
    assert count_runs(migrated_engine, since=T0 + timedelta(minutes=1)) == 2
    assert count_runs(migrated_engine, since=T0 + timedelta(hours=1)) == 0


def test_limit_must_be_positive(migrated_engine: Engine) -> None:
    with pytest.raises(ValueError, match="limit"):
        list_runs(migrated_engine, limit=0)
