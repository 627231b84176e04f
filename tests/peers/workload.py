"""The objects every tool manages in the peer benchmark, and their place in Git.

The same ConfigMaps and headless Services (the kinds of ``tests.bench.workload``
without its Deployments: the peer run has no controller-manager to roll them
out) in one Git directory; each tool applies them into a namespace of its own.
Everything here is data; nothing talks to a cluster.
"""

from __future__ import annotations

from typing import Any

from tests.bench.observe import Target
from tests.bench.workload import kind_at, manifest, to_yaml

PATH = "app"
FILE = f"{PATH}/objects.yaml"
SELECTOR = "bench.gitopsd.io/object"  # every manifest carries this label
KINDS = ("ConfigMap", "Service")
CHANGED = "configmap-0000"  # the object commits change (index 0 is a ConfigMap)


def objects(count: int, value: str = "v0") -> list[dict[str, Any]]:
    """COUNT objects (ConfigMaps and Services only); the first ConfigMap's value is VALUE."""
    out = []
    i = 0
    while len(out) < count:
        if kind_at(i) in KINDS:
            out.append(manifest(i, value if i == 0 else "v0"))
        i += 1
    return out


def files(count: int, value: str = "v0") -> dict[str, str]:
    return {FILE: to_yaml(objects(count, value))}


def targets(count: int, namespace: str) -> list[Target]:
    """Every object as a drift target in NAMESPACE, the changed ConfigMap last."""
    objs = [o for o in objects(count) if o["metadata"]["name"] != CHANGED]
    return [Target("a", namespace, o["kind"], namespace, o["metadata"]["name"]) for o in objs]
