"""The benchmark's target: every request waits a fixed, injected latency, then answers."""

from __future__ import annotations

import asyncio

from litestar import Litestar, get
from litestar.params import FromPath


def create_target(*, latency_ms: float) -> Litestar:
    """An app whose ``GET /step/{n}`` takes ``latency_ms`` server-side."""

    @get("/step/{n:int}")
    async def step(n: FromPath[int]) -> dict[str, int]:
        await asyncio.sleep(latency_ms / 1000)  # the injected latency under test
        return {"step": n}

    return Litestar(route_handlers=[step])
