"""Alerts in the database, on SQLite and PostgreSQL: storage, the one-open-alert index, the
atomic decision with its history and outbox, the human transitions, queries and statistics,
and that eight concurrent openers of one key make one alert and one set of notifications."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, update

from rules.lifecycle import ActionKind
from rules.models import Alert, AlertDetails, AlertState, AlertStateError, Severity
from store import (
    AlertEvent,
    AlertKey,
    AlertWrite,
    DeliveryKind,
    DeliveryRequest,
    EventKind,
    StoreError,
    acknowledge_alert,
    alert_events,
    alert_history,
    alert_statistics,
    apply_alert_decision,
    count_open,
    create_engine_for,
    delivery_kind,
    get_alert,
    list_alerts,
    list_deliveries,
    open_alerts,
    resolve_alert,
)
from store.sessions import session_for
from store.tables import AlertRow
from tests.store.examples import T0

ACTIVE, ACKNOWLEDGED, RESOLVED = AlertState.ACTIVE, AlertState.ACKNOWLEDGED, AlertState.RESOLVED
KEY: AlertKey = ("workflow-failure-critical", "checkout", "prod")
CHANNELS = ("ops-slack", "pager")
CALLERS = 8


def alert(id: str = "a1", **overrides: object) -> Alert:
    """An open alert for KEY with every field set, so round trips prove every column."""
    rule_id, workflow, environment = KEY
    value = Alert(
        id=id,
        rule_id=rule_id,
        workflow=workflow,
        environment=environment,
        severity=Severity.CRITICAL,
        state=ACTIVE,
        message="[CRITICAL] Critical workflow failure: checkout (prod) failed at step 'pay'",
        first_seen=T0,
        last_seen=T0 + timedelta(seconds=5),
        count=2,
        channels=CHANNELS,
        last_notified_at=T0,
        notified=True,
        escalated=True,
        details=AlertDetails(
            run_id="5b0f2c1e",
            status="failed",
            failed_step="pay",
            failed_condition="status (503) == 200",
            error_type="ASSERTION",
            error_message="status (503) == 200",
            attempts=3,
            matched=("workflow.status (failed) == 'failed'", "workflow.attempts (3) > 2"),
            suppressed_by="maintenance window",
        ),
    )
    return dataclasses.replace(value, **overrides)  # type: ignore[arg-type]


def notice(channel: str, kind: DeliveryKind = DeliveryKind.NOTIFY) -> DeliveryRequest:
    return DeliveryRequest(channel=channel, kind=kind, title="title", body="body", at=T0)


def put(value: Alert | None) -> Callable[[Alert | None], AlertWrite[Alert | None]]:
    """A decision that stores ``value`` whatever was there, returning what it saw."""
    return lambda current: AlertWrite(alert=value, outcome=current)


def open_or_repeat(now: datetime) -> Callable[[Alert | None], AlertWrite[str]]:
    """What the post-run flow does on a match: open (and notify every channel) or count."""

    def decide(current: Alert | None) -> AlertWrite[str]:
        if current is None:
            opened = alert(
                id=uuid.uuid4().hex, count=1, first_seen=now, last_seen=now, escalated=False
            )
            return AlertWrite(
                alert=opened,
                outcome="opened",
                events=(AlertEvent(EventKind.OPENED, at=now),),
                deliveries=tuple(notice(channel) for channel in opened.channels),
            )
        repeated = dataclasses.replace(current, count=current.count + 1, last_seen=now)
        return AlertWrite(
            alert=repeated, outcome="repeated", events=(AlertEvent(EventKind.REPEATED, at=now),)
        )

    return decide


@pytest.fixture
def caller_engines(database_url: str, migrated_engine: Engine) -> Iterator[list[Engine]]:
    """One engine per concurrent caller, as separate post-run flows would have."""
    engines = [create_engine_for(database_url) for _ in range(CALLERS)]
    for engine in engines:
        engine.connect().close()
    yield engines
    for engine in engines:
        engine.dispose()


def insert_row(engine: Engine, value: Alert) -> None:
    """Insert an alert's row directly, bypassing apply_alert_decision's checks."""
    row = AlertRow(
        id=value.id,
        rule_id=value.rule_id,
        workflow=value.workflow,
        environment=value.environment,
        severity=value.severity.value,
        state=value.state.value,
        message=value.message,
        first_seen=value.first_seen,
        last_seen=value.last_seen,
        count=value.count,
    )
    with session_for(engine) as session:
        session.add(row)
        session.commit()


# --- storage -------------------------------------------------------------------------------


def test_round_trip_keeps_every_field(migrated_engine: Engine) -> None:
    plus_two = timezone(timedelta(hours=2))
    stored = alert(
        state=ACKNOWLEDGED,
        first_seen=T0.astimezone(plus_two),
        acknowledged_by="jo@example.com",
        acknowledged_at=T0 + timedelta(minutes=1),
        resolved_at=T0 + timedelta(minutes=2),
    )

    apply_alert_decision(migrated_engine, key=KEY, decide=put(stored))
    read = get_alert(migrated_engine, alert_id="a1")

    assert read == stored
    assert read is not None and read.first_seen.tzinfo is UTC


def test_minimal_alert_round_trips_with_empty_details(migrated_engine: Engine) -> None:
    minimal = alert(channels=(), last_notified_at=None, notified=False, details=AlertDetails())

    apply_alert_decision(migrated_engine, key=KEY, decide=put(minimal))

    assert get_alert(migrated_engine, alert_id="a1") == minimal


def test_unknown_alert_is_none(migrated_engine: Engine) -> None:
    assert get_alert(migrated_engine, alert_id="nope") is None


# --- the database allows one open alert per key --------------------------------------------


def test_the_index_rejects_a_second_open_alert_for_a_key(migrated_engine: Engine) -> None:
    insert_row(migrated_engine, alert("first"))

    with pytest.raises(StoreError, match=r"(?i)unique|duplicate"):
        insert_row(migrated_engine, alert("second", state=ACKNOWLEDGED))

    # Other keys are independent.
    insert_row(migrated_engine, alert("other-env", environment="staging"))
    insert_row(migrated_engine, alert("other-rule", rule_id="failure-rate"))


def test_the_index_allows_a_new_open_alert_once_the_first_is_resolved(
    migrated_engine: Engine,
) -> None:
    insert_row(migrated_engine, alert("first"))
    with session_for(migrated_engine) as session:
        session.execute(update(AlertRow).values(state=RESOLVED.value))
        session.commit()

    insert_row(migrated_engine, alert("second"))
    insert_row(migrated_engine, alert("old", state=RESOLVED))  # resolved ones never collide

    assert [a.id for a in open_alerts(migrated_engine)] == ["second"]


# --- decisions -----------------------------------------------------------------------------


def test_decide_sees_the_open_alert_and_its_outcome_is_returned(migrated_engine: Engine) -> None:
    assert apply_alert_decision(migrated_engine, key=KEY, decide=put(alert())) is None

    seen = apply_alert_decision(migrated_engine, key=KEY, decide=put(alert(count=3)))

    assert seen == alert()
    assert get_alert(migrated_engine, alert_id="a1") == alert(count=3)


def test_decide_sees_none_once_the_alert_is_resolved(migrated_engine: Engine) -> None:
    apply_alert_decision(migrated_engine, key=KEY, decide=put(alert()))
    resolve_alert(migrated_engine, alert_id="a1", now=T0)

    seen = apply_alert_decision(migrated_engine, key=KEY, decide=put(alert("a2")))

    assert seen is None
    assert [a.id for a in open_alerts(migrated_engine)] == ["a2"]


def test_no_alert_stores_nothing(migrated_engine: Engine) -> None:
    assert apply_alert_decision(migrated_engine, key=KEY, decide=put(None)) is None

    assert list_alerts(migrated_engine) == []


def test_events_and_deliveries_are_stored_with_the_alert(migrated_engine: Engine) -> None:
    opened = open_or_repeat(T0)
    assert apply_alert_decision(migrated_engine, key=KEY, decide=opened) == "opened"
    (stored,) = list_alerts(migrated_engine)

    assert [(d.channel, d.alert_id) for d in list_deliveries(migrated_engine)] == [
        ("pager", stored.id),
        ("ops-slack", stored.id),
    ]
    assert alert_events(migrated_engine, alert_id=stored.id) == [
        AlertEvent(EventKind.OPENED, at=T0)
    ]


def test_events_without_a_new_alert_go_to_the_open_one(migrated_engine: Engine) -> None:
    apply_alert_decision(migrated_engine, key=KEY, decide=put(alert()))
    suppressed = AlertEvent(EventKind.SUPPRESSED, at=T0, note="maintenance window")

    apply_alert_decision(
        migrated_engine,
        key=KEY,
        decide=lambda _: AlertWrite(alert=None, outcome=None, events=(suppressed,)),
    )

    assert alert_events(migrated_engine, alert_id="a1") == [suppressed]
    assert get_alert(migrated_engine, alert_id="a1") == alert()


def test_a_failure_after_the_alert_was_written_rolls_everything_back(
    migrated_engine: Engine,
) -> None:
    # The delivery is refused only after the alert's INSERT went out: one transaction.
    leaky = DeliveryRequest("slack://secret-token", DeliveryKind.NOTIFY, "t", "b", at=T0)

    with pytest.raises(ValueError, match="not a URL"):
        apply_alert_decision(
            migrated_engine,
            key=KEY,
            decide=lambda _: AlertWrite(alert=alert(), outcome=None, deliveries=(leaky,)),
        )

    assert list_alerts(migrated_engine) == []
    assert list_deliveries(migrated_engine) == []


def test_a_failing_decision_leaves_nothing_behind(migrated_engine: Engine) -> None:
    apply_alert_decision(migrated_engine, key=KEY, decide=put(alert()))

    def explode(_: Alert | None) -> AlertWrite[None]:
        raise RuntimeError("decision failed")

    with pytest.raises(RuntimeError, match="decision failed"):
        apply_alert_decision(migrated_engine, key=KEY, decide=explode)

    assert list_alerts(migrated_engine) == [alert()]


@pytest.mark.parametrize(
    ("stored", "write", "message"),
    [
        (None, AlertWrite(alert(environment="staging"), None), "not for"),
        (alert(), AlertWrite(alert("a2"), None), "is open"),
        (None, AlertWrite(None, None, events=(AlertEvent(EventKind.OPENED, T0),)), "events"),
        (None, AlertWrite(alert(last_seen=datetime(2026, 5, 20)), None), "aware"),
        (
            alert(),
            AlertWrite(None, None, events=(AlertEvent(EventKind.OPENED, datetime(2026, 5, 20)),)),
            "aware",
        ),
    ],
    ids=["other-key", "second-open-alert", "events-without-alert", "naive-alert", "naive-event"],
)
def test_decisions_the_store_cannot_honour_are_refused(
    migrated_engine: Engine, stored: Alert | None, write: AlertWrite[None], message: str
) -> None:
    if stored is not None:
        apply_alert_decision(migrated_engine, key=KEY, decide=put(stored))

    with pytest.raises(ValueError, match=message):
        apply_alert_decision(migrated_engine, key=KEY, decide=lambda _: write)

    assert list_alerts(migrated_engine) == ([] if stored is None else [stored])


def test_a_constraint_error_that_is_no_race_is_raised_not_retried(
    migrated_engine: Engine,
) -> None:
    # A resolved alert already has this id: the INSERT fails, but no open alert explains it.
    insert_row(migrated_engine, alert(state=RESOLVED))
    calls: list[Alert | None] = []

    def reuse_id(current: Alert | None) -> AlertWrite[None]:
        calls.append(current)
        return AlertWrite(alert=alert(), outcome=None)

    with pytest.raises(StoreError):
        apply_alert_decision(migrated_engine, key=KEY, decide=reuse_id)

    assert calls == [None]


def test_losing_the_race_to_open_decides_again_on_the_winners_alert(
    migrated_engine: Engine, database_url: str
) -> None:
    # Deterministic where the threads below are statistical: another worker opens the
    # alert between this caller's read and its INSERT.
    if migrated_engine.dialect.name == "sqlite":
        pytest.skip("SQLite's BEGIN IMMEDIATE serialises writers: nobody can open in between")
    other = create_engine_for(database_url)
    seen: list[Alert | None] = []
    decide = open_or_repeat(T0)

    def racing(current: Alert | None) -> AlertWrite[str]:
        seen.append(current)
        if len(seen) == 1:
            assert apply_alert_decision(other, key=KEY, decide=decide) == "opened"
        return decide(current)

    try:
        outcome = apply_alert_decision(migrated_engine, key=KEY, decide=racing)
    finally:
        other.dispose()

    (winner,) = list_alerts(migrated_engine)
    assert outcome == "repeated"
    assert seen[0] is None
    assert seen[1] is not None and seen[1].id == winner.id
    assert winner.count == 2
    assert len(list_deliveries(migrated_engine)) == len(CHANNELS)


# --- concurrency: separate connections, as separate workers --------------------------------


def test_eight_concurrent_openers_make_one_alert_and_one_set_of_deliveries(
    migrated_engine: Engine, caller_engines: list[Engine]
) -> None:
    barrier = threading.Barrier(CALLERS)

    def caller(engine: Engine) -> str:
        barrier.wait()
        return apply_alert_decision(engine, key=KEY, decide=open_or_repeat(T0))

    with ThreadPoolExecutor(max_workers=CALLERS) as pool:
        outcomes = list(pool.map(caller, caller_engines))

    assert sorted(outcomes) == ["opened"] + ["repeated"] * (CALLERS - 1)
    (stored,) = list_alerts(migrated_engine)
    assert stored.count == CALLERS  # no repeat was lost either
    deliveries = list_deliveries(migrated_engine)
    assert sorted(d.channel for d in deliveries) == sorted(CHANNELS)
    assert {d.alert_id for d in deliveries} == {stored.id}
    kinds = [event.kind for event in alert_events(migrated_engine, alert_id=stored.id)]
    assert sorted(kinds) == [EventKind.OPENED] + [EventKind.REPEATED] * (CALLERS - 1)


# --- acknowledge and resolve ---------------------------------------------------------------


def test_acknowledge_records_who_and_when_once(migrated_engine: Engine) -> None:
    apply_alert_decision(migrated_engine, key=KEY, decide=put(alert()))
    at = T0 + timedelta(minutes=1)

    acked = acknowledge_alert(migrated_engine, alert_id="a1", by="jo", now=at)
    later = at + timedelta(minutes=1)
    again = acknowledge_alert(migrated_engine, alert_id="a1", by="sam", now=later)

    expected = alert(state=ACKNOWLEDGED, acknowledged_by="jo", acknowledged_at=at)
    assert acked == again == expected
    assert get_alert(migrated_engine, alert_id="a1") == expected
    assert alert_events(migrated_engine, alert_id="a1") == [
        AlertEvent(EventKind.ACKNOWLEDGED, at=at, note="by jo")
    ]


def test_resolve_closes_the_alert_once(migrated_engine: Engine) -> None:
    apply_alert_decision(migrated_engine, key=KEY, decide=put(alert()))
    at = T0 + timedelta(minutes=2)

    resolved = resolve_alert(migrated_engine, alert_id="a1", now=at)
    resolve_alert(migrated_engine, alert_id="a1", now=at + timedelta(minutes=1))

    assert resolved == alert(state=RESOLVED, resolved_at=at)
    assert get_alert(migrated_engine, alert_id="a1") == resolved
    assert count_open(migrated_engine) == 0
    assert [e.kind for e in alert_events(migrated_engine, alert_id="a1")] == [EventKind.RESOLVED]
    assert list_deliveries(migrated_engine) == []  # resolving by hand sends nothing


def test_acknowledging_a_resolved_alert_raises_and_changes_nothing(
    migrated_engine: Engine,
) -> None:
    apply_alert_decision(migrated_engine, key=KEY, decide=put(alert(state=RESOLVED)))

    with pytest.raises(AlertStateError):
        acknowledge_alert(migrated_engine, alert_id="a1", by="jo", now=T0)

    assert get_alert(migrated_engine, alert_id="a1") == alert(state=RESOLVED)
    assert alert_events(migrated_engine, alert_id="a1") == []


def test_acknowledge_and_resolve_of_an_unknown_id_are_none(migrated_engine: Engine) -> None:
    assert acknowledge_alert(migrated_engine, alert_id="nope", by="jo", now=T0) is None
    assert resolve_alert(migrated_engine, alert_id="nope", now=T0) is None


# --- queries -------------------------------------------------------------------------------


def history_of_three(engine: Engine) -> None:
    """Three alerts of KEY's rule, a day apart; the last one still open."""
    for day in range(3):
        start = T0 + timedelta(days=day)
        value = alert(f"day{day}", first_seen=start, last_seen=start, count=1)
        apply_alert_decision(engine, key=KEY, decide=put(value))
        if day < 2:
            resolve_alert(engine, alert_id=value.id, now=start + timedelta(hours=1))


