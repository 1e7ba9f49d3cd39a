"""Alert decisions on the store: a recorded run judged by the rules, and the maintenance tick.

``rules`` decides (pure); this module gathers what a decision needs (the run, its history
counted in SQL by ``store.history``, the open alerts) and hands each decision to
``store.apply_alert_decision``, which stores the alert, its history events and the
notifications to send in one transaction. Sending is ``tasks.dispatch``'s job.

Blocking functions (database I/O): call them in a worker thread from async code.

Choices:

- A run is judged at its own ``finished_at``, not at the clock: judging the same run
  twice (a retried post-run flow, eight concurrent ones) decides the same, and a run whose
  alert already carries it changes nothing, so it is counted once.
- Deliveries are queued only for channels the config maps to Apprise URLs: a rule naming
  an unconfigured channel (the predefined ``SLACK`` / ``EMAIL`` before you set them up)
  records its alerts and sends nothing, rather than filling the outbox with failures.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from rules import (
    Action,
    ActionKind,
    Alert,
    AlertRule,
    EngineSettings,
    Observation,
    Silence,
    next_alert,
    required_windows,
    rule_matches,
    rules_from_config,
    settings_from_config,
    silence_reason,
    silences_from_config,
    suppression_reason,
    tick,
)
from store import (
    AlertEvent,
    AlertWrite,
    DeliveryRequest,
    EventKind,
    RunRecord,
    apply_alert_decision,
    delivery_kind,
    open_alerts,
)
from store.history import latest_statuses, run_history
from tasks.messages import render_message
from wfmon.config import Config
from wfmon.results import RunStatus
from wfmon.secrets import Redactor

__all__ = ["AlertPolicy", "Decided", "evaluate_run", "tick_alerts"]

_EVENT_OF_SEND = {
    ActionKind.NOTIFY: EventKind.NOTIFIED,
    ActionKind.REMIND: EventKind.REMINDED,
    ActionKind.ESCALATE: EventKind.ESCALATED,
    ActionKind.RESOLVED_NOTICE: EventKind.RESOLVED,
    ActionKind.SUPPRESS: EventKind.SUPPRESSED,
}


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """Everything from the config that alert decisions need, parsed once."""

    rules: tuple[AlertRule, ...]
    settings: EngineSettings = field(default_factory=EngineSettings)
    silences: tuple[Silence, ...] = ()
    channels: frozenset[str] = frozenset()  # names the config maps to Apprise URLs
    redactor: Redactor = field(default_factory=Redactor)
    public_url: str | None = None  # WFMON_PUBLIC_URL, for links in messages
    ui_url: str | None = None  # the Prefect UI, for links to flow runs

    @classmethod
    def from_config(
        cls, config: Config, *, public_url: str | None = None, ui_url: str | None = None
    ) -> AlertPolicy:
        """The policy of a loaded (so already validated) config."""
        return cls(
            rules=tuple(rules_from_config(config.alert_rules)),
            settings=settings_from_config(config.alert_engine),
            silences=tuple(silences_from_config(config.maintenance)),
            channels=frozenset(name for name, urls in config.channels.items() if urls),
            redactor=Redactor(config.secrets),
            public_url=public_url,
            ui_url=ui_url,
        )

    def rule(self, rule_id: str | None) -> AlertRule | None:
        """The rule with this id, or None (deleted from the config since)."""
        return next((rule for rule in self.rules if rule.id == rule_id), None)

    def run_url(self, flow_run_id: str | None) -> str | None:
        """The flow run's page in the Prefect UI, when both are known."""
        if not self.ui_url or not flow_run_id:
            return None
        return f"{self.ui_url.rstrip('/')}/runs/flow-run/{flow_run_id}"


@dataclass(frozen=True, slots=True)
class Decided:
    """What one decision stored: for logs, the flow's result and tests."""

    rule_id: str
    alert_id: str | None
    events: tuple[EventKind, ...] = ()
    deliveries: int = 0
    note: str | None = None  # why nothing was opened (max_active_alerts)


