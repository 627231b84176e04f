"""``gitopsd run`` as a real subprocess for end-to-end tests, and a tiny OTLP/HTTP receiver.

``running_daemon`` writes the API token and webhook secret files, starts
``python -m gitopsd run`` with its stderr (the JSON log) in a file, waits until
its HTTP server answers, and kills it if the test leaves it running.
``DaemonProc`` is the same process driven from a fleet document it writes
itself (rewritten for reloads), with helpers for the API and signed webhooks.
``OtlpReceiver`` is an OTLP/HTTP traces endpoint on 127.0.0.1 that decodes
each protobuf ``ExportTraceServiceRequest`` it is sent. Nothing here imports
the code under test: the daemon is only ever spoken to over its interfaces.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import yaml
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from gitopsd.localcluster import LocalCluster

ROOT = Path(__file__).resolve().parents[2]
FLEET = "e2e"
T = TypeVar("T")

# Variables of the test's own environment that must not leak into the daemon under test.
_SCRUBBED_ENV = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID",
                 "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                 "GITOPSD_CONFIG", "GITOPSD_STATE_DIR", "STATE_DIRECTORY", "CREDENTIALS_DIRECTORY",
                 "GITOPSD_API_TOKEN_FILE", "GITOPSD_WEBHOOK_SECRET_FILE", "GITOPSD_LOG_LEVEL")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without ``_SCRUBBED_ENV``, then EXTRA on top."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    env.update(extra or {})
    return env


def poll_until(check: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.1) -> T | None:
    """Poll CHECK until it returns something truthy; that value, or None after TIMEOUT seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


def wait_for(check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.2) -> T:
    """Poll CHECK until it returns something truthy; fail naming WHAT after TIMEOUT seconds."""
    value = poll_until(check, timeout, interval)
    if not value:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")
    return value


def write_fleet(path: Path, *, cluster: LocalCluster, repo_url: str, app: str, namespace: str,
                repo_path: str = "app", ssh_key: Path | None = None, known_hosts: Path | None = None,
                poll: str = "1s", sync_options: Sequence[str] = ()) -> Path:
    """A fleet file with one cluster, one repository and one automated application (prune, selfHeal)."""
    repository: dict[str, Any] = {"name": "env", "url": repo_url, "pollInterval": poll}
    if ssh_key is not None:
        repository["sshKeyFile"] = str(ssh_key)
    if known_hosts is not None:
        repository["knownHostsFile"] = str(known_hosts)
    policy: dict[str, Any] = {"automated": {"prune": True, "selfHeal": True},
                              "retry": {"limit": 2, "backoff": {"duration": "1s"}}}
    if sync_options:
        policy["syncOptions"] = list(sync_options)
    fleet = {
        "fleet": FLEET,
        "clusters": [{"name": cluster.name, "kubeconfig": str(cluster.kubeconfig)}],
        "repositories": [repository],
        "applications": [{"name": app,
                          "source": {"repo": "env", "targetRevision": "main", "path": repo_path},
                          "destination": {"clusters": {"names": [cluster.name]}, "namespace": namespace},
                          "syncPolicy": policy}],
    }
    path.write_text(yaml.safe_dump(fleet, sort_keys=False))
    return path


@dataclass
class DaemonProcess:
    """A running ``gitopsd run``: its process, HTTP address, log file and credentials."""

    proc: subprocess.Popen[bytes]
    base: str
    log_path: Path
    state_dir: Path
    token: str

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_events(self) -> list[dict[str, Any]]:
        """Every JSON line of the daemon's stderr, parsed (a non-JSON line fails the test)."""
        events = []
        for line in self.log_text().splitlines():
            if line.strip():
                try:
                    events.append(json.loads(line))
                except json.JSONDecodeError:
                    raise AssertionError(f"log line is not JSON: {line[:300]}") from None
        return events

    def http(self, method: str, path: str, *, token: str | None = None, body: bytes | None = None,
             headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:
        """One HTTP request to the daemon; TOKEN (when given) goes in the Authorization header."""
        req = urllib.request.Request(self.base + path, method=method, data=body,  # noqa: S310
                                     headers=dict(headers or {}))
        if token is not None:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def instance(self, app: str, cluster: str) -> dict[str, Any] | None:
        status, body = self.http("GET", "/api/v1/instances", token=self.token)
        assert status == 200, body[:300]
        rows = json.loads(body)["instances"]
        return next((r for r in rows if (r["app"], r["cluster"]) == (app, cluster)), None)

    def wait_synced(self, app: str, cluster: str, revision: str, timeout: float = 60.0) -> dict[str, Any]:
        """The instance's status row once its last sync of REVISION succeeded."""
        def check() -> dict[str, Any] | None:
            self.assert_alive()
            row = self.instance(app, cluster)
            if row and row["revision"] == revision and row["last_sync"]["result"] == "Synced":
                return row
            return None
        return wait_for(check, timeout, f"{app}/{cluster} to sync {revision[:12]}")

    def assert_alive(self) -> None:
        code = self.proc.poll()
        if code is not None:
            raise AssertionError(f"gitopsd exited with {code}:\n{self.log_text()[-3000:]}")

    def terminate(self, timeout: float) -> int:
        """SIGTERM, then the exit code within TIMEOUT seconds (killed and failed otherwise)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(f"gitopsd did not exit within {timeout}s of SIGTERM:\n"
                                 f"{self.log_text()[-3000:]}") from None


@contextmanager
def running_daemon(workdir: Path, fleet: Path, *, token: str, webhook_secret: str,
                   env: Mapping[str, str] | None = None, log_level: str = "info",
                   extra_args: Sequence[str] = ()) -> Iterator[DaemonProcess]:
    """``gitopsd run`` on a free port with WORKDIR's token, secret and state dir; killed on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    token_file, secret_file = workdir / "api-token", workdir / "webhook-secret"
    token_file.write_text(token + "\n")
    secret_file.write_text(webhook_secret + "\n")
    for f in (token_file, secret_file):
        f.chmod(0o600)
    state_dir = workdir / "state"
    port = free_port()
    log_path = workdir / "gitopsd.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gitopsd", "run", "--config", str(fleet),
             "--listen", f"127.0.0.1:{port}", "--state-dir", str(state_dir),
             "--api-token-file", str(token_file), "--webhook-secret-file", str(secret_file),
             "--log-level", log_level, *extra_args],
            cwd=ROOT, env=_child_env(env), stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    daemon = DaemonProcess(proc, f"http://127.0.0.1:{port}", log_path, state_dir, token)
    try:
        def answering() -> bool:
            daemon.assert_alive()
            try:
                return daemon.http("GET", "/healthz")[0] == 200
            except OSError:
                return False
        wait_for(answering, 60, "the daemon's HTTP server")
        yield daemon
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@dataclass
class DaemonProc:
    """``gitopsd run`` on FLEET, written under ROOT with its token, secret, state dir and log."""

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
        with open(self.log_file, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gitopsd", "run", "--config", str(self.fleet_file),
                 "--listen", f"127.0.0.1:{self.port}", "--state-dir", str(self.root / "state"),
                 "--api-token-file", str(self.root / "token"),
                 "--webhook-secret-file", str(self.root / "secret"), "--resync", str(self.resync)],
                stdout=log, stderr=subprocess.STDOUT, env=_child_env(self.extra_env))
        # a loaded machine (the fault matrix beside other work) can take a while to import
        assert poll_until(lambda: self.get("/healthz", auth=False) is not None, 60), self.logs()
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


