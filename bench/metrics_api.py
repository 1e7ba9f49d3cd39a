"""``make bench-api`` / ``uv run python -m bench.metrics_api``: the metrics API at a million runs.

For each backend (SQLite in a temp folder; PostgreSQL on a throwaway server it starts, or
``--postgres-url``) it loads ``--runs`` runs of ``--workflows`` workflows spread over
``--days`` days, builds the rollups from them (``store.rollups.rebuild_rollups``, what
migration 0006 does to an existing database), serves the real app with uvicorn on
127.0.0.1 in a process of its own (``bench.api_server``, as ``wfmon serve`` does), and then,
rotating their order so machine noise and what came just before hit every side alike, times:

- ``GET /api/monitoring/metrics?period=30d`` and ``?period=24h`` (over HTTP, end to end),
- one plain SQL aggregate over the raw runs of the same 30 days (what answering from the
  runs table would cost at the very least: count, successes, average duration).

Between rounds it records a run, as a live system would between two dashboard refreshes:
in the current hour, and every ``LATE_EVERY``-th round three hours late. It also checks
the percentiles (in the warm-up round, before any such run) against exact nearest-rank
values computed from the generated durations. Prints a table; writes
``bench/results/metrics_api.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import math
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, text

from wfmon.processes import wait_healthy

NOW = datetime(2026, 6, 1, 12, 30, tzinfo=UTC)
SERVER_START_TIMEOUT_S = 60
# Every this many rounds, the run recorded between rounds is a late one (see record_live_run).
LATE_EVERY = 5
STATUSES = (("passed", 90), ("degraded", 5), ("failed", 4), ("skipped", 1))
RAW_AGGREGATE = (
    "SELECT count(*), "
    "sum(CASE WHEN status IN ('passed', 'degraded') THEN 1 ELSE 0 END), "
    "avg(duration_ms) FROM runs WHERE started_at >= :since"
)


@dataclass(frozen=True, slots=True)
class GeneratedRun:
    """One generated run (what the loader writes)."""

    workflow: str
    started_at: datetime
    status: str
    duration_ms: float
    attempts: int


@dataclass
class BackendReport:
    """Timings (ms) and accuracy for one backend."""

    backend: str
    load_s: float = 0.0
    rollup_s: float = 0.0
    raw_aggregate_ms: list[float] = field(default_factory=list)
    metrics_30d_ms: list[float] = field(default_factory=list)
    metrics_24h_ms: list[float] = field(default_factory=list)
    worst_percentile_error: dict[str, float] = field(default_factory=dict)


def generate(runs: int, workflows: int, days: int, seed: int = 7) -> list[GeneratedRun]:
    """Runs spread evenly over ``days`` before NOW; each workflow has its own latency."""
    rng = random.Random(seed)
    medians = [150.0 + 1350.0 * index / max(workflows - 1, 1) for index in range(workflows)]
    span = timedelta(days=days) / runs
    start = NOW - timedelta(days=days)
    statuses = [name for name, _ in STATUSES]
    weights = [weight for _, weight in STATUSES]
    generated = []
    for index in range(runs):
        workflow = index % workflows
        status = rng.choices(statuses, weights)[0]
        skipped = status == "skipped"
        generated.append(
            GeneratedRun(
                workflow=f"workflow-{workflow:02d}",
                started_at=start + span * index,
                status=status,
                duration_ms=0.5
                if skipped
                else round(rng.lognormvariate(math.log(medians[workflow]), 0.5), 3),
                attempts=0 if skipped else rng.choice((1, 1, 1, 1, 1, 1, 1, 2, 3)),
            )
        )
    return generated


def _rows(runs: list[GeneratedRun], sqlite_text: bool) -> Iterator[tuple[Any, ...]]:
    for run in runs:
        finished = run.started_at + timedelta(milliseconds=run.duration_ms)
        if sqlite_text:
            started: Any = run.started_at.replace(tzinfo=None).isoformat(" ", "microseconds")
            ended: Any = finished.replace(tzinfo=None).isoformat(" ", "microseconds")
        else:
            started, ended = run.started_at, finished
        yield (
            uuid.uuid4().hex if sqlite_text else uuid.uuid4(),
            run.workflow,
            "production",
            "high",
            run.status,
            started,
            ended,
            run.duration_ms,
            run.attempts,
            None if run.status != "failed" else "TRANSIENT",
            uuid.uuid4().hex,
        )


_COLUMNS = (
    "id, workflow, environment, priority, status, started_at, finished_at, duration_ms, "
    "attempts, error_type, trace_id"
)


def load_sqlite(path: Path, runs: list[GeneratedRun]) -> None:
    """Bulk-insert the runs as SQLAlchemy would store them (naive UTC text, hex UUIDs)."""
    connection = sqlite3.connect(path)
    try:
        with connection:
            connection.executemany(
                f"INSERT INTO runs ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                _rows(runs, sqlite_text=True),
            )
    finally:
        connection.close()


def load_postgres(url: str, runs: list[GeneratedRun]) -> None:
    """COPY the runs in."""
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain) as connection, connection.cursor() as cursor:
        with cursor.copy(f"COPY runs ({_COLUMNS}) FROM STDIN") as copy:
            for row in _rows(runs, sqlite_text=False):
                copy.write_row(row)
        connection.commit()


@contextmanager
def throwaway_postgres(home: Path) -> Iterator[str]:
    """A PostgreSQL server of its own in ``home`` (Debian layout binaries); yields a URL."""
    bindirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not bindirs:
        raise SystemExit("PostgreSQL binaries not found: run scripts/ensure-postgres.sh")
    bindir = bindirs[-1]
    as_postgres = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_postgres else []
    home.mkdir(parents=True, exist_ok=True)
    if as_postgres:
        shutil.chown(home, "postgres", "postgres")
    data = home / "data"
    port = _free_port()
    subprocess.run(
        [*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth", "trust",
         "-E", "UTF8", "--locale", "C", "--no-sync"],
        check=True, capture_output=True,
    )  # fmt: skip
    # Durability off only speeds up the load; the timed reads are served from memory either way.
    options = f"-h 127.0.0.1 -p {port} -k {home} -c fsync=off -c synchronous_commit=off"
    subprocess.run(
        [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(home / "log"),
         "-o", options, "-w", "start"],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        admin = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        from sqlalchemy import create_engine

        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text("CREATE DATABASE bench"))
        engine.dispose()
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/bench"
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            check=False, capture_output=True,
        )  # fmt: skip


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def nearest_rank(values: list[float], percent: int) -> float:
    """The exact nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(-(-percent * len(ordered) // 100), 1) - 1]


def percentile_errors(
    runs: list[GeneratedRun], data: dict[str, Any], since: datetime
) -> dict[str, float]:
    """Largest relative error of the API's percentiles against exact ones."""
    inside = [run for run in runs if run.started_at >= since and run.status != "skipped"]
    errors = {}
    summary = data["summary"]
    for key, percent in (("p50Duration", 50), ("p95Duration", 95), ("p99Duration", 99)):
        exact = nearest_rank([run.duration_ms for run in inside], percent)
        errors[key] = abs(summary[key] - exact) / exact
    by_workflow: dict[str, list[float]] = {}
    for run in inside:
        by_workflow.setdefault(run.workflow, []).append(run.duration_ms)
    worst = 0.0
    for workflow in data["workflows"]:
        exact = nearest_rank(by_workflow[workflow["workflowName"]], 95)
        worst = max(worst, abs(workflow["p95Duration"] - exact) / exact)
    errors["workflow p95Duration (worst)"] = worst
    return errors


def measure(
    engine: Engine, runs: list[GeneratedRun], report: BackendReport, *, samples: int
) -> None:
    """The three measurements ``samples`` times after a warm-up round, in a rotating order.

    Each round takes the next of the six orders of the three, so that no measure always
    comes right after another: a request made just after the raw aggregate (PostgreSQL's
    parallel workers exiting, caches cold) measured ~1 ms slower than one made after
    another request, and in a fixed order the 30d request always paid it.
    """
    since_30d = datetime(2026, 5, 2, tzinfo=UTC)  # the 30d period's start at NOW
    url = engine.url.render_as_string(hide_password=False)
    orders = list(itertools.permutations(("raw", "30d", "24h")))
    with api_process(url) as base_url, httpx.Client(base_url=base_url, timeout=120) as client:

        def timed(measure: str) -> tuple[float, Any]:
            started = time.perf_counter()
            body: Any
            if measure == "raw":
                with engine.connect() as connection:
                    since = {"since": _bind(engine, since_30d)}
                    body = connection.execute(text(RAW_AGGREGATE), since).one()
            else:
                body = client.get("/api/monitoring/metrics", params={"period": measure})
                body.raise_for_status()
            return (time.perf_counter() - started) * 1000, body

        for round_ in range(samples + 1):
            results = {measure: timed(measure) for measure in orders[round_ % len(orders)]}
            if round_ == 0:  # warm-up: caches, connection pool, statement compilation
                bodies = {period: results[period][1].json()["data"] for period in ("30d", "24h")}
                report.worst_percentile_error = {
                    f"30d {key}": value
                    for key, value in percentile_errors(runs, bodies["30d"], since_30d).items()
                } | {
                    f"24h {key}": value
                    for key, value in percentile_errors(
                        runs, bodies["24h"], datetime(2026, 5, 31, 12, tzinfo=UTC)
                    ).items()
                }
                assert bodies["30d"]["summary"]["totalExecutions"] > 0
                continue
            report.raw_aggregate_ms.append(results["raw"][0])
            report.metrics_30d_ms.append(results["30d"][0])
            report.metrics_24h_ms.append(results["24h"][0])
            record_live_run(engine, late=round_ % LATE_EVERY == 0)


def record_live_run(engine: Engine, *, late: bool) -> None:
    """What a live system records between two dashboard refreshes (not timed).

    A run in the current hour; or one recorded three hours after it started, into an hour
    that has closed, so that the API's kept closed hours are read again (``store.hourly``).
    """
    from store import record_run
    from wfmon.results import Priority, RunResult, RunStatus

    started = NOW - (timedelta(hours=3) if late else timedelta(minutes=1))
    run = RunResult(
        workflow="workflow-00",
        environment="production",
        priority=Priority.HIGH,
        status=RunStatus.PASSED,
        started_at=started,
        finished_at=started + timedelta(milliseconds=150),
        duration_ms=150.0,
    )
    record_run(engine, result=run)


@contextmanager
def api_process(database_url: str) -> Iterator[str]:
    """``bench.api_server`` on a free port; yields its base URL once it answers."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.api_server", database_url, str(port)],
        cwd=Path(__file__).resolve().parent.parent,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        wait_healthy(f"{base_url}/api/health", server, deadline=deadline, name="the API server")
        yield base_url
    finally:
        server.terminate()
        server.wait(timeout=30)


def _bind(engine: Engine, moment: datetime) -> Any:
    # A text() query bypasses the column type: SQLite compares naive UTC text.
    if engine.dialect.name == "sqlite":
        return moment.replace(tzinfo=None).isoformat(" ", "microseconds")
    return moment


def run_backend(
    backend: str, url: str, runs: list[GeneratedRun], *, samples: int, sqlite_path: Path | None
) -> BackendReport:
    """Migrate, load, roll up, analyse, measure."""
    from store import create_engine_for, upgrade
    from store.rollups import rebuild_rollups

    report = BackendReport(backend=backend)
    upgrade(url)
    started = time.perf_counter()
    if sqlite_path is not None:
        load_sqlite(sqlite_path, runs)
    else:
        load_postgres(url, runs)
    report.load_s = time.perf_counter() - started
    engine = create_engine_for(url)
    try:
        started = time.perf_counter()
        with engine.begin() as connection:
            rebuild_rollups(connection)
        report.rollup_s = time.perf_counter() - started
        if backend == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM ANALYZE"))
        else:
            with engine.connect() as connection:
                connection.exec_driver_sql("ANALYZE")
        measure(engine, runs, report, samples=samples)
    finally:
        engine.dispose()
    return report


def _p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def print_table(reports: list[BackendReport], args: argparse.Namespace) -> None:
    """The README table."""
    lines = [
        f"{args.runs:,} runs, {args.workflows} workflows, {args.days} days; "
        f"{args.samples} samples per measure",
        "",
        "| backend | measure | p50 ms | p95 ms |",
        "|---|---|---|---|",
    ]
    for report in reports:
        for name, values in (
            ("plain SQL aggregate over the raw runs (30 days)", report.raw_aggregate_ms),
            ("GET metrics?period=30d", report.metrics_30d_ms),
            ("GET metrics?period=24h", report.metrics_24h_ms),
        ):
            lines.append(
                f"| {report.backend} | {name} | {statistics.median(values):.1f} | "
                f"{_p(values, 95):.1f} |"
            )
        ratio = statistics.median(report.metrics_30d_ms) / statistics.median(
            report.raw_aggregate_ms
        )
        lines.append(f"| {report.backend} | 30d / raw aggregate (median) | {ratio:.3f} | |")
    lines.append("")
    lines.append("| backend | percentile | worst relative error |")
    lines.append("|---|---|---|")
    for report in reports:
        for key, value in report.worst_percentile_error.items():
            lines.append(f"| {report.backend} | {key} | {value * 100:.2f}% |")
    lines.append("")
    for report in reports:
        lines.append(
            f"{report.backend}: load {report.load_s:.1f} s, rollups rebuilt in "
            f"{report.rollup_s:.1f} s"
        )
    print("\n".join(lines))  # noqa: T201


def main() -> None:
    """Parse options, run each backend, print and save."""
    parser = argparse.ArgumentParser(prog="python -m bench.metrics_api")
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--workflows", type=int, default=50)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", help="an empty database to use instead of a new server")
    args = parser.parse_args()

    logging.getLogger("httpx").setLevel(logging.WARNING)
    workdir = Path(tempfile.mkdtemp(prefix="wfmon-bench-api-"))
    runs = generate(args.runs, args.workflows, args.days)
    reports = []
    try:
        for backend in args.backends.split(","):
            if backend == "sqlite":
                path = workdir / "bench.db"
                reports.append(
                    run_backend(
                        backend, f"sqlite:///{path}", runs, samples=args.samples, sqlite_path=path
                    )
                )
            elif args.postgres_url:
                reports.append(
                    run_backend(
                        backend, args.postgres_url, runs, samples=args.samples, sqlite_path=None
                    )
                )
            else:
                # Its own folder: initdb runs as `postgres`, which cannot enter ``workdir``.
                home = Path(tempfile.mkdtemp(prefix="wfmon-bench-pg-"))
                with throwaway_postgres(home) as url:
                    reports.append(
                        run_backend(backend, url, runs, samples=args.samples, sqlite_path=None)
                    )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        for leftover in Path(tempfile.gettempdir()).glob("wfmon-bench-pg-*"):
            shutil.rmtree(leftover, ignore_errors=True)
    print_table(reports, args)
    results = Path(__file__).resolve().parent / "results"
    results.mkdir(exist_ok=True)
    (results / "metrics_api.json").write_text(
        json.dumps(
            {"arguments": vars(args), "reports": [asdict(report) for report in reports]}, indent=2
        )
    )


if __name__ == "__main__":
    main()
