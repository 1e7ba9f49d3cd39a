"""``/api/monitoring/executions``: recorded runs, as ``wfmon run --json`` prints them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, QueryParameter
from sqlalchemy import Engine

from api.envelope import REQUEST_ID_HEADER, ApiError, meta_for, request_id
from api.schemas import (
    ErrorEnvelope,
    ExecutionEnvelope,
    ExecutionListEnvelope,
    ExecutionOut,
)
from store import get_run, list_runs, run_record_json
from wfmon.results import RunStatus

__all__ = ["ExecutionsController", "parse_since"]

EngineDep = NamedDependency[Engine]
MAX_LIMIT = 1000


def parse_since(value: str) -> datetime:
    """An ISO-8601 time; without a zone it is read as UTC. ``ApiError`` 400 if unreadable."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ApiError(
            400, "INVALID_PARAMETER", f"since: {value[:64]!r} is not an ISO-8601 time"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _execution(record: Any) -> ExecutionOut:
    return msgspec.convert(run_record_json(record), ExecutionOut)


class ExecutionsController(Controller):
    """Recorded runs, newest first, and one run by id."""

    path = "/api/monitoring/executions"
    tags = ["executions"]

    @get(
        name="executions:list",
        summary="List runs",
        sync_to_thread=True,
        responses={400: ResponseSpec(ErrorEnvelope, description="A bad filter")},
    )
    def list_executions(
        self,
        request: Request[Any, Any, Any],
        engine: EngineDep,
        workflow: Annotated[
            str | None, QueryParameter(description="Only this workflow", max_length=200)
        ] = None,
        status: Annotated[RunStatus | None, QueryParameter(description="Only this status")] = None,
        since: Annotated[
            str | None,
            QueryParameter(description="Started at or after this ISO-8601 time (UTC if no zone)"),
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description="At most")] = 100,
    ) -> Response[ExecutionListEnvelope]:
        """Runs matching every given filter, newest first."""
        records = list_runs(
            engine,
            workflow=workflow,
            status=status,
            since=None if since is None else parse_since(since),
            limit=limit,
        )
        envelope = ExecutionListEnvelope(
            success=True,
            data=[_execution(record) for record in records],
            error=None,
            meta=meta_for(request),
        )
        return Response(envelope, headers={REQUEST_ID_HEADER: request_id(request)})

    @get(
        "/{execution_id:str}",
        name="executions:get",
        summary="One run",
        sync_to_thread=True,
        responses={
            400: ResponseSpec(ErrorEnvelope, description="Not a UUID"),
            404: ResponseSpec(ErrorEnvelope, description="No such run"),
        },
    )
    def get_execution(
        self,
        request: Request[Any, Any, Any],
        engine: EngineDep,
        execution_id: FromPath[str],
    ) -> Response[ExecutionEnvelope]:
        """The run with this id, steps and conditions included."""
        try:
            run_id = uuid.UUID(execution_id)
        except ValueError:
            raise ApiError(
                400, "INVALID_PARAMETER", f"execution id {execution_id[:64]!r} is not a UUID"
            ) from None
        record = get_run(engine, run_id=run_id)
        if record is None:
            raise ApiError(404, "EXECUTION_NOT_FOUND", f"no execution {run_id}")
        envelope = ExecutionEnvelope(
            success=True, data=_execution(record), error=None, meta=meta_for(request)
        )
        return Response(envelope, headers={REQUEST_ID_HEADER: request_id(request)})
