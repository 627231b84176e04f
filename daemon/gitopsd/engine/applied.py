"""What each instance's last successful sync was made from, so that automated without selfHeal syncs it once.

Argo CD's automated sync without selfHeal syncs a revision, with its
parameters, once: a later pass at the same source compares, reports OutOfSync
and writes nothing. ``Applied`` keeps, per instance, the source key
(``DesiredPort.source_key``: revision, ref revisions, source parameters) of
its last full pass that ended Synced. The runtime holds one across reloads,
and its ``AppliedPort`` keeps it across restarts; an instance this daemon may
not write (another holds it) is dropped, so taking it back syncs it once.
Changes are written at most once per ``SAVE_EVERY`` seconds (a first sync of a
large fleet changes every key) and at ``flush``; a crash loses at most that
much, which costs one sync each. It decides nothing: the reconciler compares
keys.
"""

from __future__ import annotations

import asyncio

from gitopsd.engine.ports import AppliedPort

SAVE_EVERY = 1.0


class Applied:
    def __init__(self, store: AppliedPort | None = None) -> None:
        self._store = store
        self._keys: dict[str, str] = dict(store.load()) if store is not None else {}
        self._pending: asyncio.TimerHandle | None = None

    def get(self, instance_key: str) -> str | None:
        return self._keys.get(instance_key)

    def set(self, instance_key: str, source_key: str) -> None:
        if source_key and self._keys.get(instance_key) != source_key:
            self._keys[instance_key] = source_key
            self._save()

    def drop(self, instance_key: str) -> None:
        if self._keys.pop(instance_key, None) is not None:
            self._save()

    def flush(self) -> None:
        """Write what changed now (the daemon stops)."""
        if self._pending is not None:
            self._pending.cancel()
            self._write()

    def _save(self) -> None:
        if self._store is None or self._pending is not None:
            return
        try:
            self._pending = asyncio.get_running_loop().call_later(SAVE_EVERY, self._write)
        except RuntimeError:  # no event loop: nothing to batch with
            self._write()

    def _write(self) -> None:
        self._pending = None
        if self._store is not None:
            self._store.save(dict(self._keys))
