"""The alert state machine as step sequences on a fake clock (gatus alerting_test style).

Each step is (what happens, when) and what must follow: the alert's state and count and
the sends, written ``KIND -> CHANNELS`` (``SUPPRESS(NOTIFY) -> SLACK`` for a muted one).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from datetime import datetime

import pytest

from rules import (
    Action,
    Alert,
    AlertRule,
    AlertState,
    AlertStateError,
    EngineSettings,
    Observation,
    Severity,
    acknowledge,
    next_alert,
    parse_rule,
    resolve,
    tick,
)
from tests.rules.builders import T0, at, failed, passed
from wfmon.results import RunStatus

RULE = parse_rule(
    {
        "id": "checkout-failing",
        "name": "Checkout failing",
        "severity": "ERROR",
        "conditions": [
            {"type": "THRESHOLD", "metric": "workflow.status", "operator": "==", "value": "failed"}
        ],
        "channels": ["SLACK"],
        "cooldown_ms": 5 * 60_000,
        "escalation_delay_ms": 10 * 60_000,
        "escalation_rule": "page",
    }
)
PAGE = parse_rule({**RULE.to_config(), "id": "page", "severity": "CRITICAL", "channels": ["PAGER"]})
SETTINGS = EngineSettings()


@dataclass(frozen=True)
class Step:
    """One event in a scenario and what must follow it."""

    name: str
    when: datetime
    run: Observation | None = None  # None: a maintenance tick
    ack: bool = False
    suppression: str | None = None
    state: AlertState | None = None  # None: no alert
    sends: tuple[str, ...] = ()
    count: int | None = None


def _show(action: Action) -> str:
    kind = action.kind.value
    if action.instead_of is not None:
        kind += f"({action.instead_of.value})"
    return f"{kind} -> {','.join(action.channels)}"


def play(
    steps: list[Step],
    *,
    rule: AlertRule = RULE,
    settings: EngineSettings = SETTINGS,
    escalation_rule: AlertRule | None = PAGE,
) -> Alert | None:
    """Run the steps through the pure functions, checking each one's outcome."""
    ids = (f"alert-{n}" for n in itertools.count(1))
    alert: Alert | None = None
    for step in steps:
        actions: tuple[Action, ...] = ()
        if step.ack:
            assert alert is not None
            alert = acknowledge(alert, by="ops@example.com", now=step.when)
        elif step.run is not None:
            alert, actions = next_alert(
                alert,
                rule=rule,
                observation=step.run,
                now=step.when,
                settings=settings,
                new_id=lambda: next(ids),
                suppression=step.suppression,
                escalation_rule=escalation_rule,
            )
        else:
            assert alert is not None
            alert, actions = tick(
                alert,
                rule=rule,
                now=step.when,
                settings=settings,
                escalation_rule=escalation_rule,
                suppression=step.suppression,
            )
        outcome = (
            None if alert is None else alert.state,
            tuple(_show(a) for a in actions),
            step.count if step.count is None or alert is None else alert.count,
        )
        assert outcome == (step.state, step.sends, step.count), step.name
    return alert


ACTIVE, ACKED, RESOLVED = AlertState.ACTIVE, AlertState.ACKNOWLEDGED, AlertState.RESOLVED


