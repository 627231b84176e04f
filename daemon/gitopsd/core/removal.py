"""What an inventory ConfigMap records about its application leaving the fleet.

``Inventory.to_configmap`` writes, for an application with ``cascadeDelete``,
the deletion propagation and the PreDelete/PostDelete hook objects, and the
application's project for every application; this
module reads them back for whoever removes the application later (possibly a
daemon started after the application was gone). It never talks to a cluster
and never decides to delete anything.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gitopsd.core.inventory import DELETION_HOOKS_KEY
from gitopsd.core.marks import (
    APP_ANNOTATION,
    CASCADE_ANNOTATION,
    PROJECT_ANNOTATION,
    PROPAGATION_ANNOTATION,
)
from gitopsd.model import objects
from gitopsd.model.projects import DEFAULT_PROJECT


def removal(body: Mapping[str, Any]) -> tuple[str, str | None]:
    """(application, deletion propagation) an inventory ConfigMap records; the propagation is
    None when the application's objects are to be left in place once it leaves the fleet."""
    annotations = objects.annotations(body)
    app = str(annotations.get(APP_ANNOTATION) or "")
    if str(annotations.get(CASCADE_ANNOTATION, "")).lower() != "true":
        return app, None
    propagation = str(annotations.get(PROPAGATION_ANNOTATION) or "Foreground")
    return app, propagation if propagation in ("Foreground", "Background", "Orphan") else "Foreground"


def recorded_project(body: Mapping[str, Any]) -> str:
    """The project an inventory ConfigMap records (``default`` for one written before projects)."""
    return str(objects.annotations(body).get(PROJECT_ANNOTATION) or DEFAULT_PROJECT)


def deletion_hooks(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The deletion hook objects an inventory ConfigMap records (none when unreadable)."""
    text = (body.get("data") or {}).get(DELETION_HOOKS_KEY, "")
    try:
        hooks = json.loads(text) if isinstance(text, str) and text else []
    except ValueError:
        return []
    return [h for h in hooks if isinstance(h, dict) and h.get("kind") != "Secret"] \
        if isinstance(hooks, list) else []
