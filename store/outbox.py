"""The notification outbox: every delivery to a channel, stored before it is sent (SPEC §5).

A delivery is written in the same transaction as the alert change that calls for it
(``store.alerts.apply_alert_decision``), so a crash either keeps both or neither: no
notification is lost, and none is queued twice. Senders then poll:

- ``claim_due`` takes due ``pending`` / ``retrying`` deliveries and pushes their
  ``next_attempt_at`` forward by a lease, in one transaction. Two senders never claim the
  same delivery: PostgreSQL locks the rows ``FOR UPDATE SKIP LOCKED`` (a second sender skips
  them rather than waiting), and SQLite's ``BEGIN IMMEDIATE`` (``store.database``) runs
  claims one at a time. A sender that dies mid-send loses only its lease: the delivery comes
  due again when the lease ends. Sending is therefore at least once; a crash between the
  send and ``mark_sent`` can repeat a message, never drop it.
- ``mark_sent`` / ``mark_retry`` / ``mark_failed`` record the outcome.

Retry policy (the sender's to apply, this module's to allow): a failed send is
``mark_retry``-ed with a capped exponential backoff (``tasks.backoff``) and retried *for
ever*: an outage of the chat service is not a reason to forget an alert. ``mark_failed`` is
only for errors no retry can fix, such as a channel name the config does not know.

Only the channel's *name* is stored. Its Apprise URLs carry credentials; the sender looks
them up in the config at send time, and a name that looks like a URL is refused.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, func, update
from sqlmodel import Session, col, select

from store.sessions import session_for
from store.tables import DeliveryRow

__all__ = [
    "Delivery",
    "DeliveryKind",
    "DeliveryRequest",
    "DeliveryStatus",
    "claim_due",
    "count_by_status",
    "enqueue",
    "list_deliveries",
    "mark_failed",
    "mark_retry",
    "mark_sent",
]


class DeliveryKind(enum.StrEnum):
    """Why a notification is sent; ``rules.lifecycle.ActionKind`` minus SUPPRESS."""

    NOTIFY = "notify"
    REMIND = "remind"
    RESOLVED = "resolved"
    ESCALATE = "escalate"


class DeliveryStatus(enum.StrEnum):
    """Where a delivery is: waiting (``pending``, ``retrying``) or done (``sent``, ``failed``)."""

    PENDING = "pending"
    RETRYING = "retrying"
    SENT = "sent"
    FAILED = "failed"


# The statuses a sender may still claim (and mark).
_WAITING = (DeliveryStatus.PENDING.value, DeliveryStatus.RETRYING.value)


@dataclass(frozen=True, slots=True)
class DeliveryRequest:
    """A notification to queue for one channel, due at once."""

    channel: str  # the channel's name in the config, never its URL
    kind: DeliveryKind
    title: str
    body: str
    at: datetime  # when it was decided: its ``created_at`` and first ``next_attempt_at``


@dataclass(frozen=True, slots=True)
class Delivery:
    """A stored delivery and how sending it has gone so far."""

    id: int
    alert_id: str | None
    channel: str
    kind: DeliveryKind
    title: str
    body: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


def enqueue(
    target: Engine | Session,
    *,
    requests: Sequence[DeliveryRequest],
    alert_id: str | None = None,
) -> list[Delivery]:
    """Queue ``requests`` as ``pending``; on a ``Session``, inside the caller's transaction.

    Given an engine, the deliveries are committed in a transaction of their own. Given a
    session, they are only flushed: they commit or roll back with the caller's work.
    """
    rows = [_row(request, alert_id=alert_id) for request in requests]
    if isinstance(target, Session):
        return _add(target, rows)
    with session_for(target) as session:
        deliveries = _add(session, rows)
        session.commit()
    return deliveries


def claim_due(
    engine: Engine, *, now: datetime, limit: int = 50, lease_ms: int = 60_000
) -> list[Delivery]:
    """Claim up to ``limit`` deliveries due at ``now``, oldest first, for ``lease_ms``.

    Each claim counts as an attempt. A claimed delivery keeps its status; its
    ``next_attempt_at`` moves to the lease's end, so no other sender takes it before then.
    """
    _require_aware(now, "now")
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    if lease_ms < 1:
        raise ValueError(f"lease_ms must be at least 1, got {lease_ms}")
    due = (
        select(DeliveryRow)
        .where(col(DeliveryRow.status).in_(_WAITING), col(DeliveryRow.next_attempt_at) <= now)
        .order_by(col(DeliveryRow.next_attempt_at), col(DeliveryRow.id))
        .limit(limit)
        # Rows another sender is claiming are skipped, not waited for (PostgreSQL; SQLite
        # drops the clause and serialises claims with BEGIN IMMEDIATE instead).
        .with_for_update(skip_locked=True)
    )
    lease_until = now + timedelta(milliseconds=lease_ms)
    with session_for(engine) as session:
        rows = session.exec(due).all()
        for row in rows:
            row.next_attempt_at = lease_until
            row.attempts += 1
        session.flush()
        # Read before the commit expires the rows.
        claimed = [_delivery(row) for row in rows]
        session.commit()
    return claimed


def mark_sent(engine: Engine, *, delivery_id: int, now: datetime) -> bool:
    """Record that the delivery went out; False if it is unknown or already done."""
    _require_aware(now, "now")
    return _finish(engine, delivery_id, {"status": DeliveryStatus.SENT.value, "sent_at": now})


def mark_retry(engine: Engine, *, delivery_id: int, error: str, next_attempt_at: datetime) -> bool:
    """Record a failed send to try again at ``next_attempt_at``; False if unknown or done."""
    _require_aware(next_attempt_at, "next_attempt_at")
    values = {
        "status": DeliveryStatus.RETRYING.value,
        "last_error": error,
        "next_attempt_at": next_attempt_at,
    }
    return _finish(engine, delivery_id, values)


def mark_failed(engine: Engine, *, delivery_id: int, error: str) -> bool:
    """Give up on the delivery (a permanent error only); False if unknown or already done."""
    values = {"status": DeliveryStatus.FAILED.value, "last_error": error}
    return _finish(engine, delivery_id, values)


def list_deliveries(
    engine: Engine,
    *,
    status: DeliveryStatus | None = None,
    alert_id: str | None = None,
    limit: int = 100,
) -> list[Delivery]:
    """Deliveries matching every given filter, newest first, at most ``limit`` of them."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    query = select(DeliveryRow)
    if status is not None:
        query = query.where(col(DeliveryRow.status) == DeliveryStatus(status).value)
    if alert_id is not None:
        query = query.where(col(DeliveryRow.alert_id) == alert_id)
    query = query.order_by(col(DeliveryRow.id).desc()).limit(limit)
    with session_for(engine) as session:
        return [_delivery(row) for row in session.exec(query).all()]


