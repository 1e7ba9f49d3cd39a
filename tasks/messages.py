"""The text of an alert notification: one pure function from an alert and a send to a message.

``render_message`` names what SPEC §5 asks for (severity, rule, workflow, environment,
failing step, the failed condition with its actual value, attempts, links to the run)
and words each send differently, so a reader of a chat channel can tell an opening from
a reminder, an escalation or an all-clear by the title alone. Everything passes through
the config's ``Redactor`` last: a secret that leaked into an error message or a URL
never reaches a channel.

A ``SUPPRESS`` action is rendered as the send it replaced, marked ``[SUPPRESSED]``, so
the record of a muted send reads like the send would have.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, TypeAlias

from rules import Action, ActionKind, Alert, Severity
from wfmon.secrets import Redactor

__all__ = ["Message", "NotifyType", "render_message"]

# Apprise's notification types, by value; kept as strings so this module stays pure.
NotifyType: TypeAlias = Literal["info", "success", "warning", "failure"]

_NOTIFY_TYPES: dict[Severity, NotifyType] = {
    Severity.INFO: "info",
    Severity.WARNING: "warning",
    Severity.ERROR: "failure",
    Severity.CRITICAL: "failure",
}


@dataclass(frozen=True, slots=True)
class Message:
    """A rendered notification: a one-line title and a plain-text body."""

    title: str
    body: str
    # How receivers colour it (Apprise's notify_type): the all-clear is a "success".
    notify_type: NotifyType = "info"


def render_message(
    *,
    alert: Alert,
    action: Action,
    run_url: str | None,
    public_url: str | None,
    redactor: Redactor,
    rule_name: str | None = None,
) -> Message:
    """The notification for ``action`` on ``alert``, with every secret redacted.

    ``run_url`` is the run in the Prefect UI; ``public_url`` is ``WFMON_PUBLIC_URL``,
    the base of the links to wfmon's own run record and alerts. ``rule_name`` is the
    rule's display name (the alert only carries its id); without it the id is shown.
    """
    kind = action.kind
    suppressed = kind is ActionKind.SUPPRESS
    if suppressed:
        kind = action.instead_of or ActionKind.NOTIFY
    severity = action.severity
    rule = rule_name or alert.rule_id
    where = f"{alert.workflow} ({alert.environment})"

    if kind is ActionKind.RESOLVED_NOTICE:
        title = f"[RESOLVED] {rule}: {where}"
        headline = (
            f"Resolved ({action.reason or 'recovered'}) after {_span(alert)} open: "
            f"{alert.workflow} in {alert.environment} no longer matches this rule."
        )
    elif kind is ActionKind.REMIND:
        title = f"[{severity}] Still firing: {rule}: {where}"
        headline = (
            f"Reminder: still firing, {alert.count} matching runs since "
            f"{_when(alert.first_seen)} (last {_when(alert.last_seen)}), not acknowledged."
        )
    elif kind is ActionKind.ESCALATE:
        title = f"[ESCALATED to {severity}] {rule}: {where}"
        headline = (
            f"Escalated to {severity}: firing since {_when(alert.first_seen)} "
            f"and nobody has acknowledged it."
        )
    else:
        title = f"[{severity}] {rule}: {where} {alert.details.status or 'matched'}"
        headline = f"Alert opened: {alert.workflow} in {alert.environment} matched {rule}."
    if suppressed:
        title = f"[SUPPRESSED] {title}"
        headline += f"\nSuppressed, not sent: {action.reason or 'muted'}."

    body = "\n".join(
        [
            headline,
            "",
            "Last failing run:" if kind is ActionKind.RESOLVED_NOTICE else "Details:",
            *_facts(alert, severity, rule),
            *_links(alert, kind, run_url=run_url, public_url=public_url),
        ]
    )
    notify_type: NotifyType = (
        "success" if kind is ActionKind.RESOLVED_NOTICE else _NOTIFY_TYPES[severity]
    )
    return Message(title=redactor(title), body=redactor(body), notify_type=notify_type)


def _facts(alert: Alert, severity: Severity, rule: str) -> list[str]:
    details = alert.details
    error = " ".join(part for part in (details.error_type, details.error_message) if part)
    rows: list[tuple[str, str | None]] = [
        ("Severity", str(severity)),
        ("Rule", rule if rule == alert.rule_id else f"{rule} ({alert.rule_id})"),
        ("Workflow", alert.workflow),
        ("Environment", alert.environment),
        ("Status", details.status),
        ("Failing step", details.failed_step),
        ("Failed condition", details.failed_condition),
        ("Error", error or None),
        ("Attempts", str(details.attempts)),
        ("Rule conditions", "; ".join(details.matched) or None),
        ("Seen", f"{alert.count} times, first {_when(alert.first_seen)}"),
        ("Alert id", alert.id),
    ]
    # Absent facts are left out rather than shown as "None": a rate rule has no step.
    return [f"  {label}: {value}" for label, value in rows if value]


def _links(
    alert: Alert, kind: ActionKind, *, run_url: str | None, public_url: str | None
) -> list[str]:
    links: list[str] = []
    if run_url:
        links.append(f"  Prefect run: {run_url}")
    if public_url:
        base = public_url.rstrip("/")
        if alert.details.run_id:
            links.append(f"  Run record: {base}/api/monitoring/executions/{alert.details.run_id}")
        links.append(f"  Alerts: {base}/api/monitoring/alerts")
        if kind is not ActionKind.RESOLVED_NOTICE:
            links.append(f"  Acknowledge: POST {base}/api/monitoring/alerts/{alert.id}/acknowledge")
    return ["", "Links:", *links] if links else []


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _span(alert: Alert) -> str:
    end = alert.resolved_at or alert.last_seen
    seconds = int(max(end - alert.first_seen, timedelta()).total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (seconds, "s")) if n]
    return " ".join(parts) or "0s"
