"""The circuit breaker around whole runs, shared through the database (SPEC §4).

Plain coroutines rather than Prefect tasks: the check sits on every run's hot path and
an open breaker must answer in milliseconds, without a task run's bookkeeping.

The common case, a CLOSED breaker with nothing to record, is one plain read: CLOSED
admits everyone, so no write lock is needed to decide. Only a breaker that is not
CLOSED, or has failures to clear, goes through the locked read-modify-write; racing a
breaker that is just opening lets at most the runs already in flight through, which
they would have been anyway.
"""

from __future__ import annotations

from datetime import UTC, datetime

from store import DatabaseBreakerStore, breaker_key
from tasks.breaker import Admission, Breaker, BreakerPolicy, BreakerState, admit, record
from wfmon.config.specs import RetryProfile


async def admit_run(
    store: DatabaseBreakerStore,
    *,
    workflow: str,
    environment: str,
    profile: RetryProfile,
    now: datetime | None = None,
) -> Admission:
    """May this run go ahead? ALLOWED, PROBE (the one half-open trial) or REJECTED."""
    if not profile.enable_circuit_breaker:
        return Admission.ALLOWED
    key = breaker_key(workflow, environment)
    if (await store.get(key)).state is BreakerState.CLOSED:
        return Admission.ALLOWED
    policy = BreakerPolicy.from_profile(profile)
    at = now or datetime.now(UTC)
    return await store.transition(key, lambda breaker: admit(breaker, policy=policy, now=at))


async def settle_run(
    store: DatabaseBreakerStore,
    *,
    workflow: str,
    environment: str,
    profile: RetryProfile,
    success: bool,
    now: datetime | None = None,
) -> None:
    """Count the run's outcome: failures open the breaker, a success closes it."""
    if not profile.enable_circuit_breaker:
        return
    key = breaker_key(workflow, environment)
    if success:
        current = await store.get(key)
        if current.state is BreakerState.CLOSED and current.consecutive_failures == 0:
            return  # nothing to count, nothing to clear
    policy = BreakerPolicy.from_profile(profile)
    at = now or datetime.now(UTC)

    def settle(breaker: Breaker) -> tuple[Breaker, None]:
        return record(breaker, policy=policy, success=success, now=at), None

    await store.transition(key, settle)
