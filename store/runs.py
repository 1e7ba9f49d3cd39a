"""Recording and reading workflow runs: every query on ``runs`` and ``step_results``."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from store.rollups import record_rollups
from store.sessions import session_for
from store.tables import Run, RunStep
from wfmon.results import (
    ConditionResult,
    ErrorType,
    Priority,
    RunResult,
    RunStatus,
    StepResult,
)


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A stored run: the id it was recorded under and what it produced."""

    id: uuid.UUID
    result: RunResult


def record_run(engine: Engine, *, result: RunResult) -> uuid.UUID:
    """Store a run and all its steps in one transaction; returns the new run's id."""
    _require_aware(result.started_at, "started_at")
    _require_aware(result.finished_at, "finished_at")
    run_id = uuid.uuid4()
    run = _run_row(run_id, result)
    steps = [_step_row(run_id, position, step) for position, step in enumerate(result.steps)]
    with session_for(engine) as session:
        session.add(run)
        # The steps reference the run: make sure its INSERT goes first.
        session.flush()
        session.add_all(steps)
        record_rollups(session, run)
        session.commit()
    return run_id


def get_run(engine: Engine, *, run_id: uuid.UUID) -> RunRecord | None:
    """The run with this id, with its steps, or ``None``."""
    with session_for(engine) as session:
        run = session.get(Run, run_id)
        if run is None:
            return None
        return _records(session, [run])[0]


def list_runs(
    engine: Engine,
    *,
    workflow: str | None = None,
    status: RunStatus | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[RunRecord]:
    """Runs matching every given filter, newest first, at most ``limit`` of them."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    query = select(Run)
    if workflow is not None:
        query = query.where(col(Run.workflow) == workflow)
    if status is not None:
        query = query.where(col(Run.status) == RunStatus(status).value)
    if since is not None:
        _require_aware(since, "since")
        query = query.where(col(Run.started_at) >= since)
    # id breaks ties so pages are stable when two runs start in the same microsecond.
    query = query.order_by(col(Run.started_at).desc(), col(Run.id).desc()).limit(limit)
    with session_for(engine) as session:
        return _records(session, session.exec(query).all())


def count_runs(engine: Engine, *, since: datetime | None = None) -> int:
    """How many runs started at or after ``since`` (all runs when ``None``)."""
    query = select(func.count()).select_from(Run)
    if since is not None:
        _require_aware(since, "since")
        query = query.where(col(Run.started_at) >= since)
    with session_for(engine) as session:
        return session.exec(query).one()


def _require_aware(value: datetime, name: str) -> None:
    # A naive time is ambiguous; guessing its zone would silently shift stored runs.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (UTC), got naive {value!r}")


def _run_row(run_id: uuid.UUID, result: RunResult) -> Run:
    return Run(
        id=run_id,
        workflow=result.workflow,
        environment=result.environment,
        priority=Priority(result.priority).value,
        status=RunStatus(result.status).value,
        started_at=result.started_at,
        finished_at=result.finished_at,
        duration_ms=result.duration_ms,
        attempts=result.attempts,
        error_type=None if result.error_type is None else ErrorType(result.error_type).value,
        error_message=result.error_message,
        failed_step=result.failed_step,
        flow_run_id=result.flow_run_id,
        trace_id=result.trace_id,
    )


def _step_row(run_id: uuid.UUID, position: int, step: StepResult) -> RunStep:
    return RunStep(
        run_id=run_id,
        position=position,
        name=step.name,
        status=RunStatus(step.status).value,
        http_status=step.http_status,
        duration_ms=step.duration_ms,
        attempts=step.attempts,
        error_type=None if step.error_type is None else ErrorType(step.error_type).value,
        error_message=step.error_message,
        conditions=[
            {"condition": c.condition, "display": c.display, "success": c.success}
            for c in step.conditions
        ],
    )


def _records(session: Session, runs: Sequence[Run]) -> list[RunRecord]:
    if not runs:
        return []
    # One query for the steps of every run on the page, not one per run.
    query = (
        select(RunStep)
        .where(col(RunStep.run_id).in_([run.id for run in runs]))
        .order_by(col(RunStep.run_id), col(RunStep.position))
    )
    steps_by_run: defaultdict[uuid.UUID, list[RunStep]] = defaultdict(list)
    for step in session.exec(query).all():
        steps_by_run[step.run_id].append(step)
    return [RunRecord(id=run.id, result=_result(run, steps_by_run[run.id])) for run in runs]


def _result(run: Run, steps: Iterable[RunStep]) -> RunResult:
    return RunResult(
        workflow=run.workflow,
        environment=run.environment,
        priority=Priority(run.priority),
        status=RunStatus(run.status),
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_ms=run.duration_ms,
        attempts=run.attempts,
        error_type=None if run.error_type is None else ErrorType(run.error_type),
        error_message=run.error_message,
        failed_step=run.failed_step,
        flow_run_id=run.flow_run_id,
        trace_id=run.trace_id,
        steps=tuple(
            StepResult(
                name=step.name,
                status=RunStatus(step.status),
                http_status=step.http_status,
                duration_ms=step.duration_ms,
                attempts=step.attempts,
                error_type=None if step.error_type is None else ErrorType(step.error_type),
                error_message=step.error_message,
                conditions=tuple(
                    ConditionResult(
                        condition=c["condition"], display=c["display"], success=c["success"]
                    )
                    for c in step.conditions
                ),
            )
            for step in steps
        ),
    )
