"""What each instance's last successful sync was made from, so that automated without selfHeal syncs it once.

Argo CD's automated sync without selfHeal syncs a revision, with its
parameters, once: a later pass at the same source compares, reports OutOfSync
and writes nothing. ``Applied`` keeps, per instance, the source key
(``DesiredPort.source_key``: revision, ref revisions, source parameters) of
its last full pass that ended Synced. The runtime holds one across reloads,
and its ``AppliedPort`` keeps it across restarts; an instance this daemon may
not write (another holds it) is dropped, so taking it back syncs it once. It
decides nothing: the reconciler compares keys.
"""

from __future__ import annotations

from gitopsd.engine.ports import AppliedPort


class Applied:
    def __init__(self, store: AppliedPort | None = None) -> None:
        self._store = store
        self._keys: dict[str, str] = dict(store.load()) if store is not None else {}

    def get(self, instance_key: str) -> str | None:
        return self._keys.get(instance_key)

    def set(self, instance_key: str, source_key: str) -> None:
        if source_key and self._keys.get(instance_key) != source_key:
            self._keys[instance_key] = source_key
            self._save()

    def drop(self, instance_key: str) -> None:
        if self._keys.pop(instance_key, None) is not None:
            self._save()

    def _save(self) -> None:
        if self._store is not None:
            self._store.save(dict(self._keys))
