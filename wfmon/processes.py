"""Waiting for a server started as a child process to answer its health check."""

from __future__ import annotations

import subprocess
import time

import httpx

__all__ = ["ServerStartError", "wait_healthy"]


class ServerStartError(RuntimeError):
    """A server process exited or did not answer in time."""


def wait_healthy(
    health_url: str,
    process: subprocess.Popen[bytes],
    *,
    deadline: float,
    name: str,
    error: type[ServerStartError] = ServerStartError,
) -> None:
    """Return once ``health_url`` answers 200; raise ``error`` if ``process`` exits first
    (with the end of its stderr, when piped) or ``deadline`` (``time.monotonic``) passes."""
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise error(f"{name} exited: {stderr[-2000:]}")
            try:
                if client.get(health_url).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.25)  # polling a starting process; bounded by the deadline
    raise error(f"{name} did not answer at {health_url} in time")
