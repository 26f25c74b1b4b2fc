"""The OpenTelemetry setup every Python test program shares, as a Python user writes it: the
SDK's TracerProvider with the service's name, a BatchSpanProcessor and the OTLP/HTTP
exporter, which reads OTEL_EXPORTER_OTLP_ENDPOINT (hopscope serve's HTTP listener)."""

import os

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def start(service=None):
    """Installs the global tracer provider for `service` (default OTEL_SERVICE_NAME)."""
    name = service or os.environ["OTEL_SERVICE_NAME"]
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(), schedule_delay_millis=200))
    trace.set_tracer_provider(provider)
    return provider


def stop(provider):
    """Flushes every span and shuts the exporter down."""
    provider.force_flush()
    provider.shutdown()
