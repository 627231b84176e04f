"""The managed fleet that drift, no-op, memory and isolation share.

``drift_apps`` applications, each on both clusters, ``drift_objects`` objects
per application in its own namespace, under fleet ``bench``. This module writes
it to Git, names its objects as benchmark targets, and builds the desired
bodies the floor reverter applies.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

from tests.bench.daemonrun import Daemon, app_doc, fleet_doc
from tests.bench.observe import Key, Target
from tests.bench.sizes import Size
from tests.bench.workload import app_objects, namespaced, to_yaml

FLEET = "bench"
SELECTOR = f"gitopsd.io/fleet={FLEET}"
KINDS = ("ConfigMap", "Service", "Deployment")


def app_name(i: int) -> str:
    return f"d-{i:02d}"


def namespace(i: int) -> str:
    return f"bench-{app_name(i)}"


def files(size: Size) -> dict[str, str]:
    docs = to_yaml(app_objects(size.drift_objects))
    return {f"drift/{app_name(i)}/objects.yaml": docs for i in range(size.drift_apps)}


def fleet(size: Size, clusters: dict[str, Path], repo_url: str, apps: int | None = None) -> dict[str, Any]:
    n = size.drift_apps if apps is None else apps
    return fleet_doc(FLEET, clusters, repo_url,
                     [app_doc(app_name(i), f"drift/{app_name(i)}", namespace(i)) for i in range(n)],
                     poll="30s")


def targets(size: Size, clusters: list[str]) -> list[Target]:
    objs = app_objects(size.drift_objects)
    return [Target(c, app_name(i), o["kind"], namespace(i), o["metadata"]["name"])
            for c in clusters for i in range(size.drift_apps) for o in objs]


def desired_bodies(size: Size, clusters: list[str], live: dict[Key, dict[str, Any]]) -> dict[str, list[Any]]:
    """Per cluster, every managed object as gitopsd applies it: the manifest plus gitopsd's stamps.

    The stamps (``gitopsd.io/*`` labels and annotations) are taken from the live
    objects, so an apply by the floor reverter leaves exactly what gitopsd left.
    """
    objs = app_objects(size.drift_objects)
    out: dict[str, list[Any]] = {}
    for c in clusters:
        bodies = []
        for i in range(size.drift_apps):
            for o in objs:
                body = namespaced(o, namespace(i))
                seen = live.get((c, o["kind"], namespace(i), o["metadata"]["name"]))
                if seen is None:
                    raise RuntimeError(f"{c}/{namespace(i)}/{o['metadata']['name']} was never observed")
                meta = seen.get("metadata") or {}
                for field in ("labels", "annotations"):
                    stamps = {k: v for k, v in (meta.get(field) or {}).items() if k.startswith("gitopsd.io/")}
                    if stamps:
                        body["metadata"].setdefault(field, {}).update(copy.deepcopy(stamps))
                bodies.append(body)
        out[c] = bodies
    return out


async def start_daemon(root: Path, fleet_dict: dict[str, Any], *, timeout: float,
                       resync: float = 3600.0) -> tuple[Daemon, float]:
    """Start a daemon and wait until every instance is Synced and Healthy; (daemon, seconds)."""
    d = Daemon(root, fleet_dict, resync=resync)
    await d.start()
    try:
        await d.wait_synced(timeout=timeout)
    except BaseException:
        await d.stop()
        raise
    return d, time.monotonic() - d.started
