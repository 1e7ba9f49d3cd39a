"""The six predefined alert rules of the seed, shipped enabled (SPEC §5).

==========================  ========  ====================================  ========
id                          severity  fires when                            cooldown
==========================  ========  ====================================  ========
workflow-failure-critical   CRITICAL  a critical-priority workflow failed   5 min
failure-rate-high           ERROR     > 50% of the last hour's runs failed  15 min
workflow-slow               WARNING   a run took > 30 s (duration > 30000)  15 min
consecutive-failures        ERROR     3 or more failed runs in a row        15 min
health-check-failure        CRITICAL  a workflow tagged ``health`` failed   5 min
success-rate-low            WARNING   < 80% of the last hour's runs passed  30 min
==========================  ========  ====================================  ========

Choices, and why:

- Ids are kebab-case after the seed's own example id ``workflow-failure-critical``; a
  user overrides or disables a rule by its id in ``alert_rules``.
- Channels are *names* (``SLACK``, ``EMAIL``) that ``channels:`` in the config maps to
  Apprise URLs. CRITICAL rules go to ``SLACK`` and ``EMAIL``, the rest to ``SLACK``; a
  rule whose channels are not configured still records alerts but delivers nothing.
- Rates are over one hour, as a percentage, and need at least 5 runs in the window so
  the first failed run after start-up does not read as a 100% failure rate (the
  per-run rules already cover single failures).
- Cooldowns are short for CRITICAL (someone should be looking) and longer for trends.
- None escalates: escalation needs a team-specific target, so it is opt-in
  (``escalation_delay_ms`` / ``escalation_rule`` in an override).
"""

from __future__ import annotations

from rules.models import AlertCondition, AlertRule, ConditionType, Metric, Operator, Severity

_HOUR_MS = 3_600_000
_MINUTE_MS = 60_000
_MIN_RUNS = 5


def _failed() -> AlertCondition:
    return AlertCondition(
        type=ConditionType.THRESHOLD, metric=Metric.STATUS, operator=Operator.EQ, value="failed"
    )


def _rate(metric: Metric, operator: Operator, percent: float) -> AlertCondition:
    return AlertCondition(
        type=ConditionType.RATE,
        metric=metric,
        operator=operator,
        value=percent,
        window_ms=_HOUR_MS,
        min_runs=_MIN_RUNS,
    )


PREDEFINED_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        id="workflow-failure-critical",
        name="Critical workflow failure",
        description="A run of a critical-priority workflow failed.",
        severity=Severity.CRITICAL,
        conditions=(
            AlertCondition(
                type=ConditionType.THRESHOLD,
                metric=Metric.PRIORITY,
                operator=Operator.EQ,
                value="critical",
            ),
            _failed(),
        ),
        channels=("SLACK", "EMAIL"),
        cooldown_ms=5 * _MINUTE_MS,
        tags=("failure", "critical"),
    ),
    AlertRule(
        id="failure-rate-high",
        name="High failure rate",
        description="More than 50% of the runs in the last hour failed.",
        severity=Severity.ERROR,
        conditions=(_rate(Metric.FAILURE_RATE, Operator.GT, 50.0),),
        channels=("SLACK",),
        cooldown_ms=15 * _MINUTE_MS,
        tags=("failure", "rate"),
    ),
    AlertRule(
        id="workflow-slow",
        name="Slow workflow",
        description="A run took longer than 30 seconds.",
        severity=Severity.WARNING,
        conditions=(
            AlertCondition(
                type=ConditionType.THRESHOLD,
                metric=Metric.DURATION,
                operator=Operator.GT,
                value=30_000.0,
            ),
        ),
        channels=("SLACK",),
        cooldown_ms=15 * _MINUTE_MS,
        tags=("performance",),
    ),
    AlertRule(
        id="consecutive-failures",
        name="Consecutive failures",
        description="Three or more runs in a row failed.",
        severity=Severity.ERROR,
        conditions=(
            AlertCondition(
                type=ConditionType.THRESHOLD,
                metric=Metric.CONSECUTIVE_FAILURES,
                operator=Operator.GE,
                value=3.0,
            ),
        ),
        channels=("SLACK",),
        cooldown_ms=15 * _MINUTE_MS,
        tags=("failure",),
    ),
    AlertRule(
        id="health-check-failure",
        name="Health check failure",
        description="A run of a workflow tagged 'health' failed.",
        severity=Severity.CRITICAL,
        conditions=(_failed(),),
        channels=("SLACK", "EMAIL"),
        cooldown_ms=5 * _MINUTE_MS,
        tags=("health",),
        workflow_tags=("health",),
    ),
    AlertRule(
        id="success-rate-low",
        name="Low success rate",
        description="Fewer than 80% of the runs in the last hour passed.",
        severity=Severity.WARNING,
        conditions=(_rate(Metric.SUCCESS_RATE, Operator.LT, 80.0),),
        channels=("SLACK",),
        cooldown_ms=30 * _MINUTE_MS,
        tags=("rate",),
    ),
)
