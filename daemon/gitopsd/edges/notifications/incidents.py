"""Open incidents kept in the state directory, so a restarted daemon resolves what it opened.

The file is ``<state_dir>/notifications/open-incidents.json``: a JSON list of
the notices of the problems open now (trigger, fleet, application, cluster,
project, revision, health, trace id and the message with every registered
secret scrubbed). It holds no token, URL or key: a PagerDuty resolution needs
only the dedup key, which is derived from fleet, application, cluster and
trigger. Writes replace the file atomically (mode 0600); a file that cannot
be read or parsed is logged and treated as empty, and a failed write is
logged and never reaches a sync. This module decides nothing about notices.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

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
        try:
            docs = json.loads(self.path.read_text(encoding="utf-8"))
            return [_decode(d) for d in docs]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, TypeError, KeyError) as e:
            _log.warning("notify.incidents.unreadable", path=str(self.path), error=type(e).__name__)
            return []

    def save(self, notices: Sequence[Notice]) -> None:
        body = json.dumps([_encode(n) for n in notices], sort_keys=True, indent=1)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".open-incidents-")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(body)
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as e:
            _log.warning("notify.incidents.unsaved", path=str(self.path),
                         error=e.strerror or type(e).__name__, open=len(notices))
