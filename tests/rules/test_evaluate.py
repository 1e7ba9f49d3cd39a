"""Metrics, operators, the five condition types and rule logic, table-driven."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from rules import (
    AlertRule,
    CustomConditionError,
    Metric,
    Observation,
    Severity,
    Silence,
    WindowStats,
    condition_holds,
    evaluate_condition,
    metric_value,
    parse_condition,
    parse_rule,
    rule_matches,
    suppression_reason,
)
from tests.rules.builders import HOUR_MS, T0, at, failed, passed
from wfmon.results import Priority, RunStatus, StepResult

METRICS: list[tuple[str, Observation, dict[str, Any], Any]] = [
    ("workflow.status", failed(), {}, "failed"),
    ("workflow.name", failed(), {}, "checkout"),
    ("workflow.priority", failed(), {}, "high"),
    ("workflow.environment", failed(), {}, "production"),
    ("workflow.duration", failed(duration_ms=31000), {}, 31000.0),
    ("workflow.error", failed(), {}, "HTTP 503 from /api/pay"),
    ("workflow.error", passed(), {}, None),
    ("workflow.error_type", failed(), {}, "TRANSIENT"),
    ("workflow.error_type", passed(), {}, None),
    ("workflow.attempts", failed(), {}, 3.0),
    ("workflow.consecutive_failures", failed(consecutive_failures=4), {}, 4.0),
    (
        "workflow.failure_rate",
        failed(windows={HOUR_MS: WindowStats(runs=8, failed=6, succeeded=2)}),
        {"window_ms": HOUR_MS},
        75.0,
    ),
    (
        "workflow.success_rate",
        failed(windows={HOUR_MS: WindowStats(runs=8, failed=6, succeeded=2)}),
        {"window_ms": HOUR_MS},
        25.0,
    ),
    ("workflow.failure_rate", failed(), {}, None),  # no window asked
    ("workflow.failure_rate", failed(), {"window_ms": 5}, None),  # window not aggregated
    ("workflow.success_rate", failed(windows={5: WindowStats(0, 0, 0)}), {"window_ms": 5}, None),
    ("step.duration", failed(), {}, 900.0),
    ("step.duration", failed(steps=()), {}, None),
    ("step.status", failed(), {}, "failed"),
    ("step.status", passed(), {}, "passed"),
    (
        "step.status",
        passed(
            steps=(
                StepResult(name="a", status=RunStatus.DEGRADED),
                StepResult(name="b", status=RunStatus.PASSED),
            )
        ),
        {},
        "degraded",
    ),
    ("step.status", passed(steps=()), {}, None),
]


@pytest.mark.parametrize(("metric", "observation", "kwargs", "expected"), METRICS)
def test_metric_value(
    metric: str, observation: Observation, kwargs: dict[str, Any], expected: Any
) -> None:
    assert metric_value(observation, metric, **kwargs) == expected


def test_every_metric_is_covered() -> None:
    assert {m for m, *_ in METRICS} == {m.value for m in Metric}


def test_unknown_metric_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"workflow\.cpu"):
        metric_value(passed(), "workflow.cpu")


def _cond(metric: str, operator: str, value: Any, kind: str = "THRESHOLD") -> dict[str, Any]:
    return {"type": kind, "metric": metric, "operator": operator, "value": value}


# failed(): duration 1200, attempts 3, error "HTTP 503 from /api/pay", status failed
OPERATORS: list[tuple[str, dict[str, Any], bool]] = [
    ("> true", _cond("workflow.duration", ">", 1000), True),
    ("> false at equal", _cond("workflow.duration", ">", 1200), False),
    (">= true at equal", _cond("workflow.duration", ">=", 1200), True),
    (">= false", _cond("workflow.duration", ">=", 1201), False),
    ("< true", _cond("workflow.attempts", "<", 4), True),
    ("< false at equal", _cond("workflow.attempts", "<", 3), False),
    ("<= true at equal", _cond("workflow.attempts", "<=", 3), True),
    ("<= false", _cond("workflow.attempts", "<=", 2), False),
    ("== number true", _cond("workflow.attempts", "==", 3), True),
    ("== number false", _cond("workflow.attempts", "==", 2), False),
    ("!= number true", _cond("workflow.attempts", "!=", 2), True),
    ("!= number false", _cond("workflow.attempts", "!=", 3), False),
    ("== text true", _cond("workflow.status", "==", "failed"), True),
    ("== text false", _cond("workflow.status", "==", "passed"), False),
    ("!= text true", _cond("workflow.environment", "!=", "staging"), True),
    ("!= text false", _cond("workflow.environment", "!=", "production"), False),
    ("CONTAINS true", _cond("workflow.error", "CONTAINS", "503", "PATTERN"), True),
    ("CONTAINS is case-sensitive", _cond("workflow.error", "CONTAINS", "http", "PATTERN"), False),
    ("contains false", _cond("workflow.name", "contains", "login", "PATTERN"), False),
    ("matches true", _cond("workflow.error", "matches", r"HTTP 50[0-4]", "PATTERN"), True),
    ("matches case flag", _cond("workflow.error", "matches", "(?i)http 503", "PATTERN"), True),
    ("matches false", _cond("workflow.error", "matches", r"^503", "PATTERN"), False),
]


@pytest.mark.parametrize(("name", "raw", "expected"), OPERATORS, ids=lambda x: x)
def test_operators(name: str, raw: dict[str, Any], expected: bool) -> None:
    assert condition_holds(parse_condition(raw), failed(), now=T0) is expected


UNKNOWN_NEVER_MATCHES = ["==", "!=", "CONTAINS", "MATCHES"]


@pytest.mark.parametrize("operator", UNKNOWN_NEVER_MATCHES)
def test_unknown_value_matches_no_operator(operator: str) -> None:
    condition = parse_condition(_cond("workflow.error", operator, "x", "PATTERN"))
    assert condition_holds(condition, passed(), now=T0) is False


def _rate(operator: str, value: float, **extra: Any) -> dict[str, Any]:
    return {**_cond("workflow.failure_rate", operator, value, "RATE"), "window": HOUR_MS, **extra}


def _windowed(runs: int, failures: int) -> Observation:
    return failed(windows={HOUR_MS: WindowStats(runs, failures, runs - failures)})


def _duration(ms: int) -> dict[str, Any]:
    return {**_cond("workflow.status", "==", "failed", "DURATION"), "duration": ms}


CONDITION_TYPES: list[tuple[str, dict[str, Any], Observation, bool, str]] = [
    (
        "THRESHOLD holds",
        _cond("workflow.duration", ">", 1000),
        failed(),
        True,
        "workflow.duration (1200) > 1000",
    ),
    (
        "PATTERN holds",
        _cond("workflow.error", "CONTAINS", "503", "PATTERN"),
        failed(),
        True,
        "workflow.error ('HTTP 503 from /api/pay') CONTAINS '503'",
    ),
    (
        "RATE holds",
        _rate(">", 50),
        _windowed(10, 6),
        True,
        "workflow.failure_rate (60) > 50 over 1h, 10 runs",
    ),
    (
        "RATE below",
        _rate(">", 50),
        _windowed(10, 5),
        False,
        "workflow.failure_rate (50) > 50 over 1h, 10 runs",
    ),
    (
        "RATE too few runs",
        _rate(">", 50, min_runs=5),
        _windowed(2, 2),
        False,
        "workflow.failure_rate (100) > 50 over 1h, 2 runs (< 5)",
    ),
    (
        "RATE window missing",
        _rate(">", 50),
        failed(windows={}),
        False,
        "workflow.failure_rate (n/a) > 50 over 1h, 0 runs",
    ),
    (
        "DURATION long enough",
        _duration(300_000),
        failed(failing_since=at(minutes=-5)),
        True,
        "workflow.status ('failed') == 'failed' for 5m (failing 5m)",
    ),
    (
        "DURATION too short",
        _duration(300_000),
        failed(failing_since=at(minutes=-4)),
        False,
        "workflow.status ('failed') == 'failed' for 5m (failing 4m)",
    ),
    (
        "DURATION not failing",
        _duration(1000),
        passed(),
        False,
        "workflow.status ('passed') == 'failed' for 1s (failing 0ms)",
    ),
    (
        "DURATION comparison false",
        _duration(1000),
        passed(failing_since=at(minutes=-10)),
        False,
        "workflow.status ('passed') == 'failed' for 1s (failing 10m)",
    ),
]


@pytest.mark.parametrize(
    ("name", "raw", "observation", "expected", "display"), CONDITION_TYPES, ids=lambda x: x
)
def test_condition_types(
    name: str, raw: dict[str, Any], observation: Observation, expected: bool, display: str
) -> None:
    result = evaluate_condition(parse_condition(raw), observation, now=T0)
    assert (result.success, result.display) == (expected, display)


def _resolver(results: dict[str, Any]) -> Any:
    def resolve(target: str) -> Any:
        value = results[target]
        return value if callable(value) else (lambda observation: value)

    return resolve


def test_custom_condition_calls_the_resolved_function() -> None:
    seen: list[Observation] = []

    def check(observation: Observation) -> bool:
        seen.append(observation)
        return observation.attempts > 2

    condition = parse_condition({"type": "CUSTOM", "callable": "checks:retried"})
    resolve = _resolver({"checks:retried": check})
    result = evaluate_condition(condition, failed(), now=T0, resolve_callable=resolve)
    assert (result.success, result.display, len(seen)) == (True, "custom checks:retried (True)", 1)
    assert not condition_holds(condition, passed(), now=T0, resolve_callable=resolve)


def _boom(observation: Observation) -> bool:
    raise RuntimeError("boom")


@pytest.mark.parametrize(
    ("name", "function", "message"),
    [("raises", _boom, "raised RuntimeError"), ("non-bool", lambda o: "yes", "not a bool")],
    ids=lambda x: x if isinstance(x, str) else "",
)
def test_custom_condition_errors(name: str, function: Any, message: str) -> None:
    condition = parse_condition({"type": "CUSTOM", "callable": "checks:bad"})
    with pytest.raises(CustomConditionError, match=message):
        condition_holds(
            condition, failed(), now=T0, resolve_callable=_resolver({"checks:bad": function})
        )


def test_default_resolver_imports_module_function() -> None:
    condition = parse_condition({"type": "CUSTOM", "callable": "tests.rules.custom_checks:slow"})
    assert condition_holds(condition, failed(duration_ms=9000), now=T0)
    assert not condition_holds(condition, failed(), now=T0)


@pytest.mark.parametrize(
    ("target", "message"),
    [("no_such_module_xyz:f", "cannot import"), ("tests.rules.custom_checks:missing", "has no")],
)
def test_default_resolver_errors(target: str, message: str) -> None:
    condition = parse_condition({"type": "CUSTOM", "callable": target})
    with pytest.raises(CustomConditionError, match=message):
        condition_holds(condition, failed(), now=T0)


def _rule(**changes: Any) -> AlertRule:
    raw: dict[str, Any] = {
        "id": "r",
        "severity": "ERROR",
        "conditions": [
            _cond("workflow.status", "==", "failed"),
            _cond("workflow.duration", ">", 5000),
        ],
    }
    return parse_rule({**raw, **changes})


RULES: list[tuple[str, AlertRule, Observation, bool]] = [
    ("AND: one of two", _rule(), failed(), False),
    ("AND: both", _rule(), failed(duration_ms=6000), True),
    ("OR: one of two", _rule(condition_logic="OR"), failed(), True),
    ("OR: none", _rule(condition_logic="OR"), passed(), False),
    ("disabled", _rule(condition_logic="OR", enabled=False), failed(), False),
    ("workflows filter in", _rule(condition_logic="OR", workflows=["checkout"]), failed(), True),
    ("workflows filter out", _rule(condition_logic="OR", workflows=["login"]), failed(), False),
    (
        "tag filter in",
        _rule(condition_logic="OR", workflow_tags=["shop", "x"]),
        failed(tags=frozenset({"shop"})),
        True,
    ),
    (
        "tag filter out",
        _rule(condition_logic="OR", workflow_tags=["health"]),
        failed(tags=frozenset({"shop"})),
        False,
    ),
]


@pytest.mark.parametrize(("name", "rule", "observation", "expected"), RULES, ids=lambda x: x)
def test_rule_matches(name: str, rule: AlertRule, observation: Observation, expected: bool) -> None:
    assert rule_matches(rule, observation, now=T0) is expected


def test_priority_enum_metric_compares_normalised_values() -> None:
    rule = _rule(conditions=[_cond("workflow.priority", "==", "CRITICAL")])
    assert rule_matches(rule, failed(priority=Priority.CRITICAL), now=T0)
    assert not rule_matches(rule, failed(), now=T0)
    assert rule.severity is Severity.ERROR


SILENCE = Silence(start=T0, duration_ms=HOUR_MS, workflows=("checkout",))
SUPPRESSIONS: list[tuple[str, Observation, tuple[Silence, ...], Any, str | None]] = [
    ("no silence", failed(), (), T0, None),
    ("inside", failed(), (SILENCE,), at(minutes=30), "maintenance until 2026-01-01T13:00:00+00:00"),
    ("before", failed(), (SILENCE,), at(minutes=-1), None),
    ("end is exclusive", failed(), (SILENCE,), T0 + timedelta(hours=1), None),
    ("other workflow", failed(workflow="login"), (SILENCE,), T0, None),
    ("all workflows", failed(workflow="login"), (Silence(T0, 1000),), T0, "maintenance until"),
    ("depends_on", failed(failing_dependencies=("login",)), (), T0, "depends_on: login failing"),
]


@pytest.mark.parametrize(
    ("name", "observation", "silences", "now", "expected"), SUPPRESSIONS, ids=lambda x: x
)
def test_suppression_reason(
    name: str, observation: Observation, silences: tuple[Silence, ...], now: Any, expected: Any
) -> None:
    reason = suppression_reason(observation, silences, now=now)
    assert reason == expected or (expected is not None and reason and reason.startswith(expected))
