"""Benchmark 2, commit to applied and ``git revert`` to rolled back.

One application of ``commit_objects`` objects on cluster A. Each iteration
commits a new value for one ConfigMap and pushes, then ``git revert``s it and
pushes; the clock starts when ``git push`` returns and stops when the
benchmark's watch shows the new (then the old) value. Three modes, in order:

- floor: no daemon; the benchmark fetches the commit into a clone of its own,
  reads the changed file and server-side applies the changed objects into a
  namespace of its own: the least any pull-based tool must do;
- webhook: gitopsd with a 10-minute poll interval, told by a signed webhook
  right after each push;
- polling: gitopsd polling every ``poll_interval`` seconds, no webhook; each
  push waits a random fraction of the interval first, so pushes land at
  random points of the poll cycle.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import yaml

from tests.bench.context import Context
from tests.bench.daemonrun import Daemon, app_doc, fleet_doc
from tests.bench.gitrepo import Clone
from tests.bench.observe import Observer, rv
from tests.bench.report import row, seconds
from tests.bench.stats import ratio, summary
from tests.bench.workload import app_objects, namespaced, to_yaml

FLEET = "bench-commit"
APP = "commit"
PATH = "commit/app"
FILE = f"{PATH}/objects.yaml"
NAMESPACE = "bench-commit"
FLOOR_NAMESPACE = "floor-commit"
CHANGED = "configmap-0000"  # object 0 is a ConfigMap (see workload.MIX)


def _text(ctx: Context, value: str) -> str:
    return to_yaml(app_objects(ctx.size.commit_objects, {0: value}))


async def _until_value(observer: Observer, namespace: str, value: str, after_rv: int, t0: float,
                       timeout: float) -> float | None:
    key = ("a", "ConfigMap", namespace, CHANGED)
    arrival = await observer.first(
        key, lambda o: rv(o) > after_rv and (o.get("data") or {}).get("value") == value, timeout)
    return None if arrival is None else max(0.0, arrival - t0)


async def _iterations(ctx: Context, observer: Observer, namespace: str, n: int,
                      after_push: Callable[[], Awaitable[None]], *, jitter: float = 0.0,
                      seed: int = 7) -> dict[str, Any]:
    """N commit+revert pairs; AFTER_PUSH runs right after each push (inside the timing)."""
    rng = random.Random(seed)
    times: dict[str, list[float]] = {"applied": [], "rolled_back": []}
    failures = {"applied": 0, "rolled_back": 0}
    key = ("a", "ConfigMap", namespace, CHANGED)
    for i in range(n):
        for value, what in ((f"commit-{i}", "applied"), ("v0", "rolled_back")):
            if jitter:
                await asyncio.sleep(rng.uniform(0, jitter))
            current = rv(observer.live.get(key) or {})
            observer.record(key)
            try:
                if value == "v0":
                    ctx.repo.revert_head()
                else:
                    ctx.repo.write({FILE: _text(ctx, value)}, message=f"bench: {value}")
                t0 = time.monotonic()
                await after_push()
                took = await _until_value(observer, namespace, value, current, t0, 30.0)
            finally:
                observer.forget(key)
            if took is None:
                failures[what] += 1
            else:
                times[what].append(took)
            await asyncio.sleep(0.3)
    return {w: summary(times[w], failures=failures[w]) for w in times}


async def run(ctx: Context) -> dict[str, Any]:
    size = ctx.size
    ctx.repo.write({FILE: _text(ctx, "v0")}, message="bench: commit app")
    kube = ctx.kubes["a"]
    await kube.ensure_namespace(FLOOR_NAMESPACE)
    for doc in app_objects(size.commit_objects):
        await kube.apply(namespaced(doc, FLOOR_NAMESPACE), manager="bench-floor")
    observer = Observer({"a": kube}, ["ConfigMap"], f"bench.gitopsd.io/object={CHANGED}")
    await observer.start()
    result: dict[str, Any] = {"objects": size.commit_objects, "iterations": size.commit_iterations,
                              "poll_interval": size.poll_interval}
    try:
        clone = Clone(ctx.repo.url, ctx.run_dir / "floor-clone")
        known = {_name(d): d for d in yaml.safe_load_all(clone.show(clone.fetch(), FILE))}

        async def floor_apply() -> None:
            sha = clone.fetch()
            docs = {_name(d): d for d in yaml.safe_load_all(clone.show(sha, FILE))}
            changed = [d for k, d in docs.items() if known.get(k) != d]
            known.update(docs)
            await asyncio.gather(*(kube.apply(namespaced(d, FLOOR_NAMESPACE), manager="bench-floor")
                                   for d in changed))

        ctx.log(f"commit: {size.commit_iterations} commit+revert pairs against the floor")
        result["floor"] = await _iterations(ctx, observer, FLOOR_NAMESPACE, size.commit_iterations,
                                            floor_apply)
        for mode, poll in (("webhook", "10m"), ("polling", f"{size.poll_interval:g}s")):
            fleet = fleet_doc(FLEET, {"a": ctx.clusters["a"].kubeconfig}, ctx.repo.url,
                              [app_doc(APP, PATH, NAMESPACE, cluster="a")], poll=poll)
            daemon = Daemon(ctx.run_dir / f"daemon-commit-{mode}", fleet)
            await daemon.start()
            try:
                await daemon.wait_synced(timeout=120)
                ctx.log(f"commit: {size.commit_iterations} commit+revert pairs, {mode}")

                async def hook(d: Daemon = daemon, m: str = mode) -> None:
                    if m == "webhook":
                        status = await d.webhook(ctx.repo.url)
                        if status != 202:
                            raise RuntimeError(f"webhook answered {status}")

                result[mode] = await _iterations(
                    ctx, observer, NAMESPACE, size.commit_iterations, hook,
                    jitter=size.poll_interval if mode == "polling" else 0.0)
            finally:
                await daemon.stop()
    finally:
        await observer.stop()
    return result


def _name(doc: dict[str, Any]) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


def rows(ctx: Context, result: dict[str, Any]) -> list[dict[str, Any]]:
    floor = result["floor"]
    out = []
    targets = {"webhook": 2.0, "polling": 7.0}
    for mode in ("webhook", "polling"):
        m = result[mode]
        for what, label in (("applied", "commit to applied"), ("rolled_back", "git revert to rolled back")):
            s, f = m[what], floor[what]
            target = targets[mode] if what == "applied" else None
            out.append(row("2 commit", f"{label} p95, {mode}"
                           + (f" every {result['poll_interval']:g} s" if mode == "polling" else "")
                           + f" ({s['n']} runs)" + (f" ({s['failures']} missed)" if s["failures"] else ""),
                           f"{seconds(s['p95'])} (p50 {seconds(s['p50'])})",
                           f"{seconds(f['p95'])} (p50 {seconds(f['p50'])})", ratio(s["p95"], f["p95"]),
                           f"<= {target:g} s" if target else "",
                           bool(s["failures"] == 0 and s["p95"] <= target) if target else None))
    return out
