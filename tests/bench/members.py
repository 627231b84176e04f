"""A fleet shared by several ``gitopsd run`` members, as the HA benchmark sees it from outside.

``SharedFleet`` writes the fleet (ConfigMap applications on one cluster,
``settings.coordination`` on it), starts and signals members (``daemonrun.Daemon``),
and reads what each member says over its API: who the members are and who owns
which instance. ``Moves`` follows one member's view of the owners while the
member set changes, so an instance handed over twice is counted twice. Nothing
here imports the daemon's code: members are spoken to over HTTP only.
"""

from __future__ import annotations

import asyncio
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.bench.daemonrun import Daemon, app_doc, fleet_doc

FLEET = "hafleet"
NAMESPACE = "ha-bench"
SELECTOR = f"gitopsd.io/fleet={FLEET}"
Owners = dict[str, str]  # app -> member identity


def configmap(name: str) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": name, "namespace": NAMESPACE}, "data": {"value": "v0"}})


def files(apps: int, objects: int) -> dict[str, str]:
    """The repository: APPS directories of OBJECTS ConfigMaps each (value ``v0``)."""
    return {f"apps/app{i:03d}/c{j}.yaml": configmap(f"app{i:03d}-c{j}")
            for i in range(apps) for j in range(objects)}


def fleet(kubeconfig: Path, repo_url: str, apps: int, *, lease: float, renew: float) -> dict[str, Any]:
    doc = fleet_doc(FLEET, {"a": kubeconfig}, repo_url,
                    [app_doc(f"app{i:03d}", f"apps/app{i:03d}", NAMESPACE, "a") for i in range(apps)],
                    poll="10s")
    doc["settings"] = {"coordination": {"cluster": "a", "leaseDuration": f"{lease:g}s",
                                        "renewInterval": f"{renew:g}s"}}
    return doc


@dataclass
class Member:
    name: str
    daemon: Daemon
    identity: str = ""

    async def owners(self) -> Owners | None:
        rows = await self.daemon.rows()
        if not rows or not all(r.get("owner") for r in rows):
            return None
        return {r["app"]: r["owner"] for r in rows}

    async def members(self) -> set[str]:
        data = await self.daemon.get("/api/v1/members")
        return {m["identity"] for m in (data or {}).get("members", [])} if isinstance(data, dict) else set()


@dataclass
class SharedFleet:
    root: Path
    doc: dict[str, Any]
    apps: int
    resync: float
    members: dict[str, Member] = field(default_factory=dict)

    async def start(self, name: str) -> Member:
        """Start member NAME (its directory, hence its identity, is kept across restarts)."""
        d = await Daemon(self.root / name, self.doc, resync=self.resync).start()
        m = Member(name, d)
        self.members[name] = m
        deadline = time.monotonic() + 60
        while not m.identity and time.monotonic() < deadline:
            data = await d.get("/api/v1/members")
            rows = (data or {}).get("members", []) if isinstance(data, dict) else []
            mine = [r for r in rows if r.get("self")]
            m.identity = str(mine[0]["identity"]) if mine else ""
            await asyncio.sleep(0.2)
        if not m.identity:
            raise TimeoutError(f"member {name} did not join within 60s; read {d.log_file}")
        return m

    def signal(self, name: str, sig: signal.Signals) -> float:
        """Send SIG to member NAME and forget it; the wall-clock time it was sent."""
        m = self.members.pop(name)
        assert m.daemon.proc is not None
        sent = time.time()
        m.daemon.proc.send_signal(sig)
        return sent

    async def reap(self, m: Member) -> None:
        await m.daemon.stop()

    async def agreed(self) -> Owners | None:
        """Who owns each instance, when every running member sees the same members and owners
        and every instance is Synced; else None."""
        live = {m.identity for m in self.members.values()}
        views = await asyncio.gather(*(m.owners() for m in self.members.values()))
        seen = await asyncio.gather(*(m.members() for m in self.members.values()))
        first = views[0]
        if first is None or len(first) != self.apps or any(v != first for v in views) or any(
                s != live for s in seen) or set(first.values()) - live:
            return None
        owner_rows = {}
        for m in self.members.values():
            for r in await m.daemon.rows():
                if first.get(r["app"]) == m.identity:
                    owner_rows[r["app"]] = r
        if len(owner_rows) != self.apps or not all(
                r["sync_status"] == "Synced" and r["last_sync"]["result"] == "Synced"
                for r in owner_rows.values()):
            return None
        return first

    async def settle(self, timeout: float = 120.0) -> Owners:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in self.members.values():
                m.daemon.check_alive()
            got = await self.agreed()
            if got:
                return got
            await asyncio.sleep(0.3)
        raise TimeoutError(f"members {sorted(self.members)} did not agree on a synced fleet "
                           f"in {timeout:.0f}s")

    async def synced_by_survivors(self, orphans: list[str], since: float, timeout: float) -> float:
        """Seconds from SINCE (wall clock) until each of ORPHANS was synced by a running member that
        owns it, in a pass that started after SINCE: the latest end of those passes."""
        done: dict[str, float] = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in list(self.members.values()):
                for r in await m.daemon.rows():
                    last = r["last_sync"]
                    if (r["app"] in orphans and r.get("owner") == m.identity and last["started"] >= since
                            and last["result"] == "Synced"):
                        done.setdefault(r["app"], last["started"] + last["duration"])
            if len(done) == len(orphans):
                return max(done.values()) - since
            await asyncio.sleep(0.1)
        raise TimeoutError(f"{len(orphans) - len(done)} of {len(orphans)} orphaned instances not synced "
                           f"by a survivor within {timeout:.0f}s")

    async def stop(self) -> None:
        await asyncio.gather(*(m.daemon.stop() for m in self.members.values()), return_exceptions=True)
        self.members.clear()


class Moves:
    """Changes of owner per instance in the view of one member that stays, polled until stopped."""

    def __init__(self, watcher: Member, start: Owners) -> None:
        self.watcher = watcher
        self.last = dict(start)
        self.changes: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._poll())

    async def stop(self, final: Owners) -> dict[str, Any]:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._see(final)
        moved = sorted(self.changes)
        return {"instances": len(self.last), "moved": len(moved),
                "fraction": round(len(moved) / max(1, len(self.last)), 3),
                "moved_more_than_once": sorted(a for a, n in self.changes.items() if n > 1),
                "max_moves_per_instance": max(self.changes.values(), default=0)}

    def _see(self, owners: Owners) -> None:
        for app, owner in owners.items():
            if self.last.get(app) != owner:
                self.changes[app] = self.changes.get(app, 0) + 1
                self.last[app] = owner

    async def _poll(self) -> None:
        while True:
            got = await self.watcher.owners()
            if got:
                self._see(got)
            await asyncio.sleep(0.2)
