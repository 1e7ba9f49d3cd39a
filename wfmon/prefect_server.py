"""A local Prefect server for ``wfmon up`` when no ``PREFECT_API_URL`` is configured."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx


class PrefectServerError(RuntimeError):
    """The local Prefect server did not come up."""


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex((host, port)) != 0


@contextlib.contextmanager
def local_prefect_server(
    *, host: str = "127.0.0.1", port: int = 4200, startup_timeout: float = 90.0
) -> Iterator[str]:
    """Start ``prefect server start`` and yield its API URL; stop it on exit.

    If a server already answers on the port (a previous ``wfmon up`` left running,
    or the user's own), it is used as it is.
    """
    api_url = f"http://{host}:{port}/api"
    if not _port_free(host, port):
        yield api_url
        return
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_healthy(api_url, process, deadline=time.monotonic() + startup_timeout)
        yield api_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_healthy(api_url: str, process: subprocess.Popen[bytes], *, deadline: float) -> None:
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise PrefectServerError(f"prefect server exited: {stderr[-2000:]}")
            try:
                if client.get(f"{api_url}/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.25)  # polling a starting process; bounded by the deadline
    raise PrefectServerError(f"prefect server did not answer at {api_url} in time")
