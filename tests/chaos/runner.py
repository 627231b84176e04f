"""The command line: one control plane for all trials, trials one after another, results written.

The control plane is started once (API server and etcd, no controllers: the
generated objects need none) and shared; each trial has its own namespaces,
fleet, repository and daemon. Exit status 1 when any trial violated an
invariant or failed to run.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from gitopsd import localcluster
from gitopsd.localcluster import LocalCluster
from tests.chaos import report
from tests.chaos.generate import HOOK_POLICIES
from tests.chaos.injectors import INJECTORS
from tests.chaos.trial import Result, pick_injectors, run_trial
from tests.unit.test_sops import AgeKey, SopsKit

DEFAULT_OUT = Path(__file__).resolve().parent / "results"


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=200, help="how many trials (default 200)")
    p.add_argument("--seed", type=int, help="the first trial's seed (default: random); trial i uses seed+i")
    p.add_argument("--injectors", type=lambda s: s.split(","), metavar="A,B",
                   help=f"use exactly these injectors in every trial ({', '.join(INJECTORS)})")
    p.add_argument("--from", dest="pool", type=lambda s: s.split(","), metavar="A,B",
                   default=list(INJECTORS), help="draw each trial's injectors from these")
    p.add_argument("--hook-policy", choices=HOOK_POLICIES, default="HookSucceeded",
                   help="the PreSync hooks' delete policy (none: no annotation)")
    p.add_argument("--timeout", type=float, default=90.0, help="seconds allowed to converge")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write JSON and Markdown")
    p.add_argument("--keep", action="store_true", help="keep every trial's directory, passed or not")
    return p.parse_args(argv)


def run_trials(cluster: LocalCluster, seeds: list[int], injectors: list[list[str]], workdir: Path, *,
               timeout: float = 90.0, keep: bool = False, hook_policy: str = "HookSucceeded",
               after: Callable[[list[Result]], object] = lambda done: None) -> list[Result]:
    """Run one trial per seed (with its injectors) on CLUSTER, sequentially; AFTER sees the results
    so far once each trial ended (so an interrupted run keeps what it found)."""
    sops = SopsKit(workdir / "sops")
    (workdir / "sops").mkdir(parents=True, exist_ok=True)
    key: AgeKey = sops.key()
    results: list[Result] = []
    for seed, inj in zip(seeds, injectors, strict=True):
        results.append(run_trial(seed, inj, cluster, workdir, sops, key, converge_timeout=timeout,
                                 keep=keep, hook_policy=hook_policy))
        after(results)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    for name in (args.injectors or []) + args.pool:
        if name not in INJECTORS:
            print(f"unknown injector {name}; known: {', '.join(INJECTORS)}", file=sys.stderr)
            return 2
    first = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    seeds = [first + i for i in range(args.trials)]
    chosen = [args.injectors or pick_injectors(s, args.pool) for s in seeds]
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    workdir = Path(tempfile.mkdtemp(prefix="gitopsd-chaos-"))
    print(f"chaos: {args.trials} trials from seed {first}; work directory {workdir}", file=sys.stderr)
    t0 = time.monotonic()

    def meta() -> dict[str, object]:
        return {"started": started, "first_seed": first, "planned": args.trials,
                "seconds": round(time.monotonic() - t0, 1), "work_dir": str(workdir),
                "hook_policy": args.hook_policy}

    cluster = localcluster.up("chaos", workdir / "plane", ready_timeout=120)
    try:
        results = run_trials(cluster, seeds, chosen, workdir, timeout=args.timeout, keep=args.keep,
                             hook_policy=args.hook_policy,
                             after=lambda done: report.write(done, args.out, meta()))
    finally:
        localcluster.down(workdir / "plane")
    json_path, md_path = report.write(results, args.out, meta())
    print(report.trials_table(results))
    print()
    print(report.by_injector(results))
    bad = [r for r in results if not r.ok]
    if not bad and not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{len(results) - len(bad)}/{len(results)} trials held every invariant; "
          f"results in {json_path} and {md_path}", file=sys.stderr)
    for r in bad:
        policy = f" --hook-policy {args.hook_policy}" if args.hook_policy != "HookSucceeded" else ""
        print(f"replay: python -m tests.chaos --seed {r.seed} --trials 1 --injectors {','.join(r.injectors)}"
              f"{policy}", file=sys.stderr)
    return 1 if bad else 0
