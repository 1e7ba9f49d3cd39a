"""The values of the alert engine: rules, conditions, settings, alerts, silences, errors.

Everything here is a frozen value, parsed once from the config's raw mappings by
``rules.config`` (STYLE rule 1); evaluation lives in ``rules.evaluate``, the alert state
machine in ``rules.lifecycle``.

Condition semantics (SPEC §5 leaves these to us):

- Metrics are either *numeric* (``workflow.duration``, ``workflow.attempts``,
  ``workflow.consecutive_failures``, ``workflow.failure_rate``, ``workflow.success_rate``,
  ``step.duration``) or *text* (the rest). ``< <= > >=`` need a numeric metric and a
  number; ``CONTAINS`` (substring) and ``MATCHES`` (``re.search``, compiled at load
  time) need a text metric; ``== !=`` work on both. Text comparisons are case-sensitive,
  except that the enum-valued metrics (``workflow.status``, ``workflow.priority``,
  ``workflow.error_type``, ``step.status``) check and normalise their value at load
  time, so ``FAILED`` and ``failed`` both work and ``faild`` is an error.
- Rates are percentages (0-100), like ``successRate`` in the API (SPEC §6).
- ``THRESHOLD`` compares a per-run metric of the current run; ``PATTERN`` is the same on
  a text metric. ``RATE`` compares ``workflow.failure_rate`` / ``workflow.success_rate``
  over the last ``window`` ms (only rates exist over windows; a rate metric needs
  ``RATE``), and holds only once the window has at least ``min_runs`` runs (default 1),
  so one bad run right after start-up does not read as "100% failures".
- ``DURATION`` compares a failure metric (``workflow.status``, ``workflow.error``,
  ``workflow.error_type``, ``step.status``) of the current run and holds when the
  workflow has also been failing without a passing run for ``duration`` ms (see
  ``rules.observation``). Other metrics are refused: we cannot honestly say how long
  "duration > 30 s" has been true without a history of that comparison.
- ``CUSTOM`` names a callable ``module:function`` (key ``callable``, or ``value``) that
  takes an ``Observation`` and returns a bool.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeAlias

from wfmon.results import ErrorType, Priority, RunStatus

# A position in a raw document: keys and list indexes, as the config loader uses them.
Path: TypeAlias = tuple[str | int, ...]
Value: TypeAlias = float | str


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True, slots=True)
class RuleIssue:
    """One problem in the raw rules, at a path relative to the list given to the parser."""

    path: Path
    message: str

    def __str__(self) -> str:
        return f"{_format_path(self.path)}: {self.message}"


class RulesError(Exception):
    """Base of every exception raised by ``rules``."""


class RuleError(RulesError, ValueError):
    """Bad alert configuration; ``issues`` lists every problem, ``path``/``message`` the first."""

    def __init__(self, path: Path, message: str, *, more: Sequence[RuleIssue] = ()) -> None:
        self.issues: tuple[RuleIssue, ...] = (RuleIssue(path, message), *more)
        self.path = path
        self.message = message
        super().__init__("\n".join(str(issue) for issue in self.issues))

    @classmethod
    def from_issues(cls, issues: Sequence[RuleIssue]) -> RuleError:
        """One error carrying all ``issues`` (at least one)."""
        first, *rest = issues
        return cls(first.path, first.message, more=rest)


class CustomConditionError(RulesError):
    """A CUSTOM condition's callable could not be imported, raised, or returned a non-bool."""


class UnknownRuleError(RulesError, LookupError):
    """No rule has this id."""


class UnknownAlertError(RulesError, LookupError):
    """No alert has this id."""


class AlertStateError(RulesError, ValueError):
    """A transition the alert's state does not allow (acknowledging a resolved alert)."""


