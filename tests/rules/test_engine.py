"""``AlertRulesEngine``: the seed's API over in-memory state."""

from __future__ import annotations

import itertools

import pytest

from rules import (
    PREDEFINED_RULES,
    ActionKind,
    AlertRulesEngine,
    AlertState,
    EngineSettings,
    RuleError,
    Severity,
    Silence,
    UnknownAlertError,
    UnknownRuleError,
    parse_rule,
)
from rules.engine import Change
from tests.rules.builders import T0, at, failed, passed
from wfmon.results import Priority

CRITICAL_FAILURE = failed(priority=Priority.CRITICAL, consecutive_failures=3)


def _engine(**kwargs: object) -> AlertRulesEngine:
    ids = (f"a{n}" for n in itertools.count(1))
    return AlertRulesEngine(new_id=lambda: next(ids), **kwargs)  # type: ignore[arg-type]


def _kinds(changes: list[Change]) -> dict[str, list[str]]:
    return {alert.rule_id: [a.kind.value for a in actions] for alert, actions in changes}


def test_evaluate_opens_one_alert_per_matching_rule() -> None:
    engine = _engine()
    changes = engine.evaluate(CRITICAL_FAILURE, now=T0)
    assert _kinds(changes) == {
        "workflow-failure-critical": ["NOTIFY"],
        "consecutive-failures": ["NOTIFY"],
    }
    assert [a.id for a, _ in changes] == ["a1", "a2"]  # ids only drawn for opened alerts
    assert [a.rule_id for a in engine.get_active_alerts()] == [
        "workflow-failure-critical",
        "consecutive-failures",
    ]
    assert [a.rule_id for a in engine.get_alerts_by_severity("critical")] == [
        "workflow-failure-critical"
    ]


def test_repeat_then_recovery() -> None:
    engine = _engine()
    engine.evaluate(CRITICAL_FAILURE, now=T0)
    assert _kinds(engine.evaluate(CRITICAL_FAILURE, now=at(minutes=1))) == {
        "workflow-failure-critical": [],
        "consecutive-failures": [],
    }
    assert _kinds(engine.evaluate(passed(priority=Priority.CRITICAL), now=at(minutes=2))) == {
        "workflow-failure-critical": ["RESOLVED_NOTICE"],
        "consecutive-failures": ["RESOLVED_NOTICE"],
    }
    assert engine.get_active_alerts() == []
    assert engine.evaluate(passed(), now=at(minutes=3)) == []


def test_alert_identity_includes_environment() -> None:
    engine = _engine()
    engine.evaluate(CRITICAL_FAILURE, now=T0)
    staging = failed(priority=Priority.CRITICAL, environment="staging")
    assert _kinds(engine.evaluate(staging, now=T0)) == {"workflow-failure-critical": ["NOTIFY"]}
    assert len(engine.get_active_alerts()) == 3


def test_acknowledge_resolve_and_history() -> None:
    engine = _engine()
    engine.evaluate(CRITICAL_FAILURE, now=T0)
    acked = engine.acknowledge_alert("a1", "ops@example.com", now=at(minutes=1))
    assert (acked.state, acked.acknowledged_by) == (AlertState.ACKNOWLEDGED, "ops@example.com")
    done = engine.resolve_alert("a1", now=at(minutes=2))
    assert done.state is AlertState.RESOLVED
    engine.evaluate(CRITICAL_FAILURE, now=at(minutes=3))  # opens a new one for that rule
    history = engine.get_alert_history("workflow-failure-critical", limit=10)
    assert [(a.id, a.state) for a in history] == [
        ("a3", AlertState.ACTIVE),
        ("a1", AlertState.RESOLVED),
    ]
    assert [a.id for a in engine.get_alert_history("workflow-failure-critical", limit=1)] == ["a3"]
    assert engine.get_alert("a1") == done
    with pytest.raises(UnknownAlertError):
        engine.acknowledge_alert("nope", "ops", now=T0)
    with pytest.raises(UnknownAlertError):
        engine.resolve_alert("nope", now=T0)


