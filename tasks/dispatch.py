"""Sending the outbox: claim what is due, deliver it through Apprise, record how it went.

The post-run flow sends what it just queued (so a message leaves seconds after the run,
not at the next maintenance tick); the maintenance flow sends whatever is still due. Both
call ``send_due``; the store's leased claims (``store.claim_due``) make sure two senders
never send the same delivery.

A delivery that fails is retried with backoff, without limit: a receiver that is down
for a day gets its messages when it is back (SPEC §5: never lost). Only a delivery that
cannot succeed is given up (``failed``): its channel is no longer in the config, or its
URL is not a valid Apprise URL. The error stored is masked (``tasks.notify``).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from store import Delivery, DeliveryKind, claim_due, mark_failed, mark_retry, mark_sent
from tasks.backoff import delay_ms
from tasks.messages import NotifyType
from tasks.notify import DEFAULT_TIMEOUT_S, adeliver
from wfmon.config.specs import RetryProfile
from wfmon.results import ErrorType
from wfmon.secrets import Redactor

__all__ = ["DELIVERY_BACKOFF", "SendReport", "send_due"]

# 5 s, 10 s, 20 s ... capped at 10 minutes, for as long as it takes.
DELIVERY_BACKOFF = RetryProfile(
    max_attempts=2,  # unused: deliveries are retried without limit
    initial_delay_ms=5_000,
    max_delay_ms=600_000,
    backoff_multiplier=2,
    jitter_factor=0.1,
    enable_circuit_breaker=False,
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class SendReport:
    """How many claimed deliveries went out, will be retried, or were given up."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0

    def __add__(self, other: SendReport) -> SendReport:
        return SendReport(
            self.sent + other.sent, self.retrying + other.retrying, self.failed + other.failed
        )


async def send_due(
    engine: Engine,
    *,
    channels: Mapping[str, Sequence[str]],
    redactor: Redactor | None = None,
    clock: Callable[[], datetime] = _utc_now,
    rng: random.Random | None = None,
    limit: int = 50,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> SendReport:
    """Claim up to ``limit`` due deliveries and send them, side by side.

    ``channels`` is the config's name -> Apprise URLs; ``clock`` decides what is due and
    when a retry is.
    """
    # The lease outlives the send's own timeout, so no second sender takes it meanwhile.
    lease_ms = int((timeout_s + 30) * 1000)
    claimed = await asyncio.to_thread(
        claim_due, engine, now=clock(), limit=limit, lease_ms=lease_ms
    )
    jitter = rng or random.Random()
    outcomes = await asyncio.gather(
        *(
            _send(
                engine,
                delivery,
                urls=channels.get(delivery.channel, ()),
                redactor=redactor,
                clock=clock,
                rng=jitter,
                timeout_s=timeout_s,
            )
            for delivery in claimed
        )
    )
    return sum(outcomes, SendReport())


async def _send(
    engine: Engine,
    delivery: Delivery,
    *,
    urls: Sequence[str],
    redactor: Redactor | None,
    clock: Callable[[], datetime],
    rng: random.Random,
    timeout_s: float,
) -> SendReport:
    if not urls:
        error = f"channel {delivery.channel!r} is not in the config's channels"
        await asyncio.to_thread(mark_failed, engine, delivery_id=delivery.id, error=error)
        return SendReport(failed=1)
    outcome = await adeliver(
        urls=urls,
        title=delivery.title,
        body=delivery.body,
        timeout_s=timeout_s,
        channel=delivery.channel,
        notify_type=_notify_type(delivery),
        redactor=redactor,
    )
    error = outcome.error or "delivery failed"
    if outcome.success:
        await asyncio.to_thread(mark_sent, engine, delivery_id=delivery.id, now=clock())
        return SendReport(sent=1)
    if outcome.error_type is ErrorType.PERMANENT:
        await asyncio.to_thread(mark_failed, engine, delivery_id=delivery.id, error=error)
        return SendReport(failed=1)
    wait = delay_ms(DELIVERY_BACKOFF, attempt=max(delivery.attempts, 1), rng=rng)
    retry_at = clock() + timedelta(milliseconds=wait)
    await asyncio.to_thread(
        mark_retry, engine, delivery_id=delivery.id, error=error, next_attempt_at=retry_at
    )
    return SendReport(retrying=1)


def _notify_type(delivery: Delivery) -> NotifyType:
    # The outbox keeps the rendered text, not the severity: an all-clear is a success,
    # anything else something to look at.
    return "success" if delivery.kind is DeliveryKind.RESOLVED else "failure"
