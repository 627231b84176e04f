"""The floor for drift repair: the least a reverter can do, in a process of its own.

One watch per (cluster, kind), label-selected like gitopsd's; when an event shows
an object whose fields no longer contain its known desired body, one server-side
apply of that body (field manager ``gitopsd``, forced). No diff, no queue, no
re-read: whatever gitopsd does beyond this is its overhead.

Run as ``python -m tests.bench.reverter SPEC.json``; prints ``ready`` once every
watch is established and, on SIGTERM, one JSON line of counters.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

from tests.bench.kube import Endpoint, Kube
from tests.bench.workload import subset

Key = tuple[str, str, str, str]  # cluster, kind, namespace, name


async def run(spec: dict[str, Any]) -> dict[str, int]:
    kubes = {e["name"]: Kube(Endpoint(**e)) for e in spec["endpoints"]}
    desired: dict[Key, dict[str, Any]] = {}
    for cluster, bodies in spec["objects"].items():
        for body in bodies:
            meta = body["metadata"]
            desired[(cluster, body["kind"], meta["namespace"], meta["name"])] = body
    counters = {"events": 0, "applies": 0, "errors": 0}
    inflight: set[Key] = set()
    tasks: set[asyncio.Task[None]] = set()

    async def revert(key: Key) -> None:
        try:
            await kubes[key[0]].apply(desired[key], manager=spec.get("manager", "gitopsd"))
            counters["applies"] += 1
        except Exception:  # a failed repair is counted; the next event retries
            counters["errors"] += 1
        finally:
            inflight.discard(key)

    def handler(cluster: str, kind: str) -> Any:
        def on_event(etype: str, obj: dict[str, Any], arrival: float) -> None:
            counters["events"] += 1
            meta = obj.get("metadata") or {}
            key = (cluster, kind, meta.get("namespace", ""), meta.get("name", ""))
            want = desired.get(key)
            if want is None or key in inflight or etype == "LISTED":
                return
            if etype == "DELETED" or not subset(want, obj):
                inflight.add(key)
                task = asyncio.ensure_future(revert(key))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        return on_event

    watches = []
    ready = []
    for cluster in kubes:
        for kind in sorted({k[1] for k in desired if k[0] == cluster}):
            event = asyncio.Event()
            ready.append(event)
            watches.append(asyncio.ensure_future(kubes[cluster].watch(
                kind, handler(cluster, kind), label_selector=spec["selector"], ready=event)))
    await asyncio.gather(*(e.wait() for e in ready))
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    for w in watches:
        w.cancel()
    await asyncio.gather(*watches, return_exceptions=True)
    for k in kubes.values():
        await k.close()
    return counters


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    counters = asyncio.run(run(spec))
    print(json.dumps(counters), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
