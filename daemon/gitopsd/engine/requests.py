"""What the API and the CLI ask of a running daemon: syncs, rollbacks, inspections, status rows.

These requests only read the daemon's tables and put items on its queue; they
never write to a cluster themselves (a sync or rollback happens in a worker's
pass) and never decide how a pass runs. ``Daemon`` takes them as a base class.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from gitopsd.engine.inspect import object_rows
from gitopsd.engine.pollers import Pollers
from gitopsd.engine.queue import Priority, WorkQueue
from gitopsd.engine.status import StatusBoard
from gitopsd.engine.windows import WindowGate
from gitopsd.engine.writers import Writers
from gitopsd.errors import OwnedElsewhere, RollbackRefused, SyncWindowClosed
from gitopsd.model import AppInstance, Application, Fleet

if TYPE_CHECKING:
    from gitopsd.engine.daemon import _Cluster
    from gitopsd.engine.watches import Watches

ROLLBACK = "rollback"  # the reason of a manual sync pinned to its commit


class DaemonRequests:
    fleet: Fleet
    queue: WorkQueue
    board: StatusBoard
    gate: WindowGate
    pollers: Pollers
    instances: dict[str, tuple[AppInstance, Application]]
    clusters: Mapping[str, _Cluster]
    writers: Writers
    watches: Watches

    def request_sync(self, app: str, cluster: str | None = None) -> list[str]:
        keys = self._keys(app, cluster)
        for k in keys:
            self.queue.add(k, self.instances[k][0].cluster, Priority.MANUAL, reason="api")
        return keys

    def rollback(self, app: str, cluster: str, revision: str) -> list[str]:
        """A manual sync of one instance pinned to REVISION (a commit it synced before).

        Refused (``RollbackRefused``) while the application syncs automatically, which would
        return it to Git's head at once; Argo CD refuses the same."""
        keys = self._keys(app, cluster)
        if self.instances[keys[0]][1].sync_policy.automated:
            raise RollbackRefused(
                f"{app} syncs automatically and would return to Git's head at once; remove "
                f"syncPolicy.automated from application {app} in the fleet file, reload the "
                "daemon (systemctl reload gitopsd, or SIGHUP), then roll back")
        for k in keys:
            self.queue.add(k, cluster, Priority.MANUAL, reason=ROLLBACK, commit=revision)
        return keys

    def _keys(self, app: str, cluster: str | None) -> list[str]:
        """The instances a manual sync of APP (on CLUSTER) asks for; ``KeyError`` when none,
        ``SyncWindowClosed`` when a sync window refuses a manual sync of one of them now. Sharing
        a fleet, only those this daemon owns; ``OwnedElsewhere`` when it owns none of them."""
        keys = [k for k, (i, _) in self.instances.items()
                if i.app == app and (cluster is None or i.cluster == cluster)]
        if not keys:
            raise KeyError(f"{app}/{cluster}" if cluster else app)
        refused = [(k, c) for k in keys if (c := self.gate.closed(self.instances[k][0], manual=True))]
        if refused:
            raise SyncWindowClosed("; ".join(f"{k}: {c.message}" for k, c in refused))
        elsewhere = self.writers.owned_elsewhere(keys)  # a shared fleet: the owners sync those
        if len(elsewhere) == len(keys):
            raise OwnedElsewhere("; ".join(f"{k} is owned by {o}" for k, o in elsewhere.items()))
        return [k for k in keys if k not in elsewhere]

    async def inspect(self, app: str, cluster: str) -> dict[str, object]:
        """INSTANCE's objects against its cluster now, read-only (``engine.inspect``);
        ``KeyError`` for an unknown instance."""
        key = f"{app}/{cluster}"
        entry, handle = self.instances.get(key), self.clusters.get(cluster)
        if entry is None or handle is None:
            raise KeyError(key)
        cmp = await handle.reconciler.compare(entry[0], entry[1], with_diff=True)
        return object_rows(cmp)

    def repo_push(self, repo: str) -> list[str]:
        return self.pollers.push(self.fleet.repositories, repo)

    def cluster_rows(self) -> list[dict[str, object]]:
        """Each cluster of the fleet: labels, the bastion it is reached through (no key file),
        its instances and its watches' state."""
        rows = []
        for c in self.fleet.clusters:
            jump = f"{c.bastion.user}@{c.bastion.host}:{c.bastion.port}" if c.bastion else ""
            count = sum(1 for i, _ in self.instances.values() if i.cluster == c.name)
            rows.append({"cluster": c.name, "server": c.server, "labels": dict(c.labels), "bastion": jump,
                         "instances": count, **self.watches.state(c.name)})
        return rows

    def status_rows(self) -> list[dict[str, object]]:
        """The status board's rows, each with the sync windows applying to it now (``sync_windows``)."""
        rows = []
        labels = {c.name: dict(c.labels) for c in self.fleet.clusters}
        for row in self.board.rows():
            entry = self.instances.get(f"{row.app}/{row.cluster}")
            windows = self.gate.row(entry[0]) if entry is not None else None
            owner = self.writers.owner(f"{row.app}/{row.cluster}")  # "" unless the fleet is shared
            rows.append({**row.as_row(), **({"sync_windows": windows} if windows else {}),
                         **({"owner": owner} if owner else {}),
                         "project": entry[1].project if entry is not None else "",
                         "automated": entry[1].sync_policy.automated if entry is not None else False,
                         "labels": labels.get(row.cluster, {})})
        return rows

