"""``python -m bench.api_server DATABASE_URL PORT``: the API in a process of its own.

What ``wfmon serve`` runs (``create_app`` under uvicorn on 127.0.0.1), with the clock fixed
at the benchmark's ``NOW`` so that its periods cover the generated runs, and warnings only
(no access log line per request). The benchmark
times it from its own process, as a dashboard would, rather than from a thread that shares
the interpreter (and its lock) with the client.
"""

from __future__ import annotations

import sys

import uvicorn

from api import create_app
from bench.metrics_api import NOW
from store import create_engine_for


def main() -> None:
    """Serve until terminated."""
    database_url, port = sys.argv[1], int(sys.argv[2])
    engine = create_engine_for(database_url)
    app = create_app(engine=engine, api_token=None, clock=lambda: NOW)
    app.on_shutdown.append(engine.dispose)
    uvicorn.run(app, host="127.0.0.1", port=port, ws="none", log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
