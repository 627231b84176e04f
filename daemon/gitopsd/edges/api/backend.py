"""What the HTTP server needs from the rest of the daemon, as a Protocol.

The api edge sits below the engine and must not import it; the composition
root hands the server an object with these methods. Each method may be plain
or ``async``: the server awaits whatever is awaitable. This module defines the
contract only; it must not hold state or talk to the world.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

Row = Mapping[str, Any]
"""A JSON-ready mapping: an instance status row or a history entry."""


class ApiBackend(Protocol):
    """The daemon as the HTTP server sees it; methods may be sync or async."""

    def instances(self) -> Sequence[Row] | Awaitable[Sequence[Row]]:
        """Status rows: app, cluster, sync_status, health, revision (applied), failed_revision,
        last_sync (with the revision it ran on), conditions."""
        ...

    def members(self) -> Sequence[Row] | Awaitable[Sequence[Row]]:
        """The daemons sharing the fleet (empty when it is not shared): identity, whether it is
        this daemon (``self``) and how many instances it owns."""
        ...

    def commit(self, app: str, cluster: str, revision: str) -> Row | Awaitable[Row]:
        """``subject`` and ``author`` of REVISION in the instance's Git repository; {} when unknown."""
        ...

    def clusters(self) -> Sequence[Row] | Awaitable[Sequence[Row]]:
        """The fleet's clusters: cluster, server, labels, bastion (``user@host:port``, "" when
        direct), instances, and the watches' state: watched, failing, reachable (None before any
        watch ran), message."""
        ...

    def history(self, app: str, cluster: str, limit: int) -> Sequence[Row] | Awaitable[Sequence[Row]]:
        """The last ``limit`` syncs of one instance, newest first."""
        ...

    def request_sync(self, app: str, cluster: str | None) -> Sequence[str] | Awaitable[Sequence[str]]:
        """Enqueue a sync of one instance (or of every cluster when ``cluster`` is None).

        Returns the instance keys enqueued; raises ``KeyError`` for an unknown app or cluster
        and ``SyncWindowClosed`` when a sync window refuses a manual sync of one of them now;
        sharing a fleet, only the instances this daemon owns are enqueued, and ``OwnedElsewhere``
        is raised when it owns none of them.
        """
        ...

    def rollback(self, app: str, cluster: str, entry_id: int) -> Row | Awaitable[Row]:
        """A manual sync of one instance pinned to the revision of its history entry ENTRY_ID.

        Returns ``{"enqueued": [...], "revision": sha}``; raises ``KeyError`` for an unknown
        instance or entry, ``RollbackRefused`` while the application syncs automatically and
        ``SyncWindowClosed`` when a sync window refuses it now.
        """
        ...

    def inspect(self, app: str, cluster: str) -> Row | Awaitable[Row]:
        """One instance's objects against its cluster now, read-only: ``revision``, ``summary``
        and ``objects`` (wave, group, kind, namespace, name, sync, health, message and the
        masked ``diff``); raises ``KeyError`` for an unknown instance."""
        ...

    def repo_push(self, repo_url_or_name: str, ref: str | None) -> Sequence[str] | Awaitable[Sequence[str]]:
        """Poll the matching repositories now; returns their names, empty when none match."""
        ...

    def ready(self) -> tuple[bool, str] | Awaitable[tuple[bool, str]]:
        """Whether the daemon is ready to serve, with a one-line reason."""
        ...

    def metrics(self) -> tuple[bytes, str] | Awaitable[tuple[bytes, str]]:
        """The metrics exposition: body and its content type."""
        ...


async def resolve(value: T | Awaitable[T]) -> T:
    """VALUE itself, or its result when it is awaitable."""
    if inspect.isawaitable(value):
        return await value
    return value
