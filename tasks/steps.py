"""The Prefect task for one step: probe attempts with backoff, each attempt traced.

Retrying reuses the resilience library (``tasks.retry``): a failed probe is raised as a
``StepFailed`` carrying its outcome, so classification, backoff and ``Retry-After``
handling are the library's, not a second loop's. The circuit breaker guards whole runs
(``tasks.gate``), so step retries run with it switched off.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import TypeAlias

import httpx
from opentelemetry import trace
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.classify import parse_retry_after
from tasks.probe import ProbeOutcome, probe
from tasks.retry import AsyncSleep, AttemptEvent, RetryableError, RetrySystem
from wfmon.config.specs import RetryProfile, StepSpec
from wfmon.results import ErrorType, RunStatus
from wfmon.secrets import Redactor
from wfmon.tracing import tracer


class StepFailed(RetryableError):
    """A failed probe attempt, raised so the retry library can judge it."""

    def __init__(self, outcome: ProbeOutcome, *, retry_after_ms: float | None) -> None:
        result = outcome.result
        super().__init__(
            result.error_message or "step failed",
            error_type=result.error_type or ErrorType.UNKNOWN,
            retry_after_ms=retry_after_ms,
        )
        self.outcome = outcome


ProbeAttempt: TypeAlias = Callable[[], Awaitable[ProbeOutcome]]


class _Attempts:
    """Runs probe attempts; each is a span that stays open until its retry decision."""

    def __init__(self, probe_once: ProbeAttempt, *, step_name: str) -> None:
        self._probe_once = probe_once
        self._step_name = step_name
        self._span: trace.Span | None = None
        self.count = 0

    async def attempt(self) -> ProbeOutcome:
        self.count += 1
        self._span = tracer().start_span(
            f"attempt {self.count}", attributes={"wfmon.attempt": self.count}
        )
        with trace.use_span(self._span, end_on_exit=False):
            outcome = await self._probe_once()
        if outcome.result.status is RunStatus.FAILED:
            raise StepFailed(
                outcome,
                retry_after_ms=parse_retry_after(outcome.retry_after, now=datetime.now(UTC)),
            )
        return outcome

    def finished(self, event: AttemptEvent) -> None:
        span, self._span = self._span, None
        if span is None:
            return
        if event.error_type is not None:
            span.set_attribute("error.type", event.error_type.value)
        if event.delay_ms is not None:
            span.set_attribute("wfmon.retry.delay_ms", event.delay_ms)
            get_run_logger().warning(
                "attempt %d of %r failed (%s: %s); retrying in %.0f ms",
                event.attempt,
                self._step_name,
                event.error_type,
                event.error,
                event.delay_ms,
            )
        span.end()


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
    retry: RetryProfile,
    sleep: AsyncSleep | None = None,
) -> ProbeOutcome:
    """Run one step of a workflow, retrying transient failures per ``retry``."""
    with tracer().start_as_current_span(
        f"step {step_name}",
        attributes={
            "wfmon.workflow": workflow,
            "wfmon.environment": environment,
            "wfmon.step": step_name,
            "http.request.method": step.request.method,
        },
    ) as span:

        async def probe_once() -> ProbeOutcome:
            return await probe(
                client=client, step=step, base_url=base_url, variables=variables, redact=redact
            )

        attempts = _Attempts(probe_once, step_name=step_name)
        retried = await RetrySystem(
            retry.model_copy(update={"enable_circuit_breaker": False}), sleep=sleep
        ).execute_with_retry(attempts.attempt, step_name, on_attempt=attempts.finished)
        if retried.data is not None:
            outcome = retried.data
        elif isinstance(retried.error, StepFailed):
            outcome = retried.error.outcome
        else:  # our own fault inside the probe: surface it, it is not a step failure
            raise retried.error or RuntimeError("retry ended without a result")
        outcome = dataclasses.replace(
            outcome, result=dataclasses.replace(outcome.result, attempts=retried.attempts)
        )
        result = outcome.result
        span.set_attribute("wfmon.step.status", result.status.value)
        span.set_attribute("wfmon.step.attempts", result.attempts)
        span.set_attribute("wfmon.step.duration_ms", result.duration_ms)
        if result.http_status is not None:
            span.set_attribute("http.response.status_code", result.http_status)
        if result.error_type is not None:
            span.set_attribute("error.type", result.error_type.value)
        return outcome
