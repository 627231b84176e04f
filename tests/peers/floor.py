"""The floor column of the peer table: the least any tool could do for each row, measured alike.

- cold: the benchmark's own client server-side applies every object at once;
- drift: the main benchmark's minimal reverter (``tests.bench.reverter``), one
  watch and one apply, in a process of its own;
- commit: the benchmark fetches the pushed commit over the same smart-HTTP
  server with libgit2 in-process, reads the file and applies the changed object;
- no-op and idle: the control plane alone, with no tool running.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import yaml

from tests.bench.gitrepo import Clone
from tests.bench.kube import Endpoint, Kube
from tests.bench.observe import Observer
from tests.bench.workload import namespaced
from tests.peers import workload
from tests.peers.measure import until_applied

NAMESPACE = "peer-floor"
MANAGER = "floor"


def bodies(count: int) -> list[dict[str, Any]]:
    return [namespaced(o, NAMESPACE) for o in workload.objects(count)]


async def cold(observer: Observer, kube: Kube, count: int) -> dict[str, float]:
    await kube.ensure_namespace(NAMESPACE)
    t0 = time.monotonic()
    await asyncio.gather(*(kube.apply(b, manager=MANAGER) for b in bodies(count)))
    done = await until_applied(observer, NAMESPACE, count, timeout=120)
    return {"seconds": round(done - t0, 3), "objects": count}


@contextlib.asynccontextmanager
async def reverter(endpoint: Endpoint, count: int, root: Path) -> AsyncIterator[None]:
    """The minimal reverter running over the floor namespace's objects."""
    root.mkdir(parents=True, exist_ok=True)
    spec_file = root / "reverter.json"
    spec_file.write_text(json.dumps({"endpoints": [endpoint.to_json()], "selector": workload.SELECTOR,
                                     "manager": MANAGER, "objects": {endpoint.name: bodies(count)}}))
    spec_file.chmod(0o600)
    with open(root / "reverter.log", "ab") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.bench.reverter", str(spec_file), stdout=subprocess.PIPE, stderr=log)
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 120)
        if line.strip() != b"ready":
            raise RuntimeError(f"the floor reverter did not start; read {root / 'reverter.log'}")
        yield
    finally:
        if proc.returncode is None:
            proc.terminate()
        await proc.communicate()
        spec_file.unlink(missing_ok=True)


class CommitFloor:
    """After each push: fetch in-process, read the file, apply the changed object."""

    def __init__(self, kube: Kube, url: str, path: Path) -> None:
        self.kube = kube
        self.clone = Clone(url, path)

    async def after_push(self) -> None:
        sha = await asyncio.to_thread(self.clone.fetch)
        docs = yaml.safe_load_all(self.clone.show(sha, workload.FILE))
        changed = next(d for d in docs if d["metadata"]["name"] == workload.CHANGED)
        await self.kube.apply(namespaced(changed, NAMESPACE), manager=MANAGER)
