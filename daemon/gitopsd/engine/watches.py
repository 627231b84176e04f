"""The fleet's watches: one label-selected list-then-watch per (cluster, kind) its instances own.

A kind is watched from the first comparison that wants it; every event goes
to that cluster's drift detector. While a watch of a cluster fails, every
instance on that cluster carries a ClusterUnreachable or WatchError
condition (drift cannot be seen there), cleared when the watch lists again.
This module never judges an event (the detector does) and never restarts a
watch itself (the supervisor does).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from gitopsd.core.marks import fleet_selector
from gitopsd.engine.driftcontrol import DriftController
from gitopsd.engine.ports import ClusterHandle, MetricsPort
from gitopsd.engine.status import Condition, StatusBoard
from gitopsd.engine.supervisor import Supervisor
from gitopsd.errors import ClusterError, ClusterUnreachable
from gitopsd.model import AppInstance, Application, ConditionReason, ConditionType

FAILURES = (ConditionType.CLUSTER_UNREACHABLE, ConditionType.WATCH_ERROR)


class Watches:
    def __init__(self, *, fleet: str, supervisor: Supervisor, drift: DriftController, board: StatusBoard,
                 instances: Mapping[str, tuple[AppInstance, Application]],
                 metrics: MetricsPort | None = None) -> None:
        self.selector = fleet_selector(fleet)
        self.supervisor = supervisor
        self.drift = drift
        self.board = board
        self.instances = instances
        self.metrics = metrics
        self._handles: dict[str, ClusterHandle] = {}
        self._watched: dict[str, set[tuple[str, str]]] = {}
        self._failing: dict[str, dict[str, Condition]] = {}  # cluster -> watch task -> why it failed

    def add_cluster(self, handle: ClusterHandle) -> None:
        self._handles[handle.name] = handle
        self._watched[handle.name] = set()
        self._failing[handle.name] = {}

    def want(self, cluster: str, kinds: Iterable[tuple[str, str]]) -> None:
        """Watch each of KINDS ((apiVersion, kind) pairs) on CLUSTER that is not watched yet."""
        watched = self._watched[cluster]
        for api_version, kind in sorted(set(kinds) - watched):
            watched.add((api_version, kind))
            self._spawn(cluster, api_version, kind)

    def failed(self, task: str, error: BaseException | None) -> None:
        """The supervisor restarts the watch TASK after ERROR: its cluster's instances say why."""
        cluster = task.split("/")[1]
        if self.metrics:
            self.metrics.watch_reconnected(cluster)
            self.metrics.set_cluster_connected(cluster, False)
        if cluster in self._failing and isinstance(error, ClusterError):
            kind = ConditionType.CLUSTER_UNREACHABLE if isinstance(error, ClusterUnreachable) \
                else ConditionType.WATCH_ERROR
            self._failing[cluster][task] = Condition(kind, ConditionReason.WATCH_FAILED, str(error))
            self._show(cluster)

    def _spawn(self, cluster: str, api_version: str, kind: str) -> None:
        handle = self._handles[cluster]
        group = api_version.rpartition("/")[0]
        name = f"watch/{cluster}/{api_version}/{kind}"
        detector = self.drift.detector(cluster)

        async def run() -> None:
            def on_event(etype: str, obj: object) -> None:
                if etype == "SYNCED" and self._failing[cluster].pop(name, None) is not None:
                    self._show(cluster)
                detector.event(etype, obj, (group, kind))
            if self.metrics:
                self.metrics.set_cluster_connected(cluster, True)
            await handle.watch(api_version, kind, self.selector, on_event)

        self.supervisor.spawn(name, run)

    def _show(self, cluster: str) -> None:
        """Every instance on CLUSTER shows the first failing watch's condition, or none."""
        self.board.replace([k for k, (i, _) in self.instances.items() if i.cluster == cluster], FAILURES,
                           min(self._failing[cluster].values(), key=lambda c: c.type, default=None))
