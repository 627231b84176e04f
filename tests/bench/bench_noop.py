"""Benchmark 4, no-op cost: a full resync of a fleet that is already in sync.

A sync of every application is requested through the API (a manual sync of an
in-sync instance must write nothing, and compares everything, as the periodic
full comparison does); the window ends when every instance has been reconciled
again. Writes are counted by both API servers themselves
(``apiserver_request_total``); CPU is the daemon's own, from ``/proc``. The
periodic resyncs the daemon does by itself are counted over the idle window of
benchmark 5.
"""

from __future__ import annotations

import time
from typing import Any

from tests.bench import managed
from tests.bench.context import Context, writes
from tests.bench.daemonrun import Daemon
from tests.bench.profile import profiled
from tests.bench.report import row, seconds


async def resync_all(ctx: Context, daemon: Daemon, apps: int) -> float:
    """Ask for a sync of every application and wait until all instances ran; seconds taken."""
    since = time.time()
    t0 = time.monotonic()
    for i in range(apps):
        status = await daemon.sync_app(managed.app_name(i))
        if status != 202:
            raise RuntimeError(f"sync request for {managed.app_name(i)} answered {status}")
    await daemon.wait_synced(timeout=600, since_wall=since)
    return time.monotonic() - t0


async def run(ctx: Context, daemon: Daemon) -> dict[str, Any]:
    rounds = []
    for n in range(ctx.size.noop_resyncs):
        before = await ctx.counts()
        async with profiled(ctx.profile_dir, daemon.pid, f"noop-{n + 1}"):
            cpu0 = daemon.cpu()
            took = await resync_all(ctx, daemon, ctx.size.drift_apps)
            cpu = daemon.cpu() - cpu0
        after = await ctx.counts()
        w = writes(before, after)
        rounds.append({"seconds": round(took, 3), "cpu_seconds": round(cpu, 3), **w})
        ctx.log(f"no-op resync {n + 1}: {took:.2f}s, {cpu:.2f} CPU s, {w['gitopsd_kinds']} writes, "
                f"{w['dry_run']} dry-runs, {w['reads']} reads")
    total = len(rounds)
    return {
        "objects": ctx.size.drift_managed,
        "instances": ctx.size.drift_apps * 2,
        "rounds": rounds,
        "writes_per_resync": max(r["gitopsd_kinds"] for r in rounds),
        "dry_runs_per_resync": max(r["dry_run"] for r in rounds),
        "reads_per_resync": round(sum(r["reads"] for r in rounds) / total, 1),
        "cpu_seconds_per_resync": round(sum(r["cpu_seconds"] for r in rounds) / total, 3),
        "seconds_per_resync": round(sum(r["seconds"] for r in rounds) / total, 3),
    }


def rows(ctx: Context, result: dict[str, Any]) -> list[dict[str, Any]]:
    n = result["objects"]
    return [
        row("4 no-op", f"writes during a full (manual) resync of {n:,} objects, worst of "
            f"{len(result['rounds'])}",
            f"{result['writes_per_resync']} (+{result['dry_runs_per_resync']} dry-run)", "", None, "0",
            result["writes_per_resync"] == 0),
        row("4 no-op", "daemon CPU per full resync (reads per resync)",
            f"{result['cpu_seconds_per_resync']:.2f} CPU s ({result['reads_per_resync']:.0f} reads)"),
        row("4 no-op", "full resync duration", seconds(result["seconds_per_resync"])),
    ] + ([row("4 no-op", f"writes during periodic resyncs ({p['window_seconds']:g} s window, every instance "
                         f"resynced once; {p['reads']} reads)",
              f"{p['writes']} (+{p['dry_runs']} dry-run)", "", None, "0", p["writes"] == 0)]
         if (p := result.get("periodic")) else [])
