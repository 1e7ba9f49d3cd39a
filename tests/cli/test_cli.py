"""The ``wfmon`` command line in-process (typer's CliRunner): exit codes and output (SPEC §3).

Runs go through the real flow, a real Prefect test server and a real target on 127.0.0.1.
``wfmon run`` calls ``asyncio.run`` itself, so these tests are synchronous.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy
from typer.testing import CliRunner

from store import DatabaseBreakerStore, get_run, upgrade
from tasks.breaker import Breaker, BreakerState
from tasks.record import engine_for
from tests.fixtures.servers import serve_asgi
from tests.runner.target import TargetLog, create_target
from tests.runner.test_workflow_runs import write_config
from tests.store.test_records import CONDITION_KEYS, RUN_KEYS, STEP_KEYS
from wfmon.cli import app

# rich wraps at the terminal's width, and a pipe's width depends on where pytest runs:
# a fixed, wide one keeps output deterministic (wrapping itself is tested on its own).
WIDE = {"COLUMNS": "1000"}


WORKFLOWS = """
- name: ok
  retry: {max_attempts: 1}
  steps:
    - {name: home, request: {path: /status/200}, assert: [status == 200]}
- name: broken
  retry: {max_attempts: 1}
  steps:
    - {name: missing, request: {path: /status/404}}
"""

# Lines 1-2 an environment, 3 `workflows:`, 4 the workflow, 5 `steps:`, 6-8 the step.
INVALID = """\
environments:
  test: {base_url: 'ftp://example.com'}
workflows:
  - name: Bad Name
    steps:
      - name: home
        request: {path: /, method: FETCH}
        assert: [status => 200]
"""
INVALID_LINES = [
    "wfmon.yaml:2: environments.test.base_url: base_url must be an absolute http(s) URL, "
    "got 'ftp://example.com'",
    "wfmon.yaml:4: workflows[0].name: invalid workflow name 'Bad Name': use [a-z0-9][a-z0-9-]*",
    "wfmon.yaml:7: workflows[0].steps[0].request.method: unknown HTTP method 'FETCH' "
    "(use DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT)",
    "wfmon.yaml:8: workflows[0].steps[0].assert[0]: unknown operator '=>'",
]


@pytest.fixture
def target_url() -> Iterator[str]:
    """The runner tests' target app on a real socket."""
    with serve_asgi(create_target(TargetLog())) as url:
        yield url


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh SQLite URL (no tables yet) that the CLI reads from WFMON_DATABASE_URL."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("WFMON_DATABASE_URL", url)
    return url


def invalid_config(tmp_path: Path) -> Path:
    path = tmp_path / "wfmon.yaml"
    path.write_text(INVALID)
    return path


