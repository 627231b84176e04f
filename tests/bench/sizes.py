"""How big each benchmark runs: ``full`` (the issue's sizes), ``quick`` and ``tiny`` (the smoke test).

Managed objects of the drift fleet = drift_apps x drift_objects x 2 clusters.
Memory points are prefixes of the drift fleet's applications, the last being all of them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Size:
    name: str
    drift_apps: int          # applications, each on both clusters
    drift_objects: int       # objects per application and cluster
    drift_changes: int       # out-of-band edits timed against gitopsd, and again against the floor
    isolation_changes: int   # edits on cluster A per phase (B healthy, B stopped)
    commit_iterations: int   # commit + revert pairs per mode (floor, webhook, polling)
    commit_objects: int
    cold_apps: int           # applications, each on both clusters
    cold_objects: int        # objects per application and cluster
    memory_apps: tuple[int, ...]  # drift applications managed at each memory point
    unmanaged: int           # unlabelled ConfigMaps added over both clusters
    resync: float            # --resync of the measured daemons; idle CPU is measured over one period
    noop_resyncs: int        # full manual resyncs counted
    gap: float = 0.3         # pause between edits, seconds
    repeat_edits: int = 10   # edits of one object, 3 s apart, each timed to its revert
    fight_repairs: int = 4   # repairs of one object that the benchmark undoes at once
    edit_timeout: float = 30.0
    notify_drifts: int = 300  # distinct objects edited once each, every revert told to a webhook
    poll_interval: float = 5.0
    note: str = ""

    @property
    def drift_managed(self) -> int:
        return self.drift_apps * self.drift_objects * 2

    def managed_at(self, apps: int) -> int:
        return apps * self.drift_objects * 2

    @property
    def cold_managed(self) -> int:
        return self.cold_apps * self.cold_objects * 2

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["drift_managed"] = self.drift_managed
        out["cold_managed"] = self.cold_managed
        out["memory_managed"] = [self.managed_at(a) for a in self.memory_apps]
        return out


FULL = Size("full", drift_apps=50, drift_objects=100, drift_changes=300, isolation_changes=100,
            commit_iterations=20, commit_objects=20, cold_apps=200, cold_objects=20,
            memory_apps=(5, 25, 50), unmanaged=20_000, resync=180.0, noop_resyncs=3)
QUICK = Size("quick", drift_apps=10, drift_objects=20, drift_changes=40, isolation_changes=15,
             commit_iterations=4, commit_objects=20, cold_apps=20, cold_objects=10,
             memory_apps=(2, 5, 10), unmanaged=2_000, resync=20.0, noop_resyncs=1)
TINY = Size("tiny", drift_apps=2, drift_objects=5, drift_changes=2, isolation_changes=2,
            commit_iterations=1, commit_objects=3, cold_apps=2, cold_objects=3,
            memory_apps=(1, 2), unmanaged=20, resync=5.0, noop_resyncs=1, gap=0.1,
            edit_timeout=20.0, repeat_edits=2, fight_repairs=3, notify_drifts=2)
SIZES = {s.name: s for s in (FULL, QUICK, TINY)}
