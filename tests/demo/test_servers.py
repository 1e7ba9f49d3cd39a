"""The real-socket server fixtures that integration tests share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.fixtures.servers import URLFactory, serve_asgi

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def hello(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """A bare ASGI app: lifespan accepted, every request answered 'hello'."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


async def broken_startup(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """An app whose lifespan startup fails."""
    assert scope["type"] == "lifespan"
    await receive()
    await send({"type": "lifespan.startup.failed", "message": "no database"})


async def test_serves_any_asgi_app(asgi_url_factory: URLFactory) -> None:
    url = asgi_url_factory(hello)
    assert url.startswith("http://127.0.0.1:")
    async with httpx.AsyncClient(trust_env=False) as client:
        assert (await client.get(url)).text == "hello"


async def test_server_stops_on_exit() -> None:
    with serve_asgi(hello) as url:
        pass
    async with httpx.AsyncClient(trust_env=False) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(url)


def test_failed_startup_is_reported() -> None:
    with pytest.raises(RuntimeError, match="exited during startup"), serve_asgi(broken_startup):
        pass


async def test_closed_port_refuses_connections(closed_port_url: str) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(closed_port_url)