def test_history_is_the_rules_alerts_newest_first(migrated_engine: Engine) -> None:
    history_of_three(migrated_engine)
    other_rule = alert("other", rule_id="failure-rate")
    apply_alert_decision(migrated_engine, key=other_rule.key, decide=put(other_rule))

    history = alert_history(migrated_engine, rule_id=KEY[0])

    assert [a.id for a in history] == ["day2", "day1", "day0"]
    assert [a.state for a in history] == [ACTIVE, RESOLVED, RESOLVED]
    assert [a.id for a in alert_history(migrated_engine, rule_id=KEY[0], limit=2)] == [
        "day2",
        "day1",
    ]
    assert alert_history(migrated_engine, rule_id="never-fired") == []


def test_events_are_in_the_order_they_happened(migrated_engine: Engine) -> None:
    def at(minutes: int) -> datetime:
        return T0 + timedelta(minutes=minutes)

    for minute in (0, 1, 2):
        apply_alert_decision(migrated_engine, key=KEY, decide=open_or_repeat(at(minute)))
    (stored,) = list_alerts(migrated_engine)
    acknowledge_alert(migrated_engine, alert_id=stored.id, by="jo", now=at(3))
    resolve_alert(migrated_engine, alert_id=stored.id, now=at(4))

    assert [(e.kind, e.at) for e in alert_events(migrated_engine, alert_id=stored.id)] == [
        (EventKind.OPENED, at(0)),
        (EventKind.REPEATED, at(1)),
        (EventKind.REPEATED, at(2)),
        (EventKind.ACKNOWLEDGED, at(3)),
        (EventKind.RESOLVED, at(4)),
    ]


