"""The Prefect artifact that summarises a run's steps in the UI."""

from __future__ import annotations

from prefect.artifacts import acreate_markdown_artifact

from wfmon.results import RunResult

_STATUS_MARK = {"passed": "✅", "degraded": "🐢", "failed": "❌", "skipped": "⏭️"}


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def run_markdown(result: RunResult) -> str:
    """A markdown table of the run's steps with every condition's actual value."""
    lines = [
        f"# {result.workflow} · {result.environment}: "
        f"{_STATUS_MARK.get(result.status.value, '')} {result.status.value}",
        "",
        f"{result.duration_ms:.0f} ms · {result.attempts} attempt(s)"
        + (f" · trace `{result.trace_id}`" if result.trace_id else ""),
        "",
        "| step | status | HTTP | ms | attempts | conditions |",
        "|---|---|---|---|---|---|",
    ]
    for step in result.steps:
        conditions = "<br>".join(
            ("✅ " if c.success else "❌ ") + _cell(c.display) for c in step.conditions
        )
        if step.error_message and not step.conditions:
            conditions = f"{step.error_type}: {_cell(step.error_message)}"
        lines.append(
            f"| {_cell(step.name)} | {step.status.value} | {step.http_status or ''} "
            f"| {step.duration_ms:.1f} | {step.attempts} | {conditions} |"
        )
    return "\n".join(lines)


async def publish_report(result: RunResult) -> None:
    """Attach the run summary to the current flow run as a markdown artifact.

    A plain coroutine, not a task run: it is one API call, and a task run around it
    would cost more than the call itself on every run.
    """
    await acreate_markdown_artifact(
        key=f"{result.workflow}-steps",
        markdown=run_markdown(result),
        description=f"Steps of {result.workflow} on {result.environment}",
    )
