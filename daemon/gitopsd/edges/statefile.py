"""Small JSON files in the state directory, replaced atomically and read forgivingly.

A file is written to a temporary name beside it (mode 0600) and renamed over
the old one, so a reader sees the old content or the new, never part of
either. A file that is missing reads as None; one that cannot be read or
parsed is logged and reads as None too; a write that fails is logged and
returns False. Callers keep nothing secret in these files; this module knows
nothing of what they hold.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from gitopsd.edges.telemetry.logging import get_logger

_log = get_logger("gitopsd.state")


def read_json(path: Path, *, event: str) -> Any:
    """The JSON document at PATH, or None when it is missing or unreadable (logged as EVENT)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        _log.warning(event, path=str(path), error=type(e).__name__)
        return None


def write_json(path: Path, doc: Any, *, event: str, **context: object) -> bool:
    """Replace PATH with DOC as JSON; False (logged as EVENT with CONTEXT) when the disk refused."""
    body = json.dumps(doc, sort_keys=True, indent=1)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(body)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:
        _log.warning(event, path=str(path), error=e.strerror or type(e).__name__, **context)
        return False
    return True
