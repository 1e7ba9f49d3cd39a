"""The flow behind every monitored workflow run: steps in order, then record and report.

Orchestration only: which task runs when. Probing, judging and storing live in ``tasks/``.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import ssl
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from prefect import Flow, flow, tags
from prefect.client.schemas.objects import FlowRun, State
from prefect.context import (
    FlowRunContext,
    TagsContext,
    TaskRunContext,
    get_run_context,
)

from flows.alerts import evaluate_alerts
from store import DatabaseBreakerStore, RunRecord
from tasks.breaker import Admission
from tasks.gate import admit_run, settle_run
from tasks.record import engine_for, store_run
from tasks.report import publish_report
from tasks.steps import run_step
from tasks.verdict import judge_run, skipped_run
from wfmon.config import WorkflowSpec
from wfmon.config.cache import cached_config
from wfmon.results import ErrorType, RunResult, RunStatus, StepResult
from wfmon.secrets import Redactor
from wfmon.settings import Settings
from wfmon.tracing import configure_tracing, trace_id_of, tracer

# Served deployments run flows in fresh processes: the provider must exist before
# Prefect opens its flow span there, or our spans would lose their parent.
configure_tracing()
# httpx logs every request URL at INFO: noise in run logs, and a URL may carry a secret.
logging.getLogger("httpx").setLevel(logging.WARNING)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The verifying TLS context every run's client shares: loading the CA bundle takes
    longer than a step's own orchestration, and it never changes within a process."""
    return httpx.create_ssl_context()


def run_tags(spec: WorkflowSpec, environment: str) -> list[str]:
    """The tags a run carries in Prefect: workflow, priority, environment, and the user's."""
    return [
        f"workflow:{spec.name}",
        f"priority:{spec.priority.value}",
        f"env:{environment}",
        *spec.tags,
    ]


async def walk_steps(
    *,
    client: httpx.AsyncClient,
    spec: WorkflowSpec,
    base_url: str,
    environment: str,
    redact: Redactor,
    results: list[StepResult],
) -> None:
    """Run the steps in order; after a failure only ``always_run`` steps still run."""
    variables: dict[str, str] = {}
    failed = False
    for step in spec.steps:
        if failed and not step.always_run:
            continue
        outcome = await run_step(
            step.name,
            client=client,
            step=step,
            base_url=base_url,
            variables=variables,
            redact=redact,
            workflow=spec.name,
            environment=environment,
            retry=spec.retry,
        )
        results.append(outcome.result)
        variables.update(outcome.variables)
        failed = failed or outcome.result.status is RunStatus.FAILED


def _timed_out(spec: WorkflowSpec, done: Sequence[StepResult]) -> StepResult:
    # The step that was cut off: the first one not yet recorded.
    finished = {result.name for result in done}
    pending = next((step for step in spec.steps if step.name not in finished), None)
    return StepResult(
        name=pending.name if pending else "(workflow)",
        status=RunStatus.FAILED,
        error_type=ErrorType.TIMEOUT,
        error_message=f"workflow timed out after {spec.timeout:g} s",
    )


async def alert_on_run(flow: Flow[..., Any], flow_run: FlowRun, state: State[Any]) -> None:
    """Completion hook: the post-run ``evaluate-alerts`` flow on the run just recorded.

    A hook runs once the run's final state is set, so alerting is not part of the run's
    duration; Prefect logs a hook's failure in the run's log and leaves its state alone.
    ``evaluate-alerts`` runs as a flow run of its own (with the run's tags), not as a
    subflow: a subflow's start waits for its tracking task run, which stalled it for
    seconds now and then (Prefect 3.9), and alerts must not wait.
    """
    del flow  # the hook signature Prefect calls with
    record = await state.result()
    if not isinstance(record, RunRecord):
        return
    config_path = flow_run.parameters.get("config_path")
    outside = contextvars.copy_context()
    for run_context in (FlowRunContext, TaskRunContext):
        outside.run(run_context.__var__.set, None)  # type: ignore[arg-type]
    judged = evaluate_alerts(str(record.id), record.result.workflow, config_path)
    await asyncio.get_running_loop().create_task(judged, context=outside)


