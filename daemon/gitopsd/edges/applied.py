"""The source keys of the instances' last successful syncs, kept in the state directory.

The file is ``<state_dir>/applied-sources.json``: instance key -> source key
(a digest of what its desired state was rendered from; nothing secret). It is
read once at start and replaced on every change through ``edges.statefile``.
Losing it costs one sync of each automated instance without selfHeal at the
source it already applied; it never decides anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from gitopsd.edges.statefile import read_json, write_json

APPLIED_FILE = "applied-sources.json"


class AppliedFile:
    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / APPLIED_FILE

    def load(self) -> dict[str, str]:
        doc = read_json(self.path, event="applied.unreadable")
        if not isinstance(doc, dict):
            return {}
        return {str(k): str(v) for k, v in doc.items() if isinstance(v, str)}

    def save(self, keys: Mapping[str, str]) -> None:
        write_json(self.path, dict(keys), event="applied.unsaved", instances=len(keys))
