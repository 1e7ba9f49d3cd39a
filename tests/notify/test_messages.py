"""What each kind of notification says (tasks.messages), one table row per send."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from rules import Action, ActionKind, Alert, AlertDetails, AlertState, Severity
from tasks.messages import Message, render_message
from wfmon.secrets import Redactor

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
SECRET = "tok-9f8e7d"
PUBLIC = "https://wfmon.example.com/"
RUN_URL = "http://prefect.local/runs/flow-run/fr-1"

ALERT = Alert(
    id="alert-7",
    rule_id="checkout-failing",
    workflow="checkout",
    environment="prod",
    severity=Severity.ERROR,
    state=AlertState.ACTIVE,
    message="[ERROR] Checkout failing: checkout (prod) failed",
    first_seen=T0,
    last_seen=T0 + timedelta(minutes=12),
    count=4,
    channels=("ops",),
    details=AlertDetails(
        run_id="run-42",
        status="failed",
        failed_step="pay",
        failed_condition="status (503) == 200",
        error_type="TRANSIENT",
        error_message=f"upstream 503 for /pay?token={SECRET}",
        attempts=3,
        matched=("workflow.status (failed) == failed",),
    ),
)
RESOLVED = replace(ALERT, state=AlertState.RESOLVED, resolved_at=T0 + timedelta(minutes=15))


def render(alert: Alert, action: Action, **overrides: object) -> Message:
    options: dict[str, object] = {
        "run_url": RUN_URL,
        "public_url": PUBLIC,
        "redactor": Redactor([SECRET]),
        "rule_name": "Checkout failing",
    }
    options.update(overrides)
    return render_message(alert=alert, action=action, **options)  # type: ignore[arg-type]


# (name, alert, action, title, headline, notify_type)
KINDS = [
    (
        "notify",
        ALERT,
        Action(ActionKind.NOTIFY, ("ops",), Severity.ERROR),
        "[ERROR] Checkout failing: checkout (prod) failed",
        "Alert opened: checkout in prod matched Checkout failing.",
        "failure",
    ),
    (
        "remind",
        ALERT,
        Action(ActionKind.REMIND, ("ops",), Severity.ERROR),
        "[ERROR] Still firing: Checkout failing: checkout (prod)",
        "Reminder: still firing, 4 matching runs since 2024-05-01 10:00:00 UTC "
        "(last 2024-05-01 10:12:00 UTC), not acknowledged.",
        "failure",
    ),
    (
        "escalate",
        replace(ALERT, severity=Severity.CRITICAL, escalated=True),
        Action(ActionKind.ESCALATE, ("pager",), Severity.CRITICAL),
        "[ESCALATED to CRITICAL] Checkout failing: checkout (prod)",
        "Escalated to CRITICAL: firing since 2024-05-01 10:00:00 UTC "
        "and nobody has acknowledged it.",
        "failure",
    ),
    (
        "resolved",
        RESOLVED,
        Action(ActionKind.RESOLVED_NOTICE, ("ops",), Severity.ERROR, reason="recovered"),
        "[RESOLVED] Checkout failing: checkout (prod)",
        "Resolved (recovered) after 15m open: checkout in prod no longer matches this rule.",
        "success",
    ),
    (
        "auto-resolved",
        replace(RESOLVED, resolved_at=T0 + timedelta(hours=1, minutes=12, seconds=5)),
        Action(
            ActionKind.RESOLVED_NOTICE,
            ("ops",),
            Severity.ERROR,
            reason="auto-resolved: not seen for 1h",
        ),
        "[RESOLVED] Checkout failing: checkout (prod)",
        "Resolved (auto-resolved: not seen for 1h) after 1h 12m 5s open",
        "success",
    ),
    (
        "suppressed",
        ALERT,
        Action(
            ActionKind.SUPPRESS,
            ("ops",),
            Severity.ERROR,
            instead_of=ActionKind.NOTIFY,
            reason="maintenance window",
        ),
        "[SUPPRESSED] [ERROR] Checkout failing: checkout (prod) failed",
        "Suppressed, not sent: maintenance window.",
        "failure",
    ),
    (
        "warning",
        replace(ALERT, severity=Severity.WARNING),
        Action(ActionKind.NOTIFY, ("ops",), Severity.WARNING),
        "[WARNING] Checkout failing: checkout (prod) failed",
        "Alert opened",
        "warning",
    ),
    (
        "info",
        replace(ALERT, severity=Severity.INFO),
        Action(ActionKind.NOTIFY, ("ops",), Severity.INFO),
        "[INFO] Checkout failing: checkout (prod) failed",
        "Alert opened",
        "info",
    ),
]


@pytest.mark.parametrize(
    ("alert", "action", "title", "headline", "notify_type"),
    [row[1:] for row in KINDS],
    ids=[row[0] for row in KINDS],
)
def test_each_kind_is_worded_distinctly_and_names_the_facts(
    alert: Alert, action: Action, title: str, headline: str, notify_type: str
) -> None:
    message = render(alert, action)

    assert message.title == title
    assert headline in message.body
    assert message.notify_type == notify_type
    for fact in (
        f"Severity: {action.severity}",
        "Rule: Checkout failing (checkout-failing)",
        "Workflow: checkout",
        "Environment: prod",
        "Failing step: pay",
        "Failed condition: status (503) == 200",
        "Attempts: 3",
        "Rule conditions: workflow.status (failed) == failed",
        f"Prefect run: {RUN_URL}",
        "Run record: https://wfmon.example.com/api/monitoring/executions/run-42",
        "Alerts: https://wfmon.example.com/api/monitoring/alerts",
    ):
        assert fact in message.body, fact
    acknowledge = "POST https://wfmon.example.com/api/monitoring/alerts/alert-7/acknowledge"
    assert (acknowledge in message.body) is (action.kind is not ActionKind.RESOLVED_NOTICE)


@pytest.mark.parametrize(
    ("alert", "action"), [row[1:3] for row in KINDS], ids=[r[0] for r in KINDS]
)
def test_secrets_are_redacted_everywhere(alert: Alert, action: Action) -> None:
    leaky = replace(
        alert,
        workflow=f"checkout-{SECRET}",
        details=replace(alert.details, failed_condition=f'body.token ("{SECRET}") == ""'),
    )

    message = render(leaky, action, run_url=f"{RUN_URL}?auth={SECRET}")

    assert SECRET not in message.title
    assert SECRET not in message.body
    assert "Error: TRANSIENT upstream 503 for /pay?token=***" in message.body
    assert "Workflow: checkout-***" in message.body


def test_titles_tell_the_kinds_apart() -> None:
    one_per_kind = {action.kind: (alert, action) for _, alert, action, *_ in KINDS}

    titles = {render(alert, action).title for alert, action in one_per_kind.values()}

    assert len(titles) == len(ActionKind)


# (name, overrides, present, absent)
OPTIONAL = [
    ("no links", {"run_url": None, "public_url": None}, [], ["Links:", "http"]),
    (
        "public url only",
        {"run_url": None, "public_url": "https://w.example"},
        ["Run record: https://w.example/api/monitoring/executions/run-42"],
        ["Prefect run:"],
    ),
    (
        "rule id without a name",
        {"rule_name": None},
        ["Rule: checkout-failing\n"],
        ["Rule: checkout-failing ("],
    ),
]


@pytest.mark.parametrize(
    ("overrides", "present", "absent"),
    [row[1:] for row in OPTIONAL],
    ids=[row[0] for row in OPTIONAL],
)
def test_optional_parts(
    overrides: dict[str, object], present: list[str], absent: list[str]
) -> None:
    alert = replace(ALERT, details=replace(ALERT.details, matched=()))

    message = render(alert, Action(ActionKind.NOTIFY, ("ops",), Severity.ERROR), **overrides)

    for text in present:
        assert text in message.body
    for text in absent:
        assert text not in message.body


def test_missing_details_are_left_out_not_shown_as_none() -> None:
    rate_alert = replace(ALERT, details=AlertDetails(attempts=1))

    message = render(rate_alert, Action(ActionKind.NOTIFY, ("ops",), Severity.ERROR))

    assert message.title == "[ERROR] Checkout failing: checkout (prod) matched"
    assert "None" not in message.body
    assert "Failing step" not in message.body
    assert "Run record" not in message.body  # no run id to link to
    assert "Attempts: 1" in message.body
