"""The object a rule looks at: its body, the file it came from and where its fields are.

Positions arrive as a mapping from field paths (``("spec", "replicas")``,
``("spec", "containers", 0, "image")``) to 1-based lines, built by whoever
read the file; rules ask ``line_of`` for the most precise line they can get.
Nothing here reads files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gitopsd.model import objects

FieldPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Subject:
    """An object under check: ``file`` is the repository-relative POSIX path, ``line`` its start.

    ``scope`` is the path that policy path patterns are matched against when
    it differs from ``file``: a rendered object is reported at the file it
    came from (``base/web/deployment.yaml``) but belongs to the application
    path that rendered it (``clusters/prod/apps/web``).
    """

    body: Mapping[str, Any]
    file: str
    line: int = 0
    lines: Mapping[FieldPath, int] = field(default_factory=dict)
    scope: str = ""

    @property
    def scope_path(self) -> str:
        return self.scope or self.file

    def line_of(self, path: FieldPath) -> int:
        """The line of PATH, else of its nearest ancestor that has one, else the object's line."""
        for end in range(len(path), 0, -1):
            found = self.lines.get(path[:end])
            if found:
                return found
        return self.line

    @property
    def kind(self) -> str:
        kind = self.body.get("kind")
        return kind if isinstance(kind, str) else ""

    @property
    def group(self) -> str:
        api_version = self.body.get("apiVersion")
        if not isinstance(api_version, str) or "/" not in api_version:
            return ""
        return api_version.rsplit("/", 1)[0]

    @property
    def description(self) -> str:
        """``Kind namespace/name`` (or ``Kind name``), for messages."""
        meta = objects.meta(self.body)
        name = str(meta.get("name") or meta.get("generateName") or "")
        namespace = objects.namespace(self.body)
        where = f"{namespace}/{name}" if namespace else name
        return f"{self.kind or '<no kind>'} {where or '<no name>'}"


def walk(value: Any, path: FieldPath = ()) -> list[tuple[FieldPath, Any]]:
    """Every (path, value) pair in a nested structure of mappings and lists, depth first."""
    found: list[tuple[FieldPath, Any]] = [(path, value)]
    if isinstance(value, Mapping):
        for key, item in value.items():
            found.extend(walk(item, (*path, str(key))))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(walk(item, (*path, index)))
    return found
