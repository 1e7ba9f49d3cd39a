"""``wfmon serve`` as a real process, and the in-process server ``wfmon up`` runs beside Prefect."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from api.server import api_in_background
from store import upgrade


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_wfmon_serve_answers_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = _free_port()
    environment = {
        **os.environ,
        "WFMON_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "WFMON_API_TOKEN": "s3cret",
    }
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "wfmon"), "serve", "--port", str(port)],
        env=environment,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert process.stderr is not None
        # uvicorn announces readiness on stderr: wait for that line, not for time.
        for line in process.stderr:
            if "Uvicorn running on" in line:
                break
        health = httpx.get(f"http://127.0.0.1:{port}/api/health")
        assert health.status_code == 200
        assert "s3cret" not in health.text
        process.send_signal(signal.SIGINT)
        # uvicorn shuts down cleanly, then re-raises the signal: 128 + SIGINT, as for Ctrl-C.
        assert process.wait(timeout=20) == 128 + signal.SIGINT
        assert "Application shutdown complete" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


def test_the_background_server_serves_until_the_block_ends(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'up.db'}"
    upgrade(url)
    port = _free_port()
    with api_in_background(database_url=url, api_token=None, host="127.0.0.1", port=port) as base:
        assert httpx.get(f"{base}/api/monitoring/metrics").json()["success"] is True
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0  # stopped: nothing listens
