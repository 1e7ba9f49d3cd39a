"""Each workflow's current state in one row: its newest run and its failure streak.

``workflow_state`` is written in the transaction that records each run (``store.rollups``
calls ``record_state`` under its writers' lock) and read by ``store.metrics``: the metrics
join 50 rows instead of walking the runs index three times per workflow per request.

A run newer than the row's (by ``started_at``; a tie counts as newer, where a rebuild
takes the higher id) replaces its newest run; its status moves the streak: failed adds
one, passed or degraded resets it, skipped leaves it. A run recorded late (older than the
newest) keeps the newest run, and the streak is counted again from the runs, since it may
fall inside it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, literal, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import SQLModel

from store.tables import Run, UTCDateTime
from store.utc import from_stored
from wfmon.results import RunStatus

__all__ = ["rebuild_state", "record_state"]

_RUNS = SQLModel.metadata.tables["runs"]
_STATE = SQLModel.metadata.tables["workflow_state"]
_SUCCEEDED = (RunStatus.PASSED.value, RunStatus.DEGRADED.value)
# Before any run: "no success yet" as a bound the runs index can range over.
_EPOCH = literal(datetime(1970, 1, 1, tzinfo=UTC), UTCDateTime())


def record_state(session: Session, run: Run) -> None:
    """Fold ``run`` (already inserted) into its workflow's state; writers serialised."""
    mine = (_STATE.c.workflow == run.workflow) & (_STATE.c.environment == run.environment)
    found = session.execute(
        select(_STATE.c.last_started_at, _STATE.c.consecutive_failures).where(mine)
    ).one_or_none()
    if found is None:
        session.execute(
            insert(_STATE).values({**_newest(run), "consecutive_failures": _moved(0, run)})
        )
        return
    last_started_at, streak = from_stored(found[0]), int(found[1])
    if last_started_at is None or run.started_at >= last_started_at:
        values = {**_newest(run), "consecutive_failures": _moved(streak, run)}
    else:
        # Recorded late: the newest run stays, the streak is counted again.
        one = select(
            literal(run.workflow).label("workflow"), literal(run.environment).label("environment")
        ).subquery("series")
        values = {"consecutive_failures": session.execute(select(_streak(one))).scalar_one()}
    session.execute(update(_STATE).where(mine).values(values))


def rebuild_state(connection: Connection) -> None:
    """Recompute every workflow's state from the stored runs (migrations, bulk loads)."""
    connection.execute(delete(_STATE))
    series = (
        select(_RUNS.c.workflow, _RUNS.c.environment)
        .group_by(_RUNS.c.workflow, _RUNS.c.environment)
        .subquery("series")
    )
    mine = (_RUNS.c.workflow == series.c.workflow) & (_RUNS.c.environment == series.c.environment)
    newest_id = (
        select(_RUNS.c.id)
        .where(mine)
        .order_by(_RUNS.c.started_at.desc(), _RUNS.c.id.desc())
        .limit(1)
        .correlate(series)
        .scalar_subquery()
    )
    found = select(
        series.c.workflow, series.c.environment, newest_id.label("newest"), _streak(series)
    ).subquery("found")
    newest = _RUNS.alias("newest")
    rows = select(
        found.c.workflow,
        found.c.environment,
        newest.c.priority,
        newest.c.id,
        newest.c.status,
        newest.c.started_at,
        found.c.streak,
    ).select_from(found.join(newest, newest.c.id == found.c.newest))
    connection.execute(
        insert(_STATE).from_select(
            [
                "workflow",
                "environment",
                "priority",
                "last_run_id",
                "last_status",
                "last_started_at",
                "consecutive_failures",
            ],
            rows,
        )
    )


def _newest(run: Run) -> dict[str, Any]:
    return {
        "workflow": run.workflow,
        "environment": run.environment,
        "priority": run.priority,
        "last_run_id": run.id,
        "last_status": run.status,
        "last_started_at": run.started_at,
    }


def _moved(streak: int, run: Run) -> int:
    """The streak after a newer ``run``."""
    if run.status == RunStatus.FAILED.value:
        return streak + 1
    if run.status in _SUCCEEDED:
        return 0
    return streak  # skipped: no request was sent, nothing was learnt


def _streak(series: Any) -> ColumnElement[int]:
    """Failed runs of ``series`` (a table of workflow, environment) since its last success."""
    mine = (_RUNS.c.workflow == series.c.workflow) & (_RUNS.c.environment == series.c.environment)
    # ORDER BY ... LIMIT 1 walks the (workflow, started_at) index backwards and stops at the
    # first success; max() with the status filter would read every run of the workflow.
    last_success = (
        select(_RUNS.c.started_at)
        .where(mine, _RUNS.c.status.in_(_SUCCEEDED))
        .order_by(_RUNS.c.started_at.desc())
        .limit(1)
        .correlate(series)
        .scalar_subquery()
    )
    failures = _RUNS.alias("failures")
    counted = (
        select(func.count())
        .where(
            failures.c.workflow == series.c.workflow,
            failures.c.environment == series.c.environment,
            failures.c.status == RunStatus.FAILED.value,
            # A range on the index: only the runs since the last success are read.
            failures.c.started_at > func.coalesce(last_success, _EPOCH),
        )
        .correlate(series)
        .scalar_subquery()
    )
    return counted.label("streak")
