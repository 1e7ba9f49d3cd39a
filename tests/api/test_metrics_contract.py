"""SPEC §6 field by field: every section of every period, from a known set of recorded runs,
on SQLite and on PostgreSQL (``migrated_engine`` runs each test on both).

Counts, rates and averages must be exact; percentiles within the histogram's resolution
(``store.latency.RELATIVE_ERROR``) of the exact nearest-rank value.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine

from rules.models import Alert, AlertState, Severity
from store import AlertWrite, acknowledge_alert, apply_alert_decision, record_run, resolve_alert
from store.breakers import DatabaseBreakerStore
from store.latency import RELATIVE_ERROR
from tasks.breaker import Breaker, BreakerState
from tests.api.conftest import NOW, AppFactory
from tests.api.known_runs import (
    PERIOD_HOURS,
    WINDOWS,
    Expected,
    close_to,
    consecutive_failures,
    hour_floor,
    known_runs,
    nearest_rank,
    since,
    stamp,
    trend_word,
)
from wfmon.results import RunResult, RunStatus

SUMMARY_KEYS = {
    "totalExecutions",
    "successfulExecutions",
    "failedExecutions",
    "degradedExecutions",
    "skippedExecutions",
    "retriedExecutions",
    "successRate",
    "averageDuration",
    "p50Duration",
    "p95Duration",
    "p99Duration",
}
WORKFLOW_KEYS = {
    "workflowName",
    "environment",
    "priority",
    "executionCount",
    "successRate",
    "averageDuration",
    "p95Duration",
    "lastStatus",
    "lastExecutedAt",
    "consecutiveFailures",
    "circuitState",
}


def _open_alert(engine: Engine, alert_id: str, severity: Severity, workflow: str) -> None:
    alert = Alert(
        id=alert_id,
        rule_id=f"rule-{alert_id}",
        workflow=workflow,
        environment="production",
        severity=severity,
        state=AlertState.ACTIVE,
        message=f"{workflow} is failing",
        first_seen=NOW - timedelta(hours=2),
        last_seen=NOW - timedelta(hours=1),
    )
    apply_alert_decision(
        engine, key=alert.key, decide=lambda _: AlertWrite(alert=alert, outcome=None)
    )


def _record_known_runs(engine: Engine) -> list[RunResult]:
    in_order, late = known_runs()
    for run in [*in_order, *late]:
        record_run(engine, result=run)
    store = DatabaseBreakerStore(engine)
    opened = Breaker(state=BreakerState.OPEN, consecutive_failures=5, opened_at=NOW)
    store.transition_sync("checkout@staging", lambda _: (opened, None))
    _open_alert(engine, "a-critical", Severity.CRITICAL, "checkout")
    _open_alert(engine, "a-warning", Severity.WARNING, "search")
    acknowledge_alert(engine, alert_id="a-warning", by="alice", now=NOW)
    _open_alert(engine, "a-info", Severity.INFO, "search")
    resolve_alert(engine, alert_id="a-info", now=NOW)
    return [*in_order, *late]


def _metrics(client: TestClient[Litestar], period: str, *, details: bool = False) -> Any:
    response = client.get(
        "/api/monitoring/metrics",
        params={"period": period, "details": str(details).lower()},
        headers={"X-Request-ID": f"contract-{period}"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert body["error"] is None
    assert body["meta"] == {
        "timestamp": "2026-05-20T12:30:00.000Z",
        "period": period,
        "requestId": f"contract-{period}",
    }
    assert set(body["data"]) == {"summary", "workflows", "system", "trends", "alerts"}
    return body["data"]


def _check_summary(summary: dict[str, Any], expected: Expected) -> None:
    assert set(summary) == SUMMARY_KEYS
    assert summary["totalExecutions"] == expected.total
    assert summary["successfulExecutions"] == expected.successful
    assert summary["failedExecutions"] == expected.failed
    assert summary["degradedExecutions"] == expected.degraded
    assert summary["skippedExecutions"] == expected.skipped
    assert summary["retriedExecutions"] == expected.retried
    assert summary["successRate"] == pytest.approx(expected.success_rate, rel=1e-12)
    assert summary["averageDuration"] == pytest.approx(expected.average_duration, rel=1e-9)
    for key, percent in (("p50Duration", 50), ("p95Duration", 95), ("p99Duration", 99)):
        exact = nearest_rank(expected.durations, percent)
        assert close_to(summary[key], exact, RELATIVE_ERROR), (key, summary[key], exact)


def _check_workflows(
    workflows: list[dict[str, Any]], runs: list[RunResult], start: datetime, *, details: bool
) -> None:
    keys = sorted({(run.workflow, run.environment) for run in since(runs, start)})
    assert [(w["workflowName"], w["environment"]) for w in workflows] == keys
    for entry in workflows:
        mine = [
            run
            for run in runs
            if (run.workflow, run.environment) == (entry["workflowName"], entry["environment"])
        ]
        expected = Expected.of(since(mine, start))
        latest = max(mine, key=lambda run: run.started_at)
        assert set(entry) == WORKFLOW_KEYS | ({"steps", "recentExecutions"} if details else set())
        assert entry["priority"] == latest.priority.value
        assert entry["executionCount"] == expected.total
        assert entry["successRate"] == pytest.approx(expected.success_rate, rel=1e-12)
        assert entry["averageDuration"] == pytest.approx(expected.average_duration, rel=1e-9)
        assert close_to(entry["p95Duration"], nearest_rank(expected.durations, 95), RELATIVE_ERROR)
        assert entry["lastStatus"] == latest.status.value
        assert entry["lastExecutedAt"] == stamp(latest.started_at)
        assert entry["consecutiveFailures"] == consecutive_failures(mine)
        assert entry["circuitState"] == (
            "OPEN"
            if (entry["workflowName"], entry["environment"]) == ("checkout", "staging")
            else "CLOSED"
        )
        if details:
            _check_details(entry, since(mine, start))


def _check_details(entry: dict[str, Any], runs: list[RunResult]) -> None:
    steps = {}
    for run in runs:
        for step in run.steps:
            steps.setdefault(step.name, []).append(step)
    assert [step["name"] for step in entry["steps"]] == [n for n in ("open", "act") if n in steps]
    for step in entry["steps"]:
        recorded = steps[step["name"]]
        durations = [s.duration_ms for s in recorded]
        assert step["count"] == len(recorded)
        assert step["failures"] == sum(s.status is RunStatus.FAILED for s in recorded)
        assert step["averageDuration"] == pytest.approx(sum(durations) / len(durations))
        assert close_to(step["p95Duration"], nearest_rank(durations, 95), RELATIVE_ERROR)
    newest = sorted(runs, key=lambda run: run.started_at, reverse=True)[:10]
    recent = entry["recentExecutions"]
    assert [r["startedAt"] for r in recent] == [stamp(run.started_at) for run in newest]
    assert [r["status"] for r in recent] == [run.status.value for run in newest]
    assert [r["durationMs"] for r in recent] == [run.duration_ms for run in newest]
    assert [r["attempts"] for r in recent] == [run.attempts for run in newest]


def _check_trends(trends: dict[str, Any], period: str, now: Expected, before: Expected) -> None:
    assert set(trends) == {
        "executionTrend",
        "successRateTrend",
        "performanceTrend",
        "hourlyExecutions",
    }
    start, _ = WINDOWS[period]
    hours_now = (NOW - start) / timedelta(hours=1)
    assert trends["executionTrend"] == trend_word(
        now.total / hours_now,
        before.total / PERIOD_HOURS[period],
        ("increasing", "decreasing", "stable"),
    )
    assert trends["successRateTrend"] == trend_word(
        now.success_rate, before.success_rate, ("improving", "declining", "stable")
    )
    assert trends["performanceTrend"] == trend_word(
        now.average_duration, before.average_duration, ("degrading", "improving", "stable")
    )


def _check_hours(hours: list[dict[str, Any]], runs: list[RunResult], start: datetime) -> None:
    expected = []
    hour = hour_floor(start)
    while hour <= hour_floor(NOW):
        inside = [r for r in since(runs, start) if hour_floor(r.started_at) == hour]
        counts = Expected.of(inside)
        expected.append(
            {
                "hour": stamp(hour),
                "total": counts.total,
                "successful": counts.successful,
                "failed": counts.failed,
                "averageDuration": pytest.approx(counts.average_duration, rel=1e-9),
            }
        )
        hour += timedelta(hours=1)
    assert hours == expected


def test_every_field_of_every_period(migrated_engine: Engine, app_factory: AppFactory) -> None:
    runs = _record_known_runs(migrated_engine)
    with TestClient(app_factory()) as client:
        for period, (start, previous_start), details in (
            (period, window, details)
            for period, window in WINDOWS.items()
            for details in (False, True)
        ):
            data = _metrics(client, period, details=details)
            now, before = (
                Expected.of(since(runs, start)),
                Expected.of(since(runs, previous_start, start)),
            )
            assert now.total > 0 and before.total > 0, "the data set must cover both periods"
            _check_summary(data["summary"], now)
            _check_workflows(data["workflows"], runs, start, details=details)
            _check_trends(data["trends"], period, now, before)
            _check_hours(data["trends"]["hourlyExecutions"], runs, start)
            system = data["system"]
            assert set(system) == {"healthStatus", "activeAlerts", "criticalAlerts", "database"}
            # An open CRITICAL alert makes the system unhealthy whatever the success rate.
            assert system["healthStatus"] == "unhealthy"
            assert system["activeAlerts"] == 1
            assert system["criticalAlerts"] == 1
            assert system["database"]["status"] == "up"
            assert system["database"]["latencyMs"] > 0
            assert data["alerts"] == {
                "total": 3,
                "active": 1,
                "acknowledged": 1,
                "resolved": 1,
                "bySeverity": {"INFO": 1, "WARNING": 1, "ERROR": 0, "CRITICAL": 1},
            }


def test_the_one_hour_period_by_hand(migrated_engine: Engine, client: TestClient[Litestar]) -> None:
    """A few numbers worked out on paper, so the reference above cannot be wrong alone."""
    base = dict(
        workflow="hand",
        environment="production",
        priority="high",
        error_type=None,
        error_message=None,
        failed_step=None,
        flow_run_id=None,
        trace_id=None,
    )
    durations = {"passed": [100.0, 200.0, 300.0], "degraded": [2500.0], "failed": [400.0]}
    offset = 0
    for status, values in durations.items():
        for duration in values:
            offset += 1
            at = NOW - timedelta(minutes=offset * 5)
            record_run(
                migrated_engine,
                result=RunResult(
                    **base,  # type: ignore[arg-type]
                    status=RunStatus(status),
                    started_at=at,
                    finished_at=at,
                    duration_ms=duration,
                    attempts=2 if status == "failed" else 1,
                ),
            )
    at = NOW - timedelta(minutes=61)  # just outside the hour: the previous period
    record_run(
        migrated_engine,
        result=RunResult(
            **base,  # type: ignore[arg-type]
            status=RunStatus.SKIPPED,
            started_at=at,
            finished_at=at,
            duration_ms=0.0,
            attempts=0,
        ),
    )
    data = _metrics(client, "1h")
    summary = data["summary"]
    assert summary["totalExecutions"] == 5
    assert summary["successfulExecutions"] == 4
    assert summary["failedExecutions"] == 1
    assert summary["degradedExecutions"] == 1
    assert summary["skippedExecutions"] == 0
    assert summary["retriedExecutions"] == 1
    assert summary["successRate"] == 80.0
    assert summary["averageDuration"] == 700.0
    # Sorted: 100 200 300 400 2500. p50 is the 3rd (300), p95 and p99 the 5th (2500).
    assert summary["p50Duration"] == pytest.approx(300.0, rel=RELATIVE_ERROR)
    assert summary["p95Duration"] == pytest.approx(2500.0, rel=RELATIVE_ERROR)
    assert summary["p99Duration"] == pytest.approx(2500.0, rel=RELATIVE_ERROR)
    # One skipped run the hour before (0% successful), five now (80%): up on both counts.
    assert data["trends"]["executionTrend"] == "increasing"
    assert data["trends"]["successRateTrend"] == "improving"
    # No timed run before: no duration to compare with.
    assert data["trends"]["performanceTrend"] == "stable"
    assert data["system"]["healthStatus"] == "degraded"  # 80% is under 95%, not under 80%
    assert [(h["hour"], h["total"]) for h in data["trends"]["hourlyExecutions"]] == [
        ("2026-05-20T11:00:00.000Z", 0),
        ("2026-05-20T12:00:00.000Z", 5),
    ]


def test_no_runs_gives_zeros_and_a_healthy_system(client: TestClient[Litestar]) -> None:
    for period in WINDOWS:
        data = _metrics(client, period)
        assert data["summary"] == dict.fromkeys(SUMMARY_KEYS, 0)
        assert data["workflows"] == []
        assert data["system"]["healthStatus"] == "healthy"
        assert data["trends"]["executionTrend"] == "stable"
        assert all(hour["total"] == 0 for hour in data["trends"]["hourlyExecutions"])
