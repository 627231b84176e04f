"""Runs the real ``gitopsd run`` process for end-to-end tests and talks to it."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Any, timeout: float = 30.0, interval: float = 0.1) -> Any:
    """Poll PREDICATE until it returns a truthy value; that value, or None at the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None


@dataclass
class DaemonProc:
    fleet: dict[str, Any]
    root: Path
    port: int = field(default_factory=free_port)
    token: str = "t0ken-for-tests-5f1c2a"
    secret: str = "hm4c-secret-for-tests-99"
    proc: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    resync: float = 300.0

    @property
    def fleet_file(self) -> Path:
        return self.root / "fleet.yaml"

    @property
    def log_file(self) -> Path:
        return self.root / "daemon.log"

    def write_fleet(self, fleet: dict[str, Any] | None = None, text: str | None = None) -> None:
        self.fleet_file.write_text(text if text is not None else yaml.safe_dump(fleet or self.fleet))

    def start(self) -> DaemonProc:
        self.root.mkdir(parents=True, exist_ok=True)
        self.write_fleet()
        (self.root / "token").write_text(self.token + "\n")
        (self.root / "secret").write_text(self.secret + "\n")
        env = {**os.environ, **self.extra_env}
        with open(self.log_file, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gitopsd", "run", "--config", str(self.fleet_file),
                 "--listen", f"127.0.0.1:{self.port}", "--state-dir", str(self.root / "state"),
                 "--api-token-file", str(self.root / "token"),
                 "--webhook-secret-file", str(self.root / "secret"), "--resync", str(self.resync)],
                stdout=log, stderr=subprocess.STDOUT, env=env)
        assert wait_for(lambda: self.get("/healthz", auth=False) is not None, 30), self.logs()
        return self

    def stop(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def logs(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def get(self, path: str, *, auth: bool = True) -> Any:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}")
        if auth:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 (http to loopback)
                body = resp.read()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None
        try:
            return json.loads(body)
        except ValueError:
            return body.decode(errors="replace")

    def post(self, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> int:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=body, method="POST")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 (http to loopback)
                return int(resp.status)
        except urllib.error.HTTPError as e:
            return int(e.code)

    def webhook(self, repo: str, ref: str = "refs/heads/main") -> int:
        body = json.dumps({"repo": repo, "ref": ref}).encode()
        sig = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        return self.post("/webhooks/generic", body, {"X-Gitopsd-Signature": sig,
                                                     "Content-Type": "application/json"})

    def instance(self, app: str, cluster: str) -> dict[str, Any] | None:
        data = self.get("/api/v1/instances")
        for row in (data or {}).get("instances", []):
            if row["app"] == app and row["cluster"] == cluster:
                return dict(row)
        return None


def fleet_doc(clusters: list[tuple[str, Path, dict[str, str]]], repo_url: str, *,
              key_file: Path | None = None, known_hosts: Path | None = None,
              poll: str = "1s", apps: list[dict[str, Any]]) -> dict[str, Any]:
    repo: dict[str, Any] = {"name": "env", "url": repo_url, "pollInterval": poll}
    if key_file:
        repo["sshKeyFile"] = str(key_file)
    if known_hosts:
        repo["knownHostsFile"] = str(known_hosts)
    return {
        "fleet": "e2e",
        "clusters": [{"name": n, "kubeconfig": str(kc), "labels": labels} for n, kc, labels in clusters],
        "repositories": [repo],
        "applications": apps,
    }
