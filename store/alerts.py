"""Alerts in the database: the one open alert per (rule, workflow, environment), its history,
and the notifications it queues (SPEC §5).

``rules.lifecycle`` decides (pure functions over an ``Alert``); this module makes each
decision atomic. ``apply_alert_decision`` reads the open alert, lets the caller decide, and
writes the new alert, its history events and its outbox deliveries in one transaction:

- PostgreSQL: the open alert's row is read ``FOR UPDATE``, so a second caller waits for the
  first to commit and then decides on what the first wrote. A key with no open alert has no
  row to lock: two callers may both decide to open one, and the partial unique index
  ``ix_alerts_open_key`` (``store.tables``) lets only the first INSERT through. The loser's
  ``IntegrityError`` is caught, its transaction rolled back, and it reads and decides again,
  now as a repeat of the winner's alert (a bounded number of times).
- SQLite: every transaction starts with ``BEGIN IMMEDIATE`` (``store.database``), which
  serialises writers as a whole; the index is the same safety net.

Because the deliveries commit with the alert change, a crash keeps both or neither: a
notification is never lost and never queued twice (``store.outbox`` sends them).

Storage failures raise ``StoreError`` / ``StoreUnavailable`` (see ``store``); a decision the
store cannot honour (another key, a second open alert, a naive datetime) raises
``ValueError``; acknowledging a resolved alert raises ``rules.models.AlertStateError``.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypedDict, TypeVar

from sqlalchemy import Engine, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from rules.lifecycle import ActionKind, acknowledge, resolve
from rules.models import Alert, AlertDetails, AlertState, Severity
from store.errors import StoreError
from store.outbox import DeliveryKind, DeliveryRequest, enqueue
from store.sessions import session_for
from store.tables import AlertEventRow, AlertRow

__all__ = [
    "AlertEvent",
    "AlertKey",
    "AlertStatistics",
    "AlertWrite",
    "EventKind",
    "acknowledge_alert",
    "alert_events",
    "alert_history",
    "alert_statistics",
    "apply_alert_decision",
    "count_alerts",
    "count_open",
    "delivery_kind",
    "get_alert",
    "list_alerts",
    "open_alerts",
    "resolve_alert",
]

T = TypeVar("T")

# (rule_id, workflow, environment): the identity of an open alert, as ``Alert.key``.
AlertKey = tuple[str, str, str]

# Losing the race to open an alert costs one retry; more means the key keeps being opened
# and resolved under us, which no real workload does.
_DECISION_ATTEMPTS = 5


class EventKind(enum.StrEnum):
    """What happened to an alert, as its history records it."""

    OPENED = "opened"
    NOTIFIED = "notified"  # a first send after a suppressed one (rules.lifecycle)
    REPEATED = "repeated"  # matched again inside the cooldown: counted, nothing sent
    REMINDED = "reminded"
    ESCALATED = "escalated"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    SUPPRESSED = "suppressed"  # a send was due but a silence or depends_on muted it


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One entry of an alert's history."""

    kind: EventKind
    at: datetime
    note: str | None = None


@dataclass(frozen=True, slots=True)
class AlertWrite(Generic[T]):
    """What a decision stores, in one transaction, and what it returns to its caller.

    ``alert`` is the alert to store: the open alert updated, a new one opened (when there
    was none), or ``None`` to store no alert. ``events`` go to the history of that alert
    (or of the open one, when ``alert`` is None); ``deliveries`` are queued for it.
    """

    alert: Alert | None
    outcome: T
    events: tuple[AlertEvent, ...] = ()
    deliveries: tuple[DeliveryRequest, ...] = ()


class AlertStatistics(TypedDict):
    """Alert counts, every severity and state present (zero included)."""

    total: int
    by_state: dict[str, int]
    by_severity: dict[str, int]
    # Open (ACTIVE or ACKNOWLEDGED) alerts only: what "critical alerts now" means.
    open_by_severity: dict[str, int]


