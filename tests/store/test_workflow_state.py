"""Each workflow's state row, kept run by run, says what the runs say: the newest run and the
failed runs since the last success, for runs recorded in order and late, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text

from store import record_run
from store.workflow_state import rebuild_state
from tests.store.examples import passed_run
from wfmon.results import RunStatus

T0 = datetime(2026, 4, 1, 8, tzinfo=UTC)
PASSED, DEGRADED, FAILED, SKIPPED = (
    RunStatus.PASSED,
    RunStatus.DEGRADED,
    RunStatus.FAILED,
    RunStatus.SKIPPED,
)


def _state(engine: Engine) -> dict[str, tuple[object, ...]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT workflow, last_status, consecutive_failures, last_run_id, priority "
                "FROM workflow_state"
            )
        )
        return {row[0]: tuple(row[1:]) for row in rows}


def _rebuilt(engine: Engine) -> dict[str, tuple[object, ...]]:
    with engine.begin() as connection:
        rebuild_state(connection)
    return _state(engine)


# (minutes after T0, status) in the order they are recorded -> (last status, streak) after.
CASES = [
    ("in order", [(0, PASSED), (1, FAILED), (2, FAILED)], (FAILED, 2)),
    ("a success resets", [(0, FAILED), (1, FAILED), (2, DEGRADED)], (DEGRADED, 0)),
    ("skipped runs neither count nor break", [(0, FAILED), (1, SKIPPED), (2, FAILED)], (FAILED, 2)),
    ("never succeeded", [(0, FAILED), (1, FAILED), (2, FAILED)], (FAILED, 3)),
    ("a late failure inside the streak", [(0, PASSED), (3, FAILED), (2, FAILED)], (FAILED, 2)),
    ("a late failure before the success", [(1, PASSED), (3, FAILED), (0, FAILED)], (FAILED, 1)),
    ("a late success breaks the streak", [(0, FAILED), (1, FAILED), (3, FAILED), (2, PASSED)],
     (FAILED, 1)),
    ("the newest run stays newest", [(5, PASSED), (1, FAILED)], (PASSED, 0)),
]  # fmt: skip


def test_state_follows_the_runs_in_any_recording_order(migrated_engine: Engine) -> None:
    for name, runs, (status, streak) in CASES:
        for minutes, run_status in runs:
            record_run(
                migrated_engine,
                result=passed_run(
                    workflow=name.replace(" ", "-"),
                    started_at=T0 + timedelta(minutes=minutes),
                    status=run_status,
                ),
            )
        kept = _state(migrated_engine)[name.replace(" ", "-")]
        assert (kept[0], kept[1]) == (status.value, streak), name
    kept = _state(migrated_engine)
    assert _rebuilt(migrated_engine) == kept
    assert len(kept) == len(CASES)
