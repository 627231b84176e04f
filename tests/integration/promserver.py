"""A real Prometheus (Debian's package, installed by ``make prometheus``) run by the tests on loopback.

``running_prometheus`` writes a configuration that scrapes the given targets
every second, starts ``prometheus`` with a temporary data directory and a
listen address on 127.0.0.1, waits until it is ready, and stops it (by its
own process id) when the test is done. ``Prometheus`` speaks its HTTP API.
``tool`` names the ``prometheus`` and ``promtool`` binaries, and fails the test
(never skips it) when they are missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.integration.daemonproc import free_port, wait_for
from tests.testenv.procs import stop


def tool(name: str) -> str:
    """The path of NAME (``prometheus`` or ``promtool``); an assertion error when it is not installed."""
    path = shutil.which(name)
    assert path, f"{name} is not installed: `make prometheus` installs Debian's prometheus package"
    return path


@dataclass(frozen=True)
class Prometheus:
    """The HTTP API of a running Prometheus at BASE."""

    base: str

    def api(self, path: str, **params: str) -> dict[str, Any]:
        """GET /api/v1/PATH with PARAMS: the decoded reply, whether it says success or error."""
        url = f"{self.base}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 (loopback)
                body = resp.read()
        except urllib.error.HTTPError as e:
            body = e.read()
        reply: dict[str, Any] = json.loads(body)
        return reply

    def query(self, expr: str) -> dict[str, Any]:
        """An instant query of EXPR now."""
        return self.api("query", query=expr)

    def metadata(self, metric: str) -> list[dict[str, Any]]:
        """What the scraped targets declared (# TYPE, # HELP) for METRIC; empty when none did."""
        found: list[dict[str, Any]] = self.api("metadata", metric=metric).get("data", {}).get(metric, [])
        return found


@contextmanager
def running_prometheus(workdir: Path, targets: Sequence[str], *, job: str = "gitopsd",
                       rule_files: Sequence[Path] = ()) -> Iterator[Prometheus]:
    """Prometheus scraping TARGETS (host:port) as JOB every second, with RULE_FILES loaded."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = {"global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
              "rule_files": [str(p) for p in rule_files],
              "scrape_configs": [{"job_name": job, "static_configs": [{"targets": list(targets)}]}]}
    config_file = workdir / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config))
    port = free_port()
    log_path = workdir / "prometheus.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [tool("prometheus"), f"--config.file={config_file}", f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    prometheus = Prometheus(f"http://127.0.0.1:{port}")
    try:
        def ready() -> bool:
            assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
            try:
                with urllib.request.urlopen(f"{prometheus.base}/-/ready", timeout=5) as resp:  # noqa: S310
                    return bool(resp.status == 200)
            except OSError:
                return False
        wait_for(ready, 60, "Prometheus to be ready")
        yield prometheus
    finally:
        stop(proc)