def test_first_match_notifies_repeats_wait_for_the_cooldown_then_remind_once() -> None:
    alert = play(
        [
            Step("a passing run opens nothing", at(minutes=0), passed()),
            Step(
                "first failure notifies",
                at(minutes=1),
                failed(),
                state=ACTIVE,
                sends=("NOTIFY -> SLACK",),
                count=1,
            ),
            Step("repeat within cooldown: silent", at(minutes=2), failed(), state=ACTIVE, count=2),
            Step(
                "still within cooldown", at(minutes=5, seconds=59), failed(), state=ACTIVE, count=3
            ),
            Step(
                "cooldown passed: one reminder",
                at(minutes=6),
                failed(),
                state=ACTIVE,
                sends=("REMIND -> SLACK",),
                count=4,
            ),
            Step(
                "cooldown restarts from the reminder",
                at(minutes=7),
                failed(),
                state=ACTIVE,
                count=5,
            ),
        ],
        escalation_rule=None,
        rule=replace(RULE, escalation_delay_ms=None),
    )
    assert alert is not None
    assert (alert.id, alert.first_seen, alert.last_seen) == (
        "alert-1",
        at(minutes=1),
        at(minutes=7),
    )
    assert alert.details.failed_step == "pay"
    assert alert.details.matched == ("workflow.status ('failed') == 'failed'",)
    assert alert.message == (
        "[ERROR] Checkout failing: checkout (production) failed at step 'pay': "
        "status (503) == 200 after 3 attempts"
    )


def test_a_passing_run_resolves_with_exactly_one_notice_then_a_failure_opens_anew() -> None:
    alert = play(
        [
            Step(
                "failure notifies",
                at(minutes=0),
                failed(),
                state=ACTIVE,
                sends=("NOTIFY -> SLACK",),
            ),
            Step(
                "a failed run that no longer matches keeps it open",
                at(minutes=1),
                failed(status=RunStatus.SKIPPED),
                state=ACTIVE,
                count=1,
            ),
            Step(
                "pass resolves, one notice",
                at(minutes=2),
                passed(),
                state=RESOLVED,
                sends=("RESOLVED_NOTICE -> SLACK",),
            ),
            Step("second pass: nothing", at(minutes=3), passed(), state=RESOLVED),
            Step(
                "new failure: new alert, notify",
                at(minutes=4),
                failed(),
                state=ACTIVE,
                sends=("NOTIFY -> SLACK",),
                count=1,
            ),
        ]
    )
    assert alert is not None and alert.id == "alert-2"


def test_a_degraded_run_also_resolves() -> None:
    play(
        [
            Step("open", T0, failed(), state=ACTIVE, sends=("NOTIFY -> SLACK",)),
            Step(
                "degraded resolves",
                at(minutes=1),
                passed(status=RunStatus.DEGRADED),
                state=RESOLVED,
                sends=("RESOLVED_NOTICE -> SLACK",),
            ),
        ]
    )


def test_escalation_fires_once_after_its_delay() -> None:
    alert = play(
        [
            Step("open", T0, failed(), state=ACTIVE, sends=("NOTIFY -> SLACK",)),
            Step("tick before the delay: nothing", at(minutes=9), state=ACTIVE),
            Step(
                "tick after the delay: escalate to the page rule",
                at(minutes=10),
                state=ACTIVE,
                sends=("ESCALATE -> PAGER",),
            ),
            Step("a second tick does not re-escalate", at(minutes=11), state=ACTIVE),
            Step(
                "reminders now reach both",
                at(minutes=12),
                failed(),
                state=ACTIVE,
                sends=("REMIND -> SLACK,PAGER",),
            ),
            Step(
                "and so does the resolved notice",
                at(minutes=13),
                passed(),
                state=RESOLVED,
                sends=("RESOLVED_NOTICE -> SLACK,PAGER",),
            ),
        ]
    )
    assert alert is not None
    assert (alert.severity, alert.escalated) == (Severity.CRITICAL, True)
    assert alert.message.startswith("[CRITICAL] Checkout failing")


def test_escalation_can_also_happen_on_a_match() -> None:
    play(
        [
            Step("open", T0, failed(), state=ACTIVE, sends=("NOTIFY -> SLACK",)),
            Step(
                "match after delay: remind and escalate",
                at(minutes=10),
                failed(),
                state=ACTIVE,
                sends=("REMIND -> SLACK", "ESCALATE -> PAGER"),
            ),
        ]
    )


