"""Parsing the config's raw alerting mappings into frozen values, reporting every problem.

``rules_from_config`` (``alert_rules``), ``settings_from_config`` (``alert_engine``) and
``silences_from_config`` (``maintenance``) take the raw, ``${env.*}``-resolved mappings the
config loader keeps, and raise one ``RuleError`` whose ``issues`` list every problem with
its path (relative to what was passed in); the loader prefixes the section and turns the
paths into ``file:line`` errors. The semantics of conditions are described in
``rules.models``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from rules.evaluate import Resolver
from rules.models import (
    ENUM_VALUES,
    FAILURE_METRICS,
    NUMERIC_OPERATORS,
    RATE_METRICS,
    TEXT_OPERATORS,
    AlertCondition,
    AlertRule,
    ConditionType,
    CustomConditionError,
    EngineSettings,
    Logic,
    Metric,
    Operator,
    Path,
    RuleError,
    RuleIssue,
    Severity,
    Silence,
    Value,
)
from rules.predefined import PREDEFINED_RULES

_RULE_KEYS = frozenset(
    {
        "id",
        "name",
        "description",
        "enabled",
        "severity",
        "conditions",
        "condition_logic",
        "channels",
        "cooldown_ms",
        "escalation_delay_ms",
        "escalation_rule",
        "tags",
        "workflows",
        "workflow_tags",
    }
)
_CONDITION_KEYS = frozenset(
    {
        "type",
        "metric",
        "operator",
        "value",
        "window",
        "window_ms",
        "min_runs",
        "duration",
        "duration_ms",
        "callable",
    }
)
_CALLABLE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class _Issues:
    """Collects every problem instead of stopping at the first (STYLE rule 3)."""

    def __init__(self) -> None:
        self.items: list[RuleIssue] = []

    def add(self, path: Path, message: str) -> None:
        self.items.append(RuleIssue(path, message))

    def raise_if_any(self) -> None:
        if self.items:
            raise RuleError.from_issues(self.items)


def _enum(kind: type[enum.StrEnum], raw: Any, path: Path, issues: _Issues, what: str) -> Any | None:
    if isinstance(raw, str):
        for member in kind:
            if raw.strip().upper() == member.value.upper():
                return member
    choices = ", ".join(m.value for m in kind)
    issues.add(path, f"unknown {what} {raw!r} (expected one of: {choices})")
    return None


def _ms(raw: Any, path: Path, issues: _Issues, *, positive: bool = False) -> int | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw != int(raw):
        issues.add(path, f"expected a whole number of milliseconds, got {raw!r}")
        return None
    if raw < 0 or (positive and raw == 0):
        issues.add(path, f"must be {'positive' if positive else 'zero or more'}, got {raw!r}")
        return None
    return int(raw)


def _names(raw: Any, path: Path, issues: _Issues) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str) or not isinstance(raw, Sequence):
        issues.add(path, f"expected a list of names, got {raw!r}")
        return ()
    names: list[str] = []
    for index, item in enumerate(raw):
        if isinstance(item, str) and item.strip():
            names.append(item.strip())
        else:
            issues.add((*path, index), f"expected a non-empty name, got {item!r}")
    return tuple(names)


def _text(raw: Any, path: Path, issues: _Issues) -> str | None:
    if isinstance(raw, str) and raw.strip():
        return raw.strip()
    issues.add(path, f"expected a non-empty string, got {raw!r}")
    return None


def _check_keys(
    raw: Mapping[str, Any], allowed: frozenset[str], path: Path, issues: _Issues
) -> None:
    for key in raw:
        if key not in allowed:
            issues.add((*path, str(key)), f"unknown key {key!r}")


def _one_of(raw: Mapping[str, Any], keys: tuple[str, str], path: Path, issues: _Issues) -> Any:
    """The value under either spelling (``window`` / ``window_ms``), not both."""
    present = [k for k in keys if k in raw]
    if len(present) > 1:
        issues.add((*path, present[1]), f"give either {keys[0]!r} or {keys[1]!r}, not both")
    return raw[present[0]] if present else None


def _condition(raw: Any, path: Path, issues: _Issues) -> AlertCondition | None:
    if not isinstance(raw, Mapping):
        issues.add(path, f"expected a condition mapping, got {raw!r}")
        return None
    before = len(issues.items)
    _check_keys(raw, _CONDITION_KEYS, path, issues)
    kind: ConditionType | None = _enum(
        ConditionType, raw.get("type"), (*path, "type"), issues, "condition type"
    )
    if kind is None:
        return None
    if kind is ConditionType.CUSTOM:
        return _custom(raw, path, issues)

    metric: Metric | None = None
    if "metric" not in raw:
        issues.add((*path, "metric"), "missing metric")
    elif isinstance(raw["metric"], str) and raw["metric"].strip() in Metric._value2member_map_:
        metric = Metric(raw["metric"].strip())
    else:
        choices = ", ".join(m.value for m in Metric)
        issues.add(
            (*path, "metric"), f"unknown metric {raw['metric']!r} (expected one of: {choices})"
        )
    operator: Operator | None = None
    if "operator" not in raw:
        issues.add((*path, "operator"), "missing operator")
    else:
        operator = _enum(Operator, raw["operator"], (*path, "operator"), issues, "operator")
    if "value" not in raw:
        issues.add((*path, "value"), "missing value")
    window = _one_of(raw, ("window", "window_ms"), path, issues)
    duration = _one_of(raw, ("duration", "duration_ms"), path, issues)
    window_ms = duration_ms = None
    min_runs = 1

    if kind is ConditionType.RATE:
        if window is None:
            issues.add((*path, "window"), "RATE needs a window (ms)")
        else:
            window_ms = _ms(window, (*path, "window"), issues, positive=True)
        if "min_runs" in raw:
            runs = raw["min_runs"]
            if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
                issues.add((*path, "min_runs"), f"expected a whole number >= 1, got {runs!r}")
            else:
                min_runs = runs
        if metric is not None and metric not in RATE_METRICS:
            issues.add(
                (*path, "metric"),
                f"RATE works on workflow.failure_rate or workflow.success_rate, not {metric}",
            )
    else:
        for key in ("window", "window_ms", "min_runs"):
            if key in raw:
                issues.add((*path, key), f"{key!r} only applies to RATE conditions")
        if metric in RATE_METRICS:
            issues.add((*path, "metric"), f"{metric} is computed over a window: use type RATE")
    if kind is ConditionType.DURATION:
        if duration is None:
            issues.add((*path, "duration"), "DURATION needs a duration (ms)")
        else:
            duration_ms = _ms(duration, (*path, "duration"), issues, positive=True)
        if metric is not None and metric not in FAILURE_METRICS:
            allowed = ", ".join(sorted(FAILURE_METRICS))
            issues.add(
                (*path, "metric"), f"DURATION works on failure metrics ({allowed}), not {metric}"
            )
    elif duration is not None:
        issues.add((*path, "duration"), "'duration' only applies to DURATION conditions")
    if kind is ConditionType.PATTERN and metric is not None and metric.numeric:
        issues.add((*path, "metric"), f"PATTERN needs a text metric, {metric} is numeric")

    value: Value | None = None
    pattern: re.Pattern[str] | None = None
    if metric is not None and operator is not None and "value" in raw:
        value, pattern = _value(raw["value"], metric, operator, (*path, "value"), issues)
    if len(issues.items) > before or metric is None or operator is None or value is None:
        return None
    return AlertCondition(
        type=kind,
        metric=metric,
        operator=operator,
        value=value,
        window_ms=window_ms,
        min_runs=min_runs,
        duration_ms=duration_ms,
        pattern=pattern,
    )


def _value(
    raw: Any, metric: Metric, operator: Operator, path: Path, issues: _Issues
) -> tuple[Value | None, re.Pattern[str] | None]:
    op_path = (*path[:-1], "operator")
    if metric.numeric:
        if operator in TEXT_OPERATORS:
            issues.add(op_path, f"{operator} needs a text metric, {metric} is numeric")
            return None, None
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            issues.add(path, f"{metric} is numeric: expected a number, got {raw!r}")
            return None, None
        if metric in RATE_METRICS and not 0 <= raw <= 100:
            issues.add(path, f"rates are percentages (0-100), got {raw!r}")
            return None, None
        return float(raw), None
    if operator in NUMERIC_OPERATORS:
        issues.add(op_path, f"{operator} needs a numeric metric, {metric} is text")
        return None, None
    if not isinstance(raw, str):
        issues.add(path, f"{metric} is text: expected a string, got {raw!r}")
        return None, None
    if operator is Operator.MATCHES:
        try:
            return raw, re.compile(raw)
        except re.error as exc:
            issues.add(path, f"invalid regular expression {raw!r}: {exc}")
            return None, None
    choices = ENUM_VALUES.get(metric)
    if choices is not None and operator in (Operator.EQ, Operator.NE):
        for choice in choices:
            if raw.strip().lower() == choice.lower():
                return choice, None
        issues.add(path, f"unknown {metric} {raw!r} (expected one of: {', '.join(choices)})")
        return None, None
    return raw, None


def _custom(raw: Mapping[str, Any], path: Path, issues: _Issues) -> AlertCondition | None:
    for key in raw:
        if key not in ("type", "callable", "value"):
            issues.add((*path, str(key)), f"CUSTOM conditions take only 'callable', not {key!r}")
    target = _one_of(raw, ("callable", "value"), path, issues)
    if not isinstance(target, str) or not _CALLABLE.match(target.strip()):
        issues.add(
            (*path, "callable"), f"CUSTOM needs a callable 'module:function', got {target!r}"
        )
        return None
    return AlertCondition(type=ConditionType.CUSTOM, callable=target.strip())


def _rule(raw: Any, path: Path, issues: _Issues) -> AlertRule | None:
    if not isinstance(raw, Mapping):
        issues.add(path, f"expected a rule mapping, got {raw!r}")
        return None
    before = len(issues.items)
    _check_keys(raw, _RULE_KEYS, path, issues)
    rule_id = _text(raw.get("id"), (*path, "id"), issues)
    name = raw.get("name", rule_id)
    if name is not None:
        name = _text(name, (*path, "name"), issues)
    description = raw.get("description", "")
    if not isinstance(description, str):
        issues.add((*path, "description"), f"expected a string, got {description!r}")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        issues.add((*path, "enabled"), f"expected true or false, got {enabled!r}")
    severity: Severity | None = None
    if "severity" not in raw:
        issues.add((*path, "severity"), "missing severity")
    else:
        severity = _enum(Severity, raw["severity"], (*path, "severity"), issues, "severity")
    logic: Logic | None = _enum(
        Logic, raw.get("condition_logic", "AND"), (*path, "condition_logic"), issues, "logic"
    )
    raw_conditions = raw.get("conditions")
    conditions: list[AlertCondition] = []
    if isinstance(raw_conditions, str) or not isinstance(raw_conditions, Sequence):
        issues.add((*path, "conditions"), "expected a list of conditions")
    elif not raw_conditions:
        issues.add((*path, "conditions"), "a rule needs at least one condition")
    else:
        for index, item in enumerate(raw_conditions):
            condition = _condition(item, (*path, "conditions", index), issues)
            if condition is not None:
                conditions.append(condition)
    optional_ms: dict[str, int | None] = {}
    for key in ("cooldown_ms", "escalation_delay_ms"):
        optional_ms[key] = None
        if raw.get(key) is not None:
            optional_ms[key] = _ms(raw[key], (*path, key), issues)
    escalation_rule = raw.get("escalation_rule")
    if escalation_rule is not None:
        escalation_rule = _text(escalation_rule, (*path, "escalation_rule"), issues)
    channels = _names(raw.get("channels"), (*path, "channels"), issues)
    tags = _names(raw.get("tags"), (*path, "tags"), issues)
    workflows = _names(raw.get("workflows"), (*path, "workflows"), issues)
    workflow_tags = _names(raw.get("workflow_tags"), (*path, "workflow_tags"), issues)
    if len(issues.items) > before or rule_id is None or name is None:
        return None
    assert severity is not None and logic is not None  # no issue means both parsed
    return AlertRule(
        id=rule_id,
        name=name,
        description=description,
        enabled=enabled,
        severity=severity,
        conditions=tuple(conditions),
        condition_logic=logic,
        channels=channels,
        cooldown_ms=optional_ms["cooldown_ms"],
        escalation_delay_ms=optional_ms["escalation_delay_ms"],
        escalation_rule=escalation_rule,
        tags=tags,
        workflows=workflows,
        workflow_tags=workflow_tags,
    )


def parse_condition(raw: Mapping[str, Any]) -> AlertCondition:
    """One condition from its raw mapping; raises ``RuleError`` listing every problem."""
    issues = _Issues()
    condition = _condition(raw, (), issues)
    issues.raise_if_any()
    assert condition is not None  # no issues means it parsed
    return condition


def parse_rule(raw: Mapping[str, Any]) -> AlertRule:
    """One rule from its raw mapping; raises ``RuleError`` listing every problem."""
    issues = _Issues()
    rule = _rule(raw, (), issues)
    issues.raise_if_any()
    assert rule is not None  # no issues means it parsed
    return rule


def rules_from_config(
    raw_rules: Sequence[Mapping[str, Any]],
    *,
    predefined: Sequence[AlertRule] = PREDEFINED_RULES,
    resolve_callable: Resolver | None = None,
) -> list[AlertRule]:
    """The predefined rules with the config's ``alert_rules`` merged over them by id.

    A raw rule whose id is predefined is merged key by key over that rule's mapping
    (``conditions`` is replaced whole), so ``{id: slow-workflow, enabled: false}`` disables
    it and ``{id: slow-workflow, cooldown_ms: 60000}`` changes only the cooldown. Other raw
    rules are added after the predefined ones. Every problem is reported at once in one
    ``RuleError`` whose paths start with the index in ``raw_rules``. When
    ``resolve_callable`` is given, CUSTOM callables are also resolved now (an import).
    """
    issues = _Issues()
    base = {rule.id: rule.to_config() for rule in predefined}
    order = [rule.id for rule in predefined]
    parsed: dict[str, AlertRule] = {rule.id: rule for rule in predefined}
    paths: dict[str, Path] = {}
    for index, raw in enumerate(raw_rules):
        rule_id = raw.get("id") if isinstance(raw, Mapping) else None
        merged = {**base[rule_id], **raw} if isinstance(rule_id, str) and rule_id in base else raw
        if isinstance(rule_id, str) and rule_id in paths:
            issues.add((index, "id"), f"duplicate alert rule id {rule_id!r}")
            continue
        rule = _rule(merged, (index,), issues)
        if rule is None:
            continue
        if rule.id not in parsed:
            order.append(rule.id)
        parsed[rule.id] = rule
        paths[rule.id] = (index,)
    for rule in parsed.values():
        at = paths.get(rule.id, ())
        if rule.escalation_rule is not None and rule.escalation_rule not in parsed:
            issues.add((*at, "escalation_rule"), f"no alert rule has id {rule.escalation_rule!r}")
        if resolve_callable is None:
            continue
        for index, condition in enumerate(rule.conditions):
            if condition.callable is None:
                continue
            try:
                resolve_callable(condition.callable)
            except CustomConditionError as exc:
                issues.add((*at, "conditions", index, "callable"), str(exc))
    issues.raise_if_any()
    return [parsed[rule_id] for rule_id in order]


def settings_from_config(raw: Mapping[str, Any]) -> EngineSettings:
    """``EngineSettings`` from the config's ``alert_engine`` mapping (missing keys: defaults)."""
    issues = _Issues()
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key in ("enable_deduplication", "enable_escalation"):
            if isinstance(value, bool):
                values[key] = value
            else:
                issues.add((key,), f"expected true or false, got {value!r}")
        elif key in ("default_cooldown_ms", "auto_resolve_after_ms"):
            values[key] = _ms(value, (key,), issues)
        elif key == "max_active_alerts":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                issues.add((key,), f"expected a whole number >= 1, got {value!r}")
            else:
                values[key] = value
        else:
            issues.add((str(key),), f"unknown alert_engine setting {key!r}")
    issues.raise_if_any()
    return EngineSettings(**values)


