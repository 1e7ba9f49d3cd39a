"""A small target application for runner tests: login with a cookie, echo, slow, failing.

Resilience routes keep per-key state in the ``TargetLog``, so each test picks its own key:
``/flaky/{key}`` fails a set number of times, ``/ratelimited/{key}`` answers 429 once, and
``/switch/{key}`` answers whatever status the test put in ``TargetLog.statuses``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from litestar import Litestar, Request, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody

HOLD_LIMIT_S = 30.0


@dataclass
class TargetLog:
    """What the target saw, so tests can assert on requests received."""

    requests: list[tuple[str, str]] = field(default_factory=list)
    # Per resilience key: when each request arrived (time.monotonic), as the server saw it.
    hits: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    # What ``/switch/{key}`` answers (default 503); tests change it between runs.
    statuses: dict[str, int] = field(default_factory=dict)
    # While set for a key, ``/switch/{key}`` holds its answer until the test sets the event:
    # the request stays in flight for as long as the test needs, without any timing.
    holds: dict[str, threading.Event] = field(default_factory=dict)


def create_target(log: TargetLog) -> Litestar:
    """The target app; ``log`` records every request's method and path."""

    async def record(request: Request[Any, Any, Any]) -> None:
        log.requests.append((request.method, request.url.path))

    @post("/login", status_code=200)
    async def login(data: JSONBody[dict[str, Any]]) -> Response[dict[str, Any]]:
        if data.get("password") != "hunter2":
            return Response({"error": "bad credentials"}, status_code=401)
        response = Response({"token": "t-123", "user": {"id": 7, "roles": ["a", "b"]}})
        response.set_cookie("session", "s-456")
        return response

    @get("/me")
    async def me(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        if request.cookies.get("session") != "s-456":
            return Response({"error": "no session"}, status_code=401)
        if request.headers.get("authorization") != "Bearer t-123":
            return Response({"error": "no token"}, status_code=403)
        return Response({"id": 7, "email": "demo@example.com"})

    @post("/logout", status_code=204)
    async def logout() -> None:
        return None

    @get("/slow")
    async def slow(ms: FromQuery[int]) -> dict[str, int]:
        await asyncio.sleep(ms / 1000)  # simulated server latency, not a test wait
        return {"slept": ms}

    @get("/status/{code:int}")
    async def status(code: FromPath[int]) -> Response[dict[str, int]]:
        return Response({"code": code}, status_code=code)

    @post("/echo", status_code=200)
    async def echo(request: Request[Any, Any, Any]) -> dict[str, Any]:
        return {
            "headers": dict(request.headers),
            "query": dict(request.query_params),
            "path": request.url.path,
            "body": (await request.body()).decode(),
        }

    @get("/echo/{tail:str}")
    async def echo_path(tail: FromPath[str]) -> dict[str, str]:
        return {"tail": tail}

    @get("/flaky/{key:str}")
    async def flaky(
        key: FromPath[str], fail: FromQuery[int], code: FromQuery[int] = 503
    ) -> Response[dict[str, int]]:
        log.hits[key].append(time.monotonic())
        calls = len(log.hits[key])
        return Response({"call": calls}, status_code=code if calls <= fail else 200)

    @get("/ratelimited/{key:str}")
    async def ratelimited(key: FromPath[str]) -> Response[dict[str, int]]:
        log.hits[key].append(time.monotonic())
        calls = len(log.hits[key])
        if calls == 1:
            return Response({"call": calls}, status_code=429, headers={"Retry-After": "1"})
        return Response({"call": calls})

    @get("/switch/{key:str}")
    async def switch(key: FromPath[str]) -> Response[dict[str, int]]:
        log.hits[key].append(time.monotonic())
        hold = log.holds.get(key)
        if hold is not None:
            # Bounded, so a test that never releases fails instead of hanging.
            await asyncio.to_thread(hold.wait, HOLD_LIMIT_S)
        return Response({"call": len(log.hits[key])}, status_code=log.statuses.get(key, 503))

    return Litestar(
        route_handlers=[
            login,
            me,
            logout,
            slow,
            status,
            echo,
            echo_path,
            flaky,
            ratelimited,
            switch,
        ],
        before_request=record,
    )
