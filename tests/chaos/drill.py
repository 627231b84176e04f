"""``python -m tests.chaos.drill``: the disaster-recovery drill, timed.

A workloads cluster (etcd, kube-apiserver, controller-manager, scheduler and
kwok nodes) gets ``--apps`` applications of ``--objects`` objects each from a
running ``gitopsd run`` (8,000 objects by default: ConfigMaps, Services and
Deployments). Once every instance is Synced and Healthy, the cluster's etcd
data is deleted and the control plane restarted empty at the same address
(``gitopsd localcluster wipe``); nobody touches the daemon. The drill then
times, from the moment the API server answers again, until the daemon first
reports an instance that is not Synced, until every object is back, until
every Deployment is Available, and until every instance is Synced and Healthy
again. While it waits it samples whether the daemon claimed all-Synced and
Healthy while objects were missing: before its watches noticed the loss that
is detection latency (reported); after it noticed, it is a lie (the drill
fails). Results go to
``tests/chaos/results/drill-<time>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gitopsd import localcluster
from gitopsd.localcluster import ADMIN_USER, LocalCluster
from gitopsd.localcluster.wipe import wipe
from tests.bench.daemonrun import Daemon, app_doc, fleet_doc
from tests.bench.gitrepo import Repo
from tests.bench.kube import Kube, endpoint_of
from tests.bench.workload import app_objects, deployments_in, to_yaml

FLEET = "dr"
CLUSTER = "dr"
KINDS = ("ConfigMap", "Service", "Deployment")
SELECTOR = f"gitopsd.io/fleet={FLEET}"
DEFAULT_OUT = Path(__file__).resolve().parent / "results"


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.chaos.drill", description=__doc__.splitlines()[0])
    p.add_argument("--apps", type=int, default=200, help="applications (default 200)")
    p.add_argument("--objects", type=int, default=40, help="objects per application (default 40)")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed for each phase")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write JSON and Markdown")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, fleet, state)")
    return p.parse_args(argv)


def _log(t0: float, message: str) -> None:
    print(f"[drill {time.monotonic() - t0:7.1f}s] {message}", file=sys.stderr, flush=True)


async def _live(kube: Kube) -> dict[str, int]:
    """Objects of the fleet per kind, plus Deployments that are Available."""
    out: dict[str, int] = {}
    for kind in KINDS:
        items, _ = await kube.list(kind, label_selector=SELECTOR)
        out[kind] = len(items)
        if kind == "Deployment":
            out["available"] = sum(
                1 for d in items if any(c.get("type") == "Available" and c.get("status") == "True"
                                        for c in (d.get("status") or {}).get("conditions") or []))
    return out


def _settled(rows: list[dict[str, Any]]) -> bool:
    return bool(rows) and all(r["sync_status"] == "Synced" and r["health"] == "Healthy" for r in rows)


class Recovery:
    """What the drill saw after the wipe, in seconds from the API server's return."""

    def __init__(self, expected: dict[str, int]) -> None:
        self.expected = expected
        self.marks: dict[str, float] = {}
        self.unnoticed = 0
        """Samples claiming Synced and Healthy with objects missing, before the daemon noticed."""
        self.false_settled = 0
        """The same after the daemon had reported the loss: claims that are not true."""
        self.samples = 0
        self.last_live: dict[str, int] = {}
        self.last_rows: list[dict[str, Any]] = []

    def mark(self, name: str, t: float) -> None:
        self.marks.setdefault(name, round(t, 2))

    def done(self) -> bool:
        return "synced_healthy" in self.marks and "all_available" in self.marks

    def see(self, t: float, rows: list[dict[str, Any]], live: dict[str, int]) -> None:
        self.samples += 1
        self.last_rows, self.last_live = rows, live
        complete = all(live.get(k, 0) >= n for k, n in self.expected.items())
        settled = _settled(rows)
        if rows and not settled:
            self.mark("first_not_synced", t)
        if complete:
            self.mark("all_objects", t)
        if live.get("available", 0) >= self.expected["Deployment"] and complete:
            self.mark("all_available", t)
        if settled and complete:
            self.mark("synced_healthy", t)
        elif settled and "first_not_synced" in self.marks:
            self.false_settled += 1
        elif settled:
            self.unnoticed += 1


async def _recover(daemon: Daemon, kube: Kube, expected: dict[str, int], t_ready: float,
                   timeout: float, t0: float) -> Recovery:
    rec = Recovery(expected)
    last_print = 0.0
    while not rec.done():
        t = time.monotonic() - t_ready
        if t > timeout:
            raise TimeoutError(f"not recovered within {timeout:.0f}s: live {rec.last_live}, "
                               f"marks {rec.marks}; read {daemon.log_file}")
        daemon.check_alive()
        rows = await daemon.rows()
        try:
            live = await _live(kube)
        except Exception as e:  # the API server may still refuse while its caches fill
            _log(t0, f"listing failed: {type(e).__name__}: {e}")
            live = {}
        rec.see(time.monotonic() - t_ready, rows, live)
        if t - last_print > 10:
            waiting = sum(1 for r in rows if not (r["sync_status"] == "Synced" and r["health"] == "Healthy"))
            _log(t0, f"+{t:.0f}s live {live}, {waiting}/{len(rows)} instances not Synced+Healthy")
            last_print = t
        await asyncio.sleep(0.5)
    return rec


