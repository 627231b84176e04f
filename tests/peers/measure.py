"""The peer benchmark's measurements, each the same for every tool and for the floor.

Times come from the benchmark's own watch (``tests.bench.observe.Observer``):
from the response of the write that started the clock (an out-of-band edit, a
``git push``, the spawn of a tool's processes) to the arrival of the event that
shows the desired state. Requests are counted by the API server itself
(``apiserver_request_total`` on its /metrics); CPU and memory come from
``/proc`` of the tool's processes. What a tool is and how it is poked lives in
``tests.peers.tool``; this module only runs the clock.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from tests.bench.gitrepo import Repo
from tests.bench.kube import WRITE_VERBS, Kube, count_delta, parse_request_counts
from tests.bench.observe import Observer, Target, rv, summarise
from tests.bench.workload import Edit
from tests.peers import workload
from tests.peers.tool import Settings, Tool, usage

MANAGED_RESOURCES = ("configmaps", "services")
Hook = Callable[[], Awaitable[None]]


async def until_applied(observer: Observer, namespace: str, count: int, *, timeout: float,
                        check: Callable[[], None] = lambda: None) -> float:
    """Monotonic time at which the watch first holds COUNT objects of NAMESPACE with value v0."""
    deadline = time.monotonic() + timeout
    want = set(workload_keys(namespace, count))
    while time.monotonic() < deadline:
        check()
        if all(k in observer.live and Edit(k[1]).restored(observer.live[k]) for k in want):
            return time.monotonic()
        await asyncio.sleep(0.05)
    missing = sorted(k[3] for k in want if k not in observer.live)[:5]
    raise TimeoutError(f"{namespace}: not every object applied within {timeout:.0f}s "
                       f"(missing e.g. {missing})")


def workload_keys(namespace: str, count: int) -> list[tuple[str, str, str, str]]:
    return [("a", o["kind"], namespace, o["metadata"]["name"]) for o in workload.objects(count)]


async def cold(observer: Observer, tool: Tool, settings: Settings, count: int, *,
               timeout: float = 300) -> dict[str, float]:
    """Seconds from spawning the tool's processes to every object applied (CRs already exist)."""
    t0 = time.monotonic()
    await tool.start(settings)
    ready = time.monotonic() - t0
    done = await until_applied(observer, tool.namespace, count, timeout=timeout)
    return {"seconds": round(done - t0, 3), "process_ready_seconds": round(ready, 3), "objects": count}


def request_delta(before: str, after: str) -> dict[str, int]:
    """Writes and reads between two /metrics texts: all resources, and the managed kinds alone."""
    delta = count_delta(parse_request_counts(before), parse_request_counts(after))
    out = {"writes": 0, "writes_managed": 0, "dry_run_managed": 0, "reads": 0, "reads_managed": 0}
    for (verb, resource, sub, dry), n in delta.items():
        managed = resource in MANAGED_RESOURCES and not sub
        if verb in WRITE_VERBS:
            if dry:
                out["dry_run_managed"] += n if managed else 0
                continue
            out["writes"] += n
            out["writes_managed"] += n if managed else 0
        elif verb in ("GET", "LIST"):
            out["reads"] += n
            out["reads_managed"] += n if managed else 0
    return out


async def idle(kube: Kube, pids: dict[str, int], window: float) -> dict[str, Any]:
    """Requests the API server counted, and the processes' CPU, over WINDOW idle seconds."""
    text0, use0, t0 = await kube.metrics(), usage(pids), time.monotonic()
    await asyncio.sleep(window)
    text1, use1, took = await kube.metrics(), usage(pids), time.monotonic() - t0
    cpu = sum(use1[n]["cpu_seconds"] - use0[n]["cpu_seconds"] for n in pids)
    return {"window_seconds": round(took, 1), **request_delta(text0, text1),
            "cpu_seconds": round(cpu, 3), "cpu_percent": round(100 * cpu / took, 2),
            "rss_mb": round(sum(use1[n]["rss_mb"] for n in pids), 1),
            "processes": {n: {"rss_mb": use1[n]["rss_mb"], "peak_rss_mb": use1[n]["peak_rss_mb"],
                              "cpu_seconds": round(use1[n]["cpu_seconds"] - use0[n]["cpu_seconds"], 3)}
                          for n in pids}}


async def drift(observer: Observer, kube: Kube, targets: Sequence[Target], after_edit: Hook, *,
                timeout: float, gap: float = 0.3, serial0: int = 0) -> dict[str, Any]:
    """Edit each target's managed field once; seconds to the restoring event, per target."""
    results: list[float | None] = []
    for i, t in enumerate(targets):
        edit = Edit(t.kind)
        observer.record(t.key)
        try:
            live = await kube.patch(t.kind, t.namespace, t.name, edit.patch(serial0 + i),
                                    manager="kubectl-edit")
            written, edited = time.monotonic(), rv(live)
            await after_edit()
            arrival = await observer.first(t.key, lambda o, e=edit, r=edited: rv(o) > r and e.restored(o),
                                           timeout)
        finally:
            observer.forget(t.key)
        results.append(None if arrival is None else max(0.0, arrival - written))
        await asyncio.sleep(gap)
    return summarise(targets, results)


async def commit(observer: Observer, repo: Repo, namespace: str, count: int, after_push: Hook, *,
                 iterations: int, timeout: float, spread: float = 0.0, serial0: int = 0,
                 seed: int = 7) -> dict[str, Any]:
    """Commit a new value of one ConfigMap ITERATIONS times; seconds from push to the applied value.

    With SPREAD, each push first waits a random fraction of SPREAD seconds, so that
    pushes land at random points of a polling cycle.
    """
    rng = random.Random(seed)
    key = ("a", "ConfigMap", namespace, workload.CHANGED)
    results: list[float | None] = []
    for i in range(iterations):
        if spread:
            await asyncio.sleep(rng.uniform(0, spread))
        value = f"c{serial0 + i}"
        observer.record(key)
        try:
            await asyncio.to_thread(repo.write, workload.files(count, value), f"bench: value {value}")
            pushed = time.monotonic()
            await after_push()
            arrival = await observer.first(key, lambda o, v=value: (o.get("data") or {}).get("value") == v,
                                           timeout)
        finally:
            observer.forget(key)
        results.append(None if arrival is None else max(0.0, arrival - pushed))
    return summarise([Target("a", "commit", "ConfigMap", namespace, workload.CHANGED)] * iterations, results)
