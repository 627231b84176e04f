"""One trial: set up, sync two commits while faults happen, converge, check, clean up.

The sequence is fixed and every choice in it (which sync each injector hits,
after how long, for how long) comes from the trial's seed:
foreign objects are created and recorded; commit one is pushed and the daemon
started; commit two (changes and prunes) is pushed once commit one converged
(or its wait timed out); each injector fires after a random delay during the
sync it was assigned to; then the daemon gets ``converge_timeout`` seconds to
report every instance Synced and Healthy at commit two, and the invariants run.
"""

from __future__ import annotations

import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitopsd.localcluster import LocalCluster
from tests.bench.gitrepo import Repo
from tests.chaos import kube
from tests.chaos.env import Env
from tests.chaos.generate import Plan, dump, generate
from tests.chaos.injectors import INJECTORS
from tests.chaos.invariants import CHECKS, converge
from tests.chaos.proxy import Proxy
from tests.integration.daemonproc import fleet_doc
from tests.unit.test_sops import SopsKit

INVENTORIES = "/api/v1/namespaces/gitopsd-system/configmaps"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/gitopsd-system/leases"


@dataclass
class Result:
    seed: int
    injectors: list[str]
    apps: int
    objects: int
    converged_seconds: float | None
    violations: dict[str, list[str]] = field(default_factory=dict)
    error: str = ""
    duration: float = 0.0
    events: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.error and not any(self.violations.values()) and self.converged_seconds is not None


def pick_injectors(seed: int, allowed: list[str]) -> list[str]:
    """One or two distinct injectors for SEED from ALLOWED."""
    rng = random.Random(seed * 7919 + 1)
    return rng.sample(allowed, k=min(len(allowed), rng.choice((1, 1, 2))))


def _files(plan: Plan, commit: str, sops: SopsKit, recipient: str) -> dict[str, str]:
    out = {}
    for app in plan.apps:
        docs = app.first if commit == "first" else app.second
        for name, doc in docs.items():
            if doc["kind"] == "Secret":
                encrypted = sops.encrypt(dump(doc), [recipient])
                out[f"{app.name}/{name.removesuffix('.yaml')}.enc.yaml"] = encrypted
            else:
                out[f"{app.name}/{name}"] = dump(doc)
    return out


def _write_commit(repo: Repo, files: dict[str, str], previous: dict[str, str] | None, message: str) -> str:
    for name in set(previous or {}) - set(files):
        (repo.work / name).unlink()
    for name, text in files.items():
        if previous and previous.get(name) == text:
            continue
        (repo.work / name).parent.mkdir(parents=True, exist_ok=True)
        (repo.work / name).write_text(text)
    return repo.write({}, message)


def _fleet(plan: Plan, cluster: LocalCluster, repo: Repo, kubeconfig: Path) -> dict[str, Any]:
    apps = [{"name": a.name, "source": {"repo": "env", "targetRevision": "main", "path": a.name},
             "destination": {"clusters": {"names": [cluster.name]}, "namespace": a.namespace},
             "syncPolicy": {"automated": {"prune": True, "selfHeal": True},
                            "retry": {"limit": 5, "backoff": {"duration": "1s", "maxDuration": "5s"}}}}
            for a in plan.apps]
    doc = fleet_doc([(cluster.name, kubeconfig, {})], repo.url, poll="1s", apps=apps)
    doc["fleet"] = plan.fleet
    return doc


def _inject(env: Env, rng: random.Random, names: list[str]) -> None:
    for name in names:
        time.sleep(rng.uniform(0.0, 1.5))
        env.log(f"inject {name}")
        INJECTORS[name](env, rng)


def run_trial(seed: int, injectors: list[str], cluster: LocalCluster, workdir: Path, sops: SopsKit,
              age_key: Any, *, converge_timeout: float = 90.0, keep: bool = False,
              hook_policy: str = "HookSucceeded") -> Result:
    """Run the trial for SEED with INJECTORS on CLUSTER under WORKDIR; never raises."""
    plan = generate(seed, injectors, hook_policy)
    root = workdir / f"trial-{seed}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    repo = Repo(root / "git")
    proxy = Proxy(cluster.port)
    kubeconfig = proxy.kubeconfig(cluster.kubeconfig, root / "kubeconfig")
    env = Env(plan, cluster, root, repo, _fleet(plan, cluster, repo, kubeconfig), age_key.file, proxy)
    result = Result(seed, injectors, len(plan.apps), sum(len(a.first) for a in plan.apps), None)
    rng = random.Random(seed * 31 + 7)
    phases = {name: rng.choice(("first", "second")) for name in injectors}
    t0 = time.monotonic()
    env.log(f"injectors {injectors} in syncs {phases}; replay with "
            f"python -m tests.chaos --seed {seed} --trials 1 --injectors {','.join(injectors)}"
            + (f" --hook-policy {hook_policy}" if hook_policy != "HookSucceeded" else ""))
    recorders = {}
    try:
        for app in plan.apps:
            kube.ensure_namespace(cluster, app.namespace)
        recorded: dict[str, Any] = {"foreign": {}}
        for doc in plan.foreign:
            live = kube.create(cluster, doc)
            recorded["foreign"][f"{doc['metadata']['namespace']}/{doc['metadata']['name']}"] = (
                live["metadata"]["uid"], live["metadata"]["resourceVersion"])
        recorders = {a.name: kube.UidRecorder(cluster, a.namespace, a.hook).start() for a in plan.apps}
        first = _files(plan, "first", sops, age_key.recipient)
        sha1 = _write_commit(repo, first, None, "first")
        env.start_daemon()
        _inject(env, rng, [n for n in injectors if phases[n] == "first"])
        took, why = converge(env, sha1, converge_timeout / 2)
        env.log(f"commit one converged in {took:.1f}s" if took is not None else f"commit one: {why}")
        sha2 = _write_commit(repo, _files(plan, "second", sops, age_key.recipient), first, "second")
        _inject(env, rng, [n for n in injectors if phases[n] == "second"])
        took, why = converge(env, sha2, converge_timeout)
        result.converged_seconds = None if took is None else round(took, 1)
        if took is None:
            result.violations["converged"] = [f"not Synced and Healthy at {sha2[:12]} within "
                                              f"{converge_timeout:.0f}s: {why}"]
        else:
            env.log(f"converged in {took:.1f}s")
        time.sleep(1.0)
        recorded["hook_uids"] = {name: r.stop() for name, r in recorders.items()}
        env.log(f"hook creations seen: { {k: len(v) for k, v in recorded['hook_uids'].items()} }")
        for name, check in CHECKS.items():
            result.violations[name] = check(env, recorded)
    except Exception as e:  # a harness failure is reported, not raised
        result.error = f"{type(e).__name__}: {e}"
        env.log(f"error: {result.error}")
    finally:
        for r in recorders.values():
            r.stop()
        env.stop_all()
        proxy.close()
        for app in plan.apps:
            kube.delete_namespace(cluster, app.namespace)
            kube.request(cluster, "DELETE", f"{INVENTORIES}/gitopsd-inv-{app.name}")
        kube.request(cluster, "DELETE", f"{LEASES}/gitopsd-{plan.fleet}")
        if not keep and result.ok:
            shutil.rmtree(root, ignore_errors=True)
    result.duration = round(time.monotonic() - t0, 1)
    result.events = env.events
    bad = {k: v for k, v in result.violations.items() if v}
    env.log(f"{'PASS' if result.ok else 'FAIL'} in {result.duration:.1f}s"
            + (f": {bad}" if bad else "") + (f" error {result.error}" if result.error else ""))
    return result