def count_by_status(engine: Engine) -> dict[DeliveryStatus, int]:
    """How many deliveries are in each status (every status present, zero included)."""
    query = select(DeliveryRow.status, func.count()).group_by(col(DeliveryRow.status))
    counts = dict.fromkeys(DeliveryStatus, 0)
    with session_for(engine) as session:
        for status, count in session.exec(query).all():
            counts[DeliveryStatus(status)] = count
    return counts


def _finish(engine: Engine, delivery_id: int, values: Mapping[str, object]) -> bool:
    # Only a waiting delivery changes: a late report from a sender whose lease ran out must
    # not turn a delivery another sender already sent back into a retry.
    statement = (
        update(DeliveryRow)
        .where(col(DeliveryRow.id) == delivery_id, col(DeliveryRow.status).in_(_WAITING))
        .values(values)
    )
    with session_for(engine) as session:
        # An UPDATE's result is a CursorResult; Session.execute is typed for any statement.
        changed = cast("CursorResult[Any]", session.execute(statement)).rowcount
        session.commit()
    return bool(changed)


def _add(session: Session, rows: list[DeliveryRow]) -> list[Delivery]:
    session.add_all(rows)
    session.flush()  # assigns the ids
    return [_delivery(row) for row in rows]


def _row(request: DeliveryRequest, *, alert_id: str | None) -> DeliveryRow:
    if not request.channel or "://" in request.channel:
        # A URL here would put its credentials in the database (and in every listing).
        raise ValueError(f"channel must be a channel name, not a URL: {request.channel!r}")
    _require_aware(request.at, "at")
    return DeliveryRow(
        alert_id=alert_id,
        channel=request.channel,
        kind=DeliveryKind(request.kind).value,
        title=request.title,
        body=request.body,
        status=DeliveryStatus.PENDING.value,
        attempts=0,
        next_attempt_at=request.at,
        created_at=request.at,
    )


def _delivery(row: DeliveryRow) -> Delivery:
    assert row.id is not None, "a stored delivery has an id"
    return Delivery(
        id=row.id,
        alert_id=row.alert_id,
        channel=row.channel,
        kind=DeliveryKind(row.kind),
        title=row.title,
        body=row.body,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        created_at=row.created_at,
        sent_at=row.sent_at,
    )


def _require_aware(value: datetime, name: str) -> None:
    # A naive time is ambiguous, and every sender compares against it.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (UTC), got naive {value!r}")
