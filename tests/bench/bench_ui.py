"""Benchmark: server time to render the fleet overview page at 1,000 application instances.

Two measurements on synthetic status rows (no cluster): the HTML builder alone
(``gitopsd.edges.ui.overview``), and a whole ``GET /ui/`` through a real
``ApiServer`` on 127.0.0.1 (routing, middleware, rendering, sending), each
repeated and reported as median and 95th percentile, with the page's weight:
the HTML's bytes, and the bytes on the wire as a browser asks for the page
(``Accept-Encoding: gzip, deflate, br``, the body counted as sent, before
decompression) and as a client that accepts no encoding.
Results go to stdout and, as JSON and a Markdown table, to $GITOPSD_BENCH_OUT
(default: <tmp>/gitopsd-bench).

Run: `.venv/bin/python -m tests.bench.bench_ui [INSTANCES]`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from gitopsd.edges.api import ApiServer
from gitopsd.edges.ui.overview import overview

REPEAT = 30
STATUSES = ("Synced", "OutOfSync", "Unknown")
HEALTHS = ("Healthy", "Progressing", "Degraded", "Missing")


def rows(count: int) -> list[dict[str, Any]]:
    """COUNT status rows shaped as the daemon's, across 20 clusters and varied states."""
    return [{"app": f"app-{i // 20:04d}", "cluster": f"cluster-{i % 20:02d}", "project": "default",
             "sync_status": STATUSES[i % 3], "health": HEALTHS[i % 4], "revision": _sha(i // 20),
             "labels": {"env": "prod" if i % 2 else "staging"},
             "last_sync": {"result": "Synced", "started": 1.7e9 + i, "duration": 1.5,
                           "message": f"applied {i % 7} objects", "trace_id": f"{i:032x}"},
             "conditions": []} for i in range(count)]


def _sha(n: int) -> str:
    """A commit id as random-looking as a real one (each application at its own revision)."""
    return hashlib.sha1(str(n).encode()).hexdigest()  # noqa: S324 (not security)


class Backend:
    def __init__(self, data: list[dict[str, Any]]) -> None:
        self.data = data

    def instances(self) -> list[dict[str, Any]]:
        return self.data

    def ready(self) -> tuple[bool, str]:
        return True, "ok"


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"median_ms": statistics.median(ordered) * 1000,
            "p95_ms": ordered[int(len(ordered) * 0.95) - 1] * 1000}


async def measure(count: int) -> dict[str, Any]:
    data = rows(count)
    builder = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        page = overview(data, {}, signed_in=True, csrf="0" * 64)
        builder.append(time.perf_counter() - start)
    server = ApiServer(Backend(data), host="127.0.0.1", port=0, ui=True,  # type: ignore[arg-type]
                       loopback_reads=True)
    host, port = await server.start()
    http = []
    browser = {"Accept-Encoding": "gzip, deflate, br"}
    try:
        async with aiohttp.ClientSession(auto_decompress=False) as session:
            url = f"http://{host}:{port}/ui/"
            for _ in range(REPEAT):
                start = time.perf_counter()
                async with session.get(url, headers=browser) as resp:
                    wire = await resp.read()
                    assert resp.status == 200
                http.append(time.perf_counter() - start)
            encoding = resp.headers.get("Content-Encoding", "identity")
            async with session.get(url, headers={"Accept-Encoding": "identity"}) as resp:
                plain = await resp.read()
    finally:
        await server.stop()
    return {"instances": count, "cpus": os.cpu_count(), "page_bytes": len(page.encode()),
            "wire_bytes": len(wire), "wire_encoding": encoding,
            "identity_bytes": len(plain), "builder": _stats(builder), "http": _stats(http)}


def write_results(result: dict[str, Any]) -> Path:
    out = Path(os.environ.get("GITOPSD_BENCH_OUT") or Path(tempfile.gettempdir()) / "gitopsd-bench")
    out.mkdir(parents=True, exist_ok=True)
    (out / "ui.json").write_text(json.dumps(result, indent=2) + "\n")
    kib = result["identity_bytes"] // 1024
    lines = [f"| overview at {result['instances']} instances: {kib} KiB of HTML, "
             f"{result['wire_bytes'] // 1024} KiB on the wire ({result['wire_encoding']}) | median | p95 |",
             "| --- | --- | --- |"]
    for case, label in (("builder", f"HTML built, signed in ({result['page_bytes'] // 1024} KiB)"),
                        ("http", "GET /ui/ served over HTTP, as a browser asks")):
        r = result[case]
        lines.append(f"| {label} | {r['median_ms']:.1f} ms | {r['p95_ms']:.1f} ms |")
    (out / "ui.md").write_text("\n".join(lines) + "\n")
    return out


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    out = write_results(asyncio.run(measure(count)))
    print((out / "ui.md").read_text(), end="")
    print(f"results: {out / 'ui.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
