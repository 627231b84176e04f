"""Benchmark 1, drift to revert: gitopsd's self-heal against the minimal reverter.

Both series edit distinct managed objects, one at a time, as field manager
``kubectl-edit``, and time from the edit's response to the restoring event on
the benchmark's own watch. The daemon series runs while gitopsd runs; the floor
series runs with gitopsd stopped and ``tests.bench.reverter`` in its place.

Two more series run against the same daemon: one object edited again and again,
seconds apart (each edit is a new one and must be reverted at once), and one
object whose every repair another writer undoes at once (a fight: the repairs
must back off). A last series runs the same edits against a daemon whose
health comes from Argo CD-style Lua checks for every managed kind, against
the plain daemon's figures of the same run.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.bench import bench_notify, managed
from tests.bench.context import Context
from tests.bench.daemonrun import Daemon
from tests.bench.observe import Observer, Target, drift_series, edit_and_time, summarise
from tests.bench.profile import profiled
from tests.bench.report import row, seconds
from tests.bench.stats import ratio


async def daemon_series(ctx: Context, daemon: Daemon, observer: Observer,
                        targets: list[Target]) -> dict[str, Any]:
    ctx.log(f"drift: {len(targets)} edits against gitopsd")
    async with profiled(ctx.profile_dir, daemon.pid, "drift"):
        cpu0 = daemon.cpu()
        results = await drift_series(observer, ctx.kubes, targets, gap=ctx.size.gap,
                                     timeout=ctx.size.edit_timeout)
        cpu = daemon.cpu() - cpu0
    return {**summarise(targets, results), "daemon_cpu_seconds_per_edit": round(cpu / len(targets), 4)}


async def repeat_series(ctx: Context, observer: Observer, target: Target, *, edits: int = 10,
                        gap: float = 3.0) -> dict[str, Any]:
    """Edit one object EDITS times, GAP seconds apart: every edit is timed to its revert."""
    ctx.log(f"drift: one object edited {edits} times, {gap:g} s apart")
    results: list[float | None] = []
    for i in range(edits):
        if i:
            await asyncio.sleep(gap)
        results.append(await edit_and_time(observer, ctx.kubes[target.cluster], target, 200_000 + i,
                                           timeout=ctx.size.edit_timeout))
    return {**summarise([target] * edits, results), "gap_seconds": gap}


async def fight_series(ctx: Context, observer: Observer, target: Target, *,
                       repairs: int = 4) -> dict[str, Any]:
    """Another writer undoes each repair of one object at once: the seconds from each undo to the
    next repair, which self-heal's backoff makes grow."""
    ctx.log(f"drift: a writer undoing {repairs} repairs of one object")
    waits: list[float | None] = []
    for i in range(repairs):
        waits.append(await edit_and_time(observer, ctx.kubes[target.cluster], target, 300_000 + i,
                                         timeout=60.0))
        if waits[-1] is None:
            break
    return {"waits": [None if w is None else round(w, 3) for w in waits]}


# Argo CD-style Lua checks for every managed kind: what a team bringing its resource
# customizations would run on each watch event and health gate.
LUA_DEPLOYMENT = """
if obj.status ~= nil and obj.status.conditions ~= nil then
  for i, condition in ipairs(obj.status.conditions) do
    if condition.type == "Available" and condition.status == "True" then
      return {status = "Healthy", message = condition.message or ""}
    end
  end
end
return {status = "Progressing", message = "Waiting for the Deployment to become available"}
"""
LUA_PRESENT = """
local hs = {status = "Healthy", message = "present"}
if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "being deleted"
end
return hs
"""


def with_lua_health(fleet: dict[str, Any]) -> dict[str, Any]:
    """FLEET with a Lua health check for each kind the benchmark manages."""
    return {**fleet, "health": {"apps/Deployment": {"lua": LUA_DEPLOYMENT},
                                "ConfigMap": {"lua": LUA_PRESENT}, "Service": {"lua": LUA_PRESENT}}}


