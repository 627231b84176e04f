"""Benchmark 6, isolation: drift repair on cluster A while cluster B is unreachable.

Three phases of the same number of edits on A, with one running daemon:

- idle: B healthy and nothing asked of it (the reference);
- busy: B healthy, every instance on B asked to sync first (B's work shares
  the daemon with A's repairs, as B's periodic resync would);
- stopped: B's kube-apiserver SIGSTOPped, then every instance on B asked to
  sync, so B's requests hang until their timeouts instead of failing fast:
  the worst kind of unreachable.

The target compares stopped with idle. B is resumed afterwards and must
converge again.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from tests.bench import managed
from tests.bench.context import Context
from tests.bench.daemonrun import Daemon
from tests.bench.observe import Observer, TargetPool, drift_series, summarise
from tests.bench.report import row, seconds
from tests.bench.stats import ratio


async def _sync_b(ctx: Context, daemon: Daemon) -> None:
    for i in range(ctx.size.drift_apps):
        await daemon.sync_app(managed.app_name(i), "b")


async def _phase(ctx: Context, observer: Observer, pool: TargetPool, serial0: int) -> tuple[Any, Any]:
    targets = pool.take(ctx.size.isolation_changes, ["a"])
    results = await drift_series(observer, ctx.kubes, targets, gap=ctx.size.gap,
                                 timeout=ctx.size.edit_timeout, serial0=serial0)
    return targets, results


async def run(ctx: Context, daemon: Daemon, observer: Observer, pool: TargetPool) -> dict[str, Any]:
    n = ctx.size.isolation_changes
    ctx.log(f"isolation: {n} edits on A with B healthy and idle")
    idle = await _phase(ctx, observer, pool, 200_000)
    ctx.log(f"isolation: {n} edits on A with B healthy and every instance on B syncing")
    since = time.time()
    await _sync_b(ctx, daemon)
    busy = await _phase(ctx, observer, pool, 300_000)
    await daemon.wait_synced(timeout=300, since_wall=since, cluster="b")
    api = next(p for p in ctx.clusters["b"].processes if p.name == "kube-apiserver")
    ctx.log(f"isolation: {n} edits on A with B's kube-apiserver stopped and every instance on B syncing")
    os.kill(api.pid, signal.SIGSTOP)
    try:
        await _sync_b(ctx, daemon)
        stopped = await _phase(ctx, observer, pool, 400_000)
    finally:
        os.kill(api.pid, signal.SIGCONT)
    resumed = time.time()
    await _sync_b(ctx, daemon)
    recovered = await daemon.wait_synced(timeout=300, since_wall=resumed, cluster="b")
    ctx.log(f"isolation: B converged again {recovered:.1f}s after it resumed")
    return {"b_idle": summarise(*idle), "b_busy": summarise(*busy), "b_stopped": summarise(*stopped),
            "b_recovered_seconds": round(recovered, 2)}


def rows(ctx: Context, result: dict[str, Any]) -> list[dict[str, Any]]:
    idle, busy, stopped = result["b_idle"], result["b_busy"], result["b_stopped"]
    out = []
    for q in ("p50", "p99"):
        r = ratio(stopped[q], idle[q])
        out.append(row("6 isolation", f"drift revert {q} on A, B stopped vs B idle "
                       f"({stopped['n']} edits each)"
                       + (f" ({stopped['failures']} never reverted)" if stopped["failures"] else ""),
                       seconds(stopped[q]), seconds(idle[q]), r,
                       "<= 1.1x" if q == "p99" else "",
                       bool(stopped["failures"] == 0 and r <= 1.1) if q == "p99" else None))
    for q in ("p50", "p99"):
        out.append(row("6 isolation", f"drift revert {q} on A while every instance on B syncs vs B idle",
                       seconds(busy[q]), seconds(idle[q]), ratio(busy[q], idle[q])))
    return out
