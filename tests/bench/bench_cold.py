"""Benchmark 3, cold sync throughput.

``cold_apps`` applications of ``cold_objects`` objects, each on both clusters.
Baseline first: ``kubectl apply --server-side`` of the same objects (plus their
Namespaces) to both clusters at once, one kubectl per cluster, timed until both
exit; for reference also until every Deployment it made is Available. Then a
fresh gitopsd with an empty state directory, timed from process start to every
instance Synced and Healthy in its API, and to the moment the benchmark's own
watch has seen every object (all applied). The two runs use different
namespaces.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from typing import Any

from gitopsd.edges.binaries import find
from tests.bench.context import Context, requests
from tests.bench.daemonrun import Daemon, app_doc, fleet_doc
from tests.bench.managed import KINDS
from tests.bench.observe import Observer
from tests.bench.profile import profiled
from tests.bench.report import row, seconds
from tests.bench.stats import ratio
from tests.bench.workload import app_objects, deployments_in, namespace_doc, namespaced, to_yaml

FLEET = "bench-cold"


def app_name(i: int) -> str:
    return f"c-{i:03d}"


async def _kubectl(ctx: Context, cluster: str, path: str, cache: str) -> float:
    t0 = time.monotonic()
    log = ctx.run_dir / f"kubectl-{cluster}.log"
    with open(log, "ab") as out:
        proc = await asyncio.create_subprocess_exec(
            find("kubectl"), "--kubeconfig", str(ctx.clusters[cluster].kubeconfig), "apply",
            "--server-side", "--field-manager=bench-floor", "-f", path,
            stdout=out, stderr=out, env={**os.environ, "KUBECACHEDIR": cache})
        code = await proc.wait()
    if code != 0:
        raise RuntimeError(f"kubectl apply on {cluster} exited {code}; read {log}")
    return time.monotonic() - t0


async def _deployments_available(ctx: Context, prefix: str, expected: int, timeout: float) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        ready = 0
        for kube in ctx.kubes.values():
            items, _ = await kube.list("Deployment")
            ready += sum(1 for d in items if d["metadata"]["namespace"].startswith(prefix)
                         and any(c.get("type") == "Available" and c.get("status") == "True"
                                 for c in (d.get("status") or {}).get("conditions") or []))
        if ready >= expected:
            return time.monotonic() - t0
        await asyncio.sleep(0.5)
    raise TimeoutError(f"{expected} Deployments in {prefix}* not Available within {timeout:.0f}s")


async def _all_seen(observer: Observer, daemon: Daemon, total: int) -> float:
    """Seconds from daemon start until the benchmark's watches have seen all TOTAL objects."""
    while sum(1 for k in observer.live if k[2].startswith("cold-")) < total:
        await asyncio.sleep(0.1)
    return time.monotonic() - daemon.started


