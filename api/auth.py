"""Bearer-token guard for the mutating endpoints (acknowledge, resolve, breaker reset).

``Authorization: Bearer <WFMON_API_TOKEN>``, compared in constant time. Without a
configured token those endpoints are refused (403), never open.
"""

from __future__ import annotations

import hmac
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

__all__ = ["require_token"]


def require_token(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Let the request through only with the configured bearer token."""
    expected: str | None = connection.app.state.api_token
    if not expected:
        raise PermissionDeniedException(
            "mutating endpoints are disabled: set WFMON_API_TOKEN on the server"
        )
    scheme, _, given = connection.headers.get("authorization", "").partition(" ")
    # compare_digest takes as long whatever the mismatch; bytes, so any text is comparable.
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), expected.encode()
    ):
        raise NotAuthorizedException("a valid 'Authorization: Bearer <token>' header is required")
