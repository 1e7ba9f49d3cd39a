"""The notification outbox on SQLite and PostgreSQL: queueing, claiming with a lease, the
outcome transitions, and that concurrent senders never claim the same delivery twice."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine

from store import (
    Delivery,
    DeliveryKind,
    DeliveryRequest,
    DeliveryStatus,
    claim_due,
    count_by_status,
    create_engine_for,
    enqueue,
    list_deliveries,
    mark_failed,
    mark_retry,
    mark_sent,
)
from tests.store.examples import T0

PENDING, RETRYING, SENT, FAILED = (
    DeliveryStatus.PENDING,
    DeliveryStatus.RETRYING,
    DeliveryStatus.SENT,
    DeliveryStatus.FAILED,
)
SENDERS = 8
LEASE = timedelta(minutes=1)


def request(channel: str = "ops-slack", *, at: datetime = T0, title: str = "t") -> DeliveryRequest:
    return DeliveryRequest(
        channel=channel, kind=DeliveryKind.NOTIFY, title=title, body="body text", at=at
    )


def queue(engine: Engine, *requests: DeliveryRequest) -> list[Delivery]:
    return enqueue(engine, requests=requests or (request(),))


def only(engine: Engine) -> Delivery:
    (delivery,) = list_deliveries(engine)
    return delivery


@pytest.fixture
def sender_engines(database_url: str, migrated_engine: Engine) -> Iterator[list[Engine]]:
    """One engine per concurrent sender, as separate maintenance workers would have."""
    engines = [create_engine_for(database_url) for _ in range(SENDERS)]
    for engine in engines:
        engine.connect().close()
    yield engines
    for engine in engines:
        engine.dispose()


# --- queueing ------------------------------------------------------------------------------


def test_enqueue_round_trip_keeps_every_field(migrated_engine: Engine) -> None:
    plus_two = timezone(timedelta(hours=2))
    at = T0.astimezone(plus_two)
    resolved = DeliveryRequest("pager", DeliveryKind.RESOLVED, "Resolved: x", "all good", at)

    (queued,) = enqueue(migrated_engine, requests=[resolved])
    stored = only(migrated_engine)

    assert stored == queued
    assert stored == Delivery(
        id=queued.id,
        alert_id=None,
        channel="pager",
        kind=DeliveryKind.RESOLVED,
        title="Resolved: x",
        body="all good",
        status=PENDING,
        attempts=0,
        next_attempt_at=T0,
        last_error=None,
        created_at=T0,
        sent_at=None,
    )
    assert stored.created_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (request("slack://token-a/token-b/token-c"), "not a URL"),
        (request("mailto://user:secret@example.com"), "not a URL"),
        (request(""), "channel name"),
        (request(at=datetime(2026, 5, 20, 12, 0)), "aware"),
    ],
    ids=["apprise-url", "credentials-url", "empty", "naive-time"],
)
def test_enqueue_refuses_urls_and_naive_times(
    migrated_engine: Engine, bad: DeliveryRequest, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        enqueue(migrated_engine, requests=[request("fine"), bad])

    assert list_deliveries(migrated_engine) == []  # not even the good one


# --- claiming ------------------------------------------------------------------------------


def test_claim_takes_due_deliveries_oldest_first_up_to_the_limit(migrated_engine: Engine) -> None:
    queue(
        migrated_engine,
        request(title="second", at=T0 + timedelta(seconds=1)),
        request(title="first", at=T0),
        request(title="future", at=T0 + timedelta(hours=1)),
        request(title="third", at=T0 + timedelta(seconds=2)),
    )

    claimed = claim_due(migrated_engine, now=T0 + timedelta(seconds=5), limit=2)

    assert [d.title for d in claimed] == ["first", "second"]
    rest = claim_due(migrated_engine, now=T0 + timedelta(seconds=5))
    assert [d.title for d in rest] == ["third"]


def test_a_claim_is_an_attempt_under_a_lease(migrated_engine: Engine) -> None:
    queue(migrated_engine)

    (claimed,) = claim_due(migrated_engine, now=T0, lease_ms=60_000)

    assert claimed.attempts == 1
    assert claimed.status is PENDING  # the lease, not the status, keeps others off it
    assert claimed.next_attempt_at == T0 + LEASE
    assert only(migrated_engine) == claimed
    # Nobody else gets it while the lease runs...
    assert claim_due(migrated_engine, now=T0 + LEASE - timedelta(microseconds=1)) == []
    # ...and a sender that died mid-send loses it when the lease ends: it is never lost.
    (again,) = claim_due(migrated_engine, now=T0 + LEASE)
    assert (again.id, again.attempts) == (claimed.id, 2)


@pytest.mark.parametrize(
    ("limit", "lease_ms", "now", "message"),
    [
        (0, 60_000, T0, "limit"),
        (1, 0, T0, "lease_ms"),
        (1, 60_000, datetime(2026, 5, 20, 12, 0), "aware"),
    ],
    ids=["limit", "lease", "naive-now"],
)
def test_claim_refuses_bad_arguments(
    migrated_engine: Engine, limit: int, lease_ms: int, now: datetime, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        claim_due(migrated_engine, now=now, limit=limit, lease_ms=lease_ms)


# --- outcomes ------------------------------------------------------------------------------


def test_sent_is_final(migrated_engine: Engine) -> None:
    (queued,) = queue(migrated_engine)
    claim_due(migrated_engine, now=T0)
    sent_at = T0 + timedelta(seconds=1)

    assert mark_sent(migrated_engine, delivery_id=queued.id, now=sent_at) is True

    delivery = only(migrated_engine)
    assert (delivery.status, delivery.sent_at, delivery.attempts) == (SENT, sent_at, 1)
    assert claim_due(migrated_engine, now=T0 + timedelta(days=1)) == []
    # A late report from a sender whose lease ran out changes nothing.
    late = queued.id
    assert mark_retry(migrated_engine, delivery_id=late, error="x", next_attempt_at=T0) is False
    assert mark_failed(migrated_engine, delivery_id=late, error="x") is False
    assert mark_sent(migrated_engine, delivery_id=late, now=T0) is False
    assert only(migrated_engine) == delivery


def test_retry_waits_for_its_time_then_is_claimed_again(migrated_engine: Engine) -> None:
    (queued,) = queue(migrated_engine)
    claim_due(migrated_engine, now=T0)
    retry_at = T0 + timedelta(seconds=30)

    assert mark_retry(
        migrated_engine, delivery_id=queued.id, error="HTTP 503", next_attempt_at=retry_at
    )

    delivery = only(migrated_engine)
    assert (delivery.status, delivery.last_error, delivery.next_attempt_at) == (
        RETRYING,
        "HTTP 503",
        retry_at,
    )
    assert claim_due(migrated_engine, now=retry_at - timedelta(microseconds=1)) == []
    (again,) = claim_due(migrated_engine, now=retry_at)
    assert (again.status, again.attempts) == (RETRYING, 2)
    assert mark_sent(migrated_engine, delivery_id=queued.id, now=retry_at)
    sent = only(migrated_engine)
    # The last error stays: it tells why the message was late.
    assert (sent.status, sent.last_error, sent.attempts) == (SENT, "HTTP 503", 2)


def test_failed_is_final_and_never_claimed(migrated_engine: Engine) -> None:
    (queued,) = queue(migrated_engine)

    assert mark_failed(migrated_engine, delivery_id=queued.id, error="unknown channel 'ops'")

    delivery = only(migrated_engine)
    assert (delivery.status, delivery.last_error) == (FAILED, "unknown channel 'ops'")
    assert claim_due(migrated_engine, now=T0 + timedelta(days=1)) == []


def test_marking_an_unknown_delivery_is_false(migrated_engine: Engine) -> None:
    assert mark_sent(migrated_engine, delivery_id=404, now=T0) is False
    assert mark_retry(migrated_engine, delivery_id=404, error="x", next_attempt_at=T0) is False
    assert mark_failed(migrated_engine, delivery_id=404, error="x") is False


# --- listing and counting ------------------------------------------------------------------


def test_list_filters_newest_first_and_counts_by_status(migrated_engine: Engine) -> None:
    a, b, c, d = queue(migrated_engine, *(request(title=t) for t in "abcd"))
    mark_sent(migrated_engine, delivery_id=a.id, now=T0)
    mark_retry(migrated_engine, delivery_id=b.id, error="e", next_attempt_at=T0)
    mark_failed(migrated_engine, delivery_id=c.id, error="e")

    assert [x.title for x in list_deliveries(migrated_engine)] == ["d", "c", "b", "a"]
    assert [x.id for x in list_deliveries(migrated_engine, status=SENT)] == [a.id]
    assert [x.id for x in list_deliveries(migrated_engine, status=PENDING)] == [d.id]
    assert [x.title for x in list_deliveries(migrated_engine, limit=2)] == ["d", "c"]
    assert count_by_status(migrated_engine) == {PENDING: 1, RETRYING: 1, SENT: 1, FAILED: 1}


def test_count_of_an_empty_outbox_has_every_status(migrated_engine: Engine) -> None:
    assert count_by_status(migrated_engine) == dict.fromkeys(DeliveryStatus, 0)


# --- concurrency: separate connections, as separate workers --------------------------------


def test_eight_senders_claim_every_due_delivery_exactly_once(
    migrated_engine: Engine, sender_engines: list[Engine]
) -> None:
    queued = queue(
        migrated_engine, *(request(title=str(n), at=T0 + timedelta(seconds=n)) for n in range(40))
    )
    queue(migrated_engine, request(title="not due", at=T0 + timedelta(hours=1)))
    now = T0 + timedelta(minutes=1)
    barrier = threading.Barrier(SENDERS)

    def sender(engine: Engine) -> list[int]:
        barrier.wait()
        claimed: list[int] = []
        while batch := claim_due(engine, now=now, limit=3):
            claimed.extend(delivery.id for delivery in batch)
        return claimed

    with ThreadPoolExecutor(max_workers=SENDERS) as pool:
        claims = [claimed for batch in pool.map(sender, sender_engines) for claimed in batch]

    assert sorted(claims) == sorted(delivery.id for delivery in queued)
    assert {d.attempts for d in list_deliveries(migrated_engine) if d.title != "not due"} == {1}