def silences_from_config(raw: Sequence[Mapping[str, Any]]) -> list[Silence]:
    """``Silence`` values from the config's ``maintenance`` list.

    ``duration`` is in seconds, as in SPEC §2 (``duration_ms`` is accepted too);
    ``start`` is an ISO 8601 timestamp or a YAML datetime, read as UTC when it has no
    offset; ``workflows`` omitted or empty means every workflow.
    """
    issues = _Issues()
    silences: list[Silence] = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, Mapping):
            issues.add((index,), f"expected a mapping, got {entry!r}")
            continue
        before = len(issues.items)
        _check_keys(
            entry, frozenset({"workflows", "start", "duration", "duration_ms"}), (index,), issues
        )
        start = _datetime(entry.get("start"), (index, "start"), issues)
        duration_ms: int | None = None
        if "duration" in entry and "duration_ms" in entry:
            issues.add((index, "duration_ms"), "give either 'duration' or 'duration_ms', not both")
        elif "duration" in entry:
            seconds = entry["duration"]
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
                issues.add((index, "duration"), f"expected positive seconds, got {seconds!r}")
            else:
                duration_ms = round(seconds * 1000)
        elif "duration_ms" in entry:
            duration_ms = _ms(entry["duration_ms"], (index, "duration_ms"), issues, positive=True)
        else:
            issues.add((index, "duration"), "missing duration (seconds)")
        workflows = _names(entry.get("workflows"), (index, "workflows"), issues)
        if len(issues.items) == before and start is not None and duration_ms is not None:
            silences.append(Silence(start=start, duration_ms=duration_ms, workflows=workflows))
    issues.raise_if_any()
    return silences


def _datetime(raw: Any, path: Path, issues: _Issues) -> datetime | None:
    value: datetime | None = raw if isinstance(raw, datetime) else None
    if isinstance(raw, str):
        try:
            value = datetime.fromisoformat(raw.strip())
        except ValueError:
            value = None
    if value is None:
        issues.add(path, f"expected an ISO 8601 timestamp, got {raw!r}")
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
