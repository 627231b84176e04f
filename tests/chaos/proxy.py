"""A TCP proxy in front of the API server that the harness can cut.

The daemon reaches the API server through it (its kubeconfig names the
proxy's port; TLS passes through untouched, and the serving certificate is
valid for 127.0.0.1), so ``cut`` drops every open connection at once: the
watches and any request in flight, as a load balancer or NAT timeout would.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

import yaml


class Proxy:
    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, name="chaos-proxy", daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._conns.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                self._drop(s)

    def _drop(self, s: socket.socket) -> None:
        with self._lock:
            self._conns.discard(s)
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)
        s.close()

    def cut(self) -> int:
        """Close every open connection; how many there were (both sides counted)."""
        with self._lock:
            conns = list(self._conns)
        for s in conns:
            self._drop(s)
        return len(conns)

    def close(self) -> None:
        self._closed = True
        self._server.close()
        self.cut()

    def kubeconfig(self, original: Path, out: Path) -> Path:
        """A copy of ORIGINAL whose clusters point at this proxy."""
        doc = yaml.safe_load(original.read_text())
        for entry in doc.get("clusters", []):
            entry["cluster"]["server"] = f"https://127.0.0.1:{self.port}"
        out.write_text(yaml.safe_dump(doc))
        out.chmod(0o600)
        return out
