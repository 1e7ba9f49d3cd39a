"""Retries, Retry-After and circuit breakers end to end (SPEC §4).

A real Prefect server, a real target on 127.0.0.1 that counts (and timestamps) the
requests it receives, and a real SQLite store holding the breakers. Retry profiles are
inline with tiny delays, so backoff is real but short; the only real wait is the one
second a ``Retry-After: 1`` asks for, since that wait is the property under test.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from typer.testing import CliRunner

from store import DatabaseBreakerStore, RunRecord, get_run
from tasks.breaker import Breaker, BreakerState
from tasks.record import engine_for
from tests.runner.target import TargetLog
from tests.runner.test_workflow_runs import run_one, write_config
from wfmon.cli import app
from wfmon.results import ErrorType, RunStatus

pytestmark = pytest.mark.usefixtures("prefect_api")

# Wide enough that rich never wraps a table row (the width of a pipe is otherwise 80).
CLI_ENV = {"COLUMNS": "200"}


def quick_retry(max_attempts: int, *, max_delay_ms: int = 50) -> str:
    """An inline retry profile with tiny, unjittered delays and no breaker."""
    return (
        f"{{max_attempts: {max_attempts}, initial_delay_ms: 10, max_delay_ms: {max_delay_ms},"
        " jitter_factor: 0, enable_circuit_breaker: false}"
    )


@pytest.mark.parametrize(
    ("failures", "code", "max_attempts", "status", "attempts", "error_type"),
    [
        (1, 503, 4, RunStatus.PASSED, 2, None),
        (3, 502, 4, RunStatus.PASSED, 4, None),
        (2, 504, 3, RunStatus.PASSED, 3, None),
        (4, 503, 4, RunStatus.FAILED, 4, ErrorType.TRANSIENT),
        (9, 500, 3, RunStatus.FAILED, 3, ErrorType.TRANSIENT),
        (1, 408, 2, RunStatus.PASSED, 2, None),
        (5, 404, 4, RunStatus.FAILED, 1, ErrorType.PERMANENT),
        (5, 501, 4, RunStatus.FAILED, 2, ErrorType.UNKNOWN),  # UNKNOWN: retried once
    ],
    ids=[
        "503-once-passes",
        "502-thrice-passes-on-last-attempt",
        "504-twice-passes",
        "503-as-often-as-attempts-fails",
        "500-forever-fails",
        "408-timeout-is-retried",
        "404-tried-once",
        "501-unknown-tried-twice",
    ],
)
async def test_failing_step_is_retried_per_its_error_type(
    tmp_path: Path,
    target: tuple[str, TargetLog],
    database_file: str,
    failures: int,
    code: int,
    max_attempts: int,
    status: RunStatus,
    attempts: int,
    error_type: ErrorType | None,
) -> None:
    url, log = target
    config = write_config(
        tmp_path,
        url,
        f"""
        - name: flaky
          retry: {quick_retry(max_attempts)}
          steps:
            - name: call
              request: {{path: /flaky/call, query: {{fail: "{failures}", code: "{code}"}}}}
              assert: [status == 200]
        """,
    )
    record = await run_one(config, "flaky")
    result = record.result
    assert result.status is status, result
    [step] = result.steps
    assert step.attempts == attempts
    assert len(log.hits["call"]) == attempts  # every attempt reached the server, no more
    assert result.attempts == attempts  # one step: the run's retries are the step's
    assert result.error_type is error_type
    assert step.http_status == (200 if status is RunStatus.PASSED else code)
    stored = get_run(engine_for(database_file), run_id=record.id)
    assert stored is not None and stored.result.attempts == attempts


async def test_retry_after_is_honoured_as_seen_by_the_server(
    tmp_path: Path, target: tuple[str, TargetLog], database_file: str
) -> None:
    url, log = target
    # Backoff alone would wait 10 ms; only Retry-After: 1 makes it a second.
    config = write_config(
        tmp_path,
        url,
        f"""
        - name: limited
          retry: {quick_retry(3, max_delay_ms=5000)}
          steps:
            - {{name: call, request: {{path: /ratelimited/call}}, assert: [status == 200]}}
        """,
    )
    result = (await run_one(config, "limited")).result
    assert result.status is RunStatus.PASSED, result
    assert result.steps[0].attempts == 2
    first, second = log.hits["call"]
    assert second - first >= 1.0


async def test_retried_step_has_one_span_per_attempt(
    tmp_path: Path,
    target: tuple[str, TargetLog],
    database_file: str,
    spans: InMemorySpanExporter,
) -> None:
    url, _ = target
    config = write_config(
        tmp_path,
        url,
        f"""
        - name: traced
          retry: {quick_retry(3)}
          steps:
            - name: shaky call
              request: {{path: /flaky/shaky, query: {{fail: "1"}}}}
        """,
    )
    result = (await run_one(config, "traced")).result
    assert result.status is RunStatus.PASSED, result

    finished = spans.get_finished_spans()
    [step] = [s for s in finished if s.name == "step shaky call"]
    children = sorted(
        (s for s in finished if s.parent is not None and s.parent.span_id == step.context.span_id),
        key=lambda s: s.start_time or 0,
    )
    assert [(s.name, dict(s.attributes or {})) for s in children] == [
        (
            "attempt 1",
            {"wfmon.attempt": 1, "error.type": "TRANSIENT", "wfmon.retry.delay_ms": 10.0},
        ),
        ("attempt 2", {"wfmon.attempt": 2}),
    ]
    assert (step.attributes or {})["wfmon.step.attempts"] == 2


def breaker_list_rows() -> list[str]:
    """``wfmon breaker list`` output, one string per table line."""
    listed = CliRunner().invoke(app, ["breaker", "list"], env=CLI_ENV)
    assert listed.exit_code == 0, listed.output
    return listed.stdout.splitlines()


async def test_breaker_opens_skips_fast_and_lets_exactly_one_probe_through(
    tmp_path: Path, target: tuple[str, TargetLog], database_file: str
) -> None:
    url, log = target
    # The reset time is long so nothing depends on how fast runs go; the test moves the
    # breaker's clock forward itself (the flow takes no injected clock).
    config = write_config(
        tmp_path,
        url,
        """
        - name: trip
          retry:
            max_attempts: 1
            enable_circuit_breaker: true
            circuit_breaker_threshold: 2
            circuit_breaker_reset_time_ms: 60000
          # The probe's answer is held until the other racers finish; Prefect's SQLite
          # server can delay a flow run's start by seconds, so the hold must outlast the
          # default 10 s request timeout (seen in CI: the probe timed out and failed first).
          timeout: 120
          steps:
            - {name: call, request: {path: /switch/trip, timeout: 90}}
        """,
    )
    breakers = DatabaseBreakerStore(engine_for(database_file))
    key = "trip@test"

    first, second = [(await run_one(config, "trip")).result for _ in range(2)]
    assert [first.status, second.status] == [RunStatus.FAILED, RunStatus.FAILED]
    assert breakers.get_sync(key).state is BreakerState.OPEN
    assert len(log.hits["trip"]) == 2

    skipped = (await run_one(config, "trip")).result
    assert skipped.status is RunStatus.SKIPPED
    assert skipped.attempts == 0
    assert skipped.duration_ms < 50
    assert skipped.steps == ()
    assert len(log.hits["trip"]) == 2  # nothing was sent
    [row] = [line for line in breaker_list_rows() if key in line]
    assert "OPEN" in row.split()

    # Past the reset time, three runs race for the single half-open probe. The target holds
    # the probe's answer until the other two have finished, so they are decided while the
    # probe is in flight, however Prefect happens to schedule the three flow runs.
    def backdate(breaker: Breaker) -> tuple[Breaker, None]:
        assert breaker.opened_at is not None
        return dataclasses.replace(
            breaker, opened_at=breaker.opened_at - timedelta(minutes=2)
        ), None

    breakers.transition_sync(key, backdate)
    log.statuses["trip"] = 200
    log.holds["trip"] = release = threading.Event()
    racers = [asyncio.create_task(run_one(config, "trip")) for _ in range(3)]
    try:
        finished: set[asyncio.Task[RunRecord]] = set()
        while len(finished) < 2:
            done, _ = await asyncio.wait(
                set(racers) - finished, return_when=asyncio.FIRST_COMPLETED
            )
            finished |= done
        early = [task.result().result.status for task in finished]
        assert early == [RunStatus.SKIPPED, RunStatus.SKIPPED]
        assert len(log.hits["trip"]) == 3  # exactly one probe reached the server
    finally:
        release.set()
    [probe] = [await task for task in racers if task not in finished]
    assert probe.result.status is RunStatus.PASSED
    assert len(log.hits["trip"]) == 3
    assert breakers.get_sync(key) == Breaker()  # the probe's success closed the breaker

    after = (await run_one(config, "trip")).result
    assert after.status is RunStatus.PASSED
    assert len(log.hits["trip"]) == 4


async def test_breaker_reset_command_closes_an_open_breaker(
    tmp_path: Path, target: tuple[str, TargetLog], database_file: str
) -> None:
    url, log = target
    config = write_config(
        tmp_path,
        url,
        """
        - name: trip
          retry: {max_attempts: 1, circuit_breaker_threshold: 1}
          steps:
            - {name: call, request: {path: /switch/trip}}
        """,
    )
    breakers = DatabaseBreakerStore(engine_for(database_file))
    assert (await run_one(config, "trip")).result.status is RunStatus.FAILED
    assert breakers.get_sync("trip@test").state is BreakerState.OPEN
    runner = CliRunner()

    unknown = runner.invoke(app, ["breaker", "reset", "nope@test"], env=CLI_ENV)
    assert unknown.exit_code == 2, unknown.output
    assert "trip@test" in unknown.stderr  # it names the breakers that do exist
    assert breakers.get_sync("trip@test").state is BreakerState.OPEN

    reset = runner.invoke(app, ["breaker", "reset", "trip@test"], env=CLI_ENV)
    assert reset.exit_code == 0, reset.output
    assert breakers.get_sync("trip@test") == Breaker()
    [row] = [line for line in breaker_list_rows() if "trip@test" in line]
    assert "CLOSED" in row.split()

    log.statuses["trip"] = 200
    assert (await run_one(config, "trip")).result.status is RunStatus.PASSED
    assert len(log.hits["trip"]) == 2
