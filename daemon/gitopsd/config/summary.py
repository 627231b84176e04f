"""A short human table of a fleet's instances, as printed by ``gitopsd check-config``.

Formatting only: it shows names, revisions, paths and namespaces, never URLs
with credentials or file contents.
"""

from __future__ import annotations

from gitopsd.model.fleet import Fleet

__all__ = ["summary"]

_HEADER = ("APPLICATION", "CLUSTER", "SOURCE", "PATH", "NAMESPACE")


def _plural(n: int, word: str) -> str:
    if n == 1:
        return f"1 {word}"
    return f"{n} {word[:-1]}ies" if word.endswith("y") else f"{n} {word}s"


def summary(fleet: Fleet) -> str:
    """Counts, then one row per instance: app, cluster, repo@revision, path, namespace."""
    counts = ", ".join((_plural(len(fleet.clusters), "cluster"),
                        _plural(len(fleet.repositories), "repository"),
                        _plural(len(fleet.applications), "application"),
                        _plural(len(fleet.instances), "instance")))
    lines = [f"fleet {fleet.name}: {counts}"]
    rows = [_HEADER] + [
        (i.app, i.cluster, f"{i.source.repo}@{i.source.target_revision}", i.source.path,
         i.namespace or "-")
        for i in fleet.instances
    ]
    if fleet.instances:
        widths = [max(len(row[c]) for row in rows) for c in range(len(_HEADER))]
        lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                  for row in rows]
    if fleet.health_checks:
        lua = sum(1 for c in fleet.health_checks if c.lua)
        lines.append(f"health checks: {lua} Lua, {len(fleet.health_checks) - lua} CEL")
    for project in fleet.projects:
        members = sum(1 for a in fleet.applications if a.project == project.name)
        lines.append(f"project {project.name}: {_plural(members, 'application')}, "
                     f"{_plural(len(project.destinations), 'destination')}")
    for service in fleet.notifications.services:
        subs = [sub for sub in fleet.notifications.subscriptions if service.name in sub.services]
        triggers = sorted({t.value for sub in subs for t in sub.triggers})
        lines.append(f"notifications {service.name} ({service.type.value}): "
                     f"{', '.join(triggers) if triggers else 'no subscriptions'}")
    for src in fleet.argocd_sources:
        lines.append(f"argocd {src.name}: Applications from "
                     f"{src.repo}@{src.target_revision}:{src.path}")
    return "\n".join(lines)