async def lua_series(ctx: Context, fleet: dict[str, Any], observer: Observer,
                     targets: list[Target]) -> dict[str, Any]:
    """The same drift series against a daemon whose health comes from Lua checks."""
    daemon, _ = await managed.start_daemon(ctx.run_dir / "daemon-lua", with_lua_health(fleet),
                                           timeout=1800, resync=ctx.size.resync)
    try:
        ctx.log(f"drift: {len(targets)} edits against gitopsd with Lua health checks")
        results = await drift_series(observer, ctx.kubes, targets, gap=ctx.size.gap,
                                     timeout=ctx.size.edit_timeout, serial0=400_000)
    finally:
        await daemon.stop()
    return summarise(targets, results)


async def floor_series(ctx: Context, observer: Observer, targets: list[Target], root: Path) -> dict[str, Any]:
    """Run the minimal reverter in its own process and time the same kind of edits against it."""
    names = sorted(ctx.clusters)
    spec = {"endpoints": [ctx.endpoint(n).to_json() for n in names], "selector": managed.SELECTOR,
            "manager": "gitopsd", "objects": managed.desired_bodies(ctx.size, names, observer.live)}
    root.mkdir(parents=True, exist_ok=True)
    spec_file = root / "reverter.json"
    spec_file.write_text(json.dumps(spec))
    spec_file.chmod(0o600)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.bench.reverter", str(spec_file),
        stdout=subprocess.PIPE, stderr=open(root / "reverter.log", "ab"))  # noqa: SIM115
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 120)
        if line.strip() != b"ready":
            raise RuntimeError(f"the floor reverter did not start; read {root / 'reverter.log'}")
        ctx.log(f"drift: {len(targets)} edits against the minimal reverter")
        results = await drift_series(observer, ctx.kubes, targets, gap=ctx.size.gap,
                                     timeout=ctx.size.edit_timeout, serial0=100_000)
    finally:
        if proc.returncode is None:
            proc.terminate()
        out, _ = await proc.communicate()
        spec_file.unlink(missing_ok=True)
    counters = json.loads(out.decode().strip().splitlines()[-1]) if out.strip() else {}
    return {**summarise(targets, results), "reverter": counters}


def rows(ctx: Context, result: dict[str, Any]) -> list[dict[str, Any]]:
    d, f = result["gitopsd"], result["floor"]
    n = ctx.size.drift_managed
    out = []
    for q in ("p50", "p95", "p99", "max"):
        r = ratio(d[q], f[q])
        target, met = "", None
        if q == "p99":
            target = "<= 1 s and <= 1.5x floor"
            met = bool(d["failures"] == 0 and d[q] <= 1.0 and r <= 1.5)
        out.append(row("1 drift", f"revert {q}, {n:,} objects, {d['n']} edits"
                       + (f" ({d['failures']} never reverted)" if d["failures"] else ""),
                       seconds(d[q]), seconds(f[q]), r, target, met))
    lua = result.get("lua")
    if lua:
        r = ratio(lua["p99"], d["p99"])
        lost = f" ({lua['failures']} never reverted)" if lua["failures"] else ""
        out.append(row("1 drift", f"revert p99 with Lua health checks vs without, {n:,} objects, "
                       f"{lua['n']} edits{lost}",
                       seconds(lua["p99"]), seconds(d["p99"]), r, "<= 1.2x",
                       bool(lua["failures"] == 0 and r <= 1.2)))
    repeat = result.get("repeat")
    if repeat:
        out.append(row("1 drift", f"revert p99, one object edited {repeat['n'] + repeat['failures']} times "
                       f"{repeat['gap_seconds']:g} s apart" + (f" ({repeat['failures']} never reverted)"
                                                                if repeat["failures"] else ""),
                       seconds(repeat["p99"]), target="<= 1 s",
                       met=bool(repeat["failures"] == 0 and repeat["p99"] <= 1.0)))
    if result.get("notify"):
        out += bench_notify.rows(ctx, result["notify"])
    fight = result.get("fight")
    if fight:
        waits = fight["waits"]
        grows = len(waits) >= 3 and None not in waits and all(b > a for a, b in itertools.pairwise(waits[1:]))
        out.append(row("1 drift", "fight: wait before each repair while another writer undoes it",
                       ", ".join(seconds(w) for w in waits), target="first at once, then growing",
                       met=bool(grows and waits[0] is not None and waits[0] <= 1.0)))
    return out
