"""The envelope every answer travels in, request ids, and errors as envelopes.

Exceptions the handlers raise (``ApiError`` and Litestar's own) and the store's failures
become ``{success: false, error: {code, message}}`` with the right status; nothing becomes
a bare 500: an unexpected exception is logged and answered ``INTERNAL_ERROR`` in the same
envelope (and the tests check no input gets there).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_401_UNAUTHORIZED,
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_405_METHOD_NOT_ALLOWED,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)

from api.schemas import ErrorBody, ErrorEnvelope, Meta
from store import StoreError, StoreUnavailable, json_timestamp

__all__ = [
    "REQUEST_ID_HEADER",
    "ApiError",
    "error_handlers",
    "meta_for",
    "refuse_nul_bytes",
    "request_id",
]

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
# Echoed back as given when it looks like an id; anything else gets a fresh one, so a
# header cannot smuggle control characters or kilobytes into every log line and body.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")

Clock = Callable[[], datetime]


class ApiError(Exception):
    """An expected failure with its HTTP status and error code."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message


def request_id(request: Request[Any, Any, Any]) -> str:
    """The caller's ``X-Request-ID`` when usable, else one made for this request."""
    cached = request.scope.setdefault("state", {}).get("wfmon_request_id")
    if isinstance(cached, str):
        return cached
    given = request.headers.get(REQUEST_ID_HEADER, "")
    value = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    request.scope["state"]["wfmon_request_id"] = value
    return value


def meta_for(request: Request[Any, Any, Any], *, period: str | None = None) -> Meta:
    """The ``meta`` of an answer to ``request``."""
    clock: Clock = request.app.state.clock
    return Meta(timestamp=json_timestamp(clock()), request_id=request_id(request), period=period)


def _error(
    request: Request[Any, Any, Any],
    status_code: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> Response[ErrorEnvelope]:
    envelope = ErrorEnvelope(
        success=False,
        data=None,
        error=ErrorBody(code=code, message=message),
        meta=meta_for(request),
    )
    return Response(
        envelope,
        status_code=status_code,
        headers={**(headers or {}), REQUEST_ID_HEADER: request_id(request)},
    )


def _api_error(request: Request[Any, Any, Any], exc: ApiError) -> Response[ErrorEnvelope]:
    return _error(request, exc.status_code, exc.code, exc.message)


def _validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    problems = exc.extra if isinstance(exc.extra, list) else []
    where = "; ".join(
        f"{item.get('key') or item.get('source', '')}: {item.get('message', '')}".strip(": ")
        for item in problems
        if isinstance(item, dict)
    )
    message = f"{exc.detail}: {where}" if where else str(exc.detail)
    return _error(request, HTTP_400_BAD_REQUEST, "INVALID_PARAMETER", message)


_CODES = {
    HTTP_400_BAD_REQUEST: "BAD_REQUEST",
    HTTP_401_UNAUTHORIZED: "UNAUTHORIZED",
    HTTP_403_FORBIDDEN: "FORBIDDEN",
    HTTP_404_NOT_FOUND: "NOT_FOUND",
    HTTP_405_METHOD_NOT_ALLOWED: "METHOD_NOT_ALLOWED",
}


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if status >= HTTP_500_INTERNAL_SERVER_ERROR:
        logger.error("HTTP %s on %s %s: %s", status, request.method, request.url.path, exc)
    headers = dict(exc.headers or {})
    return _error(request, status, _CODES.get(status, f"HTTP_{status}"), str(exc.detail), headers)


def _unauthorized(request: Request[Any, Any, Any], exc: NotAuthorizedException) -> Response[Any]:
    return _error(
        request,
        HTTP_401_UNAUTHORIZED,
        "UNAUTHORIZED",
        str(exc.detail),
        {"WWW-Authenticate": 'Bearer realm="wfmon"'},
    )


def _store(request: Request[Any, Any, Any], exc: StoreError) -> Response[Any]:
    # The store's message can name hosts and users of the database URL: log it, not send it.
    logger.error("store failure on %s %s: %s", request.method, request.url.path, exc)
    if isinstance(exc, StoreUnavailable):
        return _error(
            request, HTTP_503_SERVICE_UNAVAILABLE, "STORE_UNAVAILABLE", "the database is down"
        )
    return _error(request, HTTP_503_SERVICE_UNAVAILABLE, "STORE_ERROR", "the database failed")


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    logger.exception("unexpected error on %s %s", request.method, request.url.path)
    return _error(
        request, HTTP_500_INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "unexpected server error"
    )


def refuse_nul_bytes(request: Request[Any, Any, Any]) -> None:
    """A NUL byte in the query can match nothing stored (and PostgreSQL refuses it): 400."""
    for name, value in request.query_params.multi_items():
        if "\x00" in name or "\x00" in value:
            raise ApiError(400, "INVALID_PARAMETER", f"{name[:64]!r}: NUL bytes are not allowed")


def error_handlers() -> dict[type[Exception] | int, Any]:
    """Litestar ``exception_handlers`` turning every failure into an error envelope."""
    return {
        ApiError: _api_error,
        ValidationException: _validation,
        NotAuthorizedException: _unauthorized,
        PermissionDeniedException: _http,
        NotFoundException: _http,
        MethodNotAllowedException: _http,
        HTTPException: _http,
        StoreError: _store,
        Exception: _unexpected,
    }
