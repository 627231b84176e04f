"""Projects as plain values: what an application may deploy, from where, and to where.

A project is Argo CD's ``AppProject`` in gitopsd's words. Every application
belongs to exactly one; the built-in ``default`` project allows everything
(as Argo CD's does) until the fleet declares a project named ``default``.
The matching rules live in ``gitopsd.core.policy.projects``; this module only
holds the values ``gitopsd.config`` reads from a fleet file or an AppProject
manifest. It reads no files and decides nothing.

List fields keep Argo CD's distinction between *unset* and *empty* where
Argo CD makes one: ``namespace_resource_whitelist`` is None when unset (every
namespaced kind) and ``()`` when empty (none). The cluster whitelist has no
such distinction: unset and empty both mean no cluster-scoped kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from gitopsd.model.windows import SyncWindow

DEFAULT_PROJECT = "default"
"""The project of an application that names none."""


@dataclass(frozen=True)
class GroupKind:
    """An entry of a resource white- or blacklist: API group and kind, each a glob."""

    group: str
    kind: str

    def __str__(self) -> str:
        group = self.group or '""'
        return f"{group}/{self.kind}"


@dataclass(frozen=True)
class ProjectDestination:
    """Where a project's applications may deploy: a cluster and a namespace glob.

    The cluster is chosen by ``name`` (glob over fleet cluster names), by
    ``server`` (glob over API server URLs) or both (either may match, as in Argo
    CD), and/or by ``cluster_labels`` (every label must be equal). An empty
    ``name`` and ``server`` with no labels matches no cluster. A part written
    with a leading ``!`` turns the entry into a denial for what it names.
    """

    namespace: str
    name: str = ""
    server: str = ""
    cluster_labels: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        parts = [f"name={self.name}" if self.name else "", f"server={self.server}" if self.server else "",
                 "labels=" + ",".join(f"{k}={v}" for k, v in sorted(self.cluster_labels.items()))
                 if self.cluster_labels else "", f"namespace={self.namespace}"]
        return "{" + " ".join(p for p in parts if p) + "}"


@dataclass(frozen=True)
class Project:
    """One project. ``origin`` is ``file:line`` where it was declared ("" for the built-in one).

    ``sync_windows`` are the project's ``syncWindows``; the sync window rules
    (``core.policy.windows``) decide what they allow at a given time.
    """

    name: str
    source_repos: tuple[str, ...] = ()
    destinations: tuple[ProjectDestination, ...] = ()
    cluster_resource_whitelist: tuple[GroupKind, ...] = ()
    cluster_resource_blacklist: tuple[GroupKind, ...] = ()
    namespace_resource_whitelist: tuple[GroupKind, ...] | None = None
    namespace_resource_blacklist: tuple[GroupKind, ...] = ()
    sync_windows: tuple[SyncWindow, ...] = ()
    description: str = ""
    origin: str = ""


BUILTIN_DEFAULT = Project(
    name=DEFAULT_PROJECT,
    source_repos=("*",),
    destinations=(ProjectDestination(namespace="*", name="*", server="*"),),
    cluster_resource_whitelist=(GroupKind("*", "*"),),
)
"""Argo CD's default project: any repository, any cluster and namespace, any kind."""