def test_escalation_without_an_escalation_rule_raises_severity_one_level() -> None:
    alert = play(
        [
            Step("open", T0, failed(), state=ACTIVE, sends=("NOTIFY -> SLACK",)),
            Step(
                "escalate on the rule's channels",
                at(minutes=10),
                state=ACTIVE,
                sends=("ESCALATE -> SLACK",),
            ),
        ],
        rule=replace(RULE, escalation_rule=None),
        escalation_rule=None,
    )
    assert alert is not None and alert.severity is Severity.CRITICAL


def test_escalation_disabled_in_settings() -> None:
    play(
        [
            Step("open", T0, failed(), state=ACTIVE, sends=("NOTIFY -> SLACK",)),
            Step("no escalation", at(minutes=30), state=ACTIVE),
        ],
        settings=replace(SETTINGS, enable_escalation=False),
    )


def test_acknowledgement_stops_escalation_and_reminders_but_not_resolution() -> None:
    alert = play(
        [
            Step("open", T0, failed(), state=ACTIVE, sends=("NOTIFY -> SLACK",)),
            Step("someone acknowledges", at(minutes=1), ack=True, state=ACKED, count=1),
            Step("no escalation after the delay", at(minutes=10), state=ACKED),
            Step("repeats count, no reminder", at(minutes=20), failed(), state=ACKED, count=2),
            Step("acknowledging again keeps the first", at(minutes=21), ack=True, state=ACKED),
            Step(
                "pass resolves with a notice",
                at(minutes=22),
                passed(),
                state=RESOLVED,
                sends=("RESOLVED_NOTICE -> SLACK",),
            ),
        ]
    )
    assert alert is not None
    assert (alert.acknowledged_by, alert.acknowledged_at) == ("ops@example.com", at(minutes=1))


def test_auto_resolve_after_quiet_period() -> None:
    play(
        [
            Step("open", T0, failed(), state=ACTIVE, sends=("NOTIFY -> SLACK",)),
            Step("ack, so escalation stays out of the way", at(minutes=1), ack=True, state=ACKED),
            Step("seen again", at(minutes=30), failed(), state=ACKED, count=2),
            Step("59 min after last seen: still open", at(minutes=89), state=ACKED),
            Step(
                "60 min after last seen: auto-resolved",
                at(minutes=90),
                state=RESOLVED,
                sends=("RESOLVED_NOTICE -> SLACK",),
            ),
            Step("ticking a resolved alert does nothing", at(minutes=200), state=RESOLVED),
        ]
    )


def test_a_silence_records_but_does_not_send() -> None:
    muted = "maintenance until 2026-01-01T13:00:00+00:00"
    alert = play(
        [
            Step(
                "opens, recorded, muted",
                T0,
                failed(),
                suppression=muted,
                state=ACTIVE,
                sends=("SUPPRESS(NOTIFY) -> SLACK",),
                count=1,
            ),
            Step(
                "repeat within cooldown: nothing",
                at(minutes=1),
                failed(),
                suppression=muted,
                state=ACTIVE,
                count=2,
            ),
            Step(
                "escalation is recorded, muted",
                at(minutes=10),
                suppression=muted,
                state=ACTIVE,
                sends=("SUPPRESS(ESCALATE) -> PAGER",),
            ),
            Step(
                "silence over: first real send is a NOTIFY",
                at(minutes=61),
                failed(),
                state=ACTIVE,
                sends=("NOTIFY -> SLACK,PAGER",),
                count=3,
            ),
        ]
    )
    assert alert is not None and alert.details.suppressed_by is None


def test_an_alert_silenced_all_its_life_resolves_without_a_notice() -> None:
    play(
        [
            Step(
                "opens muted",
                T0,
                failed(),
                suppression="maintenance",
                state=ACTIVE,
                sends=("SUPPRESS(NOTIFY) -> SLACK",),
            ),
            Step(
                "resolves: nobody to tell",
                at(minutes=1),
                passed(),
                suppression="maintenance",
                state=RESOLVED,
            ),
        ]
    )


