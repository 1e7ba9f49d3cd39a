"""``GET /api/health``: the API answers and reaches its database."""

from __future__ import annotations

import time
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from sqlalchemy import Engine, text

from api.envelope import REQUEST_ID_HEADER, meta_for, request_id
from api.schemas import DatabaseHealth, ErrorEnvelope, HealthEnvelope, HealthOut
from store.sessions import session_for

__all__ = ["HealthController", "database_latency_ms"]

EngineDep = NamedDependency[Engine]


def database_latency_ms(engine: Engine) -> float:
    """How long ``SELECT 1`` takes; raises ``StoreUnavailable`` when the database is down."""
    with session_for(engine) as session:
        started = time.perf_counter()
        session.execute(text("SELECT 1"))
        return (time.perf_counter() - started) * 1000


class HealthController(Controller):
    """Liveness and readiness in one: 200 when the database answers, 503 when it does not."""

    path = "/api/health"
    tags = ["health"]

    @get(
        name="health",
        summary="Health check",
        sync_to_thread=True,
        responses={503: ResponseSpec(ErrorEnvelope, description="The database is unreachable")},
    )
    def health(
        self, request: Request[Any, Any, Any], engine: EngineDep
    ) -> Response[HealthEnvelope]:
        """The API is up and its database answers."""
        latency = database_latency_ms(engine)
        envelope = HealthEnvelope(
            success=True,
            data=HealthOut(status="ok", database=DatabaseHealth(status="up", latency_ms=latency)),
            error=None,
            meta=meta_for(request),
        )
        return Response(envelope, headers={REQUEST_ID_HEADER: request_id(request)})