def _format_path(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(rule list)"


# --------------------------------------------------------------------------- enums


class Severity(enum.StrEnum):
    """How bad an alert is; ordered INFO < WARNING < ERROR < CRITICAL."""

    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"

    @property
    def rank(self) -> int:
        """0 for INFO up to 3 for CRITICAL."""
        return _SEVERITY_ORDER.index(self)

    def raised(self) -> Severity:
        """The next level up (CRITICAL stays CRITICAL)."""
        return _SEVERITY_ORDER[min(self.rank + 1, len(_SEVERITY_ORDER) - 1)]

    # StrEnum would compare alphabetically ("CRITICAL" < "ERROR"); order by rank instead.
    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank >= other.rank


_SEVERITY_ORDER = (Severity.INFO, Severity.WARNING, Severity.ERROR, Severity.CRITICAL)


class ConditionType(enum.StrEnum):
    """How a condition is evaluated (SPEC §5)."""

    THRESHOLD = "THRESHOLD"
    RATE = "RATE"
    PATTERN = "PATTERN"
    DURATION = "DURATION"
    CUSTOM = "CUSTOM"


class Operator(enum.StrEnum):
    """Comparison of a metric's actual value with the condition's value."""

    GT = ">"
    LT = "<"
    GE = ">="
    LE = "<="
    EQ = "=="
    NE = "!="
    CONTAINS = "CONTAINS"
    MATCHES = "MATCHES"


class Metric(enum.StrEnum):
    """What a condition looks at (SPEC §5)."""

    STATUS = "workflow.status"
    NAME = "workflow.name"
    PRIORITY = "workflow.priority"
    ENVIRONMENT = "workflow.environment"
    DURATION = "workflow.duration"
    ERROR = "workflow.error"
    ERROR_TYPE = "workflow.error_type"
    ATTEMPTS = "workflow.attempts"
    CONSECUTIVE_FAILURES = "workflow.consecutive_failures"
    FAILURE_RATE = "workflow.failure_rate"
    SUCCESS_RATE = "workflow.success_rate"
    STEP_DURATION = "step.duration"
    STEP_STATUS = "step.status"

    @property
    def numeric(self) -> bool:
        """Whether the metric's value is a number (else text)."""
        return self in NUMERIC_METRICS


class Logic(enum.StrEnum):
    """How a rule combines its conditions."""

    AND = "AND"
    OR = "OR"


class AlertState(enum.StrEnum):
    """Where an alert is in its life: ACTIVE -> ACKNOWLEDGED -> RESOLVED."""

    ACTIVE = "ACTIVE"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    RESOLVED = "RESOLVED"


NUMERIC_METRICS = frozenset(
    {
        Metric.DURATION,
        Metric.ATTEMPTS,
        Metric.CONSECUTIVE_FAILURES,
        Metric.FAILURE_RATE,
        Metric.SUCCESS_RATE,
        Metric.STEP_DURATION,
    }
)
RATE_METRICS = frozenset({Metric.FAILURE_RATE, Metric.SUCCESS_RATE})
# Metrics whose truth tracks "the workflow is failing", the only ones DURATION accepts.
FAILURE_METRICS = frozenset({Metric.STATUS, Metric.ERROR, Metric.ERROR_TYPE, Metric.STEP_STATUS})
# Enum-valued text metrics: values are checked and normalised when the rule is parsed.
ENUM_VALUES: dict[Metric, tuple[str, ...]] = {
    Metric.STATUS: tuple(s.value for s in RunStatus),
    Metric.STEP_STATUS: tuple(s.value for s in RunStatus),
    Metric.PRIORITY: tuple(p.value for p in Priority),
    Metric.ERROR_TYPE: tuple(e.value for e in ErrorType),
}
NUMERIC_OPERATORS = frozenset({Operator.GT, Operator.LT, Operator.GE, Operator.LE})
TEXT_OPERATORS = frozenset({Operator.CONTAINS, Operator.MATCHES})


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class AlertCondition:
    """One parsed condition of a rule; build it with ``parse_condition``."""

    type: ConditionType
    metric: Metric | None = None  # None only for CUSTOM
    operator: Operator | None = None  # None only for CUSTOM
    value: Value | None = None
    window_ms: int | None = None  # RATE
    min_runs: int = 1  # RATE: fewer runs in the window never match
    duration_ms: int | None = None  # DURATION
    callable: str | None = None  # CUSTOM: "module:function"
    # MATCHES: compiled once at load time; not part of equality (the source is ``value``).
    pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @property
    def text(self) -> str:
        """The condition as a user would write it, e.g. ``workflow.failure_rate > 50 (1h)``."""
        if self.type is ConditionType.CUSTOM:
            return f"custom {self.callable}"
        text = f"{self.metric} {self.operator} {_show(self.value)}"
        if self.type is ConditionType.RATE:
            text += f" over {format_span(self.window_ms)}"
        elif self.type is ConditionType.DURATION:
            text += f" for {format_span(self.duration_ms)}"
        return text

    def to_config(self) -> dict[str, Any]:
        """The raw mapping this condition parses from."""
        raw: dict[str, Any] = {"type": self.type.value}
        if self.type is ConditionType.CUSTOM:
            raw["callable"] = self.callable
            return raw
        raw.update(metric=str(self.metric), operator=str(self.operator), value=self.value)
        if self.window_ms is not None:
            raw["window"] = self.window_ms
            raw["min_runs"] = self.min_runs
        if self.duration_ms is not None:
            raw["duration"] = self.duration_ms
        return raw


@dataclass(frozen=True, slots=True)
class AlertRule:
    """One alert rule (SPEC §5); build it with ``parse_rule`` or ``rules_from_config``."""

    id: str
    name: str
    severity: Severity
    conditions: tuple[AlertCondition, ...]
    description: str = ""
    enabled: bool = True
    condition_logic: Logic = Logic.AND
    # Channel names; the config maps each to Apprise URLs. An unmapped name delivers nothing.
    channels: tuple[str, ...] = ()
    cooldown_ms: int | None = None  # None: EngineSettings.default_cooldown_ms
    escalation_delay_ms: int | None = None  # None: never escalates
    escalation_rule: str | None = None  # id of the rule whose severity/channels escalate to
    tags: tuple[str, ...] = ()
    workflows: tuple[str, ...] = ()  # empty: every workflow
    workflow_tags: tuple[str, ...] = ()  # empty: any; else the workflow needs one of them

    def applies_to(self, *, workflow: str, tags: frozenset[str] | set[str]) -> bool:
        """Whether the ``workflows`` / ``workflow_tags`` filters let this workflow through."""
        if self.workflows and workflow not in self.workflows:
            return False
        return not self.workflow_tags or bool(tags.intersection(self.workflow_tags))

    def cooldown(self, settings: EngineSettings) -> int:
        """This rule's cooldown in ms, the engine default when unset."""
        return settings.default_cooldown_ms if self.cooldown_ms is None else self.cooldown_ms

    def to_config(self) -> dict[str, Any]:
        """The raw mapping this rule parses from (for overrides, the API and round trips)."""
        raw: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "enabled": self.enabled,
            "severity": self.severity.value,
            "conditions": [c.to_config() for c in self.conditions],
            "condition_logic": self.condition_logic.value,
            "channels": list(self.channels),
            "tags": list(self.tags),
            "workflows": list(self.workflows),
            "workflow_tags": list(self.workflow_tags),
        }
        for key in ("cooldown_ms", "escalation_delay_ms", "escalation_rule"):
            if getattr(self, key) is not None:
                raw[key] = getattr(self, key)
        return raw


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """Engine-wide alerting settings (SPEC §5 ``alert_engine``)."""

    # Off: every repeat match sends a reminder (cooldowns are ignored).
    enable_deduplication: bool = True
    default_cooldown_ms: int = 300_000
    # Open (ACTIVE or ACKNOWLEDGED) alerts beyond this are not opened; see rules.lifecycle.
    max_active_alerts: int = 100
    auto_resolve_after_ms: int = 3_600_000
    enable_escalation: bool = True


