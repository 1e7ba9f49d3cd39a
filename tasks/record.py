"""Storing a finished run: one transaction per run, retried while the database is down.

A plain coroutine, not a task run: it sits on every run's critical path, and the retry
it needs is the resilience library's (``tasks.retry``), so a task run would only add
orchestration round trips.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine

from store import RunRecord, StoreUnavailable, create_engine_for, record_run
from tasks.retry import RetryableError, with_retry
from wfmon.config.specs import RetryProfile
from wfmon.results import ErrorType, RunResult

# A database that is down for a while delays the record; it does not drop it:
# about 8.5 minutes of capped backoff before the run's flow fails loudly.
T = TypeVar("T")

STORE_RETRY = RetryProfile(
    max_attempts=12,
    initial_delay_ms=500,
    max_delay_ms=60_000,
    backoff_multiplier=2,
    jitter_factor=0.1,
    enable_circuit_breaker=False,
)


@functools.cache
def engine_for(database_url: str) -> Engine:
    """One engine (and connection pool) per database per process."""
    return create_engine_for(database_url)


async def store_run(result: RunResult, *, database_url: str) -> RunRecord:
    """Write the run and its steps; raises the store's error once retries run out."""
    engine = engine_for(database_url)
    run_id = await in_store(
        functools.partial(record_run, engine, result=result), f"record {result.workflow}"
    )
    return RunRecord(id=run_id, result=result)


async def in_store(call: Callable[[], T], what: str) -> T:
    """``call`` (blocking store I/O) in a worker thread, retried while the database is down.

    Raises the store's error once ``STORE_RETRY`` runs out, or at once for any other error.
    """

    async def attempt() -> T:
        try:
            return await asyncio.to_thread(call)
        except StoreUnavailable as unreachable:
            # Only an unreachable database is worth waiting for; bad data fails again.
            raise RetryableError(str(unreachable), error_type=ErrorType.NETWORK) from unreachable

    outcome = await with_retry(attempt, what, STORE_RETRY)
    if outcome.success:
        return outcome.data  # type: ignore[return-value]  # success carries the call's value
    raise outcome.error or RuntimeError(f"{what} ended without a result")
