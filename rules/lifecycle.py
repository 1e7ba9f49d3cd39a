"""The alert state machine, as pure functions of (alert, observation, now) (STYLE rule 4).

``next_alert`` decides what one rule's verdict on one run does to the open alert for
(rule, workflow, environment); ``tick`` does the time-driven part (auto-resolve,
escalation) for the maintenance flow; ``acknowledge`` and ``resolve`` are the human
transitions. Each returns the new alert and the sends to make, as ``Action`` values;
the caller stores the alert and delivers (or records) the actions.

Decisions (SPEC §5 leaves these open):

- **Open**: the first match opens an ACTIVE alert and NOTIFYs the rule's channels.
- **Repeat**: a match while open bumps ``count`` / ``last_seen`` and sends nothing until
  the rule's cooldown has passed since the last send, then one REMIND. With
  ``enable_deduplication`` off the cooldown is ignored: every match sends.
- **Acknowledged** alerts still count repeats but send no reminders and never escalate
  (an ack means a human owns it, as an Alertmanager silence would); they still resolve.
- **Resolve on recovery**: the rule no longer matches *and* the run passed or was
  degraded. A failed (or skipped) run that no longer matches leaves the alert open. The
  RESOLVED_NOTICE goes out exactly once, and only if a send had reached someone.
- **Auto-resolve** (``tick``): ``auto_resolve_after_ms`` after ``last_seen``; it sends a
  RESOLVED_NOTICE too, so receivers' open incidents close.
- **Escalation** fires once, on ``tick`` or on a match, when the alert is still ACTIVE
  ``escalation_delay_ms`` after ``first_seen`` and ``enable_escalation`` is on: severity
  becomes the escalation rule's (never lower), ESCALATE goes to its channels, and those
  channels join the alert's for later reminders and the resolved notice. Without an
  ``escalation_rule`` the severity goes up one level and the rule's channels are used.
- **Suppression** (a maintenance silence or a failing ``depends_on``, computed by
  ``rules.evaluate.suppression_reason``) changes no decision: state still changes and
  every send that was due becomes ``SUPPRESS`` (``instead_of`` says which), to be
  recorded, not sent. ``notified`` stays false, so the first send after the silence is a
  NOTIFY, not a REMIND; it comes once the cooldown since the suppressed one has passed.
- **max_active_alerts**: when that many alerts are open, a new one is *not opened*; the
  result is no alert and one ``SUPPRESS`` action (reason says why) for the caller to log.
  Existing alerts keep updating and resolving.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from rules.evaluate import Resolver, RuleEvaluation, evaluate_rule, import_callable
from rules.models import (
    Alert,
    AlertDetails,
    AlertRule,
    AlertState,
    AlertStateError,
    EngineSettings,
    Severity,
    format_span,
)
from rules.observation import Observation
from wfmon.results import RunStatus

_RECOVERED = frozenset({RunStatus.PASSED, RunStatus.DEGRADED})


class ActionKind(enum.StrEnum):
    """What to do with a decision's notification."""

    NOTIFY = "NOTIFY"  # an alert opened
    REMIND = "REMIND"  # still firing after the cooldown
    RESOLVED_NOTICE = "RESOLVED_NOTICE"  # it is over
    ESCALATE = "ESCALATE"  # still unacknowledged after the escalation delay
    SUPPRESS = "SUPPRESS"  # one of the above was due, but a silence / depends_on mutes it


@dataclass(frozen=True, slots=True)
class Action:
    """One send (or recorded non-send) to the given channel names."""

    kind: ActionKind
    channels: tuple[str, ...]
    severity: Severity
    instead_of: ActionKind | None = None  # SUPPRESS: the send that was due
    reason: str | None = None  # SUPPRESS: why; RESOLVED_NOTICE: how it resolved


Decision = tuple[Alert | None, tuple[Action, ...]]


