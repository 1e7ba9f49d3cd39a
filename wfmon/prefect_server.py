"""A local Prefect server for ``wfmon up`` when no ``PREFECT_API_URL`` is configured."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

from wfmon.processes import ServerStartError, wait_healthy


class PrefectServerError(ServerStartError):
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
        wait_healthy(
            f"{api_url}/health",
            process,
            deadline=time.monotonic() + startup_timeout,
            name="prefect server",
            error=PrefectServerError,
        )
        yield api_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
