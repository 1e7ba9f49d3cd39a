"""Small value behaviour: severity order, condition text, silences, observations."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rules import (
    PREDEFINED_RULES,
    Observation,
    Severity,
    Silence,
    WindowStats,
    parse_condition,
    parse_rule,
    required_windows,
)
from rules.models import format_span
from tests.rules.builders import HOUR_MS, T0
from wfmon.results import ConditionResult, ErrorType, Priority, RunResult, RunStatus, StepResult


def test_severity_is_ordered_by_rank_not_alphabet() -> None:
    assert sorted([Severity.CRITICAL, Severity.INFO, Severity.ERROR, Severity.WARNING]) == [
        Severity.INFO,
        Severity.WARNING,
        Severity.ERROR,
        Severity.CRITICAL,
    ]
    assert Severity.ERROR < Severity.CRITICAL and Severity.CRITICAL >= Severity.ERROR
    assert max(Severity.WARNING, Severity.ERROR) is Severity.ERROR
    assert (Severity.WARNING.raised(), Severity.CRITICAL.raised()) == (
        Severity.ERROR,
        Severity.CRITICAL,
    )
    with pytest.raises(TypeError):
        _ = Severity.ERROR < 3


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (
            {
                "type": "RATE",
                "metric": "workflow.failure_rate",
                "operator": ">",
                "value": 50,
                "window": HOUR_MS,
            },
            "workflow.failure_rate > 50 over 1h",
        ),
        (
            {
                "type": "DURATION",
                "metric": "step.status",
                "operator": "==",
                "value": "failed",
                "duration": 90_000,
            },
            "step.status == 'failed' for 90s",
        ),
        ({"type": "CUSTOM", "callable": "m:f"}, "custom m:f"),
    ],
)
def test_condition_text(raw: dict[str, object], text: str) -> None:
    condition = parse_condition(raw)
    assert condition.text == text
    assert parse_condition(condition.to_config()) == condition


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "0ms"),
        (250, "250ms"),
        (1500, "1500ms"),
        (30_000, "30s"),
        (300_000, "5m"),
        (7_200_000, "2h"),
        (None, "?"),
    ],
)
def test_format_span(ms: int | None, text: str) -> None:
    assert format_span(ms) == text


def test_silence_window_and_workflows() -> None:
    silence = Silence(start=T0, duration_ms=60_000, workflows=("checkout",))
    assert [silence.active(T0 + timedelta(seconds=s)) for s in (-1, 0, 59, 60)] == [
        False,
        True,
        True,
        False,
    ]
    assert (silence.covers("checkout", T0), silence.covers("login", T0)) == (True, False)


def test_window_stats_rates() -> None:
    assert (WindowStats(4, 1, 2).failure_rate, WindowStats(4, 1, 2).success_rate) == (25.0, 50.0)
    assert WindowStats(0, 0, 0).failure_rate is None


def test_required_windows_covers_enabled_rate_rules_only() -> None:
    minute = parse_rule(
        {
            "id": "minute",
            "severity": "INFO",
            "enabled": False,
            "conditions": [
                {
                    "type": "RATE",
                    "metric": "workflow.failure_rate",
                    "operator": ">",
                    "value": 1,
                    "window": 60_000,
                }
            ],
        }
    )
    assert required_windows([*PREDEFINED_RULES, minute]) == {HOUR_MS}


def test_observation_from_run() -> None:
    run = RunResult(
        workflow="checkout",
        environment="production",
        priority=Priority.HIGH,
        status=RunStatus.FAILED,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=2),
        duration_ms=2000.0,
        attempts=2,
        error_type=ErrorType.ASSERTION,
        error_message="condition failed",
        failed_step="pay",
        flow_run_id="flow-1",
        steps=(
            StepResult(name="home", status=RunStatus.PASSED),
            StepResult(
                name="pay",
                status=RunStatus.FAILED,
                conditions=(
                    ConditionResult("status == 200", "status (200) == 200", True),
                    ConditionResult("body.ok == true", "body.ok (false) == true", False),
                ),
            ),
        ),
    )
    observation = Observation.from_run(
        run, tags=["shop"], consecutive_failures=2, failing_dependencies=["login"]
    )
    assert observation.failed_condition == "body.ok (false) == true"
    assert (observation.run_id, observation.tags, observation.failing_dependencies) == (
        "flow-1",
        frozenset({"shop"}),
        ("login",),
    )
    assert Observation.from_run(run, run_id="row-7").run_id == "row-7"
