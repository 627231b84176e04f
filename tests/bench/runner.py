"""``python -m tests.bench``: start two local clusters, run the benchmarks, write JSON and a table.

Order: commit (small, on nearly empty clusters); then the managed fleet that
drift, no-op, memory and isolation share (created once, then measured by fresh
daemons); then cold sync, which leaves the most objects behind. A benchmark
that fails is recorded with its error and the others still run; the exit
code is 1 when any failed.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

from gitopsd import localcluster
from tests.bench import (
    bench_cold,
    bench_commit,
    bench_drift,
    bench_isolation,
    bench_memory,
    bench_noop,
    bench_notify,
    machine,
    managed,
    report,
)
from tests.bench.context import Context
from tests.bench.gitrepo import Repo
from tests.bench.observe import Observer, TargetPool
from tests.bench.sizes import SIZES, Size
from tests.bench.workload import deployments_in

BENCHMARKS = ("drift", "commit", "cold", "noop", "memory", "isolation")
MANAGED = ("drift", "noop", "memory", "isolation")
DEFAULT_OUT = Path(__file__).resolve().parent / "results"
T = TypeVar("T")


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="the quick size (under 5 minutes)")
    p.add_argument("--size", choices=sorted(SIZES), help=argparse.SUPPRESS)
    p.add_argument("--only", nargs="+", choices=BENCHMARKS, metavar="NAME",
                   help=f"run only these benchmarks ({', '.join(BENCHMARKS)})")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the JSON and table")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, fleet files)")
    p.add_argument("--profile", type=Path, metavar="DIR",
                   help="sample the daemon with py-spy during no-op, drift and cold sync into DIR")
    return p.parse_args(argv)


def nodes_for(size: Size) -> int:
    """Fake nodes per cluster for every Deployment replica the run creates (110 pods per node)."""
    pods = (size.drift_apps * deployments_in(size.drift_objects)
            + 2 * size.cold_apps * deployments_in(size.cold_objects)
            + 2 * deployments_in(size.commit_objects))
    return math.ceil(pods / 100) + 1


class Run:
    def __init__(self, ctx: Context, selected: tuple[str, ...]) -> None:
        self.ctx = ctx
        self.selected = selected
        self.results: dict[str, Any] = {}
        self.errors: dict[str, str] = {}
        self.phases: dict[str, float] = {}

    async def attempt(self, name: str, coro: Awaitable[T]) -> T | None:
        t0 = time.monotonic()
        try:
            return await coro
        except Exception as e:
            self.errors[name] = f"{type(e).__name__}: {e}"[:2000]
            self.ctx.log(f"{name} FAILED: {self.errors[name]}")
            return None
        finally:
            self.phases[name] = round(self.phases.get(name, 0.0) + time.monotonic() - t0, 1)

    def want(self, name: str) -> bool:
        return name in self.selected

    async def managed_suite(self) -> None:
        ctx, size = self.ctx, self.ctx.size
        ctx.repo.write(managed.files(size), message="bench: managed fleet")
        fleet = managed.fleet(size, ctx.kubeconfigs(), ctx.repo.url)
        memory: dict[str, Any] = {"points": []}
        main = None
        # Grow the fleet step by step so that, at each memory point, every object that
        # carries the fleet's label belongs to an application the measured daemon manages.
        steps = size.memory_apps if self.want("memory") else (size.drift_apps,)
        self.results["setup"] = {"steps": []}
        for apps in steps:
            ctx.log(f"managed: {size.managed_at(apps)} objects in {apps} apps on 2 clusters")
            made = await self.attempt("setup", managed.start_daemon(
                ctx.run_dir / f"daemon-setup-{apps}", managed.fleet(size, ctx.kubeconfigs(), ctx.repo.url,
                                                                     apps), timeout=1800))
            if made is None:
                for name in MANAGED:
                    if self.want(name):
                        self.errors.setdefault(name, "the managed fleet could not be set up")
                return
            setup, seconds = made
            self.results["setup"]["steps"].append({
                "apps": apps, "objects": size.managed_at(apps), "seconds": round(seconds, 2),
                "cpu_seconds": round(setup.cpu(), 2), **setup.memory()})
            await setup.stop()
            if self.want("memory"):
                last = apps == steps[-1]
                got = await self.attempt("memory", bench_memory.point(
                    ctx, ctx.run_dir / f"daemon-memory-{apps}", apps, keep=last))
                if got:
                    memory["points"].append(got[0])
                    main = got[1] if last else None
        if main is not None:
            idle = await self.attempt("memory", bench_memory.idle(ctx, main))
            if idle:
                memory["idle"] = idle
        if main is None:
            started = await self.attempt("setup", managed.start_daemon(ctx.run_dir / "daemon-main", fleet,
                                                                       timeout=900, resync=size.resync))
            main = started[0] if started else None
        if main is None:
            return
        observer = Observer(ctx.kubes, managed.KINDS, managed.SELECTOR)
        pool = TargetPool(managed.targets(size, sorted(ctx.clusters)))
        drift: dict[str, Any] = {"objects": size.drift_managed}
        try:
            if self.want("noop"):
                noop = await self.attempt("noop", bench_noop.run(ctx, main))
                if noop:
                    self.results["noop"] = noop
            if self.want("memory") and size.unmanaged:
                ctx.log(f"memory: adding {size.unmanaged} unmanaged ConfigMaps under a running daemon")
                same = await self.attempt("memory", bench_memory.unmanaged_same_process(ctx, main))
                if same:
                    memory["unmanaged"] = {"objects": size.unmanaged, "same_process": same}
            await observer.start()
            if self.want("drift"):
                got_d = await self.attempt("drift", bench_drift.daemon_series(
                    ctx, main, observer, pool.take(size.drift_changes)))
                if got_d:
                    drift["gitopsd"] = got_d
                once, fought = pool.take(2)
                got_r = await self.attempt("drift", bench_drift.repeat_series(
                    ctx, observer, once, edits=size.repeat_edits))
                if got_r:
                    drift["repeat"] = got_r
                got_x = await self.attempt("drift", bench_drift.fight_series(
                    ctx, observer, fought, repairs=size.fight_repairs))
                if got_x:
                    drift["fight"] = got_x
            if self.want("isolation"):
                iso = await self.attempt("isolation", bench_isolation.run(ctx, main, observer, pool))
                if iso:
                    self.results["isolation"] = iso
        finally:
            await main.stop()
        try:
            if self.want("drift") and "gitopsd" in drift:
                got_l = await self.attempt("drift", bench_drift.lua_series(
                    ctx, fleet, observer, pool.take(size.drift_changes)))
                if got_l:
                    drift["lua"] = got_l
                got_n = await self.attempt("drift", bench_notify.notify_series(ctx, fleet, observer))
                if got_n:
                    drift["notify"] = got_n
                got_f = await self.attempt("drift", bench_drift.floor_series(
                    ctx, observer, pool.take(size.drift_changes), ctx.run_dir / "reverter"))
                if got_f:
                    drift["floor"] = got_f
                    self.results["drift"] = drift
        finally:
            await observer.stop()
        if "unmanaged" in memory and memory["points"]:
            ctx.log("memory: a fresh daemon with the unmanaged objects present")
            got = await self.attempt("memory", bench_memory.point(
                ctx, ctx.run_dir / "daemon-unmanaged", size.drift_apps))
            if got:
                base = memory["points"][-1]["rss_mb"]
                memory["unmanaged"]["fresh_start"] = {
                    "before_mb": base, "after_mb": got[0]["rss_mb"],
                    "change_percent": round((got[0]["rss_mb"] - base) / base * 100, 2), "point": got[0]}
        if self.want("memory"):
            noop = self.results.get("noop")
            if "idle" in memory and noop:
                idle = memory["idle"]
                noop["periodic"] = {"window_seconds": idle["window_seconds"],
                                    "writes": idle["writes_by_gitopsd_kinds"], "dry_runs": idle["dry_runs"],
                                    "reads": idle["reads"], "cpu_seconds": idle["cpu_seconds"]}
            self.results["memory"] = memory

    def rows(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        modules = {"drift": bench_drift, "commit": bench_commit, "cold": bench_cold, "noop": bench_noop,
                   "memory": bench_memory, "isolation": bench_isolation}
        for name in BENCHMARKS:
            if name in self.results:
                try:
                    out += modules[name].rows(self.ctx, self.results[name])
                except (KeyError, TypeError) as e:
                    self.errors.setdefault(name, f"incomplete result: {type(e).__name__}: {e}")
            elif self.want(name):
                out.append(report.row(name, "not measured", "error: " + self.errors.get(name, "no result")))
        return out


async def _up(name: str, directory: Path, nodes: int) -> localcluster.LocalCluster:
    return await asyncio.to_thread(localcluster.up, name, directory, workloads=True, nodes=nodes,
                                   ready_timeout=180)


async def run(args: argparse.Namespace) -> tuple[dict[str, Any], int]:
    size = SIZES[args.size or ("quick" if args.quick else "full")]
    selected = tuple(args.only or BENCHMARKS)
    run_dir = Path(tempfile.mkdtemp(prefix=f"gitopsd-bench-{size.name}-"))
    t0 = time.monotonic()
    clusters: dict[str, localcluster.LocalCluster] = {}
    ctx: Context | None = None
    failed = True
    result: dict[str, Any] = {"size": size.to_json(), "selected": list(selected)}
    try:
        nodes = nodes_for(size)
        ups = await asyncio.gather(_up("bench-a", run_dir / "cluster-a", nodes),
                                   _up("bench-b", run_dir / "cluster-b", nodes), return_exceptions=True)
        for name, got in zip(("a", "b"), ups, strict=True):
            if isinstance(got, BaseException):
                raise got
            clusters[name] = got
        ctx = Context(size, run_dir, clusters, Repo(run_dir / "git"), t0=t0,
                      profile_dir=args.profile.absolute() if args.profile else None)
        ctx.open()
        _, version = await ctx.kubes["a"].request("GET", "/version")
        result["machine"] = await asyncio.to_thread(machine.facts, str(version.get("gitVersion", "")))
        result["clusters"] = {"nodes_per_cluster": nodes, "start_seconds": {
            n: c.start_seconds for n, c in clusters.items()}}
        ctx.log(f"size {size.name}: clusters up ({nodes} fake nodes each); running {', '.join(selected)}")
        r = Run(ctx, selected)
        if r.want("commit"):
            got = await r.attempt("commit", bench_commit.run(ctx))
            if got:
                r.results["commit"] = got
        if any(r.want(n) for n in MANAGED):
            await r.managed_suite()
        if r.want("cold"):
            got = await r.attempt("cold", bench_cold.run(ctx))
            if got:
                r.results["cold"] = got
        result["rows"] = r.rows()
        result["benchmarks"] = r.results
        result["errors"] = r.errors
        result["phase_seconds"] = r.phases
        failed = bool(r.errors)
    finally:
        if ctx is not None:
            await ctx.close()
        for c in clusters.values():
            try:
                await asyncio.to_thread(localcluster.down, c.dir)
            except Exception as e:  # report and go on: the other cluster must still stop
                print(f"could not stop {c.name}: {e}", file=sys.stderr)
        if args.keep or failed:
            print(f"work directory kept: {run_dir}", file=sys.stderr)
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
    result["total_seconds"] = round(time.monotonic() - t0, 1)
    result["machine"]["load_average_end"] = machine.load_average()
    return result, 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    result, code = asyncio.run(run(args))
    report.publish(args.out, result)
    return code
