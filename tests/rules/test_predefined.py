"""The six predefined rules, each matching and not matching."""

from __future__ import annotations

import pytest

from rules import PREDEFINED_RULES, Observation, Severity, WindowStats, rule_matches
from tests.rules.builders import HOUR_MS, T0, failed, passed
from wfmon.results import Priority

RULES = {rule.id: rule for rule in PREDEFINED_RULES}


def _hour(runs: int, failures: int, successes: int | None = None) -> dict[int, WindowStats]:
    ok = runs - failures if successes is None else successes
    return {HOUR_MS: WindowStats(runs=runs, failed=failures, succeeded=ok)}


CASES: list[tuple[str, str, Observation, bool]] = [
    ("workflow-failure-critical", "critical and failed", failed(priority=Priority.CRITICAL), True),
    ("workflow-failure-critical", "high and failed", failed(), False),
    ("workflow-failure-critical", "critical and passed", passed(priority=Priority.CRITICAL), False),
    ("failure-rate-high", "6 of 10 failed", failed(windows=_hour(10, 6)), True),
    ("failure-rate-high", "5 of 10 failed", failed(windows=_hour(10, 5)), False),
    ("failure-rate-high", "3 of 3 failed: too few runs", failed(windows=_hour(3, 3)), False),
    ("workflow-slow", "31 s", passed(duration_ms=31_000), True),
    ("workflow-slow", "exactly 30 s", passed(duration_ms=30_000), False),
    ("consecutive-failures", "3 in a row", failed(consecutive_failures=3), True),
    ("consecutive-failures", "2 in a row", failed(consecutive_failures=2), False),
    ("health-check-failure", "health-tagged failed", failed(tags=frozenset({"health"})), True),
    ("health-check-failure", "untagged failed", failed(), False),
    ("health-check-failure", "health-tagged passed", passed(tags=frozenset({"health"})), False),
    ("success-rate-low", "7 of 10 passed", passed(windows=_hour(10, 3)), True),
    ("success-rate-low", "8 of 10 passed", passed(windows=_hour(10, 2)), False),
    ("success-rate-low", "skipped runs are not successes", passed(windows=_hour(10, 0, 7)), True),
]


@pytest.mark.parametrize(("rule_id", "name", "observation", "expected"), CASES, ids=str)
def test_predefined_rule(rule_id: str, name: str, observation: Observation, expected: bool) -> None:
    assert rule_matches(RULES[rule_id], observation, now=T0) is expected


def test_six_rules_ship_enabled_with_the_seed_severities() -> None:
    assert {r.id: r.severity for r in PREDEFINED_RULES if r.enabled} == {
        "workflow-failure-critical": Severity.CRITICAL,
        "failure-rate-high": Severity.ERROR,
        "workflow-slow": Severity.WARNING,
        "consecutive-failures": Severity.ERROR,
        "health-check-failure": Severity.CRITICAL,
        "success-rate-low": Severity.WARNING,
    }


def test_every_case_table_covers_every_rule_both_ways() -> None:
    assert {(rule_id, expected) for rule_id, _, _, expected in CASES} == {
        (rule.id, outcome) for rule in PREDEFINED_RULES for outcome in (True, False)
    }
