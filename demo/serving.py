"""Serve an ASGI app on a real 127.0.0.1 socket from a background thread.

Used by the test suite and the benchmarks to stand up the demo shop and other targets
without a separate process.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

# Any ASGI 3 application: ``await app(scope, receive, send)``.
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]

STARTUP_TIMEOUT_S = 10.0
SHUTDOWN_TIMEOUT_S = 5


@contextmanager
def serve_asgi(app: ASGIApp, *, startup_timeout: float = STARTUP_TIMEOUT_S) -> Iterator[str]:
    """Serve ``app`` on a free 127.0.0.1 port in a thread; yields ``http://127.0.0.1:PORT``."""
    # We bind the socket ourselves and hand it to uvicorn, so the port we report is
    # the one it serves: no window for another process to grab a "free" port.
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose
    # proto says TCP, and without it Nagle + delayed ACK cost ~40 ms per request.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        loop="asyncio",
        lifespan="on",
        log_level="warning",
        # No websockets: importing them emits deprecation warnings, which
        # filterwarnings=error would turn into a crashed server thread.
        ws="none",
        access_log=False,
        # Bounds how long a hung request can hold up the test's teardown.
        timeout_graceful_shutdown=SHUTDOWN_TIMEOUT_S,
    )
    server = uvicorn.Server(config)
    crashes: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        # uvicorn calls sys.exit() when the app's lifespan startup fails; caught here
        # so it is reported in the test, not as an unhandled exception in a thread.
        except (Exception, SystemExit) as exc:
            crashes.append(exc)

    # uvicorn only installs signal handlers on the main thread, so a thread is safe.
    thread = threading.Thread(target=run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        # uvicorn exposes readiness only as a flag; join() doubles as the poll
        # interval and returns at once if the server thread died during startup.
        while not server.started:
            if not thread.is_alive():
                cause = crashes[0] if crashes else None
                raise RuntimeError(f"ASGI server on port {port} exited during startup") from cause
            if time.monotonic() > deadline:
                raise TimeoutError(f"ASGI server on port {port} not up after {startup_timeout}s")
            thread.join(timeout=0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=SHUTDOWN_TIMEOUT_S)
        if thread.is_alive():
            # Open keep-alive connections or a stuck handler: stop without waiting.
            server.force_exit = True
            thread.join(timeout=SHUTDOWN_TIMEOUT_S)
        sock.close()
    if crashes:
        raise RuntimeError(f"ASGI server on port {port} crashed") from crashes[0]
