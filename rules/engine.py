"""``AlertRulesEngine``: the seed's API over in-memory state, built on ``rules.lifecycle``.

The persistent engine (over the store) uses the same pure functions; this one is the
reference and what tests and one-off scripts use. It keeps every alert ever opened (the
history) and at most one open alert per (rule, workflow, environment).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from rules.config import parse_rule
from rules.evaluate import Resolver, import_callable, silence_reason, suppression_reason
from rules.lifecycle import Action, acknowledge, next_alert, resolve, tick
from rules.models import (
    Alert,
    AlertRule,
    AlertState,
    EngineSettings,
    RuleError,
    Severity,
    Silence,
    UnknownAlertError,
    UnknownRuleError,
)
from rules.observation import Observation
from rules.predefined import PREDEFINED_RULES

Change = tuple[Alert, tuple[Action, ...]]


def _uuid() -> str:
    return str(uuid.uuid4())


class AlertRulesEngine:
    """Rules, alerts and silences in memory; every decision comes from ``rules.lifecycle``."""

    def __init__(
        self,
        settings: EngineSettings | None = None,
        rules: Iterable[AlertRule] = PREDEFINED_RULES,
        *,
        silences: Iterable[Silence] = (),
        new_id: Callable[[], str] = _uuid,
        resolve_callable: Resolver = import_callable,
    ) -> None:
        self.settings = settings or EngineSettings()
        self.silences = tuple(silences)
        self._new_id = new_id
        self._resolve_callable = resolve_callable
        self._rules: dict[str, AlertRule] = {}
        self._alerts: dict[str, Alert] = {}  # by id, in opening order
        self._open: dict[tuple[str, str, str], str] = {}  # identity -> open alert id
        self.refused = 0  # matches not opened because max_active_alerts was reached
        for rule in rules:
            self.add_rule(rule)

    # ------------------------------------------------------------------ rules

    def add_rule(self, rule: AlertRule) -> None:
        """Add a rule; an id already present is a ``RuleError``."""
        if rule.id in self._rules:
            raise RuleError(("id",), f"duplicate alert rule id {rule.id!r}")
        self._rules[rule.id] = rule

    def update_rule(self, rule_id: str, **changes: Any) -> AlertRule:
        """Change a rule's fields with raw config values (``cooldown_ms=1800000``), re-validated."""
        rule = self.get_rule(rule_id)
        if rule is None:
            raise UnknownRuleError(f"no alert rule has id {rule_id!r}")
        if changes.get("id", rule_id) != rule_id:
            raise RuleError(("id",), "a rule's id cannot change")
        updated = parse_rule({**rule.to_config(), **changes})
        self._rules[rule_id] = updated
        return updated

    def get_rule(self, rule_id: str) -> AlertRule | None:
        """The rule with this id, or None."""
        return self._rules.get(rule_id)

    @property
    def rules(self) -> tuple[AlertRule, ...]:
        """Every rule, in the order added."""
        return tuple(self._rules.values())

    # ------------------------------------------------------------------ decisions

    def evaluate(self, observation: Observation, *, now: datetime) -> list[Change]:
        """Run every rule on one observation; the alerts that changed and what to send."""
        suppression = suppression_reason(observation, self.silences, now=now)
        changes: list[Change] = []
        for rule in self._rules.values():
            key = (rule.id, observation.workflow, observation.environment)
            current = self._alerts.get(self._open.get(key, ""))
            alert, actions = next_alert(
                current,
                rule=rule,
                observation=observation,
                now=now,
                settings=self.settings,
                new_id=self._new_id,
                suppression=suppression,
                active_count=len(self._open),
                escalation_rule=self._escalation_rule(rule),
                resolve_callable=self._resolve_callable,
            )
            if alert is None or alert is current:
                self.refused += bool(actions)  # the only change without an alert
                continue
            self._store(alert)
            changes.append((alert, actions))
        return changes

    def tick(self, *, now: datetime) -> list[Change]:
        """Auto-resolve and escalate the open alerts; those that changed and what to send."""
        changes: list[Change] = []
        for alert_id in list(self._open.values()):
            alert = self._alerts[alert_id]
            rule = self._rules.get(alert.rule_id)
            updated, actions = tick(
                alert,
                rule=rule,
                now=now,
                settings=self.settings,
                escalation_rule=None if rule is None else self._escalation_rule(rule),
                # No run here, so only silences apply (depends_on needs an observation).
                suppression=silence_reason(alert.workflow, self.silences, now=now),
            )
            if updated is not alert:
                self._store(updated)
                changes.append((updated, actions))
        return changes

    def acknowledge_alert(self, alert_id: str, by: str, *, now: datetime) -> Alert:
        """Acknowledge an open alert (stops reminders and escalation)."""
        alert = acknowledge(self._get(alert_id), by=by, now=now)
        self._store(alert)
        return alert

    def resolve_alert(self, alert_id: str, *, now: datetime) -> Alert:
        """Resolve an alert by hand."""
        alert = resolve(self._get(alert_id), now=now)
        self._store(alert)
        return alert

    def auto_resolve_old_alerts(self, *, now: datetime) -> int:
        """Resolve open alerts unseen for ``auto_resolve_after_ms``; how many were resolved.

        Seed-compatible and quiet: use ``tick`` to also get the resolved notices to send.
        """
        limit = self.settings.auto_resolve_after_ms
        resolved = 0
        for alert_id in list(self._open.values()):
            alert = self._alerts[alert_id]
            if (now - alert.last_seen).total_seconds() * 1000 >= limit:
                self._store(resolve(alert, now=now))
                resolved += 1
        return resolved

    # ------------------------------------------------------------------ queries

    def get_alert(self, alert_id: str) -> Alert | None:
        """The alert with this id, or None."""
        return self._alerts.get(alert_id)

    def get_active_alerts(self) -> list[Alert]:
        """Open alerts (ACTIVE or ACKNOWLEDGED), most severe first, then oldest first."""
        open_alerts = [self._alerts[i] for i in self._open.values()]
        return sorted(open_alerts, key=lambda a: (-a.severity.rank, a.first_seen))

    def get_alerts_by_severity(self, severity: Severity | str) -> list[Alert]:
        """Open alerts of one severity."""
        wanted = Severity(str(severity).upper())
        return [a for a in self.get_active_alerts() if a.severity is wanted]

    def get_alert_history(self, rule_id: str, limit: int = 10) -> list[Alert]:
        """The rule's alerts in any state, newest first."""
        alerts = [a for a in self._alerts.values() if a.rule_id == rule_id]
        return sorted(alerts, key=lambda a: a.first_seen, reverse=True)[:limit]

    def get_statistics(self) -> dict[str, Any]:
        """Counts: rules, enabled rules, alerts by state, open alerts by severity."""
        by_state = Counter(a.state for a in self._alerts.values())
        by_severity = Counter(a.severity for a in self.get_active_alerts())
        return {
            "total_rules": len(self._rules),
            "enabled_rules": sum(rule.enabled for rule in self._rules.values()),
            "total_alerts": len(self._alerts),
            "active_alerts": len(self._open),
            "alerts_by_state": {state.value: by_state[state] for state in AlertState},
            "alerts_by_severity": {s.value: by_severity[s] for s in Severity},
            "refused_alerts": self.refused,
        }

    # ------------------------------------------------------------------ internals

    def _escalation_rule(self, rule: AlertRule) -> AlertRule | None:
        return None if rule.escalation_rule is None else self._rules.get(rule.escalation_rule)

    def _get(self, alert_id: str) -> Alert:
        alert = self._alerts.get(alert_id)
        if alert is None:
            raise UnknownAlertError(f"no alert has id {alert_id!r}")
        return alert

    def _store(self, alert: Alert) -> None:
        self._alerts[alert.id] = alert
        if alert.is_open:
            self._open[alert.key] = alert.id
        elif self._open.get(alert.key) == alert.id:
            del self._open[alert.key]
