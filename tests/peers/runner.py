"""``python -m tests.peers``: gitopsd, Flux and Argo CD side by side on one local control plane.

One kube-apiserver + etcd, one smart-HTTP Git server, one repository. The floor
is measured first, then each tool alone (the others stopped: two cores), in
its own namespace with the same objects: cold sync, an idle window (requests
the API server counts, CPU, RSS), drift at the fastest setting, commit to
applied by polling and by trigger, then drift again at the tool's defaults.
Last, unmanaged ConfigMaps (unlabelled, namespaces of their own) are created
and each tool is started once more for an idle window with them present. A
tool that is not built or fails is recorded with its error and the others
still run. Peers come from ``tests/peers/build.sh``; this module never builds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from gitopsd import localcluster
from gitopsd.localcluster import ADMIN_USER
from tests.bench.bench_memory import add_unmanaged
from tests.bench.gitrepo import Repo
from tests.bench.kube import Kube, endpoint_of
from tests.bench.observe import Observer
from tests.peers import floor, measure, table, workload
from tests.peers.argocd import ArgoCD
from tests.peers.flux import Flux
from tests.peers.githttp import GitHTTPServer
from tests.peers.gitopsd_tool import Gitopsd
from tests.peers.tool import Settings, Tool

HERE = Path(__file__).resolve().parent
TOOLS = ("gitopsd", "flux", "argocd")


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.peers", description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", choices=TOOLS, default=list(TOOLS))
    p.add_argument("--objects", type=int, default=50, help="objects each tool manages")
    p.add_argument("--edits", type=int, default=10, help="drift edits at the fastest setting")
    p.add_argument("--default-edits", type=int, default=4, help="drift edits at the defaults")
    p.add_argument("--commits", type=int, default=3, help="commits per commit mode")
    p.add_argument("--poll", type=float, default=10.0, help="Git poll and resync period of every tool")
    p.add_argument("--window", type=float, default=25.0, help="idle window, seconds")
    p.add_argument("--unmanaged", type=int, default=20_000,
                   help="unmanaged ConfigMaps present for the last idle window of each tool (0: none)")
    p.add_argument("--out", type=Path, default=HERE / "results")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    return p.parse_args(argv)


def peer_dir(peer: str) -> Path:
    done = subprocess.run([str(HERE / "build.sh"), "dir", peer], capture_output=True, text=True, check=True)
    return Path(done.stdout.strip())


def built(directory: Path, peer: str) -> tuple[str, int | None]:
    """PEER's version and cold build seconds; raises with the build log's tail when it is not built."""
    stamp = directory / ".stamp"
    if stamp.exists():
        took = directory / ".buildtime"
        return (stamp.read_text().split()[0].split("=")[1],
                int(took.read_text()) if took.exists() else None)
    log = directory.parent / f"build-{peer}.log"
    tail = log.read_text().splitlines()[-15:] if log.exists() else ["no build log"]
    raise RuntimeError(f"{peer} is not built ({stamp} missing); build log tail:\n" + "\n".join(tail))


def modcache() -> Path:
    return Path(subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True,
                               check=True).stdout.strip())


def make_tool(name: str, run_dir: Path, kubeconfig: Path) -> tuple[Tool, int | None]:
    """The tool NAME and its cold build seconds (None for gitopsd, which is not compiled)."""
    if name == "gitopsd":
        return Gitopsd(run_dir / "gitopsd", kubeconfig), None
    bins = peer_dir(name)
    version, took = built(bins, name)
    if name == "flux":
        return Flux(run_dir / "flux", kubeconfig, bins, modcache(), version), took
    return ArgoCD(run_dir / "argocd", kubeconfig, bins, modcache(), version), took


def log(message: str, t0: float = time.monotonic()) -> None:
    print(f"[peers {time.monotonic() - t0:7.1f}s] {message}", file=sys.stderr, flush=True)


async def run_tool(tool: Tool, args: argparse.Namespace, kube: Kube, observer: Observer, repo: Repo,
                   url: str) -> dict[str, Any]:
    fast, defaults = Settings(args.poll, fast=True), Settings(args.poll, fast=False)
    out: dict[str, Any] = {"version": tool.version, "knobs": tool.knobs(fast),
                           "knobs_defaults": tool.knobs(defaults)}
    await tool.install(kube, url, fast)
    try:
        out["cold"] = await measure.cold(observer, tool, fast, args.objects)
        log(f"{tool.name}: cold sync {out['cold']['seconds']:.2f}s")
        await asyncio.sleep(3)
        out["idle"] = await measure.idle(kube, tool.pids(), args.window)
        log(f"{tool.name}: idle {out['idle']}")
        targets = workload.targets(args.objects, tool.namespace)
        fast_t, default_t = targets[:args.edits], targets[args.edits:args.edits + args.default_edits]

        async def poke_drift() -> None:
            await tool.after_drift(kube, fast)

        async def nothing() -> None:
            return None

        async def poke_commit() -> None:
            await tool.after_commit(kube)

        out["drift_fast"] = await measure.drift(observer, kube, fast_t, poke_drift,
                                                timeout=3 * args.poll + 15)
        log(f"{tool.name}: drift (fastest) {table.triple(out['drift_fast'])}")
        out["commit_poll"] = await measure.commit(observer, repo, tool.namespace, args.objects, nothing,
                                                  iterations=args.commits, timeout=3 * args.poll + 15,
                                                  spread=args.poll)
        log(f"{tool.name}: commit (polling) {table.p50_max(out['commit_poll'])}")
        out["commit_trigger"] = await measure.commit(observer, repo, tool.namespace, args.objects,
                                                     poke_commit, iterations=args.commits,
                                                     timeout=3 * args.poll + 15, serial0=100, spread=1.0)
        log(f"{tool.name}: commit (trigger) {table.p50_max(out['commit_trigger'])}")
        # Back to the first value, so the next tool starts from the same Git content.
        await asyncio.to_thread(repo.write, workload.files(args.objects), "bench: back to v0")
        await tool.after_commit(kube)
        await measure.until_applied(observer, tool.namespace, args.objects, timeout=3 * args.poll + 15)
        await tool.stop()
        await tool.start(defaults)
        # Past the reconcile every tool makes on start; edits then land at spread-out points of a cycle.
        await asyncio.sleep(args.poll + 3)
        out["drift_default"] = await measure.drift(observer, kube, default_t, poke_drift,
                                                   gap=0.37 * args.poll,
                                                   timeout=4 * args.poll + 60, serial0=1000)
        log(f"{tool.name}: drift (defaults) {table.triple(out['drift_default'])}")
    finally:
        await tool.stop()
    return out


async def run_unmanaged(tool: Tool, args: argparse.Namespace, kube: Kube,
                        observer: Observer) -> dict[str, Any]:
    """An idle window of TOOL, started at its fastest setting, with the unmanaged objects present."""
    fast = Settings(args.poll, fast=True)
    try:
        t0 = time.monotonic()
        await tool.start(fast)
        await measure.until_applied(observer, tool.namespace, args.objects, timeout=3 * args.poll + 60)
        started = time.monotonic() - t0
        await asyncio.sleep(max(args.poll + 5, 30.0))  # caches filled, a resync done before the window
        return {"objects": args.unmanaged, "start_to_applied_seconds": round(started, 2),
                **await measure.idle(kube, tool.pids(), args.window)}
    finally:
        await tool.stop()


async def run_floor(args: argparse.Namespace, kube: Kube, observer: Observer, repo: Repo, url: str,
                    run_dir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"idle": await measure.idle(kube, {}, args.window)}
    for key in ("rss_mb", "cpu_percent", "cpu_seconds", "processes"):
        del out["idle"][key]  # no process of its own
    out["cold"] = await floor.cold(observer, kube, args.objects)
    async with floor.reverter(kube.endpoint, args.objects, run_dir / "reverter"):
        async def nothing() -> None:
            return None
        targets = workload.targets(args.objects, floor.NAMESPACE)[:args.edits]
        out["drift_fast"] = await measure.drift(observer, kube, targets, nothing, timeout=30)
    committer = floor.CommitFloor(kube, url, run_dir / "floor-clone")
    out["commit_trigger"] = await measure.commit(observer, repo, floor.NAMESPACE, args.objects,
                                                 committer.after_push, iterations=args.commits, timeout=30)
    await asyncio.to_thread(repo.write, workload.files(args.objects), "bench: back to v0")
    await committer.after_push()
    return out


async def run(args: argparse.Namespace) -> tuple[dict[str, Any], int]:
    run_dir = Path(tempfile.mkdtemp(prefix="gitopsd-peers-"))
    t0 = time.monotonic()
    cluster = await asyncio.to_thread(localcluster.up, "peers", run_dir / "cluster", ready_timeout=180)
    server = GitHTTPServer(run_dir / "git").start()
    result: dict[str, Any] = {"settings": {"poll": args.poll, "objects": args.objects, "window": args.window,
                                           "unmanaged": args.unmanaged,
                                           "edits": args.edits, "default_edits": args.default_edits,
                                           "commits": args.commits},
                              "tools": {}}
    failed = False
    tools: dict[str, Tool] = {}
    kube = Kube(endpoint_of("a", cluster.dir, cluster.server, cluster.tokens[ADMIN_USER]), pool=16)
    observer = Observer({"a": kube}, workload.KINDS, workload.SELECTOR)
    try:
        repo = Repo(run_dir / "git")
        await asyncio.to_thread(repo.write, workload.files(args.objects), "bench: objects")
        url = server.url(repo.bare)
        _, version = await kube.request("GET", "/version")
        result["kubernetes"] = version.get("gitVersion")
        await observer.start()
        log("floor")
        result["tools"]["floor"] = await run_floor(args, kube, observer, repo, url, run_dir)
        for name in args.only:
            log(f"{name}: starting")
            try:
                tool, took = make_tool(name, run_dir, cluster.kubeconfig)
                result["tools"][name] = {"build_seconds": took,
                                         **await run_tool(tool, args, kube, observer, repo, url)}
                tools[name] = tool
            except Exception as e:  # recorded; the other tools still run
                failed = True
                result["tools"][name] = {**result["tools"].get(name, {}), "error": f"{type(e).__name__}: {e}"}
                log(f"{name} FAILED: {traceback.format_exc()}")
        if args.unmanaged and tools:
            took = await add_unmanaged({"a": kube}, args.unmanaged)
            result["settings"]["unmanaged_create_seconds"] = round(took, 1)
            log(f"{args.unmanaged} unmanaged ConfigMaps created in {took:.0f}s")
        for name, tool in tools.items() if args.unmanaged else ():
            try:
                got = result["tools"][name]["unmanaged"] = await run_unmanaged(tool, args, kube, observer)
                log(f"{name}: idle with {args.unmanaged} unmanaged objects {got}")
            except Exception as e:
                failed = True
                result["tools"][name]["error"] = f"with unmanaged objects: {type(e).__name__}: {e}"
                log(f"{name} FAILED with unmanaged objects: {traceback.format_exc()}")
    finally:
        await observer.stop()
        await kube.close()
        server.stop()
        await asyncio.to_thread(localcluster.down, cluster.dir)
        if args.keep or failed:
            print(f"work directory kept: {run_dir}", file=sys.stderr)
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
    result["total_seconds"] = round(time.monotonic() - t0, 1)
    return result, 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    result, code = asyncio.run(run(args))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "peers.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    text = table.markdown(result) + "\n" + table.knobs(result)
    (args.out / "peers.md").write_text(text)
    print(text)
    for name, r in result["tools"].items():
        if r.get("error"):
            print(f"{name}: {r['error']}")
    print(f"written: {args.out}/peers.json and peers.md ({result['total_seconds']:.0f} s)", file=sys.stderr)
    return code