_DELIVERY_KINDS = {
    ActionKind.NOTIFY: DeliveryKind.NOTIFY,
    ActionKind.REMIND: DeliveryKind.REMIND,
    ActionKind.RESOLVED_NOTICE: DeliveryKind.RESOLVED,
    ActionKind.ESCALATE: DeliveryKind.ESCALATE,
}


def delivery_kind(kind: ActionKind) -> DeliveryKind:
    """The outbox kind of a send action; SUPPRESS sends nothing and raises ``ValueError``."""
    try:
        return _DELIVERY_KINDS[kind]
    except KeyError:
        raise ValueError(f"{kind} is not a send: record it as an event instead") from None


def apply_alert_decision(
    engine: Engine, *, key: AlertKey, decide: Callable[[Alert | None], AlertWrite[T]]
) -> T:
    """Apply ``decide`` to the open alert at ``key`` (None if none) atomically; return its T.

    ``decide`` may be called more than once (after losing a race to open the alert), each
    time with the alert as it then is; keep it free of side effects.
    """
    conflict: IntegrityError | None = None
    with session_for(engine) as session:
        for _ in range(_DECISION_ATTEMPTS):
            row = session.exec(_open_at(key).with_for_update()).one_or_none()
            if row is None and conflict is not None:
                # The failed INSERT did not collide with an open alert: a real error.
                raise conflict
            current = None if row is None else _alert(row)
            write = decide(current)
            _check(write, key=key, current=current)
            try:
                _store(session, row, current, write)
            except IntegrityError as exc:
                if row is not None:
                    raise  # an update broke a constraint: no race explains that
                # Another caller opened this key's alert since our read: decide again.
                session.rollback()
                conflict = exc
                continue
            session.commit()
            return write.outcome
    raise StoreError(f"gave up opening the alert for {key} after {_DECISION_ATTEMPTS} tries")


def get_alert(engine: Engine, *, alert_id: str) -> Alert | None:
    """The alert with this id, or ``None``."""
    with session_for(engine) as session:
        row = session.get(AlertRow, alert_id)
        return None if row is None else _alert(row)


def list_alerts(
    engine: Engine,
    *,
    state: AlertState | None = None,
    severity: Severity | None = None,
    workflow: str | None = None,
    limit: int = 100,
) -> list[Alert]:
    """Alerts matching every given filter, latest seen first, at most ``limit`` of them."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    query = select(AlertRow)
    if state is not None:
        query = query.where(col(AlertRow.state) == AlertState(state).value)
    if severity is not None:
        query = query.where(col(AlertRow.severity) == Severity(severity).value)
    if workflow is not None:
        query = query.where(col(AlertRow.workflow) == workflow)
    query = query.order_by(col(AlertRow.last_seen).desc(), col(AlertRow.id)).limit(limit)
    with session_for(engine) as session:
        return [_alert(row) for row in session.exec(query).all()]


def open_alerts(engine: Engine) -> list[Alert]:
    """Every open (ACTIVE or ACKNOWLEDGED) alert, oldest first (what ``tick`` walks)."""
    query = (
        select(AlertRow)
        .where(col(AlertRow.state) != AlertState.RESOLVED.value)
        .order_by(col(AlertRow.first_seen), col(AlertRow.id))
    )
    with session_for(engine) as session:
        return [_alert(row) for row in session.exec(query).all()]


def count_open(engine: Engine) -> int:
    """How many alerts are open (``active_count`` for ``rules.lifecycle.next_alert``)."""
    query = (
        select(func.count())
        .select_from(AlertRow)
        .where(col(AlertRow.state) != AlertState.RESOLVED.value)
    )
    with session_for(engine) as session:
        return session.exec(query).one()


def alert_history(engine: Engine, *, rule_id: str, limit: int = 10) -> list[Alert]:
    """The rule's alerts, open and resolved, newest first, at most ``limit`` of them."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    query = (
        select(AlertRow)
        .where(col(AlertRow.rule_id) == rule_id)
        .order_by(col(AlertRow.first_seen).desc(), col(AlertRow.id).desc())
        .limit(limit)
    )
    with session_for(engine) as session:
        return [_alert(row) for row in session.exec(query).all()]


