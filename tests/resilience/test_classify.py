"""Error classification: statuses, real and constructed exceptions, Retry-After, retryability."""

from __future__ import annotations

import errno
import socket
import struct
import threading
import time
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest

from tasks.classify import (
    classify_exception,
    classify_status,
    is_retryable,
    parse_retry_after,
    requested_delay_ms,
)
from tasks.retry import CircuitOpenError, RetryableError
from tests.resilience.fakes import T0
from wfmon.results import ErrorType

E = ErrorType


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (100, None),
        (200, None),
        (201, None),
        (204, None),
        (301, None),
        (304, None),
        (400, E.PERMANENT),
        (401, E.PERMANENT),
        (403, E.PERMANENT),
        (404, E.PERMANENT),
        (408, E.TIMEOUT),
        (409, E.PERMANENT),
        (422, E.PERMANENT),
        (429, E.RATE_LIMIT),
        (451, E.PERMANENT),
        (500, E.TRANSIENT),
        (501, E.UNKNOWN),
        (502, E.TRANSIENT),
        (503, E.TRANSIENT),
        (504, E.TRANSIENT),
        (505, E.UNKNOWN),
        (599, E.UNKNOWN),
        (99, E.UNKNOWN),
        (600, E.UNKNOWN),
    ],
)
def test_classify_status(status: int, expected: ErrorType | None) -> None:
    assert classify_status(status) is expected


def _status_error(status: int, headers: dict[str, str] | None = None) -> httpx.HTTPStatusError:
    request = httpx.Request("GET", "http://127.0.0.1/")
    response = httpx.Response(status, headers=headers, request=request)
    return httpx.HTTPStatusError(f"status {status}", request=request, response=response)


class _Tagged(Exception):
    error_type = "TRANSIENT"  # a plain string, not an ErrorType: ignored


class _ReclassifiedStatusError(httpx.HTTPStatusError):
    error_type = E.TRANSIENT  # the caller knows better than the status (404 here)


def _reclassified_404() -> httpx.HTTPStatusError:
    plain = _status_error(404)
    return _ReclassifiedStatusError("404", request=plain.request, response=plain.response)


@pytest.mark.parametrize(
    ("name", "exc", "expected"),
    [
        ("explicit transient", RetryableError("503", error_type=E.TRANSIENT), E.TRANSIENT),
        ("explicit assertion", RetryableError("bad body", error_type=E.ASSERTION), E.ASSERTION),
        ("explicit wins over status", _reclassified_404(), E.TRANSIENT),
        ("status error 404", _status_error(404), E.PERMANENT),
        ("status error 429", _status_error(429), E.RATE_LIMIT),
        ("status error 408", _status_error(408), E.TIMEOUT),
        ("connect timeout", httpx.ConnectTimeout("slow connect"), E.TIMEOUT),
        ("read timeout", httpx.ReadTimeout("slow read"), E.TIMEOUT),
        ("write timeout", httpx.WriteTimeout("slow write"), E.TIMEOUT),
        ("pool timeout", httpx.PoolTimeout("pool"), E.TIMEOUT),
        ("builtin timeout", TimeoutError(), E.TIMEOUT),
        ("connect error", httpx.ConnectError("refused"), E.NETWORK),
        ("read error", httpx.ReadError("reset"), E.NETWORK),
        ("write error", httpx.WriteError("broken pipe"), E.NETWORK),
        ("remote protocol error", httpx.RemoteProtocolError("disconnected"), E.NETWORK),
        ("proxy error", httpx.ProxyError("proxy"), E.NETWORK),
        ("refused", ConnectionRefusedError(), E.NETWORK),
        ("reset", ConnectionResetError(), E.NETWORK),
        ("broken pipe", BrokenPipeError(), E.NETWORK),
        ("gaierror", socket.gaierror(socket.EAI_NONAME, "Name or service not known"), E.NETWORK),
        ("unreachable", OSError(errno.ENETUNREACH, "Network is unreachable"), E.NETWORK),
        ("file not found", FileNotFoundError(), E.UNKNOWN),
        ("local protocol error", httpx.LocalProtocolError("our bug"), E.UNKNOWN),
        ("unsupported protocol", httpx.UnsupportedProtocol("ftp://"), E.UNKNOWN),
        ("value error", ValueError("boom"), E.UNKNOWN),
        ("key error", KeyError("x"), E.UNKNOWN),
        ("string error_type ignored", _Tagged(), E.UNKNOWN),
        ("circuit open", CircuitOpenError("w"), E.UNKNOWN),
    ],
)
def test_classify_constructed_exception(name: str, exc: BaseException, expected: ErrorType) -> None:
    assert classify_exception(exc) is expected


