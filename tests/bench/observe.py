"""The benchmark's eyes: its own watches, and timed out-of-band edits.

``Observer`` keeps one watch per (cluster, kind) open and remembers the last
version of every object it sees. ``edit_and_time`` changes one managed field
as another field manager and returns the seconds from the write's response to
the first event that shows the field restored in a later resourceVersion.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tests.bench.kube import Kube
from tests.bench.stats import summary
from tests.bench.workload import Edit

Key = tuple[str, str, str, str]  # cluster, kind, namespace, name
Predicate = Callable[[Mapping[str, Any]], bool]


def rv(obj: Mapping[str, Any]) -> int:
    return int((obj.get("metadata") or {}).get("resourceVersion") or 0)


class Observer:
    def __init__(self, kubes: Mapping[str, Kube], kinds: Sequence[str], selector: str) -> None:
        self.kubes = kubes
        self.kinds = tuple(kinds)
        self.selector = selector
        self.live: dict[Key, dict[str, Any]] = {}
        self._recording: dict[Key, list[tuple[float, dict[str, Any]]]] = {}
        self._signal: dict[Key, asyncio.Event] = {}
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        ready = []
        for cluster, kube in self.kubes.items():
            for kind in self.kinds:
                event = asyncio.Event()
                ready.append(event)
                self._tasks.append(asyncio.ensure_future(
                    kube.watch(kind, self._handler(cluster, kind), label_selector=self.selector,
                               ready=event)))
        gate = asyncio.ensure_future(asyncio.gather(*(e.wait() for e in ready)))
        await asyncio.wait([gate, *self._tasks], return_when=asyncio.FIRST_COMPLETED, timeout=120)
        for t in self._tasks:
            if t.done():
                gate.cancel()
                t.result()
        if not gate.done():
            gate.cancel()
            raise TimeoutError("the benchmark's watches did not start within 120s")

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def _handler(self, cluster: str, kind: str) -> Callable[[str, dict[str, Any], float], None]:
        def on_event(etype: str, obj: dict[str, Any], arrival: float) -> None:
            meta = obj.get("metadata") or {}
            key = (cluster, kind, meta.get("namespace", ""), meta.get("name", ""))
            if etype == "DELETED":
                self.live.pop(key, None)
            else:
                self.live[key] = obj
            log = self._recording.get(key)
            if log is not None:
                log.append((arrival, obj))
                self._signal[key].set()
        return on_event

    def record(self, key: Key) -> None:
        self._recording[key] = []
        self._signal[key] = asyncio.Event()

    def forget(self, key: Key) -> None:
        self._recording.pop(key, None)
        self._signal.pop(key, None)

    async def first(self, key: Key, predicate: Predicate, timeout: float) -> float | None:
        """Arrival time of the first recorded event of KEY that satisfies PREDICATE."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            log = self._recording[key]
            for arrival, obj in log[seen:]:
                if predicate(obj):
                    return arrival
            seen = len(log)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._signal[key].clear()
            try:
                await asyncio.wait_for(self._signal[key].wait(), left)
            except TimeoutError:
                return None

    def count(self, cluster: str, kind: str | None = None) -> int:
        return sum(1 for k in self.live if k[0] == cluster and (kind is None or k[1] == kind))


@dataclass(frozen=True)
class Target:
    cluster: str
    app: str
    kind: str
    namespace: str
    name: str

    @property
    def key(self) -> Key:
        return (self.cluster, self.kind, self.namespace, self.name)


class TargetPool:
    """Objects to disturb, each used once, consecutive picks on different instances.

    gitopsd backs off repairs of an object that keeps drifting (by design), so a
    benchmark of repair latency must not edit the same object twice.
    """

    def __init__(self, targets: Sequence[Target], seed: int = 1) -> None:
        rng = random.Random(seed)
        by_instance: dict[tuple[str, str], list[Target]] = {}
        for t in targets:
            by_instance.setdefault((t.cluster, t.app), []).append(t)
        for lst in by_instance.values():
            rng.shuffle(lst)
        self._queues = by_instance
        self._order = sorted(by_instance)
        rng.shuffle(self._order)
        self._turn = 0

    def take(self, n: int, clusters: Sequence[str] | None = None) -> list[Target]:
        out: list[Target] = []
        instances = [i for i in self._order if clusters is None or i[0] in clusters]
        while len(out) < n:
            progressed = False
            for _ in range(len(instances)):
                inst = instances[self._turn % len(instances)]
                self._turn += 1
                if self._queues[inst]:
                    out.append(self._queues[inst].pop())
                    progressed = True
                    break
            if not progressed:
                raise ValueError(f"only {len(out)} unused objects left, {n} wanted")
        return out


async def edit_and_time(observer: Observer, kube: Kube, target: Target, serial: int, *,
                        timeout: float, manager: str = "kubectl-edit") -> float | None:
    """Edit TARGET's managed field; seconds until the watch shows it restored, None at TIMEOUT."""
    edit = Edit(target.kind)
    observer.record(target.key)
    try:
        live = await kube.patch(target.kind, target.namespace, target.name, edit.patch(serial),
                                manager=manager)
        written = time.monotonic()
        edited_rv = rv(live)
        arrival = await observer.first(
            target.key, lambda o: rv(o) > edited_rv and edit.restored(o), timeout)
    finally:
        observer.forget(target.key)
    return None if arrival is None else max(0.0, arrival - written)


async def drift_series(observer: Observer, kubes: Mapping[str, Kube], targets: Sequence[Target], *,
                       gap: float, timeout: float, serial0: int = 0) -> list[float | None]:
    """Edit TARGETS one at a time; per target the seconds to restore, None if never restored."""
    out: list[float | None] = []
    for i, t in enumerate(targets):
        out.append(await edit_and_time(observer, kubes[t.cluster], t, serial0 + i, timeout=timeout))
        await asyncio.sleep(gap)
    return out


def summarise(targets: Sequence[Target], results: Sequence[float | None]) -> dict[str, Any]:
    """Summary of a series, overall and per kind."""
    ok = [x for x in results if x is not None]
    kinds: dict[str, list[float]] = {}
    for t, x in zip(targets, results, strict=True):
        if x is not None:
            kinds.setdefault(t.kind, []).append(x)
    return {**summary(ok, failures=len(results) - len(ok)),
            "by_kind": {k: summary(v) for k, v in sorted(kinds.items())}}
