"""The Prefect task for one step: a traced probe (retries arrive with the resilience pieces)."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.probe import ProbeOutcome, probe
from wfmon.config.specs import StepSpec
from wfmon.secrets import Redactor
from wfmon.tracing import tracer


@task(
    name="step",
    task_run_name="{step_name}",
    # Inputs hold a live client and secrets: never hash, cache or persist them.
    cache_policy=NO_CACHE,
    persist_result=False,
)
async def run_step(
    step_name: str,
    *,
    client: httpx.AsyncClient,
    step: StepSpec,
    base_url: str,
    variables: Mapping[str, str],
    redact: Redactor,
    workflow: str,
    environment: str,
) -> ProbeOutcome:
    """Run one step of a workflow and return its judged outcome."""
    with tracer().start_as_current_span(
        f"step {step_name}",
        attributes={
            "wfmon.workflow": workflow,
            "wfmon.environment": environment,
            "wfmon.step": step_name,
            "http.request.method": step.request.method,
        },
    ) as span:
        outcome = await probe(
            client=client, step=step, base_url=base_url, variables=variables, redact=redact
        )
        result = outcome.result
        span.set_attribute("wfmon.step.status", result.status.value)
        span.set_attribute("wfmon.step.duration_ms", result.duration_ms)
        if result.http_status is not None:
            span.set_attribute("http.response.status_code", result.http_status)
        if result.error_type is not None:
            span.set_attribute("error.type", result.error_type.value)
        return outcome