# -- real failures against 127.0.0.1 ----------------------------------------------------------


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that completes the TCP handshake (the kernel does it) but never answers."""
    with socket.create_server(("127.0.0.1", 0), backlog=8) as server:
        yield server.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    """A port nobody listens on: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def resetting_server() -> Iterator[int]:
    """A server that reads the request, then aborts the connection (SO_LINGER 0 sends RST)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(2)

    def serve() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        conn.recv(65536)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    thread.join(timeout=2)
    server.close()


def _failure_of(url: str) -> httpx.HTTPError:
    with httpx.Client(timeout=0.1) as client:
        try:
            client.get(url)
        except httpx.HTTPError as exc:
            return exc
    raise AssertionError(f"GET {url} did not fail")


def test_real_timeout(silent_server: int) -> None:
    exc = _failure_of(f"http://127.0.0.1:{silent_server}/")
    assert isinstance(exc, httpx.ReadTimeout)
    assert classify_exception(exc) is E.TIMEOUT


def test_real_connection_refused(closed_port: int) -> None:
    exc = _failure_of(f"http://127.0.0.1:{closed_port}/")
    assert isinstance(exc, httpx.ConnectError)
    assert classify_exception(exc) is E.NETWORK


def test_real_connection_reset(resetting_server: int) -> None:
    exc = _failure_of(f"http://127.0.0.1:{resetting_server}/")
    # Which one depends on when the RST lands; both are the network's fault.
    assert isinstance(exc, httpx.ReadError | httpx.RemoteProtocolError | httpx.WriteError)
    assert classify_exception(exc) is E.NETWORK


def test_real_dns_failure() -> None:
    # RFC 6761: .invalid never resolves; the resolver answers locally, without network.
    started = time.monotonic()
    exc = _failure_of("http://wfmon-no-such-host.invalid/")
    assert time.monotonic() - started < 2
    assert isinstance(exc, httpx.ConnectError)
    assert classify_exception(exc) is E.NETWORK


def test_constructed_dns_failure() -> None:
    # What httpx raises for a DNS failure, built by hand in case a resolver is slow.
    try:
        try:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        except socket.gaierror as cause:
            raise httpx.ConnectError(str(cause)) from cause
    except httpx.ConnectError as exc:
        assert classify_exception(exc) is E.NETWORK


# -- Retry-After ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("none", None, None),
        ("seconds", "120", 120_000.0),
        ("zero seconds", "0", 0.0),
        ("padded seconds", " 5 ", 5_000.0),
        ("decimal seconds", "1.5", 1_500.0),
        ("negative seconds", "-3", 0.0),
        ("http date ahead", "Thu, 01 Jan 2026 12:00:30 GMT", 30_000.0),
        ("http date other zone", "Thu, 01 Jan 2026 13:00:10 +0100", 10_000.0),
        ("http date unknown zone is utc", "Thu, 01 Jan 2026 12:01:00 -0000", 60_000.0),
        ("http date now", "Thu, 01 Jan 2026 12:00:00 GMT", 0.0),
        ("http date past", "Wed, 31 Dec 2025 12:00:00 GMT", 0.0),
        ("garbage word", "soon", None),
        ("empty", "", None),
        ("exponent", "1e3", None),
        ("nan", "nan", None),
        ("inf", "inf", None),
        ("seconds with unit", "5 seconds", None),
        ("broken date", "Thu, 99 Foo 2026 12:00:00 GMT", None),
    ],
)
def test_parse_retry_after(name: str, value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=T0) == expected


def test_parse_retry_after_needs_aware_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_retry_after("5", now=datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("name", "exc", "expected"),
    [
        ("explicit", RetryableError("429", error_type=E.RATE_LIMIT, retry_after_ms=2500), 2500.0),
        ("explicit negative", RetryableError("x", error_type=E.RATE_LIMIT, retry_after_ms=-1), 0.0),
        ("explicit absent", RetryableError("x", error_type=E.RATE_LIMIT), None),
        ("header seconds", _status_error(429, {"Retry-After": "3"}), 3000.0),
        ("header date", _status_error(503, {"Retry-After": "Thu, 01 Jan 2026 12:00:02 GMT"}), 2e3),
        ("header garbage", _status_error(429, {"Retry-After": "later"}), None),
        ("no header", _status_error(429), None),
        ("plain exception", ValueError(), None),
    ],
)
def test_requested_delay(name: str, exc: BaseException, expected: float | None) -> None:
    assert requested_delay_ms(exc, now=T0) == expected


# -- retryability -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error_type", "attempt", "expected"),
    [
        (E.TRANSIENT, 1, True),
        (E.TRANSIENT, 7, True),
        (E.TIMEOUT, 3, True),
        (E.NETWORK, 3, True),
        (E.RATE_LIMIT, 3, True),
        (E.PERMANENT, 1, False),
        (E.ASSERTION, 1, False),
        (E.UNKNOWN, 1, True),
        (E.UNKNOWN, 2, False),
        (E.UNKNOWN, 3, False),
    ],
)
def test_is_retryable(error_type: ErrorType, attempt: int, expected: bool) -> None:
    assert is_retryable(error_type, attempt=attempt) is expected