def test_validate_accepts_a_good_config(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9", WORKFLOWS)
    result = CliRunner().invoke(app, ["validate", "--config", config], env=WIDE)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith("valid (2 workflow(s), 1 environment(s))")


def test_validate_prints_every_error_and_exits_2(tmp_path: Path) -> None:
    path = invalid_config(tmp_path)
    result = CliRunner().invoke(app, ["validate", "--config", str(path)], env=WIDE)
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    for expected in INVALID_LINES:
        assert f"{tmp_path}/{expected}" in lines
    assert f"{len(INVALID_LINES)} error(s) in {path}" in lines
    assert result.stdout == ""


def test_validate_never_wraps_error_lines(tmp_path: Path) -> None:
    path = invalid_config(tmp_path)
    result = CliRunner().invoke(app, ["validate", "--config", str(path)], env={"COLUMNS": "80"})
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert [f"{tmp_path}/{expected}" in lines for expected in INVALID_LINES] == [True] * len(
        INVALID_LINES
    )


@pytest.mark.usefixtures("prefect_api")
def test_run_json_prints_the_run_records(
    tmp_path: Path, target_url: str, database_url: str
) -> None:
    config = write_config(tmp_path, target_url, WORKFLOWS)
    result = CliRunner().invoke(
        app, ["run", "--config", config, "--workflow", "ok", "--json"], env=WIDE
    )
    assert result.exit_code == 0, result.output
    # stdout is the JSON alone: no log line, no table, nothing before or after it.
    records = json.loads(result.stdout)
    assert isinstance(records, list) and len(records) == 1
    [record] = records
    assert set(record) == RUN_KEYS
    assert (record["workflowName"], record["environment"], record["status"]) == (
        "ok",
        "test",
        "passed",
    )
    [step] = record["steps"]
    assert set(step) == STEP_KEYS
    assert (step["name"], step["httpStatus"], step["attempts"]) == ("home", 200, 1)
    [condition] = step["conditions"]
    assert set(condition) == CONDITION_KEYS
    assert condition["success"] is True
    stored = get_run(engine_for(database_url), run_id=uuid.UUID(record["id"]))
    assert stored is not None and str(stored.result.flow_run_id) == record["flowRunId"]


def recorded_runs(database_url: str) -> int:
    """How many runs the store holds (none when it was never migrated)."""
    with engine_for(database_url).connect() as connection:
        if not sqlalchemy.inspect(connection).has_table("runs"):
            return 0
        return int(connection.execute(sqlalchemy.text("SELECT count(*) FROM runs")).scalar_one())


@pytest.mark.parametrize(
    ("config_text", "args", "exit_code", "runs", "message"),
    [
        (WORKFLOWS, ["--workflow", "ok"], 0, 1, ""),
        (WORKFLOWS, ["--workflow", "broken"], 1, 1, ""),
        (WORKFLOWS, [], 1, 2, ""),  # all workflows; one of them failed
        (WORKFLOWS, ["-w", "ok", "-w", "nope"], 2, 0, "unknown workflow(s): nope"),
        (WORKFLOWS, ["--env", "staging"], 2, 0, "unknown environment 'staging'"),
        (None, [], 2, 0, "4 error(s) in"),
    ],
    ids=["passed", "failed", "all-one-failed", "unknown-workflow", "unknown-env", "bad-config"],
)
@pytest.mark.usefixtures("prefect_api")
def test_run_exit_code(
    tmp_path: Path,
    target_url: str,
    database_url: str,
    config_text: str | None,
    args: list[str],
    exit_code: int,
    runs: int,
    message: str,
) -> None:
    if config_text is None:
        config = str(invalid_config(tmp_path))
    else:
        config = write_config(tmp_path, target_url, config_text)
    result = CliRunner().invoke(app, ["run", "--config", config, *args], env=WIDE)
    assert result.exit_code == exit_code, result.output
    assert message in result.stderr
    # Bad usage or a bad config is rejected before anything runs or is recorded.
    assert recorded_runs(database_url) == runs


@pytest.mark.usefixtures("prefect_api")
def test_run_exits_1_when_an_open_breaker_skips_the_run(
    tmp_path: Path, target_url: str, database_url: str
) -> None:
    config = write_config(tmp_path, target_url, WORKFLOWS)
    upgrade(database_url)
    opened = Breaker(state=BreakerState.OPEN, consecutive_failures=5, opened_at=datetime.now(UTC))
    DatabaseBreakerStore(engine_for(database_url)).transition_sync(
        "ok@test", lambda _: (opened, None)
    )
    result = CliRunner().invoke(
        app, ["run", "--config", config, "--workflow", "ok", "--json"], env=WIDE
    )
    assert result.exit_code == 1, result.output
    [record] = json.loads(result.stdout)
    assert (record["status"], record["attempts"], record["steps"]) == ("skipped", 0, [])


def test_db_upgrade_creates_the_tables(database_url: str) -> None:
    def tables() -> set[str]:
        with engine_for(database_url).connect() as connection:
            return set(sqlalchemy.inspect(connection).get_table_names())

    assert tables() == set()
    result = CliRunner().invoke(app, ["db", "upgrade"], env=WIDE)
    assert result.exit_code == 0, result.output
    assert {
        "runs",
        "step_results",
        "circuit_breakers",
        "alerts",
        "alert_events",
        "deliveries",
    } <= tables()
    again = CliRunner().invoke(app, ["db", "upgrade"], env=WIDE)
    assert again.exit_code == 0, again.output
    assert again.stdout == result.stdout  # same revision: upgrading twice is a no-op