def evaluate_run(
    engine: Engine,
    record: RunRecord,
    *,
    policy: AlertPolicy,
    tags: Iterable[str] = (),
    depends_on: Iterable[str] = (),
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> list[Decided]:
    """Judge a recorded run by every rule that applies to it; the decisions that changed
    something. ``tags`` and ``depends_on`` are the workflow's, from the config."""
    result = record.result
    tag_set = frozenset(tags)
    now = result.finished_at
    rules = [
        rule
        for rule in policy.rules
        if rule.enabled and rule.applies_to(workflow=result.workflow, tags=tag_set)
    ]
    history = run_history(
        engine,
        workflow=result.workflow,
        environment=result.environment,
        until=result.started_at,
        windows=required_windows(rules),
    )
    dependencies = latest_statuses(engine, workflows=depends_on, environment=result.environment)
    observation = Observation.from_run(
        result,
        run_id=str(record.id),
        tags=tag_set,
        consecutive_failures=history.consecutive_failures,
        windows=history.windows,
        failing_since=history.failing_since,
        failing_dependencies=[
            name for name, status in sorted(dependencies.items()) if status is RunStatus.FAILED
        ],
    )
    suppression = suppression_reason(observation, policy.silences, now=now)
    already_open = open_alerts(engine)
    open_keys = {alert.key for alert in already_open}
    run_url = policy.run_url(result.flow_run_id)

    decided: list[Decided] = []
    for rule in rules:
        key = (rule.id, result.workflow, result.environment)
        # Most runs match nothing and have nothing open: no transaction for them.
        if key not in open_keys and not rule_matches(rule, observation, now=now):
            continue

        def decide(current: Alert | None, rule: AlertRule = rule) -> AlertWrite[Decided]:
            if current is not None and current.details.run_id == observation.run_id:
                return AlertWrite(alert=None, outcome=Decided(rule.id, current.id))  # seen
            alert, actions = next_alert(
                current,
                rule=rule,
                observation=observation,
                now=now,
                settings=policy.settings,
                new_id=new_id,
                suppression=suppression,
                active_count=len(already_open),
                escalation_rule=policy.rule(rule.escalation_rule),
            )
            return _write(rule.id, current, alert, actions, policy=policy, now=now, run_url=run_url)

        outcome = apply_alert_decision(engine, key=key, decide=decide)
        if outcome.events or outcome.note:
            decided.append(outcome)
    return decided


def tick_alerts(engine: Engine, *, policy: AlertPolicy, now: datetime) -> list[Decided]:
    """Auto-resolve and escalate every open alert as of ``now``; the ones that changed."""
    decided: list[Decided] = []
    for alert in open_alerts(engine):
        rule = policy.rule(alert.rule_id)

        def decide(
            current: Alert | None, rule: AlertRule | None = rule, rule_id: str = alert.rule_id
        ) -> AlertWrite[Decided]:
            if current is None:  # resolved since we listed it
                return AlertWrite(alert=None, outcome=Decided(rule_id, None))
            ticked, actions = tick(
                current,
                rule=rule,
                now=now,
                settings=policy.settings,
                escalation_rule=None if rule is None else policy.rule(rule.escalation_rule),
                suppression=silence_reason(current.workflow, policy.silences, now=now),
            )
            return _write(
                current.rule_id, current, ticked, actions, policy=policy, now=now, run_url=None
            )

        outcome = apply_alert_decision(engine, key=alert.key, decide=decide)
        if outcome.events:
            decided.append(outcome)
    return decided


def _write(
    rule_id: str,
    current: Alert | None,
    alert: Alert | None,
    actions: tuple[Action, ...],
    *,
    policy: AlertPolicy,
    now: datetime,
    run_url: str | None,
) -> AlertWrite[Decided]:
    """The store's write for one decision: the alert, its history, its deliveries."""
    if alert is None:
        # Not opened: max_active_alerts. Nothing to store; the note says why.
        note = next((action.reason for action in actions), None)
        return AlertWrite(alert=None, outcome=Decided(rule_id, None, note=note))
    if alert == current:
        return AlertWrite(alert=None, outcome=Decided(rule_id, alert.id))
    events = _events(current, alert, actions, now)
    rule = policy.rule(alert.rule_id)
    deliveries = tuple(
        _delivery(alert, action, channel, policy=policy, now=now, run_url=run_url, rule=rule)
        for action in actions
        if action.kind is not ActionKind.SUPPRESS
        for channel in action.channels
        if channel in policy.channels
    )
    return AlertWrite(
        alert=alert,
        outcome=Decided(
            alert.rule_id,
            alert.id,
            events=tuple(event.kind for event in events),
            deliveries=len(deliveries),
        ),
        events=events,
        deliveries=deliveries,
    )


def _events(
    current: Alert | None, alert: Alert, actions: tuple[Action, ...], now: datetime
) -> tuple[AlertEvent, ...]:
    opened = current is None or current.id != alert.id
    events = [AlertEvent(EventKind.OPENED, at=now, note=alert.message)] if opened else []
    for action in actions:
        if opened and action.kind is ActionKind.NOTIFY:
            continue  # the opening is the notification
        note = action.reason
        if action.kind is ActionKind.SUPPRESS:
            note = f"{action.instead_of} suppressed: {action.reason}"
        events.append(AlertEvent(_EVENT_OF_SEND[action.kind], at=now, note=note))
    if not events:
        resolved = not alert.is_open
        # Resolved without a notice (nobody was told it opened), or a repeat in the cooldown.
        events.append(AlertEvent(EventKind.RESOLVED if resolved else EventKind.REPEATED, at=now))
    return tuple(events)


def _delivery(
    alert: Alert,
    action: Action,
    channel: str,
    *,
    policy: AlertPolicy,
    now: datetime,
    run_url: str | None,
    rule: AlertRule | None,
) -> DeliveryRequest:
    message = render_message(
        alert=alert,
        action=action,
        run_url=run_url,
        public_url=policy.public_url,
        redactor=policy.redactor,
        rule_name=None if rule is None else rule.name,
    )
    return DeliveryRequest(
        channel=channel,
        kind=delivery_kind(action.kind),
        title=message.title,
        body=message.body,
        at=now,
    )
