"""A real Jaeger (built from the Go module proxy by tests/testenv/build.sh) run by the tests on loopback.

``running_jaeger`` starts the collector-based ``jaeger`` binary with a
configuration of its own: an OTLP/HTTP receiver, in-memory trace storage and
the query service, every listener on 127.0.0.1 (none on Jaeger's default
ports), and stops it by its own process id afterwards. ``Jaeger`` reads
traces back through the query service's HTTP API (``/api/traces/<id>``), as
Jaeger's UI does.
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gitopsd.edges import binaries
from tests.integration.daemonproc import free_port, wait_for
from tests.testenv.procs import stop


@dataclass(frozen=True)
class Jaeger:
    """A running Jaeger: OTLP base URL for exporters, and its query API."""

    otlp: str
    query: str

    def get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(self.query + path, timeout=10) as resp:  # noqa: S310 (loopback)
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as e:
            return e.code, None

    def trace(self, trace_id: str) -> dict[str, Any] | None:
        """The trace TRACE_ID (hex) as the query API returns it, or None while Jaeger does not have it."""
        status, body = self.get(f"/api/traces/{trace_id}")
        if status != 200 or not body or not body.get("data"):
            return None
        found: dict[str, Any] = body["data"][0]
        return found


def _config(otlp: int, query: int, grpc: int, health: int) -> dict[str, Any]:
    return {
        "service": {"extensions": ["jaeger_storage", "jaeger_query", "healthcheckv2"],
                    "pipelines": {"traces": {"receivers": ["otlp"], "processors": ["batch"],
                                             "exporters": ["jaeger_storage_exporter"]}},
                    "telemetry": {"metrics": {"level": "none"}, "logs": {"level": "warn"}}},
        "extensions": {
            "healthcheckv2": {"use_v2": True, "http": {"endpoint": f"127.0.0.1:{health}"}},
            "jaeger_query": {"storage": {"traces": "memstore"},
                             "http": {"endpoint": f"127.0.0.1:{query}"},
                             "grpc": {"endpoint": f"127.0.0.1:{grpc}"}},
            "jaeger_storage": {"backends": {"memstore": {"memory": {"max_traces": 10000}}}}},
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": f"127.0.0.1:{otlp}"}}}},
        "processors": {"batch": {"timeout": "200ms"}},
        "exporters": {"jaeger_storage_exporter": {"trace_storage": "memstore"}},
    }


@contextmanager
def running_jaeger(workdir: Path) -> Iterator[Jaeger]:
    """Jaeger with in-memory storage, OTLP/HTTP in and the query API out, on loopback ports."""
    workdir.mkdir(parents=True, exist_ok=True)
    otlp, query, grpc, health = (free_port() for _ in range(4))
    config = workdir / "jaeger.yaml"
    config.write_text(yaml.safe_dump(_config(otlp, query, grpc, health)))
    log_path = workdir / "jaeger.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([binaries.find("jaeger"), "--config", str(config)],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    jaeger = Jaeger(f"http://127.0.0.1:{otlp}", f"http://127.0.0.1:{query}")
    try:
        def ready() -> bool:
            assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
            try:
                return jaeger.get("/api/services")[0] == 200
            except OSError:
                return False
        wait_for(ready, 60, "Jaeger's query API")
        yield jaeger
    finally:
        stop(proc)
