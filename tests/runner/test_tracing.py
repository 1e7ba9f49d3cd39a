"""Spans: one per run and per step, nested under Prefect's own flow and task spans."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.runner.target import TargetLog
from tests.runner.test_workflow_runs import run_one, write_config

pytestmark = pytest.mark.usefixtures("prefect_api")


def _parent(span: ReadableSpan, spans: list[ReadableSpan]) -> ReadableSpan | None:
    if span.parent is None:
        return None
    return next((s for s in spans if s.context.span_id == span.parent.span_id), None)


async def test_run_and_step_spans_nest_under_prefect_spans(
    tmp_path: Path, target: tuple[str, TargetLog], database_file: str, spans: InMemorySpanExporter
) -> None:
    config = write_config(
        tmp_path,
        target[0],
        """
        - name: traced
          priority: low
          steps:
            - {name: first, request: {path: /status/200}}
            - {name: second, request: {path: /status/503}, assert: [status == 200]}
          retry: {max_attempts: 1}
        """,
    )
    result = (await run_one(config, "traced")).result
    finished = list(spans.get_finished_spans())
    [run_span] = [s for s in finished if s.name == "workflow traced"]
    step_spans = {s.name: s for s in finished if s.name.startswith("step ")}

    flow_span = _parent(run_span, finished)
    assert flow_span is not None
    assert flow_span.attributes is not None
    assert flow_span.attributes["prefect.run.type"] == "flow"
    assert flow_span.attributes["prefect.run.name"] == "traced"
    for name in ("first", "second"):
        task_span = _parent(step_spans[f"step {name}"], finished)
        assert task_span is not None and task_span.attributes is not None
        assert task_span.attributes["prefect.run.type"] == "task"
        assert task_span.attributes["prefect.run.name"] == name
        assert task_span.context.trace_id == run_span.context.trace_id

    assert format(run_span.context.trace_id, "032x") == result.trace_id
    assert run_span.attributes is not None
    assert run_span.attributes["wfmon.workflow"] == "traced"
    assert run_span.attributes["wfmon.environment"] == "test"
    assert run_span.attributes["error.type"] == "TRANSIENT"
    second = step_spans["step second"].attributes
    assert second is not None
    assert second["http.request.method"] == "GET"
    assert second["http.response.status_code"] == 503
    assert second["error.type"] == "TRANSIENT"
    assert second["wfmon.step.duration_ms"] == result.steps[1].duration_ms
