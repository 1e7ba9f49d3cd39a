"""``/api/monitoring/alerts`` and ``/api/monitoring/breakers``: read alerts, act on them.

Acting (acknowledge, resolve, reset) needs the bearer token (``api.auth``).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK
from sqlalchemy import Engine

from api.auth import require_token
from api.envelope import REQUEST_ID_HEADER, ApiError, Clock, meta_for, request_id
from api.schemas import (
    Acknowledgement,
    AlertEnvelope,
    AlertListEnvelope,
    AlertOut,
    BreakerEnvelope,
    BreakerOut,
    ErrorEnvelope,
)
from rules.models import Alert, AlertState, AlertStateError, Severity
from store import (
    DatabaseBreakerStore,
    acknowledge_alert,
    alert_json,
    list_alerts,
    resolve_alert,
    split_breaker_key,
)

__all__ = ["AlertsController", "BreakersController"]

EngineDep = NamedDependency[Engine]
ClockDep = NamedDependency[Clock]
MAX_LIMIT = 1000

_AUTH_ERRORS = {
    401: ResponseSpec(ErrorEnvelope, description="No token, or a wrong one"),
    403: ResponseSpec(ErrorEnvelope, description="No WFMON_API_TOKEN configured on the server"),
}


def _alert(alert: Alert) -> AlertOut:
    return msgspec.convert(alert_json(alert), AlertOut)


def _answer(request: Request[Any, Any, Any], alert: Alert) -> Response[AlertEnvelope]:
    envelope = AlertEnvelope(success=True, data=_alert(alert), error=None, meta=meta_for(request))
    return Response(envelope, headers={REQUEST_ID_HEADER: request_id(request)})


class AlertsController(Controller):
    """Alerts: one per rule, workflow and environment while open."""

    path = "/api/monitoring/alerts"
    tags = ["alerts"]

    @get(
        name="alerts:list",
        summary="List alerts",
        sync_to_thread=True,
        responses={400: ResponseSpec(ErrorEnvelope, description="A bad filter")},
    )
    def list_alerts(
        self,
        request: Request[Any, Any, Any],
        engine: EngineDep,
        # ``state`` is a reserved name in Litestar handlers: the parameter is aliased.
        alert_state: Annotated[
            AlertState | None, QueryParameter(name="state", description="Only this state")
        ] = None,
        severity: Annotated[
            Severity | None, QueryParameter(description="Only this severity")
        ] = None,
        workflow: Annotated[
            str | None, QueryParameter(description="Only this workflow", max_length=200)
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description="At most")] = 100,
    ) -> Response[AlertListEnvelope]:
        """Alerts matching every filter, latest seen first."""
        alerts = list_alerts(
            engine, state=alert_state, severity=severity, workflow=workflow, limit=limit
        )
        envelope = AlertListEnvelope(
            success=True,
            data=[_alert(alert) for alert in alerts],
            error=None,
            meta=meta_for(request),
        )
        return Response(envelope, headers={REQUEST_ID_HEADER: request_id(request)})

    @post(
        "/{alert_id:str}/acknowledge",
        name="alerts:acknowledge",
        summary="Acknowledge an alert",
        status_code=HTTP_200_OK,
        guards=[require_token],
        sync_to_thread=True,
        responses={
            **_AUTH_ERRORS,
            400: ResponseSpec(ErrorEnvelope, description="A bad body"),
            404: ResponseSpec(ErrorEnvelope, description="No such alert"),
            409: ResponseSpec(ErrorEnvelope, description="The alert is resolved"),
        },
    )
    def acknowledge(
        self,
        request: Request[Any, Any, Any],
        engine: EngineDep,
        clock: ClockDep,
        alert_id: FromPath[str],
        data: JSONBody[Acknowledgement],
    ) -> Response[AlertEnvelope]:
        """Someone is on it: stops escalation (needs the API token)."""
        try:
            alert = acknowledge_alert(engine, alert_id=alert_id, by=data.by, now=clock())
        except AlertStateError as exc:
            raise ApiError(409, "ALERT_RESOLVED", str(exc)) from None
        if alert is None:
            raise ApiError(404, "ALERT_NOT_FOUND", f"no alert {alert_id[:64]!r}")
        return _answer(request, alert)

    @post(
        "/{alert_id:str}/resolve",
        name="alerts:resolve",
        summary="Resolve an alert",
        status_code=HTTP_200_OK,
        guards=[require_token],
        sync_to_thread=True,
        responses={**_AUTH_ERRORS, 404: ResponseSpec(ErrorEnvelope, description="No such alert")},
    )
    def resolve(
        self,
        request: Request[Any, Any, Any],
        engine: EngineDep,
        clock: ClockDep,
        alert_id: FromPath[str],
    ) -> Response[AlertEnvelope]:
        """Close the alert by hand (needs the API token); resolving twice changes nothing."""
        alert = resolve_alert(engine, alert_id=alert_id, now=clock())
        if alert is None:
            raise ApiError(404, "ALERT_NOT_FOUND", f"no alert {alert_id[:64]!r}")
        return _answer(request, alert)


class BreakersController(Controller):
    """Circuit breakers, one per workflow and environment (``WORKFLOW@ENVIRONMENT``)."""

    path = "/api/monitoring/breakers"
    tags = ["breakers"]

    @post(
        "/{name:str}/reset",
        name="breakers:reset",
        summary="Reset a circuit breaker",
        status_code=HTTP_200_OK,
        guards=[require_token],
        sync_to_thread=True,
        responses={**_AUTH_ERRORS, 404: ResponseSpec(ErrorEnvelope, description="No such breaker")},
    )
    def reset(
        self, request: Request[Any, Any, Any], engine: EngineDep, name: FromPath[str]
    ) -> Response[BreakerEnvelope]:
        """Close the breaker and forget its failures (needs the API token)."""
        store = DatabaseBreakerStore(engine)
        known = {key for key, _ in store.list_breakers_sync()}
        if name not in known:
            raise ApiError(404, "BREAKER_NOT_FOUND", f"no breaker {name[:200]!r}")
        store.reset_sync(name)
        breaker = store.get_sync(name)
        workflow, environment = split_breaker_key(name)
        envelope = BreakerEnvelope(
            success=True,
            data=BreakerOut(
                name=name,
                workflow_name=workflow,
                environment=environment,
                state=breaker.state.value,
                consecutive_failures=breaker.consecutive_failures,
            ),
            error=None,
            meta=meta_for(request),
        )
        return Response(envelope, headers={REQUEST_ID_HEADER: request_id(request)})
