"""OpenTelemetry set-up: one global tracer provider, exporting per the ``OTEL_*`` variables.

A provider is always installed, so every run has a real trace id even when nothing is
exported; OTLP export is added only when an endpoint is configured. Prefect's own
flow and task spans use the same global provider, so our spans nest under them.
"""

from __future__ import annotations

import functools
import os
import threading

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_lock = threading.Lock()
_provider: TracerProvider | None = None

TRACER_NAME = "wfmon"


def _otlp_configured() -> bool:
    if os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return False
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def configure_tracing(*, processor: SpanProcessor | None = None) -> TracerProvider:
    """Install the global provider once; ``processor`` adds an extra sink (tests, benchmarks)."""
    global _provider
    with _lock:
        if _provider is None:
            current = trace.get_tracer_provider()
            if isinstance(current, TracerProvider):
                # Someone (an embedding application) already owns tracing: join it.
                _provider = current
            else:
                _provider = TracerProvider(
                    resource=Resource.create(
                        {"service.name": os.environ.get("OTEL_SERVICE_NAME", "wfmon")}
                    )
                )
                if _otlp_configured():
                    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                        OTLPSpanExporter,
                    )

                    _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
                trace.set_tracer_provider(_provider)
        if processor is not None:
            _provider.add_span_processor(processor)
        return _provider


@functools.cache
def tracer() -> trace.Tracer:
    """The tracer wfmon's spans come from (a proxy until a provider is set, then the real one).

    Cached: looking it up costs more than a span, and every step attempt asks for it.
    """
    return trace.get_tracer(TRACER_NAME)


def trace_id_of(span: trace.Span) -> str | None:
    """The span's trace id as 32 hex digits, or None for a non-recording span."""
    context = span.get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
