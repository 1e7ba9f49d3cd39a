"""Orchestration overhead and duration accuracy: wfmon against a plain httpx loop.

Both drive the same 5-step journey against the same local server, in the same process
and run, alternating, so machine noise hits both alike. Reported as medians and ratios.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prefect import flow

from flows.workflow import monitor_workflow, run_workflows
from tasks.breaker import BreakerPolicy
from tasks.gate import admit_run, settle_run
from tasks.record import engine_for
from wfmon.config import load_config
from wfmon.config.specs import RetryProfile

STEPS = 5


def write_config(directory: Path, base_url: str) -> Path:
    """A config with the 5-step workflow, once with and once without a breaker."""
    steps = "".join(
        f"      - {{name: step-{n}, request: {{path: /step/{n}}}, assert: [status == 200]}}\n"
        for n in range(STEPS)
    )
    path = directory / "bench.yaml"
    path.write_text(
        f"environments:\n  bench: {{base_url: '{base_url}'}}\n"
        "default_environment: bench\n"
        "workflows:\n"
        "  - name: journey\n    retry: standard\n    steps:\n"
        + steps
        + "  - name: journey-no-breaker\n    retry: fast\n    steps:\n"
        + steps
    )
    return path


async def plain_run(base_url: str) -> tuple[float, list[float]]:
    """The baseline: one client, five sequential requests; wall ms and per-request ms."""
    started = time.perf_counter()
    durations = []
    async with httpx.AsyncClient(base_url=base_url) as client:
        for n in range(STEPS):
            t0 = time.perf_counter()
            response = await client.get(f"/step/{n}")
            durations.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200
    return (time.perf_counter() - started) * 1000, durations


@flow(name="bench-empty", persist_result=False)
async def empty_flow(workflow: str) -> str:
    """Prefect's own floor: an async flow run that does nothing."""
    return workflow


async def empty_run() -> float:
    """Wall ms of one empty flow run."""
    started = time.perf_counter()
    await empty_flow("journey")
    return (time.perf_counter() - started) * 1000


_final_state_at: list[float] = []


async def mark_final_state(flow: Any, flow_run: Any, state: Any) -> None:
    """Completion hook placed before wfmon's own: when the run's final state was set."""
    del flow, flow_run, state
    _final_state_at.append(time.perf_counter())


async def wfmon_run(config_path: Path, workflow: str) -> tuple[float, float, list[float]]:
    """One real flow run as ``wfmon run`` makes it: wall ms until its final state was set,
    wall ms around the whole call (the post-run ``evaluate-alerts`` flow included), and the
    recorded step durations."""
    if mark_final_state not in monitor_workflow.on_completion_hooks:
        monitor_workflow.on_completion_hooks.insert(0, mark_final_state)
    started = time.perf_counter()
    [record] = await run_workflows([workflow], environment="bench", config_path=str(config_path))
    ended = time.perf_counter()
    assert record.result.status.value == "passed", record.result
    final = _final_state_at[-1]
    assert started < final < ended
    return (
        (final - started) * 1000,
        (ended - started) * 1000,
        [step.duration_ms for step in record.result.steps],
    )


def steps_ms(spans: InMemorySpanExporter, workflow: str) -> float:
    """Duration of the last run's ``workflow`` span: exactly its steps, in order."""
    [*_, last] = [s for s in spans.get_finished_spans() if s.name == f"workflow {workflow}"]
    assert last.start_time is not None and last.end_time is not None
    return (last.end_time - last.start_time) / 1e6


