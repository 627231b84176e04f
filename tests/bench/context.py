"""What every benchmark shares in one run: the two clusters, the Git repository, the size.

Also the small helpers several benchmarks need: request counters from both API
servers, and progress lines on stderr.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitopsd.localcluster import ADMIN_USER, LocalCluster
from tests.bench.gitrepo import Repo
from tests.bench.kube import WRITE_VERBS, Kube, count_delta, endpoint_of, parse_request_counts
from tests.bench.sizes import Size

Counts = dict[tuple[str, str, str, str], float]
# Resources gitopsd writes in these benchmarks (its objects, namespaces and inventory ConfigMaps).
GITOPSD_RESOURCES = ("configmaps", "services", "deployments", "namespaces")


@dataclass
class Context:
    size: Size
    run_dir: Path
    clusters: dict[str, LocalCluster]
    repo: Repo
    kubes: dict[str, Kube] = field(default_factory=dict)
    t0: float = field(default_factory=time.monotonic)
    profile_dir: Path | None = None

    def endpoint(self, name: str) -> Any:
        c = self.clusters[name]
        return endpoint_of(name, c.dir, c.server, c.tokens[ADMIN_USER])

    def open(self) -> None:
        self.kubes = {n: Kube(self.endpoint(n), pool=64) for n in self.clusters}

    async def close(self) -> None:
        for k in self.kubes.values():
            await k.close()

    def log(self, message: str) -> None:
        print(f"[bench {time.monotonic() - self.t0:7.1f}s] {message}", file=sys.stderr, flush=True)

    def kubeconfigs(self) -> dict[str, Path]:
        return {n: c.kubeconfig for n, c in self.clusters.items()}

    async def counts(self) -> dict[str, Counts]:
        texts = await asyncio.gather(*(k.metrics() for k in self.kubes.values()))
        return {n: parse_request_counts(t) for n, t in zip(self.kubes, texts, strict=True)}


def requests(before: Mapping[str, Counts], after: Mapping[str, Counts]) -> dict[str, int]:
    """Requests to gitopsd's resources (main resource, not status) between two snapshots, by verb."""
    out: dict[str, int] = {}
    for name in after:
        for (verb, resource, sub, dry), n in count_delta(before.get(name, {}), after[name]).items():
            if resource in GITOPSD_RESOURCES and not sub:
                label = f"{verb} (dry-run)" if dry else verb
                out[label] = out.get(label, 0) + n
    return dict(sorted(out.items()))


def writes(before: Mapping[str, Counts], after: Mapping[str, Counts]) -> dict[str, Any]:
    """Write requests between two counter snapshots, per cluster and summed.

    ``gitopsd_kinds`` counts persisted writes to the resources gitopsd manages
    here (main resource, not status); ``dry_run`` counts dry-run writes to them;
    ``all`` counts every persisted write any client made (kwok's node leases,
    the controller-manager) for context; ``reads`` counts GET and LIST of
    gitopsd's resources.
    """
    out: dict[str, Any] = {"gitopsd_kinds": 0, "dry_run": 0, "all": 0, "reads": 0, "by_cluster": {}}
    for name in after:
        delta = count_delta(before.get(name, {}), after[name])
        mine = {f"{v} {r}": n for (v, r, s, d), n in delta.items()
                if v in WRITE_VERBS and r in GITOPSD_RESOURCES and not s and not d}
        dry = sum(n for (v, r, s, d), n in delta.items() if v in WRITE_VERBS and r in GITOPSD_RESOURCES and d)
        every = sum(n for (v, _r, _s, d), n in delta.items() if v in WRITE_VERBS and not d)
        reads = sum(n for (v, r, s, _d), n in delta.items() if v in ("GET", "LIST") and r in GITOPSD_RESOURCES
                    and not s)
        out["by_cluster"][name] = {"gitopsd_kinds": mine, "dry_run": dry, "all": every, "reads": reads}
        out["gitopsd_kinds"] += sum(mine.values())
        out["dry_run"] += dry
        out["all"] += every
        out["reads"] += reads
    return out
