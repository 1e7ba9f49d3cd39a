"""Workflow runs end to end: a real Prefect server, a real target on 127.0.0.1, a real store."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from sqlalchemy import inspect, text

from flows.workflow import run_workflows
from store import RunRecord, get_run
from tasks.record import engine_for
from tests.runner.target import TargetLog
from wfmon.results import ErrorType, RunStatus

pytestmark = pytest.mark.usefixtures("prefect_api")


def write_config(tmp_path: Path, base_url: str, workflows: str) -> str:
    """A config file with one environment and the given ``workflows:`` block."""
    path = tmp_path / "wfmon.yaml"
    path.write_text(
        f"environments:\n  test: {{base_url: '{base_url}'}}\n"
        "default_environment: test\n"
        "workflows:\n" + textwrap.indent(textwrap.dedent(workflows), "  ")
    )
    return str(path)


async def run_one(config_path: str, name: str) -> RunRecord:
    [record] = await run_workflows([name], environment=None, config_path=config_path)
    return record


async def test_steps_share_cookies_and_extracted_values(
    tmp_path: Path, target: tuple[str, TargetLog], database_file: str
) -> None:
    url, log = target
    config = write_config(
        tmp_path,
        url,
        """
        - name: sign-in-flow
          priority: high
          tags: [auth]
          steps:
            - name: sign in
              request: {method: POST, path: /login, json: {password: hunter2}}
              extract: {token: body.token, user_id: body.user.id}
              assert: [status == 200, body.token exists]
            - name: profile
              request: {path: /me, headers: {Authorization: "Bearer ${token}"}}
              assert: ["status == 200", "body.id == ${user_id}"]
            - name: sign out
              always_run: true
              request: {method: POST, path: /logout}
              assert: [status == 204]
        """,
    )
    record = await run_one(config, "sign-in-flow")
    result = record.result
    assert result.status is RunStatus.PASSED, result
    assert [step.name for step in result.steps] == ["sign in", "profile", "sign out"]
    assert [step.http_status for step in result.steps] == [200, 200, 204]
    assert result.steps[1].conditions[1].display.startswith("body.id")
    assert all(c.success for step in result.steps for c in step.conditions)
    assert log.requests == [("POST", "/login"), ("GET", "/me"), ("POST", "/logout")]
    assert result.trace_id is not None and len(result.trace_id) == 32

    stored = get_run(engine_for(database_file), run_id=record.id)
    assert stored is not None and stored.result == result

    async with get_client() as client:
        [flow_run] = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[result.flow_run_id]))
        )
        assert flow_run.name == "sign-in-flow"
        assert {"workflow:sign-in-flow", "priority:high", "env:test", "auth"} <= set(flow_run.tags)
        task_runs = await client.read_task_runs()
        names = {run.name for run in task_runs if run.flow_run_id == flow_run.id}
        assert {"sign in", "profile", "sign out"} <= names
        artifacts = await client.read_latest_artifacts()
        assert any(a.key == "sign-in-flow-steps" for a in artifacts)


async def test_only_always_run_steps_follow_a_failure(
    tmp_path: Path, target: tuple[str, TargetLog], database_file: str
) -> None:
    url, log = target
    config = write_config(
        tmp_path,
        url,
        """
        - name: broken
          retry: {max_attempts: 1}
          steps:
            - {name: fails, request: {path: /status/404}}
            - {name: skipped, request: {path: /status/200}}
            - {name: cleanup, always_run: true, request: {method: POST, path: /logout}}
        """,
    )
    result = (await run_one(config, "broken")).result
    assert result.status is RunStatus.FAILED
    assert result.failed_step == "fails"
    assert result.error_type is ErrorType.PERMANENT
    assert result.error_message == "status (404) < 400"
    assert [step.name for step in result.steps] == ["fails", "cleanup"]
    assert ("GET", "/status/200") not in log.requests


async def test_slow_passing_run_is_degraded_and_durations_cover_the_exchange(
    tmp_path: Path, target: tuple[str, TargetLog], database_file: str
) -> None:
    url, _ = target
    config = write_config(
        tmp_path,
        url,
        """
        - name: sluggish
          degraded_after_ms: 100
          steps:
            - {name: slow, request: {path: /slow, query: {ms: "150"}}, assert: [status == 200]}
        """,
    )
    result = (await run_one(config, "sluggish")).result
    assert result.status is RunStatus.DEGRADED
    assert result.steps[0].duration_ms >= 150
    assert result.duration_ms >= result.steps[0].duration_ms


@pytest.mark.parametrize(
    ("workflow", "error_type", "message"),
    [
        (
            """
            - name: probe
              retry: {max_attempts: 1}
              steps:
                - {name: call, request: {path: /slow, query: {ms: "2000"}, timeout: 0.2}}
            """,
            ErrorType.TIMEOUT,
            "ReadTimeout",
        ),
        (
            """
            - name: probe
              retry: {max_attempts: 1}
              timeout: 0.3
              steps:
                - {name: first, request: {path: /slow, query: {ms: "100"}}}
                - {name: second, request: {path: /slow, query: {ms: "2000"}}}
            """,
            ErrorType.TIMEOUT,
            "workflow timed out after 0.3 s",
        ),
    ],
    ids=["request-timeout", "workflow-timeout"],
)
async def test_timeouts_are_recorded_as_timeout(
    tmp_path: Path,
    target: tuple[str, TargetLog],
    database_file: str,
    workflow: str,
    error_type: ErrorType,
    message: str,
) -> None:
    url, _ = target
    record = await run_one(write_config(tmp_path, url, workflow), "probe")
    result = record.result
    assert result.status is RunStatus.FAILED
    assert result.error_type is error_type
    assert result.error_message is not None and message in result.error_message
    stored = get_run(engine_for(database_file), run_id=record.id)
    assert stored is not None and stored.result.error_type is error_type


async def test_refused_connection_is_network(
    tmp_path: Path, closed_port_url: str, database_file: str
) -> None:
    config = write_config(
        tmp_path,
        closed_port_url,
        """
        - name: probe
          retry: {max_attempts: 1}
          steps:
            - {name: call, request: {path: /health}}
        """,
    )
    result = (await run_one(config, "probe")).result
    assert result.status is RunStatus.FAILED
    assert result.error_type is ErrorType.NETWORK
    assert result.steps[0].http_status is None


async def test_many_workflows_run_concurrently_in_one_call(
    tmp_path: Path, target: tuple[str, TargetLog], database_file: str
) -> None:
    url, _ = target
    config = write_config(
        tmp_path,
        url,
        "".join(
            f"""
            - name: wf-{n}
              steps:
                - {{name: slow, request: {{path: /slow, query: {{ms: "5000"}}}}}}
            """
            for n in range(4)
        ),
    )
    records = await run_workflows(
        [f"wf-{n}" for n in range(4)], environment=None, config_path=config
    )
    assert [r.result.status for r in records] == [RunStatus.PASSED] * 4
    spans = [(r.result.started_at, r.result.finished_at) for r in records]
    # Concurrent: some runs were in flight at the same time (run one by one, none would be).
    # Each run is 5 s long: Prefect's client on its SQLite server can stagger flow run
    # starts by its 2 s busy-retry, and runs of 1.5 s then never overlapped.
    overlapping = [
        (a, b) for a in spans for b in spans if a is not b and a[0] < b[1] and b[0] < a[1]
    ]
    assert overlapping, spans


SECRET = "s3cr3t-V4lue-9f8e7d"


async def test_env_secrets_never_leave_the_process(
    tmp_path: Path,
    target: tuple[str, TargetLog],
    database_file: str,
    monkeypatch: pytest.MonkeyPatch,
    spans: InMemorySpanExporter,
) -> None:
    url, _ = target
    monkeypatch.setenv("WFMON_TEST_SECRET", SECRET)
    config = write_config(
        tmp_path,
        url,
        """
        - name: leaky
          retry: {max_attempts: 1}
          steps:
            - name: in url
              request: {path: "/echo/${env.WFMON_TEST_SECRET}"}
              assert: ["body.tail == nope"]
            - name: everywhere
              always_run: true
              request:
                method: POST
                path: /echo
                headers: {X-Token: "${env.WFMON_TEST_SECRET}"}
                query: {key: "${env.WFMON_TEST_SECRET}"}
                body: "password=${env.WFMON_TEST_SECRET}"
              assert:
                - body.headers.x-token == nope
                - body contains nothing-like-this
                - body.query.key == ${env.WFMON_TEST_SECRET}
        """,
    )
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep = Keep(level=logging.DEBUG)
    watched = [logging.getLogger(), logging.getLogger("prefect"), logging.getLogger("httpx")]
    for logger in watched:
        logger.addHandler(keep)
    try:
        result = (await run_one(config, "leaky")).result
    finally:
        for logger in watched:
            logger.removeHandler(keep)

    # The run really exercised the secret: the echo returned it, the conditions saw it.
    assert result.status is RunStatus.FAILED
    [echoed] = [c for c in result.steps[1].conditions if c.condition.startswith("body.query.key")]
    assert echoed.success
    assert "***" in (result.steps[1].error_message or "")

    leaks: list[str] = []
    with engine_for(database_file).connect() as connection:
        for table in inspect(connection).get_table_names():
            for row in connection.execute(text(f"SELECT * FROM {table}")):
                if SECRET in repr(tuple(row)):
                    leaks.append(f"row in {table}")
    for record in records:
        if SECRET in record.getMessage():
            leaks.append(f"log {record.name}")
    for span in spans.get_finished_spans():
        for key, value in (span.attributes or {}).items():
            if SECRET in str(value):
                leaks.append(f"span {span.name} {key}")
        if SECRET in span.name:
            leaks.append(f"span name {span.name}")
    async with get_client() as client:
        for artifact in await client.read_artifacts():
            if SECRET in str(artifact.data) or SECRET in str(artifact.description):
                leaks.append(f"artifact {artifact.key}")
    assert leaks == []
    assert any(s.name == "step everywhere" for s in spans.get_finished_spans())
