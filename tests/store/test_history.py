"""The run history the alert rules see, counted by SQLite and by PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from sqlalchemy import Engine

from rules import WindowStats
from store import record_run
from store.history import latest_statuses, run_history
from tests.store.examples import T0, failed_checkout
from wfmon.results import RunStatus

MINUTE = timedelta(minutes=1)


def record_statuses(engine: Engine, statuses: str, *, workflow: str = "checkout") -> None:
    """One run per letter, a minute apart from T0: p passed, d degraded, f failed, s skipped."""
    names = {"p": "PASSED", "d": "DEGRADED", "f": "FAILED", "s": "SKIPPED"}
    for minute, letter in enumerate(statuses):
        started = T0 + minute * MINUTE
        run = failed_checkout(
            workflow=workflow,
            status=RunStatus[names[letter]],
            started_at=started,
            finished_at=started + timedelta(seconds=1),
        )
        record_run(engine, result=run)


def test_streak_counts_failures_since_the_last_success(migrated_engine: Engine) -> None:
    record_statuses(migrated_engine, "ffpfsff")

    history = run_history(
        migrated_engine, workflow="checkout", environment="staging", until=T0 + 6 * MINUTE
    )

    # Skipped runs neither count nor break the streak; the streak started at minute 3.
    assert history.consecutive_failures == 3
    assert history.failing_since == T0 + 3 * MINUTE


def test_history_stops_at_the_run_being_judged(migrated_engine: Engine) -> None:
    record_statuses(migrated_engine, "fffpf")

    history = run_history(
        migrated_engine, workflow="checkout", environment="staging", until=T0 + 1 * MINUTE
    )

    assert (history.consecutive_failures, history.failing_since) == (2, T0)


def test_a_success_has_no_streak(migrated_engine: Engine) -> None:
    record_statuses(migrated_engine, "ffd")

    history = run_history(
        migrated_engine, workflow="checkout", environment="staging", until=T0 + 2 * MINUTE
    )

    assert (history.consecutive_failures, history.failing_since) == (0, None)


def test_windows_count_runs_failures_and_successes(migrated_engine: Engine) -> None:
    record_statuses(migrated_engine, "pfdsfp")
    record_statuses(migrated_engine, "ffff", workflow="other")

    history = run_history(
        migrated_engine,
        workflow="checkout",
        environment="staging",
        until=T0 + 5 * MINUTE,
        windows=[3 * 60_000, 60 * 60_000, 1],
    )

    assert history.windows == {
        # (T0+2m, T0+5m]: s f p
        3 * 60_000: WindowStats(runs=3, failed=1, succeeded=1),
        60 * 60_000: WindowStats(runs=6, failed=2, succeeded=3),
        1: WindowStats(runs=1, failed=0, succeeded=1),
    }


def test_an_empty_history_is_all_zero(migrated_engine: Engine) -> None:
    history = run_history(
        migrated_engine, workflow="nothing", environment="staging", until=T0, windows=[1000]
    )

    assert history.consecutive_failures == 0
    assert history.failing_since is None
    assert history.windows == {1000: WindowStats(runs=0, failed=0, succeeded=0)}


def test_latest_status_per_workflow_in_the_environment(migrated_engine: Engine) -> None:
    record_statuses(migrated_engine, "pf", workflow="login")
    record_statuses(migrated_engine, "fp", workflow="catalog")
    elsewhere = dataclasses.replace(
        failed_checkout(workflow="catalog"), environment="prod", started_at=T0 + 9 * MINUTE
    )
    record_run(migrated_engine, result=elsewhere)

    latest = latest_statuses(
        migrated_engine, workflows=["login", "catalog", "never-ran"], environment="staging"
    )

    assert latest == {"login": RunStatus.FAILED, "catalog": RunStatus.PASSED}
    assert latest_statuses(migrated_engine, workflows=[], environment="staging") == {}
