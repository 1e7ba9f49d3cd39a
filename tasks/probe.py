"""One HTTP exchange of one step: build the request, send it, judge the response.

Expected failures (a refused connection, a 503, a failed assertion) come back as data,
a ``ProbeOutcome`` with an error type; only our own faults raise.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from tasks.classify import classify_exception, classify_status
from wfmon.config.conditions import Condition, SubjectKind
from wfmon.config.specs import StepSpec
from wfmon.config.templates import MissingVariable, render_tree
from wfmon.results import ConditionResult, ErrorType, RunStatus, StepResult
from wfmon.secrets import Redactor

# Applied when a step asserts nothing about ``status``: a synthetic check that got a
# 5xx has not passed, whatever else it asserts (Checkly and Gatus users expect the same).
IMPLICIT_STATUS_CHECK = "status < 400"


class ProbeResponse:
    """An ``httpx.Response`` seen through the condition language's eyes."""

    __slots__ = ("_json", "_response", "response_time_ms", "status")

    _UNPARSED = object()

    def __init__(self, response: httpx.Response, *, response_time_ms: float) -> None:
        self._response = response
        self.status = response.status_code
        self.response_time_ms = response_time_ms
        self._json: Any = self._UNPARSED

    def header(self, name: str) -> str | None:
        """A response header, case-insensitive."""
        value: str | None = self._response.headers.get(name)
        return value

    @property
    def text(self) -> str:
        """The body as text."""
        return self._response.text

    def json(self) -> Any:
        """The body parsed as JSON once; ValueError when it is not JSON."""
        if self._json is self._UNPARSED:
            self._json = self._response.json()
        return self._json


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    """The result of one attempt, plus the variables it extracted."""

    result: StepResult
    variables: Mapping[str, str] = field(default_factory=dict)
    retry_after: str | None = None  # the response's Retry-After header, if any


def build_request(
    client: httpx.AsyncClient, *, step: StepSpec, base_url: str, variables: Mapping[str, str]
) -> httpx.Request:
    """The step's request with every placeholder rendered; raises MissingVariable."""
    spec = step.request
    if spec.url is not None:
        url = spec.url.render(variables)
    else:
        assert spec.path is not None  # the loader guarantees exactly one of url / path
        url = base_url.rstrip("/") + "/" + spec.path.render(variables).lstrip("/")
    return client.build_request(
        spec.method,
        url,
        headers={name: value.render(variables) for name, value in spec.headers.items()},
        params={name: value.render(variables) for name, value in spec.query.items()},
        json=render_tree(spec.json_body, variables) if spec.json_body is not None else None,
        data=(
            {name: value.render(variables) for name, value in spec.form.items()}
            if spec.form is not None
            else None
        ),
        content=spec.body.render(variables) if spec.body is not None else None,
        timeout=spec.timeout,
    )


_IMPLICIT = Condition(IMPLICIT_STATUS_CHECK, environ={})


def _conditions_of(step: StepSpec) -> tuple[Condition, ...]:
    if any(condition.subject.kind is SubjectKind.STATUS for condition in step.assertions):
        return step.assertions
    return (_IMPLICIT, *step.assertions)


async def probe(
    *,
    client: httpx.AsyncClient,
    step: StepSpec,
    base_url: str,
    variables: Mapping[str, str],
    redact: Redactor,
) -> ProbeOutcome:
    """Send one attempt of ``step`` and judge it."""
    try:
        request = build_request(client, step=step, base_url=base_url, variables=variables)
    except MissingVariable as missing:
        return _failed(step, ErrorType.ASSERTION, f"cannot build request: {missing}", redact)

    started = time.perf_counter()
    try:
        response = await client.send(request)
    except httpx.HTTPError as exc:
        elapsed_ms = (time.perf_counter() - started) * 1000
        error_type = classify_exception(exc)
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return _failed(step, error_type, message, redact, duration_ms=elapsed_ms)
    # The body is read by send(); the clock stops here, before any judging.
    elapsed_ms = (time.perf_counter() - started) * 1000

    seen = ProbeResponse(response, response_time_ms=elapsed_ms)
    results = tuple(
        _redacted(condition.evaluate(seen, variables), redact) for condition in _conditions_of(step)
    )
    extracted: dict[str, str] = {}
    missing_extractions: list[str] = []
    for name, extraction in step.extract.items():
        value = extraction.extract(seen)
        if value is None:
            missing_extractions.append(f"extract {name}: {extraction.source} is missing")
        else:
            extracted[name] = value

    failed = [result.display for result in results if not result.success]
    if not failed and not missing_extractions:
        return ProbeOutcome(
            result=StepResult(
                name=step.name,
                status=RunStatus.PASSED,
                http_status=response.status_code,
                duration_ms=elapsed_ms,
                conditions=results,
            ),
            variables=extracted,
        )
    # An error status explains a failed assertion better than the assertion does,
    # and decides whether retrying can help.
    error_type = classify_status(response.status_code) or ErrorType.ASSERTION
    return ProbeOutcome(
        result=StepResult(
            name=step.name,
            status=RunStatus.FAILED,
            http_status=response.status_code,
            duration_ms=elapsed_ms,
            error_type=error_type,
            error_message=redact("; ".join([*failed, *missing_extractions])),
            conditions=results,
        ),
        variables=extracted,
        retry_after=response.headers.get("retry-after"),
    )


def _redacted(result: ConditionResult, redact: Redactor) -> ConditionResult:
    return ConditionResult(
        condition=redact(result.condition), display=redact(result.display), success=result.success
    )


def _failed(
    step: StepSpec,
    error_type: ErrorType,
    message: str,
    redact: Redactor,
    *,
    duration_ms: float = 0.0,
) -> ProbeOutcome:
    return ProbeOutcome(
        result=StepResult(
            name=step.name,
            status=RunStatus.FAILED,
            duration_ms=duration_ms,
            error_type=error_type,
            error_message=redact(message),
        )
    )
