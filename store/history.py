"""What the alert rules need to know about a workflow's recent runs, counted by the database.

Each number is one aggregate query over ``runs`` on the ``(workflow, started_at)`` index:
the post-run flow asks once per finished run, so this never reads the rows themselves.

"Recent" is always relative to the run being judged (``until``, its start), not to the
clock: judging a run again later, or two runs out of order, gives the same answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, case, func, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from rules.observation import WindowStats
from store.sessions import session_for
from store.tables import Run
from wfmon.results import RunStatus

__all__ = ["RunHistory", "latest_statuses", "run_history"]

_SUCCEEDED = (RunStatus.PASSED.value, RunStatus.DEGRADED.value)
_NOT_SUCCEEDED = (RunStatus.FAILED.value, RunStatus.SKIPPED.value)


@dataclass(frozen=True, slots=True)
class RunHistory:
    """A workflow's history up to and including one run (see ``rules.Observation``)."""

    # Failed runs since the last passed or degraded one; skipped runs neither count nor break it.
    consecutive_failures: int
    # Start of the oldest failed or skipped run since the last success; None if none.
    failing_since: datetime | None
    windows: dict[int, WindowStats]


def run_history(
    engine: Engine,
    *,
    workflow: str,
    environment: str,
    until: datetime,
    windows: Iterable[int] = (),
) -> RunHistory:
    """The history of ``workflow`` in ``environment`` for runs started at or before ``until``.

    ``windows`` are the RATE windows in ms: each gets the counts of runs started in
    ``(until - window, until]``.
    """
    if until.tzinfo is None:
        raise ValueError(f"until must be an aware datetime (UTC), got naive {until!r}")
    mine = and_(
        col(Run.workflow) == workflow,
        col(Run.environment) == environment,
        col(Run.started_at) <= until,
    )
    with session_for(engine) as session:
        last_success = session.execute(
            select(func.max(col(Run.started_at))).where(mine, col(Run.status).in_(_SUCCEEDED))
        ).scalar_one()
        since_success = (
            mine if last_success is None else and_(mine, col(Run.started_at) > last_success)
        )
        streak, failing_since = session.execute(
            select(
                func.count().filter(col(Run.status) == RunStatus.FAILED.value),
                func.min(col(Run.started_at)),
            ).where(since_success, col(Run.status).in_(_NOT_SUCCEEDED))
        ).one()
        counts = {window: _window(session, mine, until, window) for window in set(windows)}
    return RunHistory(
        consecutive_failures=streak,
        failing_since=failing_since,
        windows=counts,
    )


def latest_statuses(
    engine: Engine, *, workflows: Iterable[str], environment: str
) -> dict[str, RunStatus]:
    """The status of each workflow's latest run in ``environment`` (absent: never ran)."""
    names = sorted(set(workflows))
    if not names:
        return {}
    latest = (
        select(col(Run.workflow), func.max(col(Run.started_at)).label("started_at"))
        .where(col(Run.workflow).in_(names), col(Run.environment) == environment)
        .group_by(col(Run.workflow))
        .subquery()
    )
    query = select(col(Run.workflow), col(Run.status)).join(
        latest,
        and_(
            col(Run.workflow) == latest.c.workflow,
            col(Run.started_at) == latest.c.started_at,
            col(Run.environment) == environment,
        ),
    )
    with session_for(engine) as session:
        return {workflow: RunStatus(status) for workflow, status in session.execute(query)}


def _window(
    session: Session, mine: ColumnElement[bool], until: datetime, window: int
) -> WindowStats:
    since = until - timedelta(milliseconds=window)
    runs, failed, succeeded = session.execute(
        select(
            func.count(),
            func.coalesce(
                func.sum(case((col(Run.status) == RunStatus.FAILED.value, 1), else_=0)), 0
            ),
            func.coalesce(func.sum(case((col(Run.status).in_(_SUCCEEDED), 1), else_=0)), 0),
        ).where(mine, col(Run.started_at) > since)
    ).one()
    return WindowStats(runs=runs, failed=int(failed), succeeded=int(succeeded))
