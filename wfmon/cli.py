"""The ``wfmon`` command line (SPEC §3).

Exit codes: 0 success (all runs passed or degraded), 1 a run failed or was skipped,
2 bad configuration or bad usage.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from rules.models import AlertState, Severity
from wfmon.config import Config, ConfigError, load_config, resolve_config_path
from wfmon.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from store import RunRecord

app = typer.Typer(
    name="wfmon",
    help="Synthetic workflow monitor: scripted user journeys on Prefect.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
breaker_app = typer.Typer(help="Circuit breakers, one per workflow and environment.")
app.add_typer(breaker_app, name="breaker", no_args_is_help=True)
alerts_app = typer.Typer(help="Alerts: one per rule, workflow and environment while open.")
app.add_typer(alerts_app, name="alerts", no_args_is_help=True)

ConfigOption = Annotated[
    str | None,
    typer.Option(
        "--config",
        "-c",
        help="wfmon.yaml or a folder of *.yaml (default: WFMON_CONFIG, ./wfmon.yaml)",
    ),
]

# User text (config errors, names, error messages) is never rich markup, and one error
# stays on one line whatever the terminal width: scripts grep these lines.
out = Console(soft_wrap=True, markup=False, highlight=False)
err = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)


def _load(config: str | None) -> tuple[Config, Path]:
    path = resolve_config_path(config)
    try:
        return load_config(path), path.resolve()
    except ConfigError as error:
        for issue in error.issues:
            err.print(str(issue))
        err.print(f"{len(error.issues)} error(s) in {path}", style="red")
        raise typer.Exit(2) from None


def _prepare_database(settings: Settings) -> None:
    """The embedded SQLite default is migrated by itself; others by ``wfmon db upgrade``."""
    if settings.embedded_database:
        from store import upgrade

        upgrade(settings.database_url)


@app.command()
def validate(config: ConfigOption = None) -> None:
    """Check the config and print every error."""
    loaded, path = _load(config)
    out.print(
        f"{path}: valid ({len(loaded.workflows)} workflow(s), "
        f"{len(loaded.environments)} environment(s))",
        highlight=False,
    )


@app.command()
def run(
    config: ConfigOption = None,
    workflow: Annotated[
        list[str] | None, typer.Option("--workflow", "-w", help="Run only these (repeatable).")
    ] = None,
    env: Annotated[str | None, typer.Option("--env", help="Environment to run against.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run records as JSON.")] = False,
) -> None:
    """Run the selected workflows once, record them and print the results."""
    loaded, path = _load(config)
    known = [spec.name for spec in loaded.workflows]
    names = workflow or known
    unknown = [name for name in names if name not in known]
    if unknown:
        err.print(f"unknown workflow(s): {', '.join(unknown)} (known: {', '.join(known)})")
        raise typer.Exit(2)
    if env is not None and env not in loaded.environments:
        err.print(f"unknown environment {env!r} (known: {', '.join(loaded.environments)})")
        raise typer.Exit(2)
    settings = Settings()
    _prepare_database(settings)

    from flows.workflow import run_workflows
    from store import run_record_json
    from wfmon.results import RunStatus

    records = asyncio.run(run_workflows(names, environment=env, config_path=str(path)))
    if as_json:
        print(json.dumps([run_record_json(record) for record in records], indent=2))  # noqa: T201
    else:
        _print_table(records)
    bad = {RunStatus.FAILED, RunStatus.SKIPPED}
    raise typer.Exit(1 if any(record.result.status in bad for record in records) else 0)


def _print_table(records: Sequence[RunRecord]) -> None:
    table = Table(title="wfmon run")
    for column in ("workflow", "env", "status", "ms", "attempts", "failed step", "error"):
        table.add_column(column)
    colours = {"passed": "green", "degraded": "yellow", "failed": "red", "skipped": "magenta"}
    for record in records:
        result = record.result
        table.add_row(
            result.workflow,
            result.environment,
            Text(result.status.value, style=colours[result.status.value]),
            f"{result.duration_ms:.0f}",
            str(result.attempts),
            result.failed_step or "",
            (f"{result.error_type}: " if result.error_type else "") + (result.error_message or ""),
        )
    out.print(table)


HostOption = Annotated[str, typer.Option("--host", help="Address the API listens on.")]
PortOption = Annotated[int, typer.Option("--port", help="Port the API listens on.")]


@app.command()
def serve(
    config: ConfigOption = None,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
) -> None:
    """Serve the HTTP API and dashboard alone until Ctrl-C."""
    if config is not None:
        _load(config)  # only checked: the API reads the database, not the config
    settings = Settings()
    _prepare_database(settings)
    from api.server import run_api

    run_api(database_url=settings.database_url, api_token=settings.api_token, host=host, port=port)


@app.command()
def up(
    config: ConfigOption = None,
    env: Annotated[str | None, typer.Option("--env", help="Environment to monitor.")] = None,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
) -> None:
    """Serve every workflow on its schedule through Prefect, and the API, until Ctrl-C."""
    loaded, path = _load(config)
    settings = Settings()
    _prepare_database(settings)

    from api.server import api_in_background

    with api_in_background(
        database_url=settings.database_url, api_token=settings.api_token, host=host, port=port
    ) as api_url:
        err.print(f"API and dashboard: {api_url}")
        _schedule(loaded, path, env)


def _schedule(loaded: Config, path: Path, env: str | None) -> None:
    from prefect import serve

    from flows.deployments import maintenance_deployment, workflow_deployments
    from wfmon.prefect_server import local_prefect_server

    deployments = [
        *workflow_deployments(loaded, config_path=path, environment=env),
        maintenance_deployment(config_path=path),
    ]
    if os.environ.get("PREFECT_API_URL"):
        serve(*deployments)
        return
    with local_prefect_server() as api_url:
        os.environ["PREFECT_API_URL"] = api_url
        err.print(f"Prefect UI: {api_url.removesuffix('/api')}")
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings({PREFECT_API_URL: api_url}):
            serve(*deployments)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations (Alembic) to WFMON_DATABASE_URL."""
    from store import current_revision, upgrade

    url = Settings().database_url
    upgrade(url)
    out.print(f"database at revision {current_revision(url)}")