async def run(ctx: Context) -> dict[str, Any]:
    size = ctx.size
    objs = app_objects(size.cold_objects)
    total = size.cold_managed
    ctx.repo.write({f"cold/{app_name(i)}/objects.yaml": to_yaml(objs) for i in range(size.cold_apps)},
                   message="bench: cold sync apps")
    docs: list[dict[str, Any]] = [namespace_doc(f"floor-cold-{i:03d}") for i in range(size.cold_apps)]
    docs += [namespaced(o, f"floor-cold-{i:03d}") for i in range(size.cold_apps) for o in objs]
    manifest = ctx.run_dir / "cold-floor.yaml"
    manifest.write_text(to_yaml(docs))
    ctx.log(f"cold: kubectl apply --server-side of {total} objects to both clusters")
    counts0 = await ctx.counts()
    with tempfile.TemporaryDirectory(prefix="kubectl-cache-") as cache:
        t0 = time.monotonic()
        await asyncio.gather(*(_kubectl(ctx, c, str(manifest), f"{cache}/{c}") for c in sorted(ctx.clusters)))
        kubectl_seconds = time.monotonic() - t0
    kubectl_requests = requests(counts0, await ctx.counts())
    deployments = deployments_in(size.cold_objects) * size.cold_apps * len(ctx.clusters)
    await _deployments_available(ctx, "floor-cold-", deployments, 600)
    kubectl_available = time.monotonic() - t0

    fleet = fleet_doc(FLEET, ctx.kubeconfigs(), ctx.repo.url,
                      [app_doc(app_name(i), f"cold/{app_name(i)}", f"cold-{i:03d}")
                       for i in range(size.cold_apps)], poll="30s")
    ctx.log(f"cold: gitopsd from start to {size.cold_apps * 2} instances Synced and Healthy")
    daemon = Daemon(ctx.run_dir / "daemon-cold", fleet, resync=3600.0)
    observer = Observer(ctx.kubes, KINDS, f"gitopsd.io/fleet={FLEET}")
    await observer.start()
    counts0 = await ctx.counts()
    await daemon.start()
    applied = asyncio.ensure_future(_all_seen(observer, daemon, total))
    try:
        async with profiled(ctx.profile_dir, daemon.pid, "cold"):
            await daemon.wait_synced(timeout=1200, interval=0.5)
            daemon_seconds = time.monotonic() - daemon.started
        applied_seconds = await asyncio.wait_for(applied, 60)
        cpu = daemon.cpu()
        mem = daemon.memory()
        gitopsd_requests = requests(counts0, await ctx.counts())
    finally:
        applied.cancel()
        await daemon.stop()
        await observer.stop()
    return {
        "objects": total, "apps": size.cold_apps, "instances": size.cold_apps * 2,
        "namespaces": size.cold_apps * 2,
        "kubectl_seconds": round(kubectl_seconds, 2),
        "kubectl_until_available_seconds": round(kubectl_available, 2),
        "gitopsd_seconds": round(daemon_seconds, 2),
        "gitopsd_all_applied_seconds": round(applied_seconds, 2),
        "gitopsd_cpu_seconds": round(cpu, 2), **mem,
        "kubectl_objects_per_second": round(total / kubectl_seconds, 1),
        "gitopsd_objects_per_second": round(total / daemon_seconds, 1),
        "kubectl_requests": kubectl_requests, "gitopsd_requests": gitopsd_requests,
        "kubectl_requests_per_object": round(sum(kubectl_requests.values()) / total, 2),
        "gitopsd_requests_per_object": round(sum(gitopsd_requests.values()) / total, 2),
    }


def rows(ctx: Context, result: dict[str, Any]) -> list[dict[str, Any]]:
    r = ratio(result["gitopsd_seconds"], result["kubectl_seconds"])
    r_avail = ratio(result["gitopsd_seconds"], result["kubectl_until_available_seconds"])
    n = result["objects"]
    return [
        row("3 cold sync", f"{n:,} objects to Synced+Healthy vs kubectl apply --server-side",
            f"{seconds(result['gitopsd_seconds'])} ({result['gitopsd_objects_per_second']:.0f} obj/s)",
            f"{seconds(result['kubectl_seconds'])} ({result['kubectl_objects_per_second']:.0f} obj/s)",
            r, "<= 1.3x", r <= 1.3),
        row("3 cold sync", "same, baseline until its Deployments are Available",
            seconds(result["gitopsd_seconds"]), seconds(result["kubectl_until_available_seconds"]), r_avail),
        row("3 cold sync", "every object applied (seen by the benchmark's watch) vs kubectl apply",
            seconds(result["gitopsd_all_applied_seconds"]), seconds(result["kubectl_seconds"]),
            ratio(result["gitopsd_all_applied_seconds"], result["kubectl_seconds"])),
        row("3 cold sync", "API requests per object (gitopsd's kinds)",
            f"{result['gitopsd_requests_per_object']:.2f}", f"{result['kubectl_requests_per_object']:.2f}",
            ratio(result["gitopsd_requests_per_object"], result["kubectl_requests_per_object"])),
    ]
