"""Benchmark: several ``gitopsd run`` members sharing one fleet (``settings.coordination``).

One local control plane (kube-apiserver and etcd); APPS applications of
ConfigMaps on it, shared by three members through member Leases. In one run:

- drift: out-of-band edits, one at a time, timed from the edit to the watch
  event showing it reverted; first against the steady fleet, then while a
  fourth member joins and leaves again (p50, p99, max of each series);
- moves: instances whose owner changed when the fourth member joined and when
  it left (SIGTERM), in the view of a member that stayed, and how many changed
  more than once;
- failover: a member is sent SIGKILL (then, in other trials, SIGTERM); the time
  from the signal until every instance it owned was synced by a survivor (the
  new owner's status row shows a Synced pass that started after the signal and
  when it ended), p50 and max over TRIALS; the member is restarted and the fleet
  settles between trials;
- writes: the API server's ``apiserver_request_total`` writes to ConfigMaps and
  Namespaces (the objects and inventories gitopsd writes) from each signal until
  the survivors synced the orphans, and from each restart until the fleet
  settled: the fleet is in sync, so the target is 0.

Results go to stdout and, as JSON and a Markdown table, to OUT (bench-ha.json,
bench-ha.md). Run: `.venv/bin/python -m tests.bench.bench_ha [--trials 10]
[--apps 24] [--lease 8 --renew 2] [--out DIR]`; `--lease 15 --renew 3` is the
fleet file's default.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from gitopsd import localcluster
from gitopsd.localcluster import ADMIN_USER
from tests.bench import machine, report
from tests.bench.context import writes
from tests.bench.gitrepo import Repo
from tests.bench.kube import Kube, endpoint_of, parse_request_counts
from tests.bench.members import NAMESPACE, SELECTOR, Moves, SharedFleet, files, fleet
from tests.bench.observe import Observer, Target, TargetPool, drift_series, edit_and_time
from tests.bench.stats import summary

DEFAULT_OUT = Path(__file__).resolve().parent / "results"
MEMBERS = ("m0", "m1", "m2")


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.bench.bench_ha", description=__doc__.splitlines()[0])
    p.add_argument("--apps", type=int, default=24, help="applications shared (default 24)")
    p.add_argument("--objects", type=int, default=4, help="ConfigMaps per application (default 4)")
    p.add_argument("--trials", type=int, default=10, help="failover trials per signal (default 10)")
    p.add_argument("--edits", type=int, default=20, help="drift edits against the steady fleet (default 20)")
    p.add_argument("--lease", type=float, default=8.0, help="leaseDuration in seconds (default 8)")
    p.add_argument("--renew", type=float, default=2.0, help="renewInterval in seconds (default 2)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the JSON and table")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, fleet files)")
    return p.parse_args(argv)


def log(t0: float, message: str) -> None:
    print(f"[bench-ha {time.monotonic() - t0:7.1f}s] {message}", file=sys.stderr, flush=True)


class Bench:
    def __init__(self, args: argparse.Namespace, kube: Kube, shared: SharedFleet, t0: float) -> None:
        self.args = args
        self.kube = kube
        self.shared = shared
        self.t0 = t0

    async def counts(self) -> dict[str, Any]:
        return {"a": parse_request_counts(await self.kube.metrics())}

    async def rebalance(self, observer: Observer, pool: TargetPool) -> dict[str, Any]:
        """Drift edits against the steady fleet, then while a fourth member joins and leaves."""
        edits = self.args.edits
        steady = await drift_series(observer, {"a": self.kube}, pool.take(edits), gap=0.3, timeout=60)
        log(self.t0, f"drift against the steady fleet: {summary([x for x in steady if x is not None])}")
        during: list[float | None] = []
        busy = asyncio.Event()

        async def editing() -> None:
            serial = 10_000
            while busy.is_set():
                try:
                    target = pool.take(1)[0]
                except ValueError:  # every object edited once: a repeated edit would meet a backoff
                    return
                during.append(await edit_and_time(observer, self.kube, target, serial, timeout=60))
                serial += 1
                await asyncio.sleep(0.3)

        start = await self.shared.settle()
        watcher = self.shared.members["m0"]
        busy.set()
        task = asyncio.ensure_future(editing())
        try:
            moves = Moves(watcher, start)
            moves.start()
            await self.shared.start("m3")
            joined = await self.shared.settle()
            join = await moves.stop(joined)
            log(self.t0, f"join of a fourth member: {join}")
            moves = Moves(watcher, joined)
            moves.start()
            left = self.shared.members["m3"]
            self.shared.signal("m3", signal.SIGTERM)
            await self.shared.reap(left)
            leave = await moves.stop(await self.shared.settle())
            log(self.t0, f"leave of the fourth member: {leave}")
        finally:
            busy.clear()
            await task
        return {"join": join, "leave": leave,
                "drift_steady": summary([x for x in steady if x is not None],
                                        failures=sum(x is None for x in steady)),
                "drift_rebalance": summary([x for x in during if x is not None],
                                           failures=sum(x is None for x in during))}

    async def trial(self, victim: str, sig: signal.Signals) -> dict[str, Any]:
        owners = await self.shared.settle()
        member = self.shared.members[victim]
        orphans = sorted(a for a, o in owners.items() if o == member.identity)
        before = await self.counts()
        sent = self.shared.signal(victim, sig)
        took = await self.shared.synced_by_survivors(orphans, sent, timeout=120)
        await self.shared.reap(member)
        restarted = await self.counts()
        await self.shared.start(victim)
        await self.shared.settle()
        back = await self.counts()
        handover, rejoin = writes(before, restarted), writes(restarted, back)
        return {"victim": victim, "orphans": len(orphans), "seconds": round(took, 3),
                "writes_handover": handover["gitopsd_kinds"], "handover_detail": handover["by_cluster"],
                "writes_rejoin": rejoin["gitopsd_kinds"], "rejoin_detail": rejoin["by_cluster"]}

    async def failover(self, sig: signal.Signals) -> dict[str, Any]:
        trials = []
        for i in range(self.args.trials):
            got = await self.trial(MEMBERS[i % len(MEMBERS)], sig)
            log(self.t0, f"{sig.name} trial {i + 1}: {got['seconds']:.2f} s for {got['orphans']} instances, "
                         f"{got['writes_handover']} writes in the handover, "
                         f"{got['writes_rejoin']} in the rejoin")
            trials.append(got)
        return {"trials": trials, **summary([t["seconds"] for t in trials]),
                "writes_handover": sum(t["writes_handover"] for t in trials),
                "writes_rejoin": sum(t["writes_rejoin"] for t in trials)}


def rows(args: argparse.Namespace, r: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    bound = args.lease + args.renew
    for sig, target, limit in (("SIGKILL", f"<= lease + renew ({bound:g} s)", bound),
                               ("SIGTERM", "<= 2 s", 2.0)):
        f = r.get(sig)
        if f:
            out.append(report.row(f"failover {sig}", f"signal to orphans synced, p50 / max of {f['n']}",
                                  f"{report.seconds(f['p50'])} / {report.seconds(f['max'])}",
                                  target=target, met=f["max"] <= limit))
            out.append(report.row(f"failover {sig}", "writes to ConfigMaps and Namespaces in the handovers "
                                  "(in-sync fleet)", str(f["writes_handover"]), target="0",
                                  met=f["writes_handover"] == 0))
            out.append(report.row(f"failover {sig}", "writes in the rejoins that followed",
                                  str(f["writes_rejoin"]), target="0", met=f["writes_rejoin"] == 0))
    reb = r.get("rebalance")
    if reb:
        for what, n in (("join", 4), ("leave", 4)):
            m = reb[what]
            out.append(report.row(f"{what} of a 4th member", "instances moved (each once?)",
                                  f"{m['moved']} of {m['instances']} ({m['fraction']:.0%}), "
                                  f"max {m['max_moves_per_instance']} moves per instance",
                                  target=f"about 1/{n}, each once", met=m["max_moves_per_instance"] <= 1))
        s, d = reb["drift_steady"], reb["drift_rebalance"]
        out.append(report.row("drift revert", f"steady fleet, p50 / p99 of {s['n']}",
                              f"{report.seconds(s['p50'])} / {report.seconds(s['p99'])}"))
        out.append(report.row("drift revert", f"during join and leave, p50 / p99 of {d['n']}",
                              f"{report.seconds(d['p50'])} / {report.seconds(d['p99'])}",
                              baseline=report.seconds(s["p99"])))
    return out


async def run(args: argparse.Namespace) -> tuple[dict[str, Any], int]:
    t0 = time.monotonic()
    run_dir = Path(tempfile.mkdtemp(prefix="gitopsd-bench-ha-"))
    result: dict[str, Any] = {"size": {"name": "ha", **{k: v for k, v in vars(args).items() if k != "out"
                                                         and k != "keep"}}}
    errors: dict[str, str] = {}
    cluster = await asyncio.to_thread(localcluster.up, "bench-ha", run_dir / "cluster", workloads=False,
                                      ready_timeout=180)
    kube = Kube(endpoint_of("a", cluster.dir, cluster.server, cluster.tokens[ADMIN_USER]), pool=32)
    shared: SharedFleet | None = None
    try:
        _, version = await kube.request("GET", "/version")
        result["machine"] = await asyncio.to_thread(machine.facts, str(version.get("gitVersion", "")))
        result["machine"]["shared"] = (f"{result['machine']['cores']} cores shared by one control plane "
                                       "(etcd, kube-apiserver), four members, the benchmark and other "
                                       "engineers' test runs")
        repo = Repo(run_dir / "git")
        repo.write(files(args.apps, args.objects), message="bench: shared fleet")
        doc = fleet(cluster.kubeconfig, repo.url, args.apps, lease=args.lease, renew=args.renew)
        shared = SharedFleet(run_dir, doc, args.apps, resync=3600.0)
        for name in MEMBERS:
            await shared.start(name)
        owners = await shared.settle(timeout=300)
        log(t0, f"{len(MEMBERS)} members share {args.apps} instances: "
                f"{sorted(list(owners.values()).count(m.identity) for m in shared.members.values())}")
        bench = Bench(args, kube, shared, t0)
        observer = Observer({"a": kube}, ("ConfigMap",), SELECTOR)
        await observer.start()
        try:
            targets = [Target("a", f"app{i:03d}", "ConfigMap", NAMESPACE, f"app{i:03d}-c{j}")
                       for i in range(args.apps) for j in range(args.objects)]
            result["rebalance"] = await bench.rebalance(observer, TargetPool(targets))
        except Exception as e:
            errors["rebalance"] = f"{type(e).__name__}: {e}"[:2000]
        finally:
            await observer.stop()
        for sig in (signal.SIGKILL, signal.SIGTERM):
            try:
                result[sig.name] = await bench.failover(sig)
            except Exception as e:
                errors[sig.name] = f"{type(e).__name__}: {e}"[:2000]
                log(t0, f"{sig.name} FAILED: {errors[sig.name]}")
    finally:
        if shared is not None:
            await shared.stop()
        await kube.close()
        await asyncio.to_thread(localcluster.down, cluster.dir)
        if args.keep or errors:
            print(f"work directory kept: {run_dir}", file=sys.stderr)
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
    result["rows"] = rows(args, result) + [report.row(n, "not measured", "error: " + e)
                                           for n, e in errors.items()]
    result["errors"] = errors
    result["total_seconds"] = round(time.monotonic() - t0, 1)
    result["machine"]["load_average_end"] = machine.load_average()
    return result, 1 if errors else 0


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    result, code = asyncio.run(run(args))
    report.publish(args.out, result)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