def value(cluster: LocalCluster, ns: str, name: str) -> str | None:
    """ConfigMap NAME's ``data.value`` in NS, or None when it does not exist."""
    status, body = cluster.request("GET", f"/api/v1/namespaces/{ns}/configmaps/{name}")
    return body["data"]["value"] if status == 200 else None


def edit(cluster: LocalCluster, ns: str, name: str, new: str) -> None:
    """Change ConfigMap NAME's ``data.value`` as ``kubectl edit`` would (another field manager)."""
    path = f"/api/v1/namespaces/{ns}/configmaps/{name}?fieldManager=kubectl-edit"
    status, _ = cluster.request("PATCH", path, {"data": {"value": new}},
                                content_type="application/merge-patch+json")
    assert status == 200


def fleet_doc(clusters: list[tuple[str, Path, dict[str, str]]], repo_url: str, *,
              key_file: Path | None = None, known_hosts: Path | None = None,
              poll: str = "1s", apps: list[dict[str, Any]]) -> dict[str, Any]:
    repo: dict[str, Any] = {"name": "env", "url": repo_url, "pollInterval": poll}
    if key_file:
        repo["sshKeyFile"] = str(key_file)
    if known_hosts:
        repo["knownHostsFile"] = str(known_hosts)
    return {
        "fleet": FLEET,
        "clusters": [{"name": n, "kubeconfig": str(kc), "labels": labels} for n, kc, labels in clusters],
        "repositories": [repo],
        "applications": apps,
    }


# -- OTLP/HTTP receiver ---------------------------------------------------------------------------


def any_value(value: AnyValue) -> Any:
    """The Python value of an OTLP AnyValue (arrays as lists, maps as dicts)."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    return getattr(value, kind) if kind else None


def attributes(kvs: Sequence[KeyValue]) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in kvs}


@dataclass
class ReceivedSpan:
    """One exported span with the attributes of its resource."""

    span: Span
    resource: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.span.name)

    @property
    def attributes(self) -> dict[str, Any]:
        return attributes(self.span.attributes)

    def strings(self) -> list[str]:
        """Every string this span carries: name, attributes, event names and event attributes."""
        out = [self.name, *map(str, self.attributes.values()), *map(str, self.resource.values())]
        for event in self.span.events:
            out.append(event.name)
            out.extend(map(str, attributes(event.attributes).values()))
        out.append(self.span.status.message)
        return out


@dataclass
class OtlpReceiver:
    """An OTLP/HTTP traces endpoint (POST /v1/traces, protobuf) that keeps what it was sent."""

    base: str = ""
    requests: list[ExportTraceServiceRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def spans(self) -> list[ReceivedSpan]:
        with self.lock:
            requests = list(self.requests)
        return [ReceivedSpan(span, attributes(rs.resource.attributes))
                for req in requests for rs in req.resource_spans
                for ss in rs.scope_spans for span in ss.spans]

    @classmethod
    @contextmanager
    def running(cls) -> Iterator[OtlpReceiver]:
        state = cls()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces" or self.headers.get_content_type() != "application/x-protobuf":
                    self.send_error(404)
                    return
                message = ExportTraceServiceRequest()
                message.ParseFromString(body)
                with state.lock:
                    state.requests.append(message)
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, name="otlp-receiver", daemon=True)
        thread.start()
        state.base = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            yield state
        finally:
            server.shutdown()
            server.server_close()
            thread.join(10)
