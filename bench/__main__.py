"""``make bench`` / ``uv run python -m bench``: run the benchmarks and print the tables.

Starts everything it needs (a throwaway Prefect server, the target on 127.0.0.1, a
SQLite store in a temp folder) and removes it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path


def main() -> None:
    """Parse options, set up an isolated environment, run, print."""
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="wfmon-bench-"))
    os.environ["PREFECT_HOME"] = str(workdir / "prefect")
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    os.environ.pop("PREFECT_API_URL", None)
    database_url = f"sqlite:///{workdir / 'bench.db'}"
    os.environ["WFMON_DATABASE_URL"] = database_url

    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from prefect.testing.utilities import prefect_test_harness

    from bench.overhead import measure, write_config
    from bench.target import create_target
    from demo.serving import serve_asgi
    from store import upgrade
    from wfmon.tracing import configure_tracing

    spans = InMemorySpanExporter()
    configure_tracing(processor=SimpleSpanProcessor(spans))
    upgrade(database_url)
    with (
        prefect_test_harness(server_startup_timeout=180),
        serve_asgi(create_target(latency_ms=args.latency_ms)) as base_url,
    ):
        config_path = write_config(workdir, base_url)
        report = asyncio.run(
            measure(
                base_url=base_url,
                config_path=config_path,
                database_url=database_url,
                runs=args.runs,
                latency_ms=args.latency_ms,
                spans=spans,
            )
        )
    sys.stdout.write(report.markdown() + "\n")
    out = Path("bench/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / "overhead.json").write_text(json.dumps(asdict(report), indent=2))


if __name__ == "__main__":
    main()
