"""Why a call failed, and whether trying again can help (SPEC §4 error types).

Pure functions: an HTTP status or an exception in, an ``ErrorType`` out.

Statuses: 2xx/3xx (and 1xx) are not failures; 500, 502, 503, 504 are TRANSIENT; 408 is
TIMEOUT; 429 is RATE_LIMIT; every other 4xx is PERMANENT. Other 5xx (501 Not Implemented,
505, 599, ...) and anything outside 100-599 are UNKNOWN: SPEC names them in no group, and
UNKNOWN's "retry at most once" is the cautious middle ground between hammering a server
that will never implement the method and giving up on a proxy's odd 5xx.

Exceptions: an ``error_type`` attribute holding an ``ErrorType`` wins (callers raise
``tasks.retry.RetryableError`` to report outcomes they classified themselves); then
``httpx.HTTPStatusError`` by its status; then::

    TIMEOUT   httpx.TimeoutException (Connect/Read/Write/PoolTimeout), TimeoutError
    NETWORK   httpx.NetworkError (ConnectError incl. DNS failure, ReadError, WriteError,
              CloseError), httpx.RemoteProtocolError, httpx.ProxyError, ConnectionError
              (refused/reset/aborted/broken pipe), socket.gaierror, socket.herror,
              OSError with a network-unreachable errno
    UNKNOWN   everything else (including our own bugs: retried once, then reported)

``httpx.ConnectTimeout`` is a TIMEOUT, not NETWORK: the peer may just be slow, and the
timeout family is what callers tune.
"""

from __future__ import annotations

import errno
import re
import socket
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from wfmon.results import ErrorType

__all__ = [
    "classify_exception",
    "classify_status",
    "is_retryable",
    "parse_retry_after",
    "requested_delay_ms",
]

_TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
_NETWORK_ERRNOS = frozenset(
    {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN}
)
# Delta-seconds per RFC 9110 is an integer; we also accept decimals, which some servers send.
_SECONDS = re.compile(r"[+-]?\d+(?:\.\d+)?")


def classify_status(status: int) -> ErrorType | None:
    """The error type of an HTTP status; ``None`` when it is not a failure (1xx-3xx)."""
    if 100 <= status < 400:
        return None
    if status in _TRANSIENT_STATUSES:
        return ErrorType.TRANSIENT
    if status == 408:
        return ErrorType.TIMEOUT
    if status == 429:
        return ErrorType.RATE_LIMIT
    if 400 <= status < 500:
        return ErrorType.PERMANENT
    return ErrorType.UNKNOWN


def classify_exception(exc: BaseException) -> ErrorType:
    """The error type of an exception raised by a call."""
    explicit = getattr(exc, "error_type", None)
    if isinstance(explicit, ErrorType):
        return explicit
    if isinstance(exc, httpx.HTTPStatusError):
        return classify_status(exc.response.status_code) or ErrorType.UNKNOWN
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return ErrorType.TIMEOUT
    if isinstance(
        exc,
        httpx.NetworkError
        | httpx.RemoteProtocolError
        | httpx.ProxyError
        | ConnectionError
        | socket.gaierror
        | socket.herror,
    ):
        return ErrorType.NETWORK
    if isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS:
        return ErrorType.NETWORK
    return ErrorType.UNKNOWN


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """A ``Retry-After`` value (seconds or HTTP date) in ms from ``now``; None if unusable.

    Negative seconds and dates in the past give 0 (retry now); garbage gives None, so the
    caller falls back to its own backoff.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if value is None:
        return None
    text = value.strip()
    if _SECONDS.fullmatch(text):
        return max(0.0, float(text) * 1000.0)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" zone: RFC 5322 says UTC with unknown origin
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds() * 1000.0)


def requested_delay_ms(exc: BaseException, *, now: datetime) -> float | None:
    """The delay a failure asked for: its ``retry_after_ms``, else its ``Retry-After`` header."""
    explicit = getattr(exc, "retry_after_ms", None)
    if isinstance(explicit, int | float) and not isinstance(explicit, bool):
        return max(0.0, float(explicit))
    if isinstance(exc, httpx.HTTPStatusError):
        return parse_retry_after(exc.response.headers.get("retry-after"), now=now)
    return None


def is_retryable(error_type: ErrorType, *, attempt: int) -> bool:
    """Whether a failure of this type on ``attempt`` (1-based) deserves another attempt.

    PERMANENT and ASSERTION never (the same request gets the same answer); UNKNOWN only
    after the first attempt, so it is tried at most twice; everything else yes (the
    profile's ``max_attempts`` still bounds it).
    """
    if error_type in (ErrorType.PERMANENT, ErrorType.ASSERTION):
        return False
    if error_type is ErrorType.UNKNOWN:
        return attempt < 2
    return True
