"""Benchmark: how long the event loop stalls while one application's large manifests are parsed.

A ticker on the event loop wakes every 10 ms and records how late it woke.
Three cases, each on in-memory Git (no cluster, no network):

- ``inline``: a 4 MiB ConfigMap (the default per-file limit) parsed on the
  loop itself, as the desired side did before parsing moved to worker threads;
- ``worker``: the same file through ``DesiredState.manifests``, which parses
  on its own worker threads;
- ``refused``: a 20 MB file through ``DesiredState.manifests`` with the
  default limits, refused by its size before it is parsed.

The worst and median lateness show what health checks, watches and other
applications would wait. Results go to stdout and, as JSON and a Markdown
table, to $GITOPSD_BENCH_OUT (default: <tmp>/gitopsd-bench).

Run: `.venv/bin/python -m tests.bench.bench_parse`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from gitopsd.core.manifests import parse_files
from gitopsd.engine.desired import DesiredState
from gitopsd.errors import SourceTooLarge
from gitopsd.model import SourceLocation
from tests.engine.fakefleet import FakeGit, NoRenderer, fleet_on

TICK = 0.01
MIB = 1024 * 1024


def configmap_text(size: int) -> str:
    """A ConfigMap of about SIZE bytes of YAML, in many short keys (the costly shape to parse)."""
    line = "  key-{:07d}: " + "v" * 80 + "\n"
    count = size // len(line.format(0))
    return ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n"
            + "".join(line.format(i) for i in range(count)))


async def lateness_during(work: Callable[[], Awaitable[Any]]) -> dict[str, float]:
    """Run WORK while a ticker measures how late each 10 ms wake-up of the loop is."""
    late: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            start = time.perf_counter()
            await asyncio.sleep(TICK)
            late.append(time.perf_counter() - start - TICK)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(TICK * 3)
    start = time.perf_counter()
    with contextlib.suppress(SourceTooLarge):
        await work()
    took = time.perf_counter() - start
    await asyncio.sleep(TICK * 3)
    stop.set()
    await task
    return {"work_s": took, "max_late_s": max(late), "median_late_s": statistics.median(late)}


async def measure() -> dict[str, Any]:
    fleet = fleet_on()
    instance = fleet.instances[0]
    git = FakeGit()
    sha = git.commit({"app/big.yaml": configmap_text(4 * MIB - 4096)})
    text = git.commits[sha]["app/big.yaml"].decode()

    async def inline() -> None:
        parse_files({"app/big.yaml": text}, origin=SourceLocation("env", sha))

    async def worker() -> None:
        desired = DesiredState(fleet, git, NoRenderer())
        await desired.manifests(instance, await desired.resolve(instance))

    huge = FakeGit()
    huge.commit({"app/big.yaml": configmap_text(20 * MIB)})

    async def refused() -> None:
        desired = DesiredState(fleet, huge, NoRenderer())
        await desired.manifests(instance, await desired.resolve(instance))

    return {"file_bytes": len(text), "cpus": os.cpu_count(),
            "inline": await lateness_during(inline), "worker": await lateness_during(worker),
            "refused": await lateness_during(refused)}


def write_results(result: dict[str, Any]) -> Path:
    out = Path(os.environ.get("GITOPSD_BENCH_OUT") or Path(tempfile.gettempdir()) / "gitopsd-bench")
    out.mkdir(parents=True, exist_ok=True)
    (out / "parse.json").write_text(json.dumps(result, indent=2) + "\n")
    rows = ["| case | work | loop wake-up late, worst | median |", "| --- | --- | --- | --- |"]
    for case, label in (("inline", "4 MiB parsed on the loop (before)"),
                        ("worker", "4 MiB through DesiredState (worker thread)"),
                        ("refused", "20 MB through DesiredState (refused by size)")):
        r = result[case]
        rows.append(f"| {label} | {r['work_s']:.3f} s | {r['max_late_s'] * 1000:.0f} ms | "
                    f"{r['median_late_s'] * 1000:.1f} ms |")
    (out / "parse.md").write_text("\n".join(rows) + "\n")
    return out


def main() -> int:
    result = asyncio.run(measure())
    out = write_results(result)
    print((out / "parse.md").read_text(), end="")
    print(f"results: {out / 'parse.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
