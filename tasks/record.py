"""The Prefect task that stores a finished run: one transaction per run."""

from __future__ import annotations

import asyncio
import functools

from prefect import State, task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import Engine

from store import RunRecord, StoreUnavailable, create_engine_for, record_run
from wfmon.results import RunResult


@functools.cache
def engine_for(database_url: str) -> Engine:
    """One engine (and connection pool) per database per process."""
    return create_engine_for(database_url)


def _store_unreachable(task: object, task_run: object, state: State[object]) -> bool:
    # Only an unreachable database is worth waiting for; bad data fails the same way again.
    return isinstance(state.data, StoreUnavailable)


@task(
    name="record-run",
    task_run_name="record {result.workflow}",
    cache_policy=NO_CACHE,
    persist_result=False,
    # A database that is down for a while delays the record; it does not drop it.
    retries=6,
    retry_delay_seconds=[1, 2, 5, 10, 30, 60],
    retry_condition_fn=_store_unreachable,
)
async def store_run(result: RunResult, *, database_url: str) -> RunRecord:
    """Write the run and its steps; retried while the database is unreachable."""
    engine = engine_for(database_url)
    run_id = await asyncio.to_thread(record_run, engine, result=result)
    return RunRecord(id=run_id, result=result)
