"""Typed reading of YAML nodes: every problem becomes a ``ConfigIssue``, never an exception.

A ``Reader`` is bound to one file and one ``IssueLog``. Accessors return the
value, or None after recording why it is unusable (wrong type, unknown field
with the closest valid name, missing required field, bad duration), so that
callers can carry on and report every problem in one pass. Messages never
echo scalar values, which may be secrets.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from gitopsd.config.durations import parse_duration
from gitopsd.config.sizes import parse_size
from gitopsd.config.yamlpos import IssueLog, is_null, kind_of, line_of, scalar_value, suggest
from gitopsd.errors import ConfigIssue

__all__ = ["Reader"]

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"


class Reader:
    """Typed access to the nodes of one file; every problem becomes a ``ConfigIssue``.

    ``aliases`` maps ``id(node)`` to the field path where that node was
    written, for nodes reused elsewhere (fleet ``defaults``): an issue on such
    a node names the place to fix, not the place it was merged into.
    """

    def __init__(self, file: str, log: IssueLog, aliases: Mapping[int, str] | None = None) -> None:
        self.file = file
        self.log = log
        self.aliases: Mapping[int, str] = aliases or {}

    def where(self, node: Node | None, path: str) -> tuple[str, int]:
        """Field path and line under which an issue about ``node`` is reported."""
        if node is not None and id(node) in self.aliases:
            path = self.aliases[id(node)]
        return path, line_of(node)

    def issue(self, node: Node | None, path: str, message: str) -> None:
        field, line = self.where(node, path)
        self.log.add(ConfigIssue(self.file, line, field, message))

    def issue_at(self, field: str, line: int, message: str) -> None:
        self.log.add(ConfigIssue(self.file, line, field, message))

    def _expect(self, node: Node, path: str, expected: str) -> None:
        self.issue(node, path, f"expected {expected}, got {kind_of(node)}")

    def mapping(self, node: Node, path: str, fields: Collection[str], *,
                required: Collection[str] = (), unsupported: Collection[str] = (),
                ignored: Collection[str] = ()) -> dict[str, Node] | None:
        """Known fields of a mapping node (nulls dropped), or None if it is not a mapping.

        Unknown fields are reported with the closest known name; fields in
        ``unsupported`` are reported as such; fields in ``ignored`` are skipped.
        """
        if not isinstance(node, MappingNode):
            self._expect(node, path, "a mapping")
            return None
        out: dict[str, Node] = {}
        for key, value in node.value:
            if not (isinstance(key, ScalarNode) and key.tag == _STR):
                self.issue(key, path, f"field names must be strings, got {kind_of(key)}")
                continue
            name = str(key.value)
            sub = f"{path}.{name}" if path else name
            if name in fields:
                if not is_null(value):
                    out[name] = value
            elif name in unsupported:
                self.issue(key, sub, f"field '{name}' is not supported by gitopsd")
            elif name not in ignored:
                self.issue(key, sub, f"unknown field '{name}'{suggest(name, fields)}")
        for name in required:
            if name not in out:
                self.issue(node, path, f"missing required field '{name}'")
        return out

    def sequence(self, node: Node, path: str) -> list[Node] | None:
        if not isinstance(node, SequenceNode):
            self._expect(node, path, "a list")
            return None
        return list(node.value)

    def _plainscalar_value(self, node: Node, path: str, expected: str, tags: Collection[str]
                      ) -> str | int | float | bool | None:
        if not isinstance(node, ScalarNode) or node.tag not in tags:
            self._expect(node, path, expected)
            return None
        try:
            return scalar_value(node)
        except ValueError:
            self.issue(node, path, f"expected {expected}")
            return None

    def string(self, node: Node, path: str, *, empty: bool = False) -> str | None:
        value = self._plainscalar_value(node, path, "a string", (_STR,))
        if value is None:
            return None
        text = str(value)
        if not empty and not text:
            self.issue(node, path, "must not be empty")
            return None
        return text

    def boolean(self, node: Node, path: str) -> bool | None:
        value = self._plainscalar_value(node, path, "a boolean (true or false)", (_BOOL,))
        return value if isinstance(value, bool) else None

    def integer(self, node: Node, path: str, *, minimum: int | None = None) -> int | None:
        value = self._plainscalar_value(node, path, "an integer", (_INT,))
        if not isinstance(value, int) or isinstance(value, bool):
            return None
        if minimum is not None and value < minimum:
            self.issue(node, path, f"must be at least {minimum}")
            return None
        return value

    def number(self, node: Node, path: str, *, minimum: float | None = None,
               maximum: float | None = None) -> float | None:
        value = self._plainscalar_value(node, path, "a number", (_INT, _FLOAT))
        if not isinstance(value, int | float) or isinstance(value, bool):
            return None
        number = float(value)
        if not math.isfinite(number):
            self.issue(node, path, "must be a finite number")
            return None
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            lo = "" if minimum is None else f"at least {minimum:g}"
            hi = "" if maximum is None else f"at most {maximum:g}"
            self.issue(node, path, f"must be {' and '.join(p for p in (lo, hi) if p)}")
            return None
        return number

    def duration(self, node: Node, path: str) -> float | None:
        value = self._plainscalar_value(node, path, "a duration such as 30s or 5m",
                                   (_STR, _INT, _FLOAT))
        if value is None or isinstance(value, bool):
            return None
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.issue(node, path, str(exc))
            return None

    def size(self, node: Node, path: str) -> int | None:
        value = self._plainscalar_value(node, path, "a size such as 4Mi or 16Mi", (_STR, _INT))
        if value is None or isinstance(value, bool | float):
            return None
        try:
            return parse_size(value)
        except ValueError as exc:
            self.issue(node, path, str(exc))
            return None

    def string_list(self, node: Node, path: str) -> tuple[str, ...] | None:
        items = self.sequence(node, path)
        if items is None:
            return None
        out = [self.string(item, f"{path}[{i}]") for i, item in enumerate(items)]
        return tuple(s for s in out if s is not None)

    def string_map(self, node: Node, path: str) -> dict[str, str] | None:
        if not isinstance(node, MappingNode):
            self._expect(node, path, "a mapping of strings")
            return None
        out: dict[str, str] = {}
        for key, value in node.value:
            name = self.string(key, path)
            if name is None:
                continue
            sub = f"{path}.{name}"
            if isinstance(value, ScalarNode) and value.tag in (_INT, _FLOAT, _BOOL):
                self.issue(value, sub, f"expected a string, got {kind_of(value)}; quote it")
                continue
            text = self.string(value, sub, empty=True)
            if text is not None:
                out[name] = text
        return out

    def plain(self, node: Node, path: str, lines: dict[str, tuple[str, int]]) -> Any:
        """Python data for ``node``; records the reported (field, line) of every string leaf."""
        if isinstance(node, MappingNode):
            out: dict[str, Any] = {}
            for key, value in node.value:
                name = self._plainscalar_value(key, path, "a string key", (_STR, _INT, _FLOAT, _BOOL))
                if name is None:
                    continue
                out[str(name)] = self.plain(value, f"{path}.{name}", lines)
            return out
        if isinstance(node, SequenceNode):
            return [self.plain(item, f"{path}[{i}]", lines) for i, item in enumerate(node.value)]
        if not isinstance(node, ScalarNode):
            return None
        try:
            value = scalar_value(node)
        except ValueError:
            self.issue(node, path, f"cannot read {kind_of(node)}")
            return None
        if isinstance(value, str):
            lines[path] = self.where(node, path)
        return value
