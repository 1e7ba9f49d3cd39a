"""Evaluating conditions and rules against an ``Observation``: pure functions, no clock.

Each condition evaluates to a ``ConditionResult`` whose ``display`` shows the actual
value, e.g. ``workflow.failure_rate (60) > 50 over 1h`` (STYLE rule 1). A metric with no
value for this run (no error message, no steps, no runs in the window) is *unknown*,
and an unknown value matches no operator, ``!=`` included: missing data never alerts.

CUSTOM conditions call ``resolve_callable(\"module:function\")`` and then the function
with the observation. The default resolver, ``import_callable``, imports the module
(cached): importing is the one side effect here, it happens once per callable, and tests
inject a dict lookup instead.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeAlias

from rules.models import (
    AlertCondition,
    AlertRule,
    ConditionType,
    CustomConditionError,
    Logic,
    Metric,
    Operator,
    Silence,
    format_span,
)
from rules.observation import Observation
from wfmon.results import ConditionResult, RunStatus

MetricValue: TypeAlias = float | str | None
CustomCheck: TypeAlias = Callable[[Observation], bool]
Resolver: TypeAlias = Callable[[str], CustomCheck]

# Worst first: the step status a run reports is the worst of its steps'.
_STEP_SEVERITY = (RunStatus.FAILED, RunStatus.SKIPPED, RunStatus.DEGRADED, RunStatus.PASSED)
_MAX_SHOWN = 100


@functools.cache
def import_callable(target: str) -> CustomCheck:
    """The function named by ``module:function``; ``CustomConditionError`` when it is not there."""
    module_name, _, function_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise CustomConditionError(f"cannot import {module_name!r} for {target!r}: {exc}") from exc
    function = getattr(module, function_name, None)
    if not callable(function):
        raise CustomConditionError(f"{module_name!r} has no callable {function_name!r}")
    check: CustomCheck = function
    return check


def metric_value(
    observation: Observation, metric: Metric | str, *, window_ms: int | None = None
) -> MetricValue:
    """The value of ``metric`` for this run (rates: over ``window_ms``); None when unknown."""
    metric = Metric(metric)
    o = observation
    match metric:
        case Metric.STATUS:
            return o.status.value
        case Metric.NAME:
            return o.workflow
        case Metric.PRIORITY:
            return o.priority.value
        case Metric.ENVIRONMENT:
            return o.environment
        case Metric.DURATION:
            return float(o.duration_ms)
        case Metric.ERROR:
            return o.error_message
        case Metric.ERROR_TYPE:
            return None if o.error_type is None else o.error_type.value
        case Metric.ATTEMPTS:
            return float(o.attempts)
        case Metric.CONSECUTIVE_FAILURES:
            return float(o.consecutive_failures)
        case Metric.FAILURE_RATE | Metric.SUCCESS_RATE:
            stats = None if window_ms is None else o.windows.get(window_ms)
            if stats is None:
                return None
            return stats.failure_rate if metric is Metric.FAILURE_RATE else stats.success_rate
        case Metric.STEP_DURATION:
            return max((float(s.duration_ms) for s in o.steps), default=None)
        case Metric.STEP_STATUS:
            present = {s.status for s in o.steps}
            return next((s.value for s in _STEP_SEVERITY if s in present), None)


def compare(condition: AlertCondition, actual: MetricValue) -> bool:
    """Whether ``actual`` satisfies the condition's operator and value (unknown never does)."""
    expected = condition.value
    if actual is None or expected is None:
        return False
    match condition.operator:
        case Operator.EQ:
            return actual == expected
        case Operator.NE:
            return actual != expected
        case Operator.CONTAINS:
            return str(expected) in str(actual)
        case Operator.MATCHES:
            return condition.pattern is not None and bool(condition.pattern.search(str(actual)))
    # Ordered operators: the parser only lets numeric metrics and numbers through.
    if not isinstance(actual, float) or not isinstance(expected, float):
        return False
    match condition.operator:
        case Operator.GT:
            return actual > expected
        case Operator.LT:
            return actual < expected
        case Operator.GE:
            return actual >= expected
        case Operator.LE:
            return actual <= expected
    return False


