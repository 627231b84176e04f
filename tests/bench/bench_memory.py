"""Benchmark 5, memory and idle cost.

Each memory point is a fresh daemon managing a prefix of the managed fleet
(objects already in sync), measured at the same moment of its life: every
instance Synced and Healthy, one full resync done, a short settle. Unmanaged
objects are unlabelled ConfigMaps in namespaces of their own, the kind gitopsd
watches most: they are added under a running daemon (RSS compared before and
after, each after a full resync), and a fresh daemon is measured with them too.
Idle CPU is the daemon's CPU time over one resync period in which nothing
changes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gitopsd.runtime import RunOptions
from tests.bench import managed
from tests.bench.bench_noop import resync_all
from tests.bench.context import Context, writes
from tests.bench.daemonrun import Daemon
from tests.bench.kube import Kube
from tests.bench.report import row
from tests.bench.workload import PAYLOAD

SETTLE = 3.0
DEFAULT_RESYNC = RunOptions(config="", state_dir=Path()).resync
PER_NAMESPACE = 500


async def point(ctx: Context, root: Path, apps: int, *,
                keep: bool = False) -> tuple[dict[str, Any], Daemon | None]:
    """A fresh daemon over APPS applications; its memory once synced and resynced."""
    fleet = managed.fleet(ctx.size, ctx.kubeconfigs(), ctx.repo.url, apps)
    daemon, start_seconds = await managed.start_daemon(root, fleet, timeout=900, resync=ctx.size.resync)
    try:
        resync = await resync_all(ctx, daemon, apps)
        await asyncio.sleep(SETTLE)
        mem = daemon.memory()
        result = {"apps": apps, "objects": ctx.size.managed_at(apps), **mem,
                  "start_to_synced_seconds": round(start_seconds, 2), "resync_seconds": round(resync, 2)}
        ctx.log(f"memory: {result['objects']} managed objects: RSS {mem['rss_mb']} MB "
                f"(peak {mem['peak_rss_mb']} MB); in sync {start_seconds:.1f}s after start")
    except BaseException:
        await daemon.stop()
        raise
    if keep:
        return result, daemon
    await daemon.stop()
    return result, None


async def idle(ctx: Context, daemon: Daemon) -> dict[str, Any]:
    """CPU the daemon uses over one resync period while nothing changes, and the requests made meanwhile.

    Every instance is resynced once in any window as long as the period (the
    daemon runs with ``--resync`` equal to the window), so this is the steady
    cost of leaving gitopsd alone.
    """
    window = ctx.size.resync
    before = await ctx.counts()
    cpu0 = daemon.cpu()
    await asyncio.sleep(window)
    cpu = daemon.cpu() - cpu0
    after = await ctx.counts()
    w = writes(before, after)
    result = {"window_seconds": window, "resync_seconds": ctx.size.resync, "cpu_seconds": round(cpu, 3),
              "cpu_seconds_per_minute": round(cpu / window * 60, 3),
              "percent_of_one_core": round(cpu / window * 100, 3),
              "writes_by_gitopsd_kinds": w["gitopsd_kinds"], "dry_runs": w["dry_run"], "reads": w["reads"],
              "writes_by_all_clients": w["all"]}
    ctx.log(f"idle: {result['percent_of_one_core']}% of one core over {window:.0f}s")
    return result


async def steady(ctx: Context, daemon: Daemon) -> dict[str, float]:
    """The daemon's memory after one more full resync and a settle."""
    await resync_all(ctx, daemon, ctx.size.drift_apps)
    await asyncio.sleep(SETTLE)
    return daemon.memory()


async def unmanaged_same_process(ctx: Context, daemon: Daemon) -> dict[str, Any]:
    """RSS of one running daemon before and after unmanaged objects appear, each after a full resync."""
    before = await steady(ctx, daemon)
    took = await add_unmanaged(ctx.kubes, ctx.size.unmanaged)
    after = await steady(ctx, daemon)
    change = (after["rss_mb"] - before["rss_mb"]) / before["rss_mb"] * 100
    ctx.log(f"memory: RSS {before['rss_mb']} MB -> {after['rss_mb']} MB ({change:+.1f}%) with "
            f"{ctx.size.unmanaged} unmanaged objects added")
    return {"before_mb": before["rss_mb"], "after_mb": after["rss_mb"],
            "change_percent": round(change, 2), "create_seconds": round(took, 1)}


async def add_unmanaged(kubes: Mapping[str, Kube], total: int) -> float:
    """Create TOTAL unlabelled ConfigMaps, shared evenly by the clusters of KUBES; seconds taken."""
    t0 = time.monotonic()
    per_cluster = total // len(kubes)

    async def fill(name: str) -> None:
        kube = kubes[name]
        sem = asyncio.Semaphore(16)

        async def one(i: int) -> None:
            ns = f"unmanaged-{i // PER_NAMESPACE:03d}"
            body = {"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": f"cm-{i:05d}", "namespace": ns},
                    "data": {"value": "v0", "payload": PAYLOAD}}
            async with sem:
                await kube.create(body)

        for n in range(0, per_cluster, PER_NAMESPACE):
            await kube.ensure_namespace(f"unmanaged-{n // PER_NAMESPACE:03d}")
        await asyncio.gather(*(one(i) for i in range(per_cluster)))

    await asyncio.gather(*(fill(n) for n in kubes))
    return time.monotonic() - t0


def rows(ctx: Context, result: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    points = result.get("points", [])
    full = ctx.size.drift_managed
    for p in points:
        is_full = p["objects"] == full
        out.append(row("5 memory", f"daemon RSS at {p['objects']:,} managed objects", f"{p['rss_mb']:.0f} MB",
                       target="<= 200 MB" if is_full else "",
                       met=(p["rss_mb"] <= 200) if is_full else None))
    un = result.get("unmanaged")
    if un and "same_process" in un:
        same = un["same_process"]
        change = same["change_percent"]
        out.append(row("5 memory", f"RSS of a running daemon at {full:,} managed objects when "
                       f"{un['objects']:,} unmanaged objects appear",
                       f"{same['after_mb']:.0f} MB ({change:+.1f}%)", f"{same['before_mb']:.0f} MB",
                       round(same["after_mb"] / same["before_mb"], 2), "<= 5% change", abs(change) <= 5))
    if un and "fresh_start" in un:
        fresh = un["fresh_start"]
        out.append(row("5 memory", "same, fresh daemon start with vs without them (start-to-start noise "
                       "included)", f"{fresh['after_mb']:.0f} MB ({fresh['change_percent']:+.1f}%)",
                       f"{fresh['before_mb']:.0f} MB", round(fresh["after_mb"] / fresh["before_mb"], 2)))
    idle_result = result.get("idle")
    if idle_result:
        pct = idle_result["percent_of_one_core"]
        out.append(row("5 memory", f"idle CPU at {full:,} managed objects, over one resync period "
                       f"({idle_result['resync_seconds']:g} s; gitopsd run's default is "
                       f"{DEFAULT_RESYNC:g} s)",
                       f"{pct:.2f}% of one core ({idle_result['cpu_seconds_per_minute']:.2f} CPU s/min)",
                       target="<= 1% of one core", met=pct <= 1.0))
    return out
