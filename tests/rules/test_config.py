"""Parsing alert_rules / alert_engine / maintenance: good and bad inputs side by side."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from rules import (
    PREDEFINED_RULES,
    AlertCondition,
    ConditionType,
    CustomConditionError,
    EngineSettings,
    Logic,
    Metric,
    Operator,
    RuleError,
    Severity,
    Silence,
    parse_condition,
    parse_rule,
    rules_from_config,
    settings_from_config,
    silences_from_config,
)
from rules.models import Path

T = ConditionType

GOOD_CONDITIONS: list[tuple[str, dict[str, Any], AlertCondition]] = [
    (
        "threshold",
        {"type": "THRESHOLD", "metric": "workflow.duration", "operator": ">", "value": 5000},
        AlertCondition(T.THRESHOLD, Metric.DURATION, Operator.GT, 5000.0),
    ),
    (
        "lower-case type and enum value normalised",
        {"type": "threshold", "metric": "workflow.status", "operator": "==", "value": "FAILED"},
        AlertCondition(T.THRESHOLD, Metric.STATUS, Operator.EQ, "failed"),
    ),
    (
        "contains, lower case",
        {"type": "PATTERN", "metric": "workflow.name", "operator": "contains", "value": "db"},
        AlertCondition(T.PATTERN, Metric.NAME, Operator.CONTAINS, "db"),
    ),
    (
        "matches",
        {"type": "PATTERN", "metric": "workflow.error", "operator": "matches", "value": "50[0-4]"},
        AlertCondition(T.PATTERN, Metric.ERROR, Operator.MATCHES, "50[0-4]"),
    ),
    (
        "rate with window and min_runs",
        {
            "type": "RATE",
            "metric": "workflow.failure_rate",
            "operator": ">",
            "value": 50,
            "window": 3600000,
            "min_runs": 3,
        },
        AlertCondition(
            T.RATE, Metric.FAILURE_RATE, Operator.GT, 50.0, window_ms=3600000, min_runs=3
        ),
    ),
    (
        "rate with window_ms spelling",
        {
            "type": "RATE",
            "metric": "workflow.success_rate",
            "operator": "<",
            "value": 80,
            "window_ms": 60000,
        },
        AlertCondition(T.RATE, Metric.SUCCESS_RATE, Operator.LT, 80.0, window_ms=60000),
    ),
    (
        "duration",
        {
            "type": "DURATION",
            "metric": "workflow.status",
            "operator": "==",
            "value": "failed",
            "duration": 300000,
        },
        AlertCondition(T.DURATION, Metric.STATUS, Operator.EQ, "failed", duration_ms=300000),
    ),
    (
        "custom via callable",
        {"type": "CUSTOM", "callable": "mychecks:is_bad"},
        AlertCondition(T.CUSTOM, callable="mychecks:is_bad"),
    ),
    (
        "custom via value",
        {"type": "CUSTOM", "value": "pkg.mod:check_2"},
        AlertCondition(T.CUSTOM, callable="pkg.mod:check_2"),
    ),
    (
        "error_type normalised",
        {
            "type": "THRESHOLD",
            "metric": "workflow.error_type",
            "operator": "!=",
            "value": "timeout",
        },
        AlertCondition(T.THRESHOLD, Metric.ERROR_TYPE, Operator.NE, "TIMEOUT"),
    ),
]


@pytest.mark.parametrize(("name", "raw", "expected"), GOOD_CONDITIONS, ids=lambda x: x)
def test_parse_condition_good(name: str, raw: dict[str, Any], expected: AlertCondition) -> None:
    assert parse_condition(raw) == expected


def _threshold(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {"type": "THRESHOLD", "metric": "workflow.duration", "operator": ">"}
    raw["value"] = 1000
    raw.update(changes)
    return {k: v for k, v in raw.items() if v is not None}


BAD_CONDITIONS: list[tuple[str, Any, Path, str]] = [
    ("not a mapping", "x > 1", (), "expected a condition mapping"),
    ("unknown type", _threshold(type="AVERAGE"), ("type",), "unknown condition type"),
    ("unknown metric", _threshold(metric="workflow.cpu"), ("metric",), "unknown metric"),
    ("missing metric", _threshold(metric=None), ("metric",), "missing metric"),
    ("unknown operator", _threshold(operator="=>"), ("operator",), "unknown operator '=>'"),
    ("missing operator", _threshold(operator=None), ("operator",), "missing operator"),
    ("missing value", _threshold(value=None), ("value",), "missing value"),
    ("string for number", _threshold(value="fast"), ("value",), "expected a number"),
    ("bool for number", _threshold(value=True), ("value",), "expected a number"),
    ("contains on number", _threshold(operator="CONTAINS"), ("operator",), "needs a text metric"),
    (
        "order on text",
        _threshold(metric="workflow.name", value="a"),
        ("operator",),
        "needs a numeric metric",
    ),
    (
        "number for text",
        _threshold(metric="workflow.name", operator="==", value=3),
        ("value",),
        "expected a string",
    ),
    (
        "unknown status",
        _threshold(metric="workflow.status", operator="==", value="faild"),
        ("value",),
        "unknown workflow.status 'faild'",
    ),
    (
        "bad regex",
        _threshold(metric="workflow.error", operator="matches", value="(unclosed"),
        ("value",),
        "invalid regular expression",
    ),
    ("unknown key", _threshold(threshold=3), ("threshold",), "unknown key"),
    (
        "rate without window",
        _threshold(type="RATE", metric="workflow.failure_rate", value=50),
        ("window",),
        "RATE needs a window",
    ),
    (
        "rate zero window",
        _threshold(type="RATE", metric="workflow.failure_rate", value=50, window=0),
        ("window",),
        "must be positive",
    ),
    (
        "rate on duration",
        _threshold(type="RATE", window=1000),
        ("metric",),
        "RATE works on workflow.failure_rate",
    ),
    (
        "rate percent out of range",
        _threshold(type="RATE", metric="workflow.failure_rate", value=150, window=1000),
        ("value",),
        "percentages",
    ),
    (
        "rate bad min_runs",
        _threshold(type="RATE", metric="workflow.failure_rate", value=5, window=1000, min_runs=0),
        ("min_runs",),
        ">= 1",
    ),
    ("window on threshold", _threshold(window=1000), ("window",), "only applies to RATE"),
    (
        "both window spellings",
        _threshold(
            type="RATE", metric="workflow.failure_rate", value=5, window=1000, window_ms=1000
        ),
        ("window_ms",),
        "not both",
    ),
    (
        "threshold on rate",
        _threshold(metric="workflow.success_rate", value=80),
        ("metric",),
        "use type RATE",
    ),
    (
        "duration without duration",
        _threshold(type="DURATION", metric="workflow.status", operator="==", value="failed"),
        ("duration",),
        "DURATION needs a duration",
    ),
    (
        "duration on numeric",
        _threshold(type="DURATION", duration=1000),
        ("metric",),
        "DURATION works on failure metrics",
    ),
    (
        "duration key on threshold",
        _threshold(duration=1000),
        ("duration",),
        "only applies to DURATION",
    ),
    (
        "duration not whole",
        _threshold(
            type="DURATION", metric="workflow.status", operator="==", value="failed", duration=1.5
        ),
        ("duration",),
        "whole number",
    ),
    (
        "pattern on numeric",
        _threshold(type="PATTERN", operator="=="),
        ("metric",),
        "PATTERN needs a text metric",
    ),
    ("custom without callable", {"type": "CUSTOM"}, ("callable",), "module:function"),
    (
        "custom bad callable",
        {"type": "CUSTOM", "callable": "no_colon"},
        ("callable",),
        "module:function",
    ),
    (
        "custom with metric",
        {"type": "CUSTOM", "callable": "m:f", "metric": "workflow.name"},
        ("metric",),
        "take only 'callable'",
    ),
]


@pytest.mark.parametrize(("name", "raw", "path", "message"), BAD_CONDITIONS, ids=lambda x: x)
def test_parse_condition_bad(name: str, raw: Any, path: Path, message: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_condition(raw)
    assert (caught.value.path, message in caught.value.message) == (path, True), str(caught.value)


def _rule(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "id": "db-slow",
        "severity": "warning",
        "conditions": [_threshold()],
    }
    raw.update(changes)
    return {k: v for k, v in raw.items() if v is not None}


def test_parse_rule_defaults_and_fields() -> None:
    rule = parse_rule(
        _rule(
            condition_logic="or",
            channels=["SLACK"],
            cooldown_ms=600000,
            escalation_delay_ms=0,
            tags=["db"],
            workflows=["checkout"],
            workflow_tags=["shop"],
        )
    )
    assert (rule.name, rule.severity, rule.condition_logic, rule.enabled) == (
        "db-slow",
        Severity.WARNING,
        Logic.OR,
        True,
    )
    assert (rule.channels, rule.cooldown_ms, rule.escalation_delay_ms) == (("SLACK",), 600000, 0)
    assert (rule.tags, rule.workflows, rule.workflow_tags) == (("db",), ("checkout",), ("shop",))
    assert parse_rule(rule.to_config()) == rule


BAD_RULES: list[tuple[str, Any, Path, str]] = [
    ("not a mapping", ["x"], (), "expected a rule mapping"),
    ("missing id", _rule(id=None), ("id",), "non-empty string"),
    ("missing severity", _rule(severity=None), ("severity",), "missing severity"),
    ("bad severity", _rule(severity="FATAL"), ("severity",), "unknown severity"),
    ("bad logic", _rule(condition_logic="XOR"), ("condition_logic",), "unknown logic"),
    ("no conditions", _rule(conditions=[]), ("conditions",), "at least one"),
    ("conditions not a list", _rule(conditions="x > 1"), ("conditions",), "list of conditions"),
    (
        "bad condition inside",
        _rule(conditions=[_threshold(), _threshold(operator="~")]),
        ("conditions", 1, "operator"),
        "unknown operator",
    ),
    ("enabled not bool", _rule(enabled="no"), ("enabled",), "true or false"),
    ("negative cooldown", _rule(cooldown_ms=-1), ("cooldown_ms",), "zero or more"),
    ("channels not list", _rule(channels="SLACK"), ("channels",), "list of names"),
    ("empty channel", _rule(channels=["SLACK", ""]), ("channels", 1), "non-empty name"),
    ("unknown key", _rule(window=5), ("window",), "unknown key"),
    ("description not str", _rule(description=3), ("description",), "expected a string"),
]


@pytest.mark.parametrize(("name", "raw", "path", "message"), BAD_RULES, ids=lambda x: x)
def test_parse_rule_bad(name: str, raw: Any, path: Path, message: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_rule(raw)
    assert (caught.value.path, message in caught.value.message) == (path, True), str(caught.value)


def test_rules_from_config_keeps_predefined_and_adds_new_ones() -> None:
    rules = rules_from_config([_rule()])
    assert [r.id for r in rules] == [*(r.id for r in PREDEFINED_RULES), "db-slow"]
    assert all(r.enabled for r in rules)


def test_rules_from_config_override_merges_over_predefined() -> None:
    rules = {
        r.id: r
        for r in rules_from_config(
            [
                {"id": "workflow-slow", "cooldown_ms": 60000},
                {"id": "success-rate-low", "enabled": False},
            ]
        )
    }
    predefined = {r.id: r for r in PREDEFINED_RULES}
    assert rules["workflow-slow"].cooldown_ms == 60000
    assert rules["workflow-slow"].conditions == predefined["workflow-slow"].conditions
    assert rules["success-rate-low"].enabled is False
    assert rules["failure-rate-high"] == predefined["failure-rate-high"]


def test_rules_from_config_reports_every_problem_with_paths() -> None:
    with pytest.raises(RuleError) as caught:
        rules_from_config(
            [
                _rule(severity="FATAL"),
                {"id": "workflow-slow", "conditions": [_threshold(metric="cpu")]},
                _rule(id="esc", escalation_rule="nowhere"),
                _rule(id="esc"),
            ]
        )
    assert [(i.path, i.message.split(" (")[0]) for i in caught.value.issues] == [
        ((0, "severity"), "unknown severity 'FATAL'"),
        ((1, "conditions", 0, "metric"), "unknown metric 'cpu'"),
        ((3, "id"), "duplicate alert rule id 'esc'"),
        ((2, "escalation_rule"), "no alert rule has id 'nowhere'"),
    ]
    assert str(caught.value.issues[1]).startswith("[1].conditions[0].metric: unknown metric")


def test_rules_from_config_resolves_custom_callables_when_asked() -> None:
    def resolver(target: str) -> Any:
        raise CustomConditionError(f"cannot import {target}")

    raw = [_rule(conditions=[{"type": "CUSTOM", "callable": "nope:check"}])]
    assert rules_from_config(raw)[-1].conditions[0].callable == "nope:check"
    with pytest.raises(RuleError) as caught:
        rules_from_config(raw, resolve_callable=resolver)
    assert caught.value.path == (0, "conditions", 0, "callable")


def test_rules_from_config_with_no_predefined() -> None:
    assert [r.id for r in rules_from_config([_rule()], predefined=())] == ["db-slow"]


def test_predefined_rules_round_trip_through_the_parser() -> None:
    assert [parse_rule(r.to_config()) for r in PREDEFINED_RULES] == list(PREDEFINED_RULES)


SETTINGS: list[tuple[str, dict[str, Any], EngineSettings | str]] = [
    ("empty: defaults", {}, EngineSettings()),
    (
        "all",
        {
            "enable_deduplication": False,
            "default_cooldown_ms": 1000,
            "max_active_alerts": 5,
            "auto_resolve_after_ms": 0,
            "enable_escalation": False,
        },
        EngineSettings(False, 1000, 5, 0, False),
    ),
    ("bad bool", {"enable_escalation": "yes"}, "enable_escalation: expected true or false"),
    ("bad max", {"max_active_alerts": 0}, "max_active_alerts: expected a whole number >= 1"),
    ("negative ms", {"default_cooldown_ms": -5}, "default_cooldown_ms: must be zero or more"),
    ("unknown", {"max_alerts": 3}, "max_alerts: unknown alert_engine setting"),
]


@pytest.mark.parametrize(("name", "raw", "expected"), SETTINGS, ids=lambda x: x)
def test_settings_from_config(name: str, raw: dict[str, Any], expected: Any) -> None:
    if isinstance(expected, EngineSettings):
        assert settings_from_config(raw) == expected
    else:
        with pytest.raises(RuleError, match=expected):
            settings_from_config(raw)


START = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
SILENCES: list[tuple[str, dict[str, Any], Silence | str]] = [
    (
        "spec example (seconds)",
        {"workflows": ["checkout"], "start": "2026-12-01T02:00:00Z", "duration": 3600},
        Silence(start=START, duration_ms=3_600_000, workflows=("checkout",)),
    ),
    (
        "yaml datetime, naive is UTC, duration_ms",
        {"start": datetime(2026, 12, 1, 2, 0), "duration_ms": 1000},
        Silence(start=START, duration_ms=1000),
    ),
    ("bad start", {"start": "tomorrow", "duration": 60}, "[0].start: expected an ISO 8601"),
    ("missing duration", {"start": "2026-12-01T02:00:00Z"}, "[0].duration: missing duration"),
    ("zero duration", {"start": START, "duration": 0}, "[0].duration: expected positive"),
    ("both durations", {"start": START, "duration": 1, "duration_ms": 1}, "not both"),
    ("unknown key", {"start": START, "duration": 1, "env": "x"}, "[0].env: unknown key"),
]


@pytest.mark.parametrize(("name", "raw", "expected"), SILENCES, ids=lambda x: x)
def test_silences_from_config(name: str, raw: dict[str, Any], expected: Any) -> None:
    if isinstance(expected, Silence):
        assert silences_from_config([raw]) == [expected]
    else:
        with pytest.raises(RuleError) as caught:
            silences_from_config([raw])
        assert expected in str(caught.value)
