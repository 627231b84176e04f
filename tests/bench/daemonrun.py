"""The real ``gitopsd run`` process under benchmark: start, ask, measure, stop.

CPU time and resident memory are read from ``/proc/<pid>`` of the daemon's
own process; status comes from its HTTP API, exactly as an operator sees it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of PID (threads included), in seconds."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def memory(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of PID in MB (10^6 bytes)."""
    out: dict[str, float] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                out[name] = int(rest.split()[0]) * 1024 / 1e6
    return {"rss_mb": round(out.get("VmRSS", 0.0), 1), "peak_rss_mb": round(out.get("VmHWM", 0.0), 1)}


def fleet_doc(name: str, clusters: dict[str, Path], repo_url: str, apps: list[dict[str, Any]], *,
              poll: str = "5s") -> dict[str, Any]:
    return {
        "fleet": name,
        "clusters": [{"name": n, "kubeconfig": str(kc), "labels": {"bench": "yes", "name": n}}
                     for n, kc in clusters.items()],
        "repositories": [{"name": "env", "url": repo_url, "pollInterval": poll}],
        "applications": apps,
    }


def app_doc(name: str, path: str, namespace: str, cluster: str | None = None) -> dict[str, Any]:
    clusters = {"names": [cluster]} if cluster else {"matchLabels": {"bench": "yes"}}
    dest: dict[str, Any] = {"clusters": clusters, "namespace": namespace}
    return {"name": name, "source": {"repo": "env", "targetRevision": "main", "path": path},
            "destination": dest,
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True},
                           "syncOptions": ["CreateNamespace=true"]}}


class Daemon:
    """One ``gitopsd run`` process with its own fleet file, state directory and port."""

    token = "bench-api-token-0c1d"
    secret = "bench-webhook-secret-77"

    def __init__(self, root: Path, fleet: dict[str, Any], *, resync: float = 3600.0,
                 log_level: str = "info") -> None:
        self.root = root
        self.fleet = fleet
        self.resync = resync
        self.log_level = log_level
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self._session: aiohttp.ClientSession | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def log_file(self) -> Path:
        return self.root / "daemon.log"

    async def start(self) -> Daemon:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "fleet.yaml").write_text(yaml.safe_dump(self.fleet, sort_keys=False))
        for name, text in (("token", self.token), ("secret", self.secret)):
            (self.root / name).write_text(text + "\n")
            (self.root / name).chmod(0o600)
        argv = [sys.executable, "-m", "gitopsd", "run", "--config", str(self.root / "fleet.yaml"),
                "--listen", f"127.0.0.1:{self.port}", "--state-dir", str(self.root / "state"),
                "--api-token-file", str(self.root / "token"),
                "--webhook-secret-file", str(self.root / "secret"),
                "--resync", str(self.resync), "--log-level", self.log_level]
        self.started = time.monotonic()
        with open(self.log_file, "ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        self._session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {self.token}"})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gitopsd run exited with {self.proc.returncode}; read {self.log_file}")
            if await self.get("/healthz") is not None:
                return self
            await asyncio.sleep(0.1)
        raise RuntimeError(f"gitopsd run did not answer /healthz within 60s; read {self.log_file}")

    async def stop(self) -> int:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.to_thread(self.proc.wait, 60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return await asyncio.to_thread(self.proc.wait)

    async def get(self, path: str) -> Any:
        assert self._session is not None
        try:
            async with self._session.get(f"http://127.0.0.1:{self.port}{path}",
                                         timeout=aiohttp.ClientTimeout(total=30)) as resp:
                body = await resp.read()
        except (aiohttp.ClientError, TimeoutError, ConnectionError):
            return None
        try:
            return json.loads(body)
        except ValueError:
            return body.decode(errors="replace")

    async def post(self, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> int:
        assert self._session is not None
        async with self._session.post(f"http://127.0.0.1:{self.port}{path}", data=body,
                                      headers=headers or {},
                                      timeout=aiohttp.ClientTimeout(total=30)) as resp:
            await resp.read()
            return resp.status

    async def webhook(self, repo: str, ref: str = "refs/heads/main") -> int:
        body = json.dumps({"repo": repo, "ref": ref}).encode()
        sig = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        return await self.post("/webhooks/generic", body, {"X-Gitopsd-Signature": sig,
                                                           "Content-Type": "application/json"})

    async def rows(self) -> list[dict[str, Any]]:
        data = await self.get("/api/v1/instances")
        return list((data or {}).get("instances", [])) if isinstance(data, dict) else []

    async def sync_app(self, app: str, cluster: str | None = None) -> int:
        path = f"/api/v1/instances/{app}/{cluster}/sync" if cluster else f"/api/v1/applications/{app}/sync"
        return await self.post(path)

    async def wait_rows(self, predicate: Any, *, timeout: float, interval: float = 0.25,
                        what: str = "instances") -> float:
        """Poll the instance table until PREDICATE(rows) holds; seconds waited."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        last: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            self.check_alive()
            last = await self.rows()
            if last and predicate(last):
                return time.monotonic() - t0
            await asyncio.sleep(interval)
        bad = [f"{r['app']}/{r['cluster']}: {r['sync_status']} {r['health']} "
               f"{r['last_sync']['message'][:120]}" for r in last
               if not (r["sync_status"] == "Synced" and r["health"] == "Healthy")][:5]
        raise TimeoutError(f"{what} not reached within {timeout:.0f}s; e.g. {bad}; read {self.log_file}")

    async def wait_synced(self, *, timeout: float, since_wall: float = 0.0,
                          cluster: str | None = None, interval: float = 0.25) -> float:
        """Until every instance (on CLUSTER) is Synced and Healthy, and reconciled after SINCE_WALL."""
        def done(rows: list[dict[str, Any]]) -> bool:
            return all(r["sync_status"] == "Synced" and r["health"] == "Healthy"
                       and r["last_sync"]["started"] >= since_wall for r in rows
                       if cluster is None or r["cluster"] == cluster)
        return await self.wait_rows(done, timeout=timeout, interval=interval,
                                    what="every instance Synced and Healthy")

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"gitopsd run exited with {self.proc.returncode}; read {self.log_file}")

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def memory(self) -> dict[str, float]:
        return memory(self.pid)
