"""The fleet's watches: one label-selected list-then-watch per (cluster, kind) its instances own.

A kind is watched from the first comparison that wants it; every event goes
to that cluster's drift detector. While a watch fails, the instances it
serves say so (drift cannot be seen there), until it lists again: an
unreachable cluster is a ClusterUnreachable condition on every instance of
that cluster; any other failure (a kind no longer served because its CRD is
gone, say) is a WatchError only on the instances that own objects of that
kind, so one missing CRD does not mark every application of the cluster.
This module never judges an event (the detector does) and never restarts a
watch itself (the supervisor does).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gitopsd.core.marks import fleet_selector
from gitopsd.engine.driftcontrol import DriftController
from gitopsd.engine.ports import ClusterHandle, MetricsPort
from gitopsd.engine.status import Condition, StatusBoard
from gitopsd.engine.supervisor import Supervisor
from gitopsd.errors import ClusterError, ClusterUnreachable
from gitopsd.model import AppInstance, Application, ConditionReason, ConditionType

FAILURES = (ConditionType.CLUSTER_UNREACHABLE, ConditionType.WATCH_ERROR)


@dataclass(kw_only=True, eq=False)
class Watches:
    fleet: str
    supervisor: Supervisor
    drift: DriftController
    board: StatusBoard
    instances: Mapping[str, tuple[AppInstance, Application]]
    metrics: MetricsPort | None = None
    _handles: dict[str, ClusterHandle] = field(default_factory=dict)
    _watched: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    _failing: dict[str, dict[str, Condition]] = field(default_factory=dict)  # cluster -> task -> why
    _kinds_of: dict[str, set[tuple[str, str]]] = field(default_factory=dict)  # instance -> kinds owned
    _task_kind: dict[str, tuple[str, str]] = field(default_factory=dict)  # watch task -> its kind

    def __post_init__(self) -> None:
        self.selector = fleet_selector(self.fleet)

    def add_cluster(self, handle: ClusterHandle) -> None:
        self._handles[handle.name] = handle
        self._watched[handle.name] = set()
        self._failing[handle.name] = {}

    def want(self, instance: AppInstance, kinds: Iterable[tuple[str, str]]) -> None:
        """INSTANCE owns objects of KINDS ((apiVersion, kind) pairs): watch each one its cluster
        does not watch yet."""
        cluster = instance.cluster
        self._kinds_of[instance.key] = set(kinds)
        watched = self._watched[cluster]
        for api_version, kind in sorted(self._kinds_of[instance.key] - watched):
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
        self._task_kind[name] = (api_version, kind)
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
        """Each instance on CLUSTER shows the first condition of the failing watches that serve it."""
        failing = self._failing[cluster]
        for key, (inst, _) in self.instances.items():
            if inst.cluster != cluster:
                continue
            owned = self._kinds_of.get(key, set())
            serving = [c for task, c in failing.items() if c.type is ConditionType.CLUSTER_UNREACHABLE
                       or self._task_kind.get(task) in owned]
            self.board.replace([key], FAILURES, min(serving, key=lambda c: c.type, default=None))

    def state(self, cluster: str) -> dict[str, object]:
        """CLUSTER's watches for the status pages: kinds watched, how many fail, whether the
        cluster answers (None before any watch ran) and the first failure's message."""
        failing = self._failing.get(cluster, {})
        first = min(failing.values(), key=lambda c: c.type, default=None)
        watched = len(self._watched.get(cluster, ()))
        unreachable = any(c.type is ConditionType.CLUSTER_UNREACHABLE for c in failing.values())
        return {"watched": watched, "failing": len(failing),
                "reachable": None if not watched else not unreachable,
                "message": first.message if first is not None else ""}