async def drill(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    t0 = time.monotonic()
    total = args.apps * args.objects
    deployments = args.apps * deployments_in(args.objects)
    nodes = math.ceil(deployments / 100) + 1
    expected = {"ConfigMap": 0, "Service": 0, "Deployment": deployments}
    for o in app_objects(args.objects):
        if o["kind"] != "Deployment":
            expected[o["kind"]] += args.apps
    _log(t0, f"starting a workloads cluster with {nodes} fake nodes")
    cluster: LocalCluster = await asyncio.to_thread(
        localcluster.up, CLUSTER, workdir / "plane", workloads=True, nodes=nodes, ready_timeout=300)
    kube = Kube(endpoint_of(CLUSTER, cluster.dir, cluster.server, cluster.tokens[ADMIN_USER]), pool=32)
    repo = Repo(workdir / "git")
    names = [f"dr-{i:03d}" for i in range(args.apps)]
    repo.write({f"apps/{n}/objects.yaml": to_yaml(app_objects(args.objects)) for n in names},
               message="drill: applications")
    fleet = fleet_doc(FLEET, {CLUSTER: cluster.kubeconfig}, repo.url,
                      [app_doc(n, f"apps/{n}", n, cluster=CLUSTER) for n in names], poll="30s")
    daemon = Daemon(workdir / "daemon", fleet, resync=3600.0)
    try:
        await daemon.start()
        _log(t0, f"gitopsd syncing {total:,} objects in {args.apps} applications")
        cold = await daemon.wait_synced(timeout=args.timeout, interval=1.0)
        before = await _live(kube)
        _log(t0, f"synced in {cold:.1f}s; live {before}; wiping etcd")
        t_wipe = time.monotonic()
        await asyncio.to_thread(wipe, cluster.dir, ready_timeout=300)
        t_ready = time.monotonic()
        after_wipe = await _live(kube)
        _log(t0, f"control plane back empty after {t_ready - t_wipe:.1f}s (nodes Ready); live {after_wipe}")
        rec = await _recover(daemon, kube, expected, t_ready, args.timeout, t0)
        inventories, _ = await kube.list("ConfigMap", namespace="gitopsd-system")
        return {
            "apps": args.apps, "objects": total, "deployments": deployments, "nodes": nodes,
            "initial_sync_seconds": round(cold, 2), "live_before": before, "live_after_wipe": after_wipe,
            "wipe_seconds": round(t_ready - t_wipe, 2),
            "recovery_from_api_ready": rec.marks,
            "total_from_wipe_start": round(rec.marks["synced_healthy"] + (t_ready - t_wipe), 2),
            "false_settled_samples": rec.false_settled, "unnoticed_samples": rec.unnoticed,
            "samples": rec.samples,
            "inventories_after": sum(1 for c in inventories
                                     if c["metadata"]["name"].startswith("gitopsd-inv-")),
            "cpu_seconds": round(daemon.cpu(), 2), **daemon.memory(),
        }
    finally:
        await daemon.stop()
        await kube.close()
        await asyncio.to_thread(localcluster.down, workdir / "plane", keep_dir=True)


def table(r: dict[str, Any]) -> str:
    m = r["recovery_from_api_ready"]
    rows = [
        ("objects (ConfigMaps, Services, Deployments)", f"{r['objects']:,} in {r['apps']} applications"),
        ("initial sync to Synced+Healthy", f"{r['initial_sync_seconds']} s"),
        ("wipe: stop, delete etcd data, restart, nodes Ready", f"{r['wipe_seconds']} s"),
        ("first instance reported not Synced", f"+{m.get('first_not_synced', '-')} s"),
        ("every object present again", f"+{m.get('all_objects', '-')} s"),
        ("every Deployment Available", f"+{m.get('all_available', '-')} s"),
        ("every instance Synced and Healthy", f"+{m.get('synced_healthy', '-')} s"),
        ("total, from the start of the wipe", f"{r['total_from_wipe_start']} s"),
        ("samples (0.5 s apart) still Synced+Healthy before the loss was noticed",
         f"{r['unnoticed_samples']} of {r['samples']}"),
        ("samples claiming Synced+Healthy with objects missing after that",
         f"{r['false_settled_samples']} of {r['samples']}"),
        ("inventories rebuilt", str(r["inventories_after"])),
        ("daemon CPU / peak RSS", f"{r['cpu_seconds']} s / {r['peak_rss_mb']} MB"),
    ]
    lines = ["| step | result |", "| --- | --- |"]
    lines += [f"| {a} | {b} |" for a, b in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    workdir = Path(tempfile.mkdtemp(prefix="gitopsd-drill-"))
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        result = asyncio.run(drill(args, workdir))
    except Exception as e:
        print(f"drill failed: {type(e).__name__}: {e}; work directory kept: {workdir}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"drill-{started.replace(':', '')}"
    stem.with_suffix(".json").write_text(json.dumps({"started": started, **result}, indent=2) + "\n")
    stem.with_suffix(".md").write_text(table(result) + "\n")
    print(table(result))
    ok = result["false_settled_samples"] == 0
    if not args.keep and ok:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\nresults in {stem}.json and .md", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
