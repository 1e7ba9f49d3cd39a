"""Alerting benchmark: run end -> message at a local webhook, and what judging a run costs.

``uv run python -m bench.alerting [--prefect-database postgres]``. Starts a throwaway
Prefect server (Prefect's SQLite test harness, or a server on a throwaway PostgreSQL), a
target and a JSON webhook receiver on 127.0.0.1, and a SQLite store in a temp folder;
removes them afterwards.

1. **Latency.** A critical workflow alternates failing and passing runs through the real
   flow (``wfmon run``'s path): each failure opens an alert, each pass resolves it, so
   every run sends one message. Measured from the run's recorded ``finished_at`` to the
   receiver's clock when the POST arrives (same host, same clock).
2. **Rule evaluation cost.** ``tasks.alerting.evaluate_run`` on a stored failed run with
   the six predefined rules, then with 50 custom rules more, beside ``record_run`` of the
   same run, the store write every run already pays, measured in the same loop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, get, post
from litestar.params import FromPath

WEBHOOK_PATH = "/hook"


@dataclass(frozen=True, slots=True)
class AlertingReport:
    """Medians and p95s of one benchmark run, in ms."""

    runs: int
    latency_p50_ms: float
    latency_p95_ms: float
    latency_max_ms: float
    record_run_ms: float
    evaluate_predefined_ms: float
    evaluate_56_rules_ms: float

    def markdown(self) -> str:
        """A table for docs/BENCHMARKS.md."""
        rows = [
            ("runs (alternating fail / pass), one message each", f"{self.runs}", ""),
            (
                "run end -> message at the webhook (median / p95)",
                f"{self.latency_p50_ms:.0f} / {self.latency_p95_ms:.0f} ms",
                "target p95 < 1000 ms (Alertmanager's group_wait alone: 30 s)",
            ),
            ("run end -> message at the webhook (max)", f"{self.latency_max_ms:.0f} ms", ""),
            ("record_run of the same run (median)", f"{self.record_run_ms:.2f} ms", "baseline"),
            (
                "evaluate_run, 6 predefined rules (median)",
                f"{self.evaluate_predefined_ms:.2f} ms",
                f"{self.evaluate_predefined_ms / self.record_run_ms:.2f}x record_run",
            ),
            (
                "evaluate_run, 6 predefined + 50 custom rules (median)",
                f"{self.evaluate_56_rules_ms:.2f} ms",
                f"{self.evaluate_56_rules_ms / self.record_run_ms:.2f}x record_run",
            ),
        ]
        lines = ["| measure | value | note |", "|---|---|---|"]
        lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
        return "\n".join(lines)


def create_apps(arrivals: list[tuple[float, dict[str, Any]]], status: dict[str, int]) -> Litestar:
    """The target (``/switch`` answers ``status['code']``) and the webhook, in one app."""

    @get("/switch/{name:str}")
    async def switch(name: FromPath[str]) -> dict[str, str]:
        from litestar.exceptions import HTTPException

        if status["code"] != 200:
            raise HTTPException(status_code=status["code"], detail=name)
        return {"ok": name}

    @post(WEBHOOK_PATH, status_code=200)
    async def hook(request: Request[Any, Any, Any]) -> None:
        arrivals.append((time.time(), await request.json()))

    return Litestar(route_handlers=[switch, hook])


def write_config(directory: Path, base_url: str) -> Path:
    """A critical workflow whose failure rule posts to the local webhook."""
    webhook = base_url.replace("http://", "json://") + WEBHOOK_PATH
    path = directory / "alerting.yaml"
    path.write_text(
        f"environments:\n  bench: {{base_url: '{base_url}'}}\n"
        "default_environment: bench\n"
        f"channels:\n  HOOK: ['{webhook}']\n"
        "alert_rules:\n  - {id: workflow-failure-critical, channels: [HOOK]}\n"
        "workflows:\n"
        "  - name: checkout\n    priority: critical\n    retry: {max_attempts: 1}\n"
        "    steps:\n      - {name: pay, request: {path: /switch/pay}, assert: [status == 200]}\n"
    )
    return path


def custom_rules(count: int) -> list[dict[str, Any]]:
    """``count`` rules of every condition type, some filtered, over three RATE windows."""
    rules: list[dict[str, Any]] = []
    for n in range(count):
        kind = n % 5
        if kind == 0:
            condition = {
                "type": "THRESHOLD",
                "metric": "workflow.duration",
                "operator": ">",
                "value": 10_000 + n,
            }
        elif kind == 1:
            condition = {
                "type": "RATE",
                "metric": "workflow.failure_rate",
                "operator": ">",
                "value": 10 + n,
                "window": 600_000 * (1 + n % 3),
            }
        elif kind == 2:
            condition = {
                "type": "PATTERN",
                "metric": "workflow.error",
                "operator": "MATCHES",
                "value": f"timeout-{n}",
            }
        elif kind == 3:
            condition = {
                "type": "THRESHOLD",
                "metric": "workflow.consecutive_failures",
                "operator": ">=",
                "value": 5 + n,
            }
        else:
            condition = {
                "type": "THRESHOLD",
                "metric": "step.status",
                "operator": "==",
                "value": "failed",
            }
        rule: dict[str, Any] = {
            "id": f"custom-{n}",
            "name": f"Custom rule {n}",
            "severity": ["INFO", "WARNING", "ERROR", "CRITICAL"][n % 4],
            "conditions": [condition],
        }
        if kind == 4:
            rule["workflows"] = [f"other-{n}"]  # filtered out: costs the filter only
        rules.append(rule)
    return rules


async def measure_latency(
    config_path: Path, *, runs: int, arrivals: list[Any], status: dict[str, int]
) -> list[float]:
    """Run end -> arrival (ms) for ``runs`` alternating failing and passing runs."""
    from flows.workflow import run_workflows

    latencies: list[float] = []
    for n in range(runs):
        status["code"] = 503 if n % 2 == 0 else 200
        before = len(arrivals)
        [record] = await run_workflows(["checkout"], environment=None, config_path=str(config_path))
        # The post-run flow delivers before the run call returns: Apprise waits for the 200.
        assert len(arrivals) == before + 1, f"expected one message, got {len(arrivals) - before}"
        arrived, _ = arrivals[before]
        latencies.append((arrived - record.result.finished_at.timestamp()) * 1000)
    return latencies


def measure_evaluation(database_url: str, *, rounds: int) -> tuple[float, float, float]:
    """Median ms of record_run, evaluate_run (6 rules) and evaluate_run (56 rules)."""
    import dataclasses

    from rules import rules_from_config
    from store import create_engine_for, get_run, record_run
    from tasks.alerting import AlertPolicy, evaluate_run
    from wfmon.results import ErrorType, Priority, RunResult, RunStatus, StepResult

    engine = create_engine_for(database_url)
    six = AlertPolicy(rules=tuple(rules_from_config([])))
    fifty_six = AlertPolicy(rules=tuple(rules_from_config(custom_rules(50))))
    timings: dict[str, list[float]] = {"record": [], "six": [], "fifty_six": []}
    for n in range(rounds):
        now = datetime.now(UTC)
        run = RunResult(
            workflow=f"bench-{n}",
            environment="bench",
            priority=Priority.HIGH,
            status=RunStatus.FAILED,
            started_at=now,
            finished_at=now,
            duration_ms=120.0,
            attempts=1,
            error_type=ErrorType.ASSERTION,
            error_message="status (503) == 200",
            failed_step="pay",
            steps=(
                StepResult(
                    name="pay",
                    status=RunStatus.FAILED,
                    http_status=503,
                    duration_ms=120.0,
                    error_type=ErrorType.ASSERTION,
                ),
            ),
        )
        t0 = time.perf_counter()
        run_id = record_run(engine, result=run)
        timings["record"].append((time.perf_counter() - t0) * 1000)
        record = get_run(engine, run_id=run_id)
        assert record is not None
        for key, policy in (("six", six), ("fifty_six", fifty_six)):
            # A fresh workflow name per policy: each judges a first failure, as in production.
            judged = dataclasses.replace(
                record,
                result=dataclasses.replace(
                    record.result, workflow=f"{record.result.workflow}-{key}"
                ),
            )
            t0 = time.perf_counter()
            evaluate_run(engine, judged, policy=policy)
            timings[key].append((time.perf_counter() - t0) * 1000)
    return tuple(statistics.median(v) for v in timings.values())  # type: ignore[return-value]


@contextlib.contextmanager
def prefect_server(database: str, workdir: Path) -> Iterator[None]:
    """Prefect's test harness (SQLite), or a Prefect server on a throwaway PostgreSQL.

    Prefect's server on SQLite answers 503 when its database is busy, and the client waits
    2 s before retrying: that, not wfmon, is the tail of the SQLite numbers.
    """
    if database == "sqlite":
        from prefect.testing.utilities import prefect_test_harness

        with prefect_test_harness(server_startup_timeout=180):
            yield
        return
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from bench.metrics_api import _free_port, throwaway_postgres
    from wfmon.prefect_server import local_prefect_server

    workdir.chmod(0o755)  # mkdtemp's 0700 would keep the postgres user out
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(throwaway_postgres(workdir / "postgres"))
        os.environ["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = url.replace("+psycopg", "+asyncpg")
        api_url = stack.enter_context(local_prefect_server(port=_free_port()))
        stack.enter_context(temporary_settings({PREFECT_API_URL: api_url}))
        yield


def main() -> None:
    """Parse options, set up an isolated environment, run, print."""
    parser = argparse.ArgumentParser(prog="python -m bench.alerting")
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument(
        "--prefect-database",
        choices=["sqlite", "postgres"],
        default="sqlite",
        help="what the Prefect server stores its state in (wfmon's store is SQLite either way)",
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="wfmon-bench-alerting-"))
    os.environ["PREFECT_HOME"] = str(workdir / "prefect")
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    os.environ.pop("PREFECT_API_URL", None)
    database_url = f"sqlite:///{workdir / 'bench.db'}"
    os.environ["WFMON_DATABASE_URL"] = database_url

    from demo.serving import serve_asgi
    from store import upgrade

    upgrade(database_url)
    arrivals: list[tuple[float, dict[str, Any]]] = []
    status = {"code": 200}
    with (
        prefect_server(args.prefect_database, workdir),
        serve_asgi(create_apps(arrivals, status)) as base_url,
    ):
        config_path = write_config(workdir, base_url)
        latencies = asyncio.run(
            measure_latency(config_path, runs=args.runs, arrivals=arrivals, status=status)
        )
    rules_url = f"sqlite:///{workdir / 'rules.db'}"
    upgrade(rules_url)
    record_ms, six_ms, fifty_six_ms = measure_evaluation(rules_url, rounds=args.rounds)
    report = AlertingReport(
        runs=len(latencies),
        latency_p50_ms=statistics.median(latencies),
        latency_p95_ms=statistics.quantiles(latencies, n=20)[-1],
        latency_max_ms=max(latencies),
        record_run_ms=record_ms,
        evaluate_predefined_ms=six_ms,
        evaluate_56_rules_ms=fifty_six_ms,
    )
    sys.stdout.write(report.markdown() + "\n")
    out = Path("bench/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / f"alerting-prefect-{args.prefect_database}.json").write_text(
        json.dumps(asdict(report), indent=2)
    )


if __name__ == "__main__":
    main()
