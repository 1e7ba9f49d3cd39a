"""The API's application factory: everything it needs is passed in, nothing is global."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from sqlalchemy import Engine

from api.alerts import AlertsController, BreakersController
from api.dashboard import DashboardController
from api.envelope import error_handlers, refuse_nul_bytes
from api.executions import ExecutionsController
from api.health import HealthController
from api.metrics import MetricsController
from api.prometheus import PrometheusController, prometheus_registry

__all__ = ["create_app"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    *,
    engine: Engine,
    api_token: str | None,
    clock: Callable[[], datetime] = _utc_now,
) -> Litestar:
    """The API and dashboard on ``engine`` (the caller owns and disposes it).

    ``api_token`` guards the mutating endpoints; ``None`` disables them. ``clock`` is "now"
    for periods and acknowledgements (tests pass a fixed one).
    """
    registry = prometheus_registry(engine)
    return Litestar(
        route_handlers=[
            DashboardController,
            MetricsController,
            ExecutionsController,
            AlertsController,
            BreakersController,
            HealthController,
            PrometheusController,
        ],
        dependencies={
            "engine": Provide(lambda: engine, sync_to_thread=False),
            "clock": Provide(lambda: clock, sync_to_thread=False),
            "registry": Provide(lambda: registry, sync_to_thread=False),
        },
        # Read by the auth guard and the envelope (which have no dependency injection).
        state=State({"api_token": api_token, "clock": clock}),
        exception_handlers=error_handlers(),
        before_request=refuse_nul_bytes,
        openapi_config=OpenAPIConfig(
            title="wfmon",
            version="1",
            description="Synthetic workflow monitoring: metrics, runs, alerts, breakers.",
            path="/schema",
        ),
    )