def alert_events(engine: Engine, *, alert_id: str) -> list[AlertEvent]:
    """What happened to the alert, in order (empty for an unknown id)."""
    query = (
        select(AlertEventRow)
        .where(col(AlertEventRow.alert_id) == alert_id)
        .order_by(col(AlertEventRow.at), col(AlertEventRow.id))
    )
    with session_for(engine) as session:
        return [
            AlertEvent(kind=EventKind(row.kind), at=row.at, note=row.note)
            for row in session.exec(query).all()
        ]


_ALERT_GROUPS = select(col(AlertRow.severity), col(AlertRow.state), func.count()).group_by(
    col(AlertRow.severity), col(AlertRow.state)
)


def alert_statistics(engine: Engine) -> AlertStatistics:
    """Alert counts by state and by severity, counted by the database in one GROUP BY."""
    with session_for(engine) as session:
        return count_alerts(session)


def count_alerts(session: Session) -> AlertStatistics:
    """``alert_statistics`` in an open session (beside other reads)."""
    statistics = AlertStatistics(
        total=0,
        by_state=dict.fromkeys((state.value for state in AlertState), 0),
        by_severity=dict.fromkeys((severity.value for severity in Severity), 0),
        open_by_severity=dict.fromkeys((severity.value for severity in Severity), 0),
    )
    groups = session.execute(_ALERT_GROUPS).all()
    # At most 4 x 3 groups: spreading them over the three views is not counting rows.
    for severity, state, count in groups:
        statistics["total"] += count
        statistics["by_state"][state] += count
        statistics["by_severity"][severity] += count
        if state != AlertState.RESOLVED.value:
            statistics["open_by_severity"][severity] += count
    return statistics


def acknowledge_alert(engine: Engine, *, alert_id: str, by: str, now: datetime) -> Alert | None:
    """Acknowledge the alert as ``by``; None for an unknown id. A resolved alert raises."""
    return _change(
        engine,
        alert_id,
        change=lambda alert: acknowledge(alert, by=by, now=now),
        event=AlertEvent(EventKind.ACKNOWLEDGED, at=now, note=f"by {by}"),
    )


def resolve_alert(engine: Engine, *, alert_id: str, now: datetime) -> Alert | None:
    """Resolve the alert by hand (no notice is sent); None for an unknown id."""
    return _change(
        engine,
        alert_id,
        change=lambda alert: resolve(alert, now=now),
        event=AlertEvent(EventKind.RESOLVED, at=now, note="resolved by hand"),
    )


def _change(
    engine: Engine, alert_id: str, *, change: Callable[[Alert], Alert], event: AlertEvent
) -> Alert | None:
    # Locked like a decision: an acknowledgement must not overwrite a concurrent repeat.
    locked = select(AlertRow).where(col(AlertRow.id) == alert_id).with_for_update()
    with session_for(engine) as session:
        row = session.exec(locked).one_or_none()
        if row is None:
            return None
        before = _alert(row)
        after = change(before)
        # Acknowledging twice, or resolving a resolved alert, changes nothing: no event.
        if after != before:
            _require_aware_alert(after)
            _require_aware(event.at, "event at")
            _update(row, after)
            session.add(_event_row(row.id, event))
            session.commit()
        return after


def _open_at(key: AlertKey) -> SelectOfScalar[AlertRow]:
    rule_id, workflow, environment = key
    return select(AlertRow).where(
        col(AlertRow.rule_id) == rule_id,
        col(AlertRow.workflow) == workflow,
        col(AlertRow.environment) == environment,
        col(AlertRow.state) != AlertState.RESOLVED.value,
    )