def test_a_resolved_notice_during_a_silence_is_suppressed() -> None:
    play(
        [
            Step("open", T0, failed(), state=ACTIVE, sends=("NOTIFY -> SLACK",)),
            Step(
                "resolves muted",
                at(minutes=1),
                passed(),
                suppression="maintenance",
                state=RESOLVED,
                sends=("SUPPRESS(RESOLVED_NOTICE) -> SLACK",),
            ),
        ]
    )


def test_depends_on_suppresses_sending() -> None:
    reason = "depends_on: user-login failing"
    alert = play(
        [
            Step(
                "dependency failing: recorded, muted",
                T0,
                failed(failing_dependencies=("user-login",)),
                suppression=reason,
                state=ACTIVE,
                sends=("SUPPRESS(NOTIFY) -> SLACK",),
            ),
        ]
    )
    assert alert is not None and alert.details.suppressed_by == reason


def test_without_deduplication_every_match_sends() -> None:
    play(
        [
            Step("open", T0, failed(), state=ACTIVE, sends=("NOTIFY -> SLACK",)),
            Step(
                "repeat sends", at(seconds=10), failed(), state=ACTIVE, sends=("REMIND -> SLACK",)
            ),
            Step("and again", at(seconds=20), failed(), state=ACTIVE, sends=("REMIND -> SLACK",)),
        ],
        settings=replace(SETTINGS, enable_deduplication=False),
    )


def test_default_cooldown_applies_when_the_rule_has_none() -> None:
    play(
        [
            Step("open", T0, failed(), state=ACTIVE, sends=("NOTIFY -> SLACK",)),
            Step("within default 60 s", at(seconds=59), failed(), state=ACTIVE),
            Step(
                "after default 60 s",
                at(seconds=60),
                failed(),
                state=ACTIVE,
                sends=("REMIND -> SLACK",),
            ),
        ],
        rule=replace(RULE, cooldown_ms=None),
        settings=replace(SETTINGS, default_cooldown_ms=60_000),
    )


def _decide(
    current: Alert | None, observation: Observation, *, active_count: int
) -> tuple[Alert | None, tuple[Action, ...]]:
    return next_alert(
        current,
        rule=RULE,
        observation=observation,
        now=T0,
        settings=replace(SETTINGS, max_active_alerts=2),
        new_id=lambda: "new",
        active_count=active_count,
    )


def test_max_active_alerts_refuses_new_alerts_but_updates_open_ones() -> None:
    alert, actions = _decide(None, failed(), active_count=1)
    assert (alert is not None, [_show(a) for a in actions]) == (True, ["NOTIFY -> SLACK"])

    refused, actions = _decide(None, failed(), active_count=2)
    assert refused is None
    assert [(_show(a), a.reason) for a in actions] == [
        ("SUPPRESS(NOTIFY) -> SLACK", "max_active_alerts (2) reached; not opened")
    ]

    updated, actions = _decide(alert, failed(), active_count=2)
    assert (updated is not None and updated.count, actions) == (2, ())


def test_nothing_matches_and_nothing_is_open() -> None:
    assert _decide(None, passed(), active_count=0) == (None, ())


def test_acknowledging_a_resolved_alert_is_an_error_and_resolving_twice_is_not() -> None:
    alert, _ = _decide(None, failed(), active_count=0)
    assert alert is not None
    done = resolve(alert, now=at(minutes=1))
    assert (done.state, done.resolved_at) == (RESOLVED, at(minutes=1))
    assert resolve(done, now=at(minutes=2)) is done
    with pytest.raises(AlertStateError, match="resolved"):
        acknowledge(done, by="ops", now=at(minutes=3))


def test_tick_without_a_rule_still_auto_resolves() -> None:
    alert, _ = _decide(None, failed(), active_count=0)
    assert alert is not None
    assert tick(alert, rule=None, now=at(minutes=30), settings=SETTINGS) == (alert, ())
    resolved, actions = tick(alert, rule=None, now=at(minutes=60), settings=SETTINGS)
    assert (resolved.state, [a.reason for a in actions]) == (
        RESOLVED,
        ["auto-resolved: not seen for 1h"],
    )
