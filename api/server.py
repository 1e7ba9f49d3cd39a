"""Serving the API: in the foreground (``wfmon serve``) or beside the scheduler (``wfmon up``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from api.app import create_app
from store import create_engine_for

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "api_in_background", "run_api"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
_STOP_TIMEOUT_S = 10.0


def _server(database_url: str, api_token: str | None, host: str, port: int) -> uvicorn.Server:
    engine = create_engine_for(database_url)
    app = create_app(engine=engine, api_token=api_token)
    app.on_shutdown.append(engine.dispose)
    # No websockets: the API has none, and importing them only adds start-up time.
    config = uvicorn.Config(app, host=host, port=port, ws="none", log_level="info")
    return uvicorn.Server(config)


def run_api(*, database_url: str, api_token: str | None, host: str, port: int) -> None:
    """Serve until Ctrl-C (uvicorn handles the signal and shuts down cleanly)."""
    _server(database_url, api_token, host, port).run()


@contextmanager
def api_in_background(
    *, database_url: str, api_token: str | None, host: str, port: int
) -> Iterator[str]:
    """Serve from a thread while the block runs; yields the base URL. Stops on exit."""
    server = _server(database_url, api_token, host, port)
    failures: list[BaseException] = []

    def serve() -> None:
        try:
            server.run()
        # uvicorn exits the process on start-up failure (port taken): keep it in the thread.
        except (Exception, SystemExit) as exc:
            failures.append(exc)

    thread = threading.Thread(target=serve, name="wfmon-api", daemon=True)
    thread.start()
    try:
        while not server.started and thread.is_alive():
            thread.join(timeout=0.05)
        if not server.started:
            raise RuntimeError(f"the API could not start on {host}:{port}") from (
                failures[0] if failures else None
            )
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=_STOP_TIMEOUT_S)