@flow(
    name="monitor-workflow",
    flow_run_name="{workflow}",
    description="Run one monitored workflow's steps, record the run and report it.",
    persist_result=False,
    on_completion=[alert_on_run],
)
async def monitor_workflow(
    workflow: str, environment: str | None = None, config_path: str | None = None
) -> RunRecord:
    """One run of ``workflow`` against ``environment`` (default: the config's)."""
    # The flow run carries the tags; its task runs must not inherit them: every tagged
    # task run takes and releases a tag concurrency lease through the API, two round
    # trips per step that cost more than the step's own orchestration.
    with TagsContext(current_tags=set()):
        return await _run_workflow(workflow, environment, config_path)


async def _run_workflow(
    workflow: str, environment: str | None, config_path: str | None
) -> RunRecord:
    config = cached_config(config_path)
    spec = config.workflow(workflow)
    env = config.environments[environment or config.default_environment]
    redact = Redactor(config.secrets)
    flow_run_id = str(get_run_context().flow_run.id)  # type: ignore[union-attr]
    database_url = Settings().database_url
    breakers = DatabaseBreakerStore(engine_for(database_url))

    started_at = datetime.now(UTC)
    admission = await admit_run(
        breakers, workflow=spec.name, environment=env.name, profile=spec.retry
    )
    if admission is Admission.REJECTED:
        # Fail fast: no request, no retry, but still a recorded (skipped) run.
        skipped = skipped_run(
            spec=spec,
            environment=env.name,
            started_at=started_at,
            finished_at=datetime.now(UTC),
            flow_run_id=flow_run_id,
        )
        return await _record_and_report(skipped, database_url=database_url)
    results: list[StepResult] = []
    with tracer().start_as_current_span(
        f"workflow {spec.name}",
        attributes={
            "wfmon.workflow": spec.name,
            "wfmon.environment": env.name,
            "wfmon.priority": spec.priority.value,
        },
    ) as span:
        # One client per run: cookies carry from step to step, connections are reused.
        async with httpx.AsyncClient(follow_redirects=True, verify=tls_context()) as client:
            try:
                async with asyncio.timeout(spec.timeout):
                    await walk_steps(
                        client=client,
                        spec=spec,
                        base_url=env.base_url,
                        environment=env.name,
                        redact=redact,
                        results=results,
                    )
            except TimeoutError:
                results.append(_timed_out(spec, results))
        result = judge_run(
            spec=spec,
            environment=env.name,
            steps=results,
            started_at=started_at,
            finished_at=datetime.now(UTC),
            flow_run_id=flow_run_id,
            trace_id=trace_id_of(span),
        )
        span.set_attribute("wfmon.status", result.status.value)
        if result.error_type is not None:
            span.set_attribute("error.type", result.error_type.value)

    await settle_run(
        breakers,
        workflow=spec.name,
        environment=env.name,
        profile=spec.retry,
        success=result.status is not RunStatus.FAILED,
    )
    return await _record_and_report(result, database_url=database_url)


async def _record_and_report(result: RunResult, *, database_url: str) -> RunRecord:
    # Independent I/O on the run's critical path: the store and the artifact side by side.
    record, _ = await asyncio.gather(
        store_run(result, database_url=database_url), publish_report(result)
    )
    return record


async def run_workflows(
    names: Sequence[str], *, environment: str | None, config_path: str | None
) -> list[RunRecord]:
    """Run several workflows at once, each as its own tagged flow run."""
    config = cached_config(config_path)
    env = environment or config.default_environment

    async def one(name: str) -> RunRecord:
        with tags(*run_tags(config.workflow(name), env)):
            return await monitor_workflow(name, env, config_path)

    return list(await asyncio.gather(*(one(name) for name in names)))
