"""What the tests of several ``gitopsd run`` members sharing one fleet have in common.

The fleet they share, a member's identity, the owner of each instance as a
member reports it, and the members each one sees. Nothing here starts or
stops a member: the tests do.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import yaml

from gitopsd.localcluster import LocalCluster
from tests.integration.daemonproc import DaemonProc, fleet_doc


def configmap(name: str, text: str) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                           "data": {"value": text}})


def shared_fleet(apps: list[tuple[str, str, str]], ns: str, repo: Any, key: Path, known: Path,
                 cluster: LocalCluster, *, duration: float, renew: float, poll: str = "5s",
                 **coordination: Any) -> dict[str, Any]:
    """A fleet of automated applications (name, revision, path) on cluster ``a``, shared by members
    through Leases of DURATION renewed every RENEW seconds (COORDINATION adds fields)."""
    doc = fleet_doc([("a", cluster.kubeconfig, {})], repo.ssh_url, key_file=key, known_hosts=known, poll=poll,
                    apps=[{"name": name, "source": {"repo": "env", "targetRevision": rev, "path": path},
                           "destination": {"clusters": {"names": ["a"]}, "namespace": ns},
                           "syncPolicy": {"automated": {"prune": True, "selfHeal": True}}}
                          for name, rev, path in apps])
    doc["settings"] = {"coordination": {"cluster": "a", "leaseDuration": f"{duration:g}s",
                                        "renewInterval": f"{renew:g}s", **coordination}}
    return doc


def identity(d: DaemonProc) -> str:
    return f"{socket.gethostname()}:{(d.root / 'state').resolve()}"


def owners(d: DaemonProc, count: int) -> dict[str, str] | None:
    """Instance -> owning member as D reports them, once it reports all COUNT with an owner."""
    rows = (d.get("/api/v1/instances") or {}).get("instances")
    if not rows or len(rows) != count or not all(r.get("owner") for r in rows):
        return None
    return {r["app"]: r["owner"] for r in rows}


def members(d: DaemonProc) -> set[str]:
    return {m["identity"] for m in (d.get("/api/v1/members") or {}).get("members", [])}


def agreed(daemons: list[DaemonProc], count: int, seen: set[str] | None = None) -> dict[str, str] | None:
    """The owner of every instance when every daemon of DAEMONS sees exactly SEEN (by default
    themselves) as the members and they all agree."""
    ids = seen if seen is not None else {identity(d) for d in daemons}
    views = [owners(d, count) for d in daemons]
    first = views[0]
    if first is None or any(v != first for v in views) or any(members(d) != ids for d in daemons):
        return None
    return first if set(first.values()) <= ids else None
