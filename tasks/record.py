"""Storing a finished run: one transaction per run, retried while the database is down.

A plain coroutine, not a task run: it sits on every run's critical path, and the retry
it needs is the resilience library's (``tasks.retry``), so a task run would only add
orchestration round trips.
"""

from __future__ import annotations

import asyncio
import functools

from sqlalchemy import Engine

from store import RunRecord, StoreUnavailable, create_engine_for, record_run
from tasks.retry import RetryableError, with_retry
from wfmon.config.specs import RetryProfile
from wfmon.results import ErrorType, RunResult

# A database that is down for a while delays the record; it does not drop it:
# about 8.5 minutes of capped backoff before the run's flow fails loudly.
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

    async def write() -> RunRecord:
        try:
            run_id = await asyncio.to_thread(record_run, engine, result=result)
        except StoreUnavailable as unreachable:
            # Only an unreachable database is worth waiting for; bad data fails again.
            raise RetryableError(str(unreachable), error_type=ErrorType.NETWORK) from unreachable
        return RunRecord(id=run_id, result=result)

    outcome = await with_retry(write, f"record {result.workflow}", STORE_RETRY)
    if outcome.data is not None:
        return outcome.data
    raise outcome.error or RuntimeError("record_run ended without a result")
