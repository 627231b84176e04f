"""The seeded generator: what one trial puts in Git and beside it in the cluster.

A trial is two commits: the first creates 2-3 applications of ConfigMaps and
Services in sync waves, each with a PreSync hook and (for one application) a
Secret from a SOPS-encrypted file; the second changes some objects and removes
others so that pruning runs. Foreign objects (no tracking id, or another
application's) are planned in the same namespaces. Everything derives from the
seed, so a failing trial replays exactly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import yaml

WAVE = "argocd.argoproj.io/sync-wave"
HOOK = "argocd.argoproj.io/hook"
HOOK_POLICY = "argocd.argoproj.io/hook-delete-policy"
HOOK_POLICIES = ("HookSucceeded", "BeforeHookCreation", "none")
"""``none`` leaves the annotation out (Argo CD then applies BeforeHookCreation)."""
TRACKING = "gitopsd.io/tracking-id"
FLEET_LABEL = "gitopsd.io/fleet"


@dataclass
class AppPlan:
    """One application: its namespace and its objects in each of the two commits."""

    name: str
    namespace: str
    first: dict[str, dict[str, Any]]
    """Object documents by file name (``<kind>-<name>.yaml``) in commit one."""
    second: dict[str, dict[str, Any]]
    hook: str
    """The PreSync hook ConfigMap's name (in both commits)."""
    secret: str | None = None
    """The name of the Secret whose file is SOPS-encrypted, if this application has one."""


@dataclass
class Plan:
    seed: int
    fleet: str
    apps: list[AppPlan]
    foreign: list[dict[str, Any]]
    plaintext: str
    """The SOPS-protected value: it must reach the cluster and nowhere else."""
    injectors: list[str] = field(default_factory=list)


def _configmap(rng: random.Random, name: str, wave: int) -> dict[str, Any]:
    data = {f"k{i}": f"v-{rng.randrange(10**6)}" for i in range(rng.randint(1, 4))}
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "annotations": {WAVE: str(wave)}, "labels": {"chaos": "yes"}},
            "data": data}


def _service(rng: random.Random, name: str, wave: int) -> dict[str, Any]:
    port = rng.randrange(1024, 9000)
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "annotations": {WAVE: str(wave)}},
            "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": port,
                                                              "targetPort": port + 1}]}}


def _hook(name: str, policy: str) -> dict[str, Any]:
    notes = {HOOK: "PreSync"} | ({HOOK_POLICY: policy} if policy != "none" else {})
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "annotations": notes}, "data": {"ran": "yes"}}


def _file(doc: dict[str, Any]) -> str:
    return f"{doc['kind'].lower()}-{doc['metadata']['name']}.yaml"


def _app(rng: random.Random, name: str, namespace: str, with_secret: bool, plaintext: str,
         hook_policy: str) -> AppPlan:
    count = rng.randint(10, 40)
    first: dict[str, dict[str, Any]] = {}
    for i in range(count):
        wave = rng.choice((-1, 0, 0, 1, 2))
        maker = _service if rng.random() < 0.25 else _configmap
        doc = maker(rng, f"obj-{i}", wave)
        first[_file(doc)] = doc
    secret = None
    if with_secret:
        secret = "db-credentials"
        doc = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
               "metadata": {"name": secret, "annotations": {WAVE: "0"}},
               "stringData": {"password": plaintext}}
        first[_file(doc)] = doc
    hook = "pre-sync"
    first[_file(_hook(hook, hook_policy))] = _hook(hook, hook_policy)
    second = dict(first)
    plain = [f for f, d in first.items() if d["kind"] != "Secret" and f != _file(_hook(hook, hook_policy))]
    for f in rng.sample(plain, k=max(1, len(plain) // 5)):
        del second[f]
    for f in rng.sample([f for f in second if f.startswith("configmap-obj-")], k=min(3, len(second) - 2)):
        doc = yaml.safe_load(yaml.safe_dump(second[f]))
        doc["data"]["changed"] = f"c-{rng.randrange(10**6)}"
        second[f] = doc
    return AppPlan(name, namespace, first, second, hook, secret)


def _foreign(rng: random.Random, plan_apps: list[AppPlan], fleet: str) -> list[dict[str, Any]]:
    """Objects gitopsd must never touch: untracked, labelled but untracked, a copy of another
    application's object (its tracking id names that application's object in that application's
    namespace, not this one), and one of an application the fleet does not have.

    An object whose tracking id names one of the trial's applications *and* the object itself is
    that application's by gitopsd's ownership contract (an inventory rebuilt after a loss adopts
    it), so no foreign object is forged that way."""
    out: list[dict[str, Any]] = []
    for app in plan_apps:
        other = next((a for a in plan_apps if a is not app), app)
        ns = app.namespace
        kinds = [
            ("foreign-plain", {}, {}),
            ("foreign-labelled", {FLEET_LABEL: fleet}, {}),
            (f"foreign-of-{other.name}", {FLEET_LABEL: fleet},
             {TRACKING: f"{other.name}:/ConfigMap:{other.namespace}/foreign-of-{other.name}"}),
            ("foreign-elsewhere", {FLEET_LABEL: fleet},
             {TRACKING: f"elsewhere:/ConfigMap:{ns}/foreign-elsewhere"}),
        ]
        for name, labels, notes in kinds:
            out.append({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": name, "namespace": ns, "labels": labels, "annotations": notes},
                        "data": {"owner": "someone-else", "n": str(rng.randrange(10**6))}})
    return out


def generate(seed: int, injectors: list[str], hook_policy: str = "HookSucceeded") -> Plan:
    """The trial for SEED: applications, foreign objects and a fresh secret value."""
    rng = random.Random(seed)
    fleet = f"chaos-{seed}"
    plaintext = f"chaos-plain-{rng.getrandbits(64):016x}"
    n = rng.randint(2, 3)
    secret_app = rng.randrange(n)
    apps = [_app(rng, f"c{seed}-a{i}", f"chaos-{seed}-a{i}", i == secret_app, plaintext,
                 hook_policy) for i in range(n)]
    return Plan(seed, fleet, apps, _foreign(rng, apps, fleet), plaintext, injectors)


def dump(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, sort_keys=False)