@dataclass(frozen=True, slots=True)
class AlertDetails:
    """What the latest matching run says about the problem; notifications show it."""

    run_id: str | None = None
    status: str | None = None
    failed_step: str | None = None
    failed_condition: str | None = None  # the step's assertion with its actual value
    error_type: str | None = None
    error_message: str | None = None
    attempts: int = 1
    # The rule's conditions that held, with actual values: "workflow.failure_rate (60) > 50".
    matched: tuple[str, ...] = ()
    suppressed_by: str | None = None  # why sending was suppressed at the last decision


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert; its identity is (rule_id, workflow, environment) while it is open."""

    id: str
    rule_id: str
    workflow: str
    environment: str
    severity: Severity
    state: AlertState
    message: str
    first_seen: datetime
    last_seen: datetime
    count: int = 1
    channels: tuple[str, ...] = ()  # where sends go: the rule's, plus escalation's once escalated
    # Last time a send was *due* (sent or suppressed); cooldowns count from here.
    last_notified_at: datetime | None = None
    # Whether any send actually went out; a resolved notice only follows a real send.
    notified: bool = False
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    escalated: bool = False
    details: AlertDetails = field(default_factory=AlertDetails)

    @property
    def key(self) -> tuple[str, str, str]:
        """The identity of an open alert: (rule, workflow, environment)."""
        return (self.rule_id, self.workflow, self.environment)

    @property
    def is_open(self) -> bool:
        """ACTIVE or ACKNOWLEDGED."""
        return self.state is not AlertState.RESOLVED


@dataclass(frozen=True, slots=True)
class Silence:
    """A maintenance window: alerts are recorded but not sent (SPEC §2 ``maintenance``)."""

    start: datetime
    duration_ms: int
    workflows: tuple[str, ...] = ()  # empty: every workflow

    def active(self, now: datetime) -> bool:
        """Whether ``now`` falls inside the window (start inclusive, end exclusive)."""
        return self.start <= now < self.start + timedelta(milliseconds=self.duration_ms)

    def covers(self, workflow: str, now: datetime) -> bool:
        """Whether this silence mutes ``workflow`` at ``now``."""
        return self.active(now) and (not self.workflows or workflow in self.workflows)


def _show(value: Value | None) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)


def format_span(ms: int | None) -> str:
    """A span of milliseconds as a user writes it: ``1h``, ``5m``, ``30s``, ``250ms``."""
    if ms is None:
        return "?"
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms >= size and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"
