"""Open incidents kept in the state directory, so a restarted daemon resolves what it opened.

The file is ``<state_dir>/notifications/open-incidents.json``: a JSON list of
the notices of the problems open now (trigger, fleet, application, cluster,
project, revision, health, trace id and the message with every registered
secret scrubbed). It holds no token, URL or key: a PagerDuty resolution needs
only the dedup key, which is derived from fleet, application, cluster and
trigger. It is read and written by ``edges.statefile`` (atomic replace, mode
0600): a file that cannot be read or parsed is treated as empty, and a failed
write is logged and never reaches a sync. This module decides nothing about notices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from gitopsd.edges.statefile import read_json, write_json
from gitopsd.edges.telemetry.logging import get_logger, scrub
from gitopsd.model.notifications import Notice, Trigger

__all__ = ["INCIDENTS_FILE", "IncidentFile"]

_log = get_logger("gitopsd.notify")
INCIDENTS_FILE = Path("notifications") / "open-incidents.json"
_FIELDS = {f.name for f in fields(Notice)}


def _encode(notice: Notice) -> dict[str, Any]:
    doc = asdict(notice)
    doc["trigger"] = notice.trigger.value
    doc["message"] = scrub(notice.message)
    return doc


def _decode(doc: dict[str, Any]) -> Notice:
    known = {k: v for k, v in doc.items() if k in _FIELDS}
    return Notice(**{**known, "trigger": Trigger(doc["trigger"])})


class IncidentFile:
    """The open incidents of one state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / INCIDENTS_FILE

    def load(self) -> list[Notice]:
        docs = read_json(self.path, event="notify.incidents.unreadable")
        try:
            return [_decode(d) for d in docs or ()]
        except (ValueError, TypeError, KeyError) as e:
            _log.warning("notify.incidents.unreadable", path=str(self.path), error=type(e).__name__)
            return []

    def save(self, notices: Sequence[Notice]) -> None:
        write_json(self.path, [_encode(n) for n in notices], event="notify.incidents.unsaved",
                   open=len(notices))