def evaluate_condition(
    condition: AlertCondition,
    observation: Observation,
    *,
    now: datetime,
    resolve_callable: Resolver = import_callable,
) -> ConditionResult:
    """Evaluate one condition; ``display`` shows the actual value."""
    if condition.type is ConditionType.CUSTOM:
        return _custom(condition, observation, resolve_callable)
    assert condition.metric is not None  # only CUSTOM has no metric
    actual = metric_value(observation, condition.metric, window_ms=condition.window_ms)
    success = compare(condition, actual)
    shown = f"{condition.metric} ({_show(actual)}) {condition.operator} {_show(condition.value)}"
    if condition.type is ConditionType.RATE:
        stats = observation.windows.get(condition.window_ms or 0)
        runs = 0 if stats is None else stats.runs
        shown += f" over {format_span(condition.window_ms)}, {runs} run{'s' * (runs != 1)}"
        if 0 < runs < condition.min_runs:  # with 0 runs the rate is already unknown
            success = False
            shown += f" (< {condition.min_runs})"
    elif condition.type is ConditionType.DURATION:
        since = observation.failing_since
        failing = timedelta(0) if since is None else max(now - since, timedelta(0))
        failing_ms = int(failing.total_seconds() * 1000)
        success = success and since is not None and failing_ms >= (condition.duration_ms or 0)
        shown += f" for {format_span(condition.duration_ms)} (failing {format_span(failing_ms)})"
    return ConditionResult(condition=condition.text, display=shown, success=success)


def condition_holds(
    condition: AlertCondition,
    observation: Observation,
    *,
    now: datetime,
    resolve_callable: Resolver = import_callable,
) -> bool:
    """Whether one condition holds for this observation at ``now``."""
    return evaluate_condition(
        condition, observation, now=now, resolve_callable=resolve_callable
    ).success


@dataclass(frozen=True, slots=True)
class RuleEvaluation:
    """A rule's verdict on one observation, with every condition's result."""

    matched: bool
    results: tuple[ConditionResult, ...] = ()

    @property
    def matched_displays(self) -> tuple[str, ...]:
        """The displays of the conditions that held."""
        return tuple(r.display for r in self.results if r.success)


def evaluate_rule(
    rule: AlertRule,
    observation: Observation,
    *,
    now: datetime,
    resolve_callable: Resolver = import_callable,
) -> RuleEvaluation:
    """Evaluate a rule: disabled or filtered out never matches; else AND/OR of its conditions."""
    if not rule.enabled or not rule.applies_to(
        workflow=observation.workflow, tags=observation.tags
    ):
        return RuleEvaluation(matched=False)
    results = tuple(
        evaluate_condition(c, observation, now=now, resolve_callable=resolve_callable)
        for c in rule.conditions
    )
    combine = all if rule.condition_logic is Logic.AND else any
    return RuleEvaluation(matched=combine(r.success for r in results), results=results)


def rule_matches(
    rule: AlertRule,
    observation: Observation,
    *,
    now: datetime,
    resolve_callable: Resolver = import_callable,
) -> bool:
    """Whether ``rule`` fires for this observation at ``now``."""
    return evaluate_rule(rule, observation, now=now, resolve_callable=resolve_callable).matched


def suppression_reason(
    observation: Observation, silences: Iterable[Silence], *, now: datetime
) -> str | None:
    """Why sends about this observation are suppressed (a silence, ``depends_on``), or None."""
    silenced = silence_reason(observation.workflow, silences, now=now)
    if silenced is not None:
        return silenced
    if observation.failing_dependencies:
        return f"depends_on: {', '.join(observation.failing_dependencies)} failing"
    return None


def silence_reason(workflow: str, silences: Iterable[Silence], *, now: datetime) -> str | None:
    """``maintenance until ...`` when a silence mutes ``workflow`` at ``now``, else None."""
    for silence in silences:
        if silence.covers(workflow, now):
            end = silence.start + timedelta(milliseconds=silence.duration_ms)
            return f"maintenance until {end.isoformat()}"
    return None


def _custom(
    condition: AlertCondition, observation: Observation, resolve_callable: Resolver
) -> ConditionResult:
    target = condition.callable or ""
    check = resolve_callable(target)
    try:
        result = check(observation)
    except Exception as exc:
        raise CustomConditionError(f"custom condition {target!r} raised {exc!r}") from exc
    if not isinstance(result, bool):
        raise CustomConditionError(f"custom condition {target!r} returned {result!r}, not a bool")
    return ConditionResult(
        condition=condition.text, display=f"custom {target} ({result})", success=result
    )


def _show(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:g}"
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"