@breaker_app.command("list")
def breaker_list() -> None:
    """Show every breaker: state, consecutive failures, since when it is open."""
    from store import DatabaseBreakerStore, split_breaker_key

    breakers = DatabaseBreakerStore(_engine()).list_breakers_sync()
    table = Table(title="circuit breakers")
    for column in ("name", "workflow", "environment", "state", "failures", "opened at"):
        table.add_column(column)
    for key, breaker in breakers:
        workflow, environment = split_breaker_key(key)
        table.add_row(
            key,
            workflow,
            environment,
            breaker.state.value,
            str(breaker.consecutive_failures),
            breaker.opened_at.isoformat() if breaker.opened_at else "",
        )
    out.print(table)


@breaker_app.command("reset")
def breaker_reset(
    name: Annotated[str, typer.Argument(help="WORKFLOW@ENVIRONMENT, as `breaker list` shows")],
) -> None:
    """Close a breaker and forget its failures."""
    from store import DatabaseBreakerStore

    store = DatabaseBreakerStore(_engine())
    known = {key for key, _ in store.list_breakers_sync()}
    if name not in known:
        err.print(f"no breaker named {name!r} (known: {', '.join(sorted(known)) or 'none'})")
        raise typer.Exit(2)
    store.reset_sync(name)
    out.print(f"breaker {name} reset to CLOSED")


@alerts_app.command("list")
def alerts_list(
    state: Annotated[AlertState | None, typer.Option(case_sensitive=False)] = None,
    severity: Annotated[Severity | None, typer.Option(case_sensitive=False)] = None,
    workflow: Annotated[str | None, typer.Option("--workflow", "-w")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Alerts as JSON.")] = False,
) -> None:
    """Alerts, latest seen first."""
    from store import list_alerts

    alerts = list_alerts(
        _engine(),
        state=state,
        severity=severity,
        workflow=workflow,
        limit=limit,
    )
    if as_json:
        from store import alert_json

        out.print_json(json.dumps([alert_json(alert) for alert in alerts]))
        return
    table = Table(title="alerts")
    for column in ("id", "severity", "state", "rule", "workflow", "env", "count", "last seen"):
        table.add_column(column)
    for alert in alerts:
        table.add_row(
            alert.id,
            alert.severity.value,
            alert.state.value,
            alert.rule_id,
            alert.workflow,
            alert.environment,
            str(alert.count),
            alert.last_seen.isoformat(timespec="seconds"),
        )
    out.print(table)


@alerts_app.command("ack")
def alerts_ack(
    alert_id: Annotated[str, typer.Argument(help="The alert's id, as `alerts list` shows")],
    by: Annotated[str | None, typer.Option(help="Who acknowledges (default: $USER)")] = None,
) -> None:
    """Acknowledge an alert: no more reminders, no escalation; it still resolves."""
    from datetime import UTC, datetime

    from rules import AlertStateError
    from store import acknowledge_alert

    who = by or os.environ.get("USER") or "cli"
    try:
        alert = acknowledge_alert(_engine(), alert_id=alert_id, by=who, now=datetime.now(UTC))
    except AlertStateError as refused:
        err.print(str(refused))
        raise typer.Exit(2) from None
    if alert is None:
        err.print(f"no alert has id {alert_id!r}")
        raise typer.Exit(2)
    out.print(f"alert {alert.id} acknowledged by {alert.acknowledged_by}")


@alerts_app.command("resolve")
def alerts_resolve(
    alert_id: Annotated[str, typer.Argument(help="The alert's id, as `alerts list` shows")],
) -> None:
    """Resolve an alert by hand (no notice is sent)."""
    from datetime import UTC, datetime

    from store import resolve_alert

    alert = resolve_alert(_engine(), alert_id=alert_id, now=datetime.now(UTC))
    if alert is None:
        err.print(f"no alert has id {alert_id!r}")
        raise typer.Exit(2)
    out.print(f"alert {alert.id} resolved")


def _engine() -> Engine:
    """The store's engine; the embedded default is migrated first."""
    from tasks.record import engine_for

    settings = Settings()
    _prepare_database(settings)
    return engine_for(settings.database_url)


def main() -> None:
    """Entry point: run the app, turning our expected errors into clean exits."""
    sys.exit(app())
