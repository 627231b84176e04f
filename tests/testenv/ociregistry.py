"""A local OCI registry for tests: the CNCF distribution ``registry`` binary on a loopback port,
storing blobs in a temporary directory; charts are pushed into it with the real ``helm push``.

By default it speaks plain HTTP with no auth. A secure one serves HTTPS (a test CA) and asks
for basic auth against an htpasswd file that the registry provisions itself with the user
``docker`` and a random password, which it logs once and this module reads from that log.

A plain registry is reached through a small TCP relay that closes, and counts, every
connection opening with a TLS handshake. Helm 3 without ``--plain-http`` tries HTTPS and then
falls back to HTTP by itself; through the relay it fails instead, as Helm 4 does, so a test
passes only when gitopsd asks for plain HTTP.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gitopsd.edges import binaries
from gitopsd.localcluster.pki import generate
from gitopsd.localcluster.processes import free_port
from tests.testenv.helmrepo import package
from tests.testenv.procs import stop

CONFIG = """\
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""
SECURE = """\
  tls:
    certificate: {cert}
    key: {key}
auth:
  htpasswd:
    realm: charts
    path: {htpasswd}
"""
_PROVISIONED = re.compile(r'password="?([A-Za-z0-9_-]+)')


@dataclass
class OciRegistry:
    """A running registry: the ``host:port`` clients use, the Helm home its pushes use, how
    many connections to a plain one opened with a TLS handshake, and a secure one's CA and
    credentials."""

    host: str
    home: Path
    tls_attempts: int = 0
    ca_file: Path | None = None
    username: str = ""
    password: str = ""

    @property
    def charts_url(self) -> str:
        """The ``oci://`` repository that ``push`` puts charts under."""
        return f"oci://{self.host}/charts"

    def push(self, chart: Path) -> None:
        """Package CHART and push it to ``charts_url`` with the real helm, over plain HTTP."""
        out = self.home / "packages"
        out.mkdir(parents=True, exist_ok=True)
        before = set(out.glob("*.tgz"))
        package(chart, out)
        (tgz,) = set(out.glob("*.tgz")) - before
        helm = binaries.find("helm")
        flags = ["--plain-http"] if self.ca_file is None else [
            "--ca-file", str(self.ca_file), "--username", self.username,
            "--password", self.password]
        subprocess.run([helm, "push", str(tgz), self.charts_url, *flags], check=True,
                       capture_output=True, timeout=60, env=_helm_env(self.home))


def _helm_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELM_")}
    env.update(HELM_CACHE_HOME=str(home / "cache"), HELM_CONFIG_HOME=str(home / "config"),
               HELM_DATA_HOME=str(home / "data"), HELM_REGISTRY_CONFIG=str(home / "registry.json"))
    return env


def _answers(url: str, context: ssl.SSLContext | None) -> bool:
    """Whether the registry at URL answers ``/v2/`` (401 counts: it asks for credentials)."""
    try:
        with urllib.request.urlopen(f"{url}/v2/", timeout=2, context=context) as resp:  # noqa: S310 (loopback registry)
            return int(resp.status) == 200
    except urllib.error.HTTPError as exc:
        return exc.code == 401
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


_TLS_HANDSHAKE = 0x16


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass  # the other direction closed the connection
    finally:
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        src.close()


def _connect(conn: socket.socket, upstream: str, registry: OciRegistry) -> None:
    """Join CONN to UPSTREAM both ways, unless it opens with a TLS handshake."""
    try:
        first = conn.recv(1, socket.MSG_PEEK)
        if not first or first[0] == _TLS_HANDSHAKE:
            registry.tls_attempts += bool(first)
            conn.close()
            return
        host, port = upstream.rsplit(":", 1)
        back = socket.create_connection((host, int(port)))
    except OSError:
        conn.close()
        return
    threading.Thread(target=_pipe, args=(back, conn), daemon=True).start()
    _pipe(conn, back)


def _relay(listener: socket.socket, upstream: str, registry: OciRegistry) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=_connect, args=(conn, upstream, registry), daemon=True).start()


@contextmanager
def serve_registry(tmp: Path, *, secure: bool = False,
                   timeout: float = 30.0) -> Iterator[OciRegistry]:
    """Run the registry on a free 127.0.0.1 port with storage under TMP until the block ends;
    SECURE serves HTTPS with basic auth, else plain HTTP through the TLS-refusing relay."""
    tmp.mkdir(parents=True, exist_ok=True)
    port = free_port()
    text = CONFIG.format(storage=tmp / "storage", port=port)
    context = None
    pki = None
    if secure:
        pki = generate(tmp / "pki", ["127.0.0.1"])
        text += SECURE.format(cert=pki.serving_cert, key=pki.serving_key,
                              htpasswd=tmp / "htpasswd")
        context = ssl.create_default_context(cafile=str(pki.ca_cert))
    config = tmp / "config.yml"
    config.write_text(text)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp), "OTEL_TRACES_EXPORTER": "none"}
    log_path = tmp / "registry.log"
    log = log_path.open("wb")
    proc = subprocess.Popen([binaries.find("registry"), "serve", str(config)], env=env,
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    host = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while not _answers(("https://" if secure else "http://") + host, context):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the registry did not answer on {host}: "
                                   f"{log_path.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)
        if pki is not None:
            found = _PROVISIONED.search(log_path.read_text(errors="replace"))
            if found is None:
                raise RuntimeError("the registry logged no provisioned password")
            yield OciRegistry(host, tmp / "helm", ca_file=pki.ca_cert, username="docker",
                              password=found.group(1))
            return
        with socket.create_server(("127.0.0.1", 0)) as listener:
            registry = OciRegistry(f"127.0.0.1:{listener.getsockname()[1]}", tmp / "helm")
            relay = threading.Thread(target=_relay, args=(listener, host, registry), daemon=True)
            relay.start()
            yield registry
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
    finally:
        stop(proc, 10)
        log.close()
