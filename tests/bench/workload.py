"""What the benchmarks deploy and how they disturb it.

An application is N objects in a fixed mix of 7 ConfigMaps : 2 headless
Services : 1 Deployment (one replica, scheduled onto kwok's fake nodes), the
first three covering one of each kind. Each kind has one managed field that a
"kubectl edit" changes and the reverter must restore. Everything here is data;
nothing talks to a cluster.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

MIX = ("ConfigMap", "Service", "Deployment", "ConfigMap", "ConfigMap", "Service", "ConfigMap",
       "ConfigMap", "ConfigMap", "ConfigMap")
PAYLOAD = "x" * 200  # a little realistic bulk per ConfigMap


def kind_at(index: int) -> str:
    return MIX[index % len(MIX)]


def deployments_in(objects: int) -> int:
    return sum(1 for i in range(objects) if kind_at(i) == "Deployment")


def manifest(index: int, value: str = "v0") -> dict[str, Any]:
    """Object INDEX of an application, without namespace (the destination supplies it)."""
    kind = kind_at(index)
    name = f"{kind.lower()}-{index:04d}"
    meta: dict[str, Any] = {"name": name, "labels": {"bench.gitopsd.io/object": name}}
    if kind == "ConfigMap":
        return {"apiVersion": "v1", "kind": kind, "metadata": meta,
                "data": {"value": value, "payload": PAYLOAD}}
    if kind == "Service":
        return {"apiVersion": "v1", "kind": kind, "metadata": meta, "spec": {
            "clusterIP": "None", "selector": {"app": name},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}}
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": {
        "replicas": 1, "revisionHistoryLimit": 5,
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": {
            "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}],
            "containers": [{"name": "app", "image": "registry.invalid/bench/app:1",
                            "ports": [{"containerPort": 8080}]}]}}}}


def app_objects(count: int, values: Mapping[int, str] | None = None) -> list[dict[str, Any]]:
    values = values or {}
    return [manifest(i, values.get(i, "v0")) for i in range(count)]


def to_yaml(docs: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)


def namespaced(body: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    out = copy.deepcopy(dict(body))
    out["metadata"]["namespace"] = namespace
    return out


def namespace_doc(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


@dataclass(frozen=True)
class Edit:
    """How an out-of-band client changes one managed field, and how to tell it is restored."""

    kind: str

    def patch(self, serial: int) -> dict[str, Any]:
        if self.kind == "ConfigMap":
            return {"data": {"value": f"edited-{serial}"}}
        if self.kind == "Service":
            return {"spec": {"ports": [{"name": "http", "port": 80, "targetPort": 9000 + serial % 1000,
                                        "protocol": "TCP"}]}}
        return {"spec": {"revisionHistoryLimit": 6 + serial % 50}}

    def restored(self, obj: Mapping[str, Any], desired_value: str = "v0") -> bool:
        if self.kind == "ConfigMap":
            return (obj.get("data") or {}).get("value") == desired_value
        if self.kind == "Service":
            ports = (obj.get("spec") or {}).get("ports") or [{}]
            return ports[0].get("targetPort") == 8080
        return (obj.get("spec") or {}).get("revisionHistoryLimit") == 5


def subset(want: Any, have: Any) -> bool:
    """True when every field of WANT is present with the same value in HAVE (lists pairwise)."""
    if isinstance(want, Mapping):
        return isinstance(have, Mapping) and all(k in have and subset(v, have[k]) for k, v in want.items())
    if isinstance(want, list):
        return isinstance(have, list) and len(want) == len(have) and all(
            subset(w, h) for w, h in zip(want, have, strict=True))
    return bool(want == have)
