"""Telemetry of gitopsd: JSON logs (structlog), traces (OpenTelemetry SDK) and Prometheus metrics.

``logging`` configures log output and secret scrubbing, ``tracing`` installs the
tracer provider and names span attributes, ``metrics`` holds the ``gitopsd_*``
metrics. Import the submodule you need; this package has no logic of its own.
"""