def next_alert(
    current: Alert | None,
    *,
    rule: AlertRule,
    observation: Observation,
    now: datetime,
    settings: EngineSettings,
    new_id: Callable[[], str],
    suppression: str | None = None,
    active_count: int = 0,
    escalation_rule: AlertRule | None = None,
    resolve_callable: Resolver = import_callable,
) -> Decision:
    """The alert for (rule, workflow, environment) after this run, and what to send.

    ``current`` is the latest alert for that identity (None, or a resolved one: then a
    match opens a new alert with id ``new_id()``, called only then). ``suppression`` is
    why sends are muted (None: they are not); ``active_count`` is how many alerts are
    open engine-wide.
    """
    evaluation = evaluate_rule(rule, observation, now=now, resolve_callable=resolve_callable)
    open_alert = current if current is not None and current.is_open else None
    if not evaluation.matched:
        if open_alert is None or observation.status not in _RECOVERED:
            return current, ()
        return _resolve(open_alert, now=now, suppression=suppression, reason="recovered")

    details = _details(observation, evaluation, suppression)
    if open_alert is None:
        if active_count >= settings.max_active_alerts:
            reason = f"max_active_alerts ({settings.max_active_alerts}) reached; not opened"
            refused = Action(
                ActionKind.SUPPRESS,
                rule.channels,
                rule.severity,
                instead_of=ActionKind.NOTIFY,
                reason=reason,
            )
            return current, (refused,)
        opened = Alert(
            id=new_id(),
            rule_id=rule.id,
            workflow=observation.workflow,
            environment=observation.environment,
            severity=rule.severity,
            state=AlertState.ACTIVE,
            message=_message(rule.name, rule.severity, observation),
            first_seen=now,
            last_seen=now,
            channels=rule.channels,
            last_notified_at=now,
            notified=suppression is None,
            details=details,
        )
        return opened, (_send(ActionKind.NOTIFY, opened, opened.channels, suppression),)

    alert = replace(
        open_alert,
        last_seen=now,
        count=open_alert.count + 1,
        message=_message(rule.name, open_alert.severity, observation),
        details=details,
    )
    actions: list[Action] = []
    if alert.state is AlertState.ACTIVE and _send_due(alert, rule, now, settings):
        kind = ActionKind.REMIND if alert.notified else ActionKind.NOTIFY
        actions.append(_send(kind, alert, alert.channels, suppression))
        alert = replace(alert, last_notified_at=now, notified=alert.notified or suppression is None)
    alert, escalation = _escalate(
        alert,
        rule=rule,
        now=now,
        settings=settings,
        escalation_rule=escalation_rule,
        suppression=suppression,
    )
    return alert, (*actions, *escalation)


def tick(
    alert: Alert,
    *,
    rule: AlertRule | None,
    now: datetime,
    settings: EngineSettings,
    escalation_rule: AlertRule | None = None,
    suppression: str | None = None,
) -> tuple[Alert, tuple[Action, ...]]:
    """Time-driven transitions for the maintenance flow: auto-resolve, then escalation.

    ``rule`` is None when the rule was deleted: the alert can still auto-resolve.
    """
    if not alert.is_open:
        return alert, ()
    quiet_for = now - alert.last_seen
    if quiet_for >= timedelta(milliseconds=settings.auto_resolve_after_ms):
        reason = f"auto-resolved: not seen for {format_span(settings.auto_resolve_after_ms)}"
        return _resolve(alert, now=now, suppression=suppression, reason=reason)
    if rule is None:
        return alert, ()
    return _escalate(
        alert,
        rule=rule,
        now=now,
        settings=settings,
        escalation_rule=escalation_rule,
        suppression=suppression,
    )


