"""The circuit breaker around whole runs, shared through the database (SPEC §4).

Plain coroutines rather than Prefect tasks: the check sits on every run's hot path and
an open breaker must answer in milliseconds, without a task run's bookkeeping.
"""

from __future__ import annotations

from datetime import UTC, datetime

from store import DatabaseBreakerStore, breaker_key
from tasks.breaker import Admission, Breaker, BreakerPolicy, admit, record
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
    policy = BreakerPolicy.from_profile(profile)
    at = now or datetime.now(UTC)
    return await store.transition(
        breaker_key(workflow, environment), lambda breaker: admit(breaker, policy=policy, now=at)
    )


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
    policy = BreakerPolicy.from_profile(profile)
    at = now or datetime.now(UTC)

    def settle(breaker: Breaker) -> tuple[Breaker, None]:
        return record(breaker, policy=policy, success=success, now=at), None

    await store.transition(breaker_key(workflow, environment), settle)