def _check(write: AlertWrite[Any], *, key: AlertKey, current: Alert | None) -> None:
    alert = write.alert
    if alert is not None:
        if alert.key != key:
            raise ValueError(f"decided an alert for {alert.key}, not for {key}")
        if current is not None and alert.id != current.id:
            # A second open alert for the key, or a replaced history: neither is a decision.
            raise ValueError(f"alert {current.id} is open for {key}: update it, not {alert.id}")
        _require_aware_alert(alert)
    if write.events and alert is None and current is None:
        raise ValueError("history events need an alert to belong to")
    for event in write.events:
        _require_aware(event.at, "event at")


def _store(
    session: Session, row: AlertRow | None, current: Alert | None, write: AlertWrite[Any]
) -> None:
    if write.alert is not None and write.alert != current:
        if row is None:
            session.add(AlertRow(id=write.alert.id, **_columns(write.alert)))
        else:
            _update(row, write.alert)
            session.add(row)
        # Here, not at commit: a concurrent opener's INSERT fails on this line.
        session.flush()
    owner = write.alert if write.alert is not None else current
    alert_id = None if owner is None else owner.id
    if write.events:
        assert alert_id is not None, "checked by _check"
        session.add_all([_event_row(alert_id, event) for event in write.events])
    # Same session, same transaction: the deliveries commit with the alert or not at all.
    enqueue(session, requests=write.deliveries, alert_id=alert_id)
    session.flush()


def _update(row: AlertRow, alert: Alert) -> None:
    for name, value in _columns(alert).items():
        setattr(row, name, value)


def _event_row(alert_id: str, event: AlertEvent) -> AlertEventRow:
    return AlertEventRow(
        alert_id=alert_id, at=event.at, kind=EventKind(event.kind).value, note=event.note
    )


def _columns(alert: Alert) -> dict[str, Any]:
    return {
        "rule_id": alert.rule_id,
        "workflow": alert.workflow,
        "environment": alert.environment,
        "severity": Severity(alert.severity).value,
        "state": AlertState(alert.state).value,
        "message": alert.message,
        "first_seen": alert.first_seen,
        "last_seen": alert.last_seen,
        "count": alert.count,
        "channels": list(alert.channels),
        "last_notified_at": alert.last_notified_at,
        "notified": alert.notified,
        "acknowledged_by": alert.acknowledged_by,
        "acknowledged_at": alert.acknowledged_at,
        "resolved_at": alert.resolved_at,
        "escalated": alert.escalated,
        "details": {**dataclasses.asdict(alert.details), "matched": list(alert.details.matched)},
    }


_DETAIL_FIELDS = frozenset(field.name for field in dataclasses.fields(AlertDetails))


def _alert(row: AlertRow) -> Alert:
    # Keys a later version dropped are ignored, so old rows still read.
    details = {key: value for key, value in row.details.items() if key in _DETAIL_FIELDS}
    details["matched"] = tuple(details.get("matched", ()))
    return Alert(
        id=row.id,
        rule_id=row.rule_id,
        workflow=row.workflow,
        environment=row.environment,
        severity=Severity(row.severity),
        state=AlertState(row.state),
        message=row.message,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        count=row.count,
        channels=tuple(row.channels),
        last_notified_at=row.last_notified_at,
        notified=row.notified,
        acknowledged_by=row.acknowledged_by,
        acknowledged_at=row.acknowledged_at,
        resolved_at=row.resolved_at,
        escalated=row.escalated,
        details=AlertDetails(**details),
    )


def _require_aware_alert(alert: Alert) -> None:
    for name in ("first_seen", "last_seen", "last_notified_at", "acknowledged_at", "resolved_at"):
        value = getattr(alert, name)
        if value is not None:
            _require_aware(value, name)


def _require_aware(value: datetime, name: str) -> None:
    # A naive time is ambiguous; every worker compares against the stored one.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (UTC), got naive {value!r}")