def test_list_filters_and_orders_by_last_seen(migrated_engine: Engine) -> None:
    history_of_three(migrated_engine)
    warning = alert(
        "warn", workflow="login", severity=Severity.WARNING, last_seen=T0 + timedelta(days=9)
    )
    apply_alert_decision(migrated_engine, key=warning.key, decide=put(warning))

    def ids(**filters: object) -> list[str]:
        return [a.id for a in list_alerts(migrated_engine, **filters)]  # type: ignore[arg-type]

    assert ids() == ["warn", "day2", "day1", "day0"]
    assert ids(state=RESOLVED) == ["day1", "day0"]
    assert ids(severity=Severity.WARNING) == ["warn"]
    assert ids(workflow="checkout", state=ACTIVE) == ["day2"]
    assert ids(limit=1) == ["warn"]
    assert [a.id for a in open_alerts(migrated_engine)] == ["warn", "day2"]  # by first_seen
    assert count_open(migrated_engine) == 2
    with pytest.raises(ValueError, match="limit"):
        list_alerts(migrated_engine, limit=0)


def test_statistics_count_by_state_and_severity(migrated_engine: Engine) -> None:
    history_of_three(migrated_engine)  # CRITICAL: 2 resolved, 1 active
    for n, severity in enumerate([Severity.WARNING, Severity.WARNING, Severity.INFO]):
        value = alert(f"w{n}", workflow=f"wf{n}", severity=severity)
        apply_alert_decision(migrated_engine, key=value.key, decide=put(value))
    acknowledge_alert(migrated_engine, alert_id="w0", by="jo", now=T0)

    assert alert_statistics(migrated_engine) == {
        "total": 6,
        "by_state": {"ACTIVE": 3, "ACKNOWLEDGED": 1, "RESOLVED": 2},
        "by_severity": {"INFO": 1, "WARNING": 2, "ERROR": 0, "CRITICAL": 3},
        "open_by_severity": {"INFO": 1, "WARNING": 2, "ERROR": 0, "CRITICAL": 1},
    }


def test_statistics_of_no_alerts_are_all_zero(migrated_engine: Engine) -> None:
    stats = alert_statistics(migrated_engine)

    assert stats["total"] == 0
    assert set(stats["by_severity"]) == {s.value for s in Severity}
    assert not any(stats["by_state"].values())


# --- outbox kinds --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "kind"),
    [
        (ActionKind.NOTIFY, DeliveryKind.NOTIFY),
        (ActionKind.REMIND, DeliveryKind.REMIND),
        (ActionKind.RESOLVED_NOTICE, DeliveryKind.RESOLVED),
        (ActionKind.ESCALATE, DeliveryKind.ESCALATE),
    ],
)
def test_delivery_kind_of_each_send(action: ActionKind, kind: DeliveryKind) -> None:
    assert delivery_kind(action) is kind


def test_a_suppressed_send_has_no_delivery_kind() -> None:
    with pytest.raises(ValueError, match="not a send"):
        delivery_kind(ActionKind.SUPPRESS)