def acknowledge(alert: Alert, *, by: str, now: datetime) -> Alert:
    """ACTIVE -> ACKNOWLEDGED by ``by``; acknowledging twice keeps the first; resolved raises."""
    if alert.state is AlertState.RESOLVED:
        raise AlertStateError(f"alert {alert.id} is resolved and cannot be acknowledged")
    if alert.state is AlertState.ACKNOWLEDGED:
        return alert
    return replace(alert, state=AlertState.ACKNOWLEDGED, acknowledged_by=by, acknowledged_at=now)


def resolve(alert: Alert, *, now: datetime) -> Alert:
    """Resolve by hand (no notice: the person resolving knows); resolving twice is a no-op."""
    if alert.state is AlertState.RESOLVED:
        return alert
    return replace(alert, state=AlertState.RESOLVED, resolved_at=now)


def _resolve(
    alert: Alert, *, now: datetime, suppression: str | None, reason: str
) -> tuple[Alert, tuple[Action, ...]]:
    resolved = replace(alert, state=AlertState.RESOLVED, resolved_at=now)
    if not alert.notified:
        return resolved, ()  # nobody was told it opened, so nobody needs to hear it closed
    notice = _send(ActionKind.RESOLVED_NOTICE, resolved, resolved.channels, suppression)
    if notice.kind is ActionKind.RESOLVED_NOTICE:
        notice = replace(notice, reason=reason)
    return resolved, (notice,)


def _send_due(alert: Alert, rule: AlertRule, now: datetime, settings: EngineSettings) -> bool:
    if not settings.enable_deduplication or alert.last_notified_at is None:
        return True
    return now - alert.last_notified_at >= timedelta(milliseconds=rule.cooldown(settings))


def _escalate(
    alert: Alert,
    *,
    rule: AlertRule,
    now: datetime,
    settings: EngineSettings,
    escalation_rule: AlertRule | None,
    suppression: str | None,
) -> tuple[Alert, tuple[Action, ...]]:
    delay = rule.escalation_delay_ms
    if (
        not settings.enable_escalation
        or delay is None
        or alert.escalated
        or alert.state is not AlertState.ACTIVE
        or now - alert.first_seen < timedelta(milliseconds=delay)
    ):
        return alert, ()
    if escalation_rule is not None:
        severity = max(alert.severity, escalation_rule.severity)
        channels = escalation_rule.channels
    else:
        severity, channels = alert.severity.raised(), alert.channels
    escalated = replace(
        alert,
        escalated=True,
        severity=severity,
        channels=tuple(dict.fromkeys((*alert.channels, *channels))),
        message=alert.message.replace(f"[{alert.severity}]", f"[{severity}]", 1),
        notified=alert.notified or suppression is None,
    )
    return escalated, (_send(ActionKind.ESCALATE, escalated, channels, suppression),)


def _send(
    kind: ActionKind, alert: Alert, channels: tuple[str, ...], suppression: str | None
) -> Action:
    if suppression is None:
        return Action(kind, channels, alert.severity)
    return Action(
        ActionKind.SUPPRESS, channels, alert.severity, instead_of=kind, reason=suppression
    )


def _details(
    observation: Observation, evaluation: RuleEvaluation, suppression: str | None
) -> AlertDetails:
    return AlertDetails(
        run_id=observation.run_id,
        status=observation.status.value,
        failed_step=observation.failed_step,
        failed_condition=observation.failed_condition,
        error_type=None if observation.error_type is None else observation.error_type.value,
        error_message=observation.error_message,
        attempts=observation.attempts,
        matched=evaluation.matched_displays,
        suppressed_by=suppression,
    )


def _message(rule_name: str, severity: Severity, observation: Observation) -> str:
    o = observation
    text = f"[{severity}] {rule_name}: {o.workflow} ({o.environment}) {o.status.value}"
    if o.failed_step:
        text += f" at step '{o.failed_step}'"
    if o.failed_condition:
        text += f": {o.failed_condition}"
    elif o.error_message:
        text += f": {o.error_message}"
    if o.attempts > 1:
        text += f" after {o.attempts} attempts"
    return text
