"""Deployments for ``wfmon up``: one per workflow on its schedule, and alert maintenance."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import cast

from prefect.deployments.runner import RunnerDeployment
from prefect.types.entrypoint import EntrypointType

from flows.alerts import alert_maintenance
from flows.workflow import monitor_workflow, run_tags
from wfmon.config import Config


def workflow_deployments(
    config: Config, *, config_path: Path, environment: str | None = None
) -> list[RunnerDeployment]:
    """A deployment per workflow, named after it, tagged like its runs."""
    env = environment or config.default_environment
    deployments = []
    for spec in config.workflows:
        # Called from sync code, Prefect's dispatching ``to_deployment`` returns the value.
        deployment = cast(
            RunnerDeployment,
            monitor_workflow.to_deployment(
                name=spec.name,
                interval=(
                    timedelta(seconds=spec.schedule.interval)
                    if spec.schedule.interval is not None
                    else None
                ),
                cron=spec.schedule.cron,
                parameters={
                    "workflow": spec.name,
                    "environment": env,
                    "config_path": str(config_path),
                },
                tags=run_tags(spec, env),
                description=spec.description or None,
                # Resolved through the installed package, whatever the working directory.
                entrypoint_type=EntrypointType.MODULE_PATH,
            ),
        )
        deployments.append(deployment)
    return deployments


def maintenance_deployment(*, config_path: Path) -> RunnerDeployment:
    """``alert-maintenance`` every minute: escalations, auto-resolve, delivery retries."""
    return cast(
        RunnerDeployment,
        alert_maintenance.to_deployment(
            name="alert-maintenance",
            interval=timedelta(minutes=1),
            parameters={"config_path": str(config_path)},
            tags=["wfmon:maintenance"],
            entrypoint_type=EntrypointType.MODULE_PATH,
        ),
    )