@dataclass(frozen=True, slots=True)
class OverheadReport:
    """Medians and p95s of one benchmark run."""

    runs: int
    latency_ms: float
    plain_run_ms: float
    empty_flow_ms: float
    wfmon_run_ms: float
    post_run_ms: float
    overhead_run_ms: float
    overhead_run_p95_ms: float
    overhead_step_ms: float
    step_overhead_ms: float
    error_vs_latency_ms: float
    error_vs_plain_ms: float
    error_p95_ms: float
    breaker_check_ms: float
    no_breaker_check_ms: float

    def markdown(self) -> str:
        """A table for docs/BENCHMARKS.md."""
        rows = [
            ("runs per side", f"{self.runs}", ""),
            ("injected latency per step", f"{self.latency_ms:.0f} ms", ""),
            ("plain httpx run (median)", f"{self.plain_run_ms:.1f} ms", "baseline"),
            (
                "empty Prefect flow run (median)",
                f"{self.empty_flow_ms:.1f} ms",
                "Prefect's own floor per flow run",
            ),
            (
                "wfmon run, until its final state (median)",
                f"{self.wfmon_run_ms:.1f} ms",
                f"{self.wfmon_run_ms / self.plain_run_ms:.2f}x baseline",
            ),
            (
                "post-run evaluate-alerts flow (median)",
                f"{self.post_run_ms:.1f} ms",
                "after the run's final state; run end -> alert in the alerting benchmark",
            ),
            (
                "overhead per run (median / p95)",
                f"{self.overhead_run_ms:.1f} / {self.overhead_run_p95_ms:.1f} ms",
                "target < 300 ms",
            ),
            ("overhead per run / 5 (median)", f"{self.overhead_step_ms:.1f} ms", ""),
            (
                "overhead each step adds (median)",
                f"{self.step_overhead_ms:.1f} ms",
                "(steps span - plain run) / 5; target < 15 ms",
            ),
            (
                "recorded step duration - injected latency (median)",
                f"{self.error_vs_latency_ms:.2f} ms",
                "target < 5 ms",
            ),
            (
                "recorded step duration - plain client's (median / p95 abs)",
                f"{self.error_vs_plain_ms:.2f} / {self.error_p95_ms:.2f} ms",
                "",
            ),
            (
                "closed-breaker check per run (admit + settle, median)",
                f"{self.breaker_check_ms:.2f} ms",
                f"{self.breaker_check_ms / STEPS:.2f} ms per step; target < 2 ms",
            ),
            ("no-breaker check per run (median)", f"{self.no_breaker_check_ms:.3f} ms", "baseline"),
        ]
        lines = ["| measure | value | note |", "|---|---|---|"]
        lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
        return "\n".join(lines)


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


async def breaker_check_ms(database_url: str, *, rounds: int) -> tuple[float, float]:
    """Median cost of admit+settle for a closed breaker, and with the breaker disabled."""
    from store import DatabaseBreakerStore

    store = DatabaseBreakerStore(engine_for(database_url))
    enabled = RetryProfile()
    disabled = RetryProfile(enable_circuit_breaker=False)
    assert BreakerPolicy.from_profile(enabled).threshold > 0
    timings: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(rounds):
        for profile in (enabled, disabled):
            t0 = time.perf_counter()
            await admit_run(store, workflow="bench", environment="bench", profile=profile)
            await settle_run(
                store, workflow="bench", environment="bench", profile=profile, success=True
            )
            timings[profile.enable_circuit_breaker].append((time.perf_counter() - t0) * 1000)
    return statistics.median(timings[True]), statistics.median(timings[False])


async def measure(
    *,
    base_url: str,
    config_path: Path,
    database_url: str,
    runs: int,
    latency_ms: float,
    spans: InMemorySpanExporter,
) -> OverheadReport:
    """Alternate plain and wfmon runs; compute the report."""
    assert load_config(config_path).workflow("journey")
    await wfmon_run(config_path, "journey")  # warm-up: imports, first flow registration
    await plain_run(base_url)
    plain_walls, wfmon_walls, errors_latency, errors_plain = [], [], [], []
    empty_walls, step_overheads, post_runs = [], [], []
    for _ in range(runs):
        empty_walls.append(await empty_run())
        plain_wall, plain_steps = await plain_run(base_url)
        wall, total, recorded = await wfmon_run(config_path, "journey")
        post_runs.append(total - wall)
        step_overheads.append((steps_ms(spans, "journey") - plain_wall) / STEPS)
        plain_walls.append(plain_wall)
        wfmon_walls.append(wall)
        errors_latency += [d - latency_ms for d in recorded]
        errors_plain += [d - p for d, p in zip(recorded, plain_steps, strict=True)]
    overheads = [w - p for w, p in zip(wfmon_walls, plain_walls, strict=True)]
    breaker, no_breaker = await breaker_check_ms(database_url, rounds=max(runs * 5, 100))
    return OverheadReport(
        runs=runs,
        latency_ms=latency_ms,
        plain_run_ms=statistics.median(plain_walls),
        empty_flow_ms=statistics.median(empty_walls),
        wfmon_run_ms=statistics.median(wfmon_walls),
        post_run_ms=statistics.median(post_runs),
        overhead_run_ms=statistics.median(overheads),
        overhead_run_p95_ms=_p95(overheads),
        overhead_step_ms=statistics.median(overheads) / STEPS,
        step_overhead_ms=statistics.median(step_overheads),
        error_vs_latency_ms=statistics.median(errors_latency),
        error_vs_plain_ms=statistics.median(errors_plain),
        error_p95_ms=_p95([abs(e) for e in errors_plain]),
        breaker_check_ms=breaker,
        no_breaker_check_ms=no_breaker,
    )