def test_rules_add_get_update() -> None:
    engine = _engine(rules=())
    rule = parse_rule(
        {
            "id": "db-slow",
            "severity": "WARNING",
            "conditions": [
                {
                    "type": "THRESHOLD",
                    "metric": "workflow.duration",
                    "operator": ">",
                    "value": 5000,
                },
                {
                    "type": "PATTERN",
                    "metric": "workflow.name",
                    "operator": "CONTAINS",
                    "value": "database",
                },
            ],
            "channels": ["SLACK"],
            "cooldown_ms": 600000,
        }
    )
    engine.add_rule(rule)
    assert engine.get_rule("db-slow") == rule
    assert engine.get_rule("nope") is None
    with pytest.raises(RuleError, match="duplicate"):
        engine.add_rule(rule)
    updated = engine.update_rule("db-slow", cooldown_ms=1_800_000, severity="error")
    assert (updated.cooldown_ms, updated.severity) == (1_800_000, Severity.ERROR)
    assert engine.get_rule("db-slow") == updated
    with pytest.raises(RuleError, match="cooldown_ms"):
        engine.update_rule("db-slow", cooldown_ms=-1)
    with pytest.raises(RuleError, match="id cannot change"):
        engine.update_rule("db-slow", id="other")
    with pytest.raises(UnknownRuleError):
        engine.update_rule("nope", enabled=False)
    slow_db = passed(workflow="database-report", duration_ms=6000)
    assert _kinds(engine.evaluate(slow_db, now=T0)) == {"db-slow": ["NOTIFY"]}


def test_silences_suppress_sending() -> None:
    engine = _engine(silences=[Silence(start=T0, duration_ms=3_600_000, workflows=("checkout",))])
    changes = engine.evaluate(CRITICAL_FAILURE, now=at(minutes=1))
    assert {a.instead_of for _, actions in changes for a in actions} == {ActionKind.NOTIFY}
    assert {a.kind for _, actions in changes for a in actions} == {ActionKind.SUPPRESS}
    assert len(engine.get_active_alerts()) == 2


def test_tick_escalates_and_auto_resolves() -> None:
    escalating = parse_rule(
        {
            **PREDEFINED_RULES[0].to_config(),
            "escalation_delay_ms": 600000,
            "escalation_rule": "page",
        }
    )
    page = parse_rule(
        {
            **escalating.to_config(),
            "id": "page",
            "channels": ["PAGER"],
            "escalation_delay_ms": None,
            "escalation_rule": None,
        }
    )
    engine = _engine(rules=[escalating, page], settings=EngineSettings(max_active_alerts=10))
    engine.evaluate(failed(priority=Priority.CRITICAL), now=T0)
    assert engine.tick(now=at(minutes=5)) == []
    assert [[a.kind.value for a in actions] for _, actions in engine.tick(now=at(minutes=10))] == [
        ["ESCALATE"]
    ]
    assert engine.tick(now=at(minutes=11)) == []
    resolved = engine.tick(now=at(minutes=60))
    assert [[(a.kind.value, a.channels) for a in actions] for _, actions in resolved] == [
        [("RESOLVED_NOTICE", ("SLACK", "EMAIL", "PAGER"))],
        [("RESOLVED_NOTICE", ("PAGER",))],  # the page rule matched the run too
    ]


def test_auto_resolve_old_alerts_counts() -> None:
    engine = _engine()
    engine.evaluate(CRITICAL_FAILURE, now=T0)
    engine.evaluate(failed(workflow="login", consecutive_failures=3), now=at(minutes=30))
    assert engine.auto_resolve_old_alerts(now=at(minutes=59)) == 0
    assert engine.auto_resolve_old_alerts(now=at(minutes=60)) == 2
    assert [a.workflow for a in engine.get_active_alerts()] == ["login"]


def test_max_active_alerts_and_statistics() -> None:
    engine = _engine(settings=EngineSettings(max_active_alerts=1))
    engine.evaluate(CRITICAL_FAILURE, now=T0)
    engine.acknowledge_alert("a1", "ops", now=T0)
    assert engine.get_statistics() == {
        "total_rules": 6,
        "enabled_rules": 6,
        "total_alerts": 1,
        "active_alerts": 1,
        "alerts_by_state": {"ACTIVE": 0, "ACKNOWLEDGED": 1, "RESOLVED": 0},
        "alerts_by_severity": {"INFO": 0, "WARNING": 0, "ERROR": 0, "CRITICAL": 1},
        "refused_alerts": 1,
    }
