"""The alert rules engine: pure functions over plain values (SPEC §5).

No Prefect, httpx, SQL, I/O or clock reads in here: the caller passes an ``Observation``
(gathered from the store with SQL aggregates) and ``now``, and gets back decisions
(alerts and ``Action`` values) to store and deliver.

Modules: ``models`` (values), ``config`` (parsing the config's raw mappings),
``predefined`` (the six shipped rules), ``observation`` (what a rule sees),
``evaluate`` (metrics, conditions, rules), ``lifecycle`` (the alert state machine),
``engine`` (the seed's ``AlertRulesEngine`` API in memory).

Exception tree::

    Exception
    └── RulesError                   base of everything raised here
        ├── RuleError (ValueError)   bad alert_rules / alert_engine / maintenance config;
        │                            ``.issues`` lists every (path, message), ``.path`` and
        │                            ``.message`` give the first
        ├── CustomConditionError     a CUSTOM callable cannot be imported, raised, or
        │                            returned a non-bool
        ├── AlertStateError (ValueError)   a transition the state forbids (ack a resolved alert)
        ├── UnknownRuleError (LookupError) no rule has this id
        └── UnknownAlertError (LookupError) no alert has this id
"""

from __future__ import annotations

from rules.config import (
    parse_condition,
    parse_rule,
    rules_from_config,
    settings_from_config,
    silences_from_config,
)
from rules.engine import AlertRulesEngine
from rules.evaluate import (
    RuleEvaluation,
    condition_holds,
    evaluate_condition,
    evaluate_rule,
    import_callable,
    metric_value,
    rule_matches,
    silence_reason,
    suppression_reason,
)
from rules.lifecycle import Action, ActionKind, acknowledge, next_alert, resolve, tick
from rules.models import (
    Alert,
    AlertCondition,
    AlertDetails,
    AlertRule,
    AlertState,
    AlertStateError,
    ConditionType,
    CustomConditionError,
    EngineSettings,
    Logic,
    Metric,
    Operator,
    RuleError,
    RuleIssue,
    RulesError,
    Severity,
    Silence,
    UnknownAlertError,
    UnknownRuleError,
)
from rules.observation import Observation, WindowStats, required_windows
from rules.predefined import PREDEFINED_RULES

__all__ = [
    "PREDEFINED_RULES",
    "Action",
    "ActionKind",
    "Alert",
    "AlertCondition",
    "AlertDetails",
    "AlertRule",
    "AlertRulesEngine",
    "AlertState",
    "AlertStateError",
    "ConditionType",
    "CustomConditionError",
    "EngineSettings",
    "Logic",
    "Metric",
    "Observation",
    "Operator",
    "RuleError",
    "RuleEvaluation",
    "RuleIssue",
    "RulesError",
    "Severity",
    "Silence",
    "UnknownAlertError",
    "UnknownRuleError",
    "WindowStats",
    "acknowledge",
    "condition_holds",
    "evaluate_condition",
    "evaluate_rule",
    "import_callable",
    "metric_value",
    "next_alert",
    "parse_condition",
    "parse_rule",
    "required_windows",
    "resolve",
    "rule_matches",
    "rules_from_config",
    "settings_from_config",
    "silence_reason",
    "silences_from_config",
    "suppression_reason",
    "tick",
]
