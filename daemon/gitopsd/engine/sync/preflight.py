"""The checks a sync passes before its first write, so that it never applies half and fails.

As Argo CD does before it writes anything, every object a sync would apply
(hooks included) is checked against the cluster: its kind must be served,
and a namespaced object's namespace must exist or be created by this sync
(a Namespace of the sync, or ``CreateNamespace=true``). A kind that is not
served yet passes when this sync applies the CustomResourceDefinition of its
group and kind, or when the object (or the application) carries
``SkipDryRunOnMissingResource=true``. A sync that fails these checks writes
nothing: not its inventory, not a hook, not a SyncFail hook; its message
names every object that failed, with the file it came from.

This module only reads the cluster (discovery and Namespaces); it must not
write, and the order of the sync is the planner's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from gitopsd.core.plan import Plan, SyncTask, TaskAction
from gitopsd.engine.ports import ClusterPort
from gitopsd.errors import ApiError
from gitopsd.model import Manifest

__all__ = ["preflight"]

_CRD = ("apiextensions.k8s.io", "CustomResourceDefinition")


def _crd_kinds(tasks: tuple[SyncTask, ...]) -> dict[tuple[str, str], bool]:
    """(group, kind) -> namespaced, for each CustomResourceDefinition this sync applies."""
    out: dict[tuple[str, str], bool] = {}
    for task in tasks:
        m = task.manifest
        if m is None or (m.key.group, m.key.kind) != _CRD:
            continue
        spec: Mapping[str, Any] = m.body.get("spec") or {}
        names: Mapping[str, Any] = spec.get("names") or {}
        group, kind = spec.get("group"), names.get("kind")
        if isinstance(group, str) and isinstance(kind, str):
            out[(group, kind)] = spec.get("scope", "Namespaced") != "Cluster"
    return out


def _created_namespaces(tasks: tuple[SyncTask, ...]) -> set[str]:
    return {t.key.name for t in tasks
            if t.manifest is not None and t.key.group == "" and t.key.kind == "Namespace"}


def _where(m: Manifest) -> str:
    source = str(m.source)
    return f" ({source})" if source else ""


async def _served(cluster: ClusterPort, api_version: str, kind: str) -> bool | None:
    """Whether KIND is namespaced, None when not served; a remembered miss is asked again."""
    namespaced = await cluster.namespaced(api_version, kind)
    if namespaced is None:
        cluster.invalidate(api_version.rpartition("/")[0])
        namespaced = await cluster.namespaced(api_version, kind)
    return namespaced


async def _namespace_exists(cluster: ClusterPort, name: str) -> bool:
    try:
        return await cluster.get("v1", "Namespace", name) is not None
    except ApiError as e:
        return e.status != 404  # not allowed to read Namespaces: the apply will tell


async def preflight(cluster: ClusterPort, plan: Plan) -> str | None:
    """Why PLAN cannot be applied to CLUSTER, naming every object at fault; None when it can."""
    tasks = tuple(t for t in plan.tasks
                  if t.action is not TaskAction.PRUNE and t.manifest is not None)
    kinds = sorted({(t.manifest.api_version, t.key.kind) for t in tasks if t.manifest})
    answers = await asyncio.gather(*(_served(cluster, v, k) for v, k in kinds))
    scope = dict(zip(kinds, answers, strict=True))
    crds = _crd_kinds(tasks)
    created = _created_namespaces(tasks)
    unserved: list[str] = []
    needs: dict[str, list[Manifest]] = {}
    for task in tasks:
        m = task.manifest
        assert m is not None
        namespaced = scope[(m.api_version, m.key.kind)]
        if namespaced is None:
            if (m.key.group, m.key.kind) in crds:
                namespaced = crds[(m.key.group, m.key.kind)]
            elif task.options.skip_dry_run_on_missing_resource:
                continue
            else:
                unserved.append(f"{m.key}: the cluster serves no {m.key.kind} in "
                                f"{m.api_version}{_where(m)}")
                continue
        if namespaced and m.key.namespace and m.key.namespace not in created:
            needs.setdefault(m.key.namespace, []).append(m)
    names = sorted(needs)
    exists = await asyncio.gather(*(_namespace_exists(cluster, n) for n in names))
    missing = [f"{m.key}: namespace {name!r} does not exist and this sync does not create it"
               f"{_where(m)}"
               for name, there in zip(names, exists, strict=True) if not there
               for m in needs[name]]
    problems = unserved + missing
    if not problems:
        return None
    hint = (" (install the missing CustomResourceDefinitions, or apply them in this sync)"
            if unserved else "")
    count = f"{len(problems)} object{'s' if len(problems) != 1 else ''}"
    return (f"sync refused before any write: {count} cannot be applied{hint}:\n"
            + "\n".join(f"  {p}" for p in problems))
