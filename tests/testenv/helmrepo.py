"""A Helm chart repository on loopback for tests: charts packaged with the real ``helm package``,
indexed with ``helm repo index``, served over HTTPS (a test CA) with optional basic auth."""

from __future__ import annotations

import base64
import functools
import http.server
import ssl
import subprocess
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gitopsd.edges import binaries
from gitopsd.localcluster.pki import generate


@dataclass(frozen=True)
class ChartRepo:
    url: str
    ca_file: Path
    directory: Path
    requests: list[str]

    def publish(self, chart: Path) -> None:
        """Add CHART's package to the repository and index it again."""
        package(chart, self.directory)
        index(self.directory, self.url)


def write_chart(root: Path, name: str, version: str, files: Mapping[str, str]) -> Path:
    """A chart directory NAME with a Chart.yaml at VERSION and FILES (relative paths)."""
    chart = root / name
    (chart / "templates").mkdir(parents=True, exist_ok=True)
    (chart / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: {version}\n")
    for rel, text in files.items():
        (chart / rel).parent.mkdir(parents=True, exist_ok=True)
        (chart / rel).write_text(text)
    return chart


def package(chart: Path, into: Path) -> None:
    """Package CHART into INTO with the real helm."""
    subprocess.run([binaries.find("helm"), "package", str(chart), "--destination", str(into)],
                   check=True, capture_output=True, timeout=60)


def index(directory: Path, url: str) -> None:
    """Write DIRECTORY's index.yaml with the real helm, packages addressed under URL."""
    subprocess.run([binaries.find("helm"), "repo", "index", str(directory), "--url", url],
                   check=True, capture_output=True, timeout=60)


def _handler(directory: Path, auth: str, requests: list[str]) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(directory), **kwargs)  # type: ignore[arg-type]

        def do_GET(self) -> None:
            requests.append(self.path)
            if auth and self.headers.get("Authorization") != f"Basic {auth}":
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="charts"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            super().do_GET()

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


@contextmanager
def serve_charts(tmp: Path, charts: list[Path], *, username: str = "",
                 password: str = "") -> Iterator[ChartRepo]:
    """Serve CHARTS (packaged and indexed) over HTTPS on 127.0.0.1; basic auth when USERNAME."""
    directory = tmp / "repo"
    directory.mkdir(parents=True)
    for chart in charts:
        package(chart, directory)
    pki = generate(tmp / "pki", ["127.0.0.1"])
    auth = base64.b64encode(f"{username}:{password}".encode()).decode() if username else ""
    requests: list[str] = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             _handler(directory, auth, requests))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.serving_cert, pki.serving_key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    url = f"https://127.0.0.1:{server.server_address[1]}"
    index(directory, url)
    thread = threading.Thread(target=functools.partial(server.serve_forever, 0.1), daemon=True)
    thread.start()
    try:
        yield ChartRepo(url, pki.ca_cert, directory, requests)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

