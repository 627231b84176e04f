"""YAML with positions: node trees that remember their lines, and the issue log.

Scalars resolve as in YAML 1.2 (only ``true``/``false`` are booleans, no
timestamps, ``010`` is a string), which is what users of Kubernetes tooling
expect. Syntax errors and duplicate keys become ``ConfigIssue``s with 1-based
lines instead of exceptions, so one pass reports every problem. This module
knows nothing about fleets, and its messages never echo scalar values.
"""

from __future__ import annotations

import copy
import difflib
import math
import re
from collections.abc import Collection, Iterator
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from gitopsd.errors import ConfigError, ConfigIssue

__all__ = [
    "IssueLog",
    "aliases_of",
    "compose_documents",
    "is_null",
    "kind_of",
    "line_of",
    "merge_nodes",
    "scalar_value",
    "suggest",
]

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"
_MAP = "tag:yaml.org,2002:map"


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema scalar resolution."""


_Loader.yaml_implicit_resolvers = {}  # start empty; the resolvers below replace YAML 1.1's


_Loader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Loader.add_implicit_resolver(
    _INT, re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789"))
_Loader.add_implicit_resolver(
    _FLOAT,
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?[0-9]+[eE][-+]?[0-9]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."))
_Loader.add_implicit_resolver(
    _NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_Loader.add_implicit_resolver(_MERGE, re.compile(r"^(?:<<)$"), ["<"])


class IssueLog:
    """Problems found so far, without duplicates, in the order they were found."""

    def __init__(self) -> None:
        self._issues: list[ConfigIssue] = []
        self._seen: set[ConfigIssue] = set()

    def add(self, issue: ConfigIssue) -> None:
        if issue not in self._seen:
            self._seen.add(issue)
            self._issues.append(issue)

    def __len__(self) -> int:
        return len(self._issues)

    def __iter__(self) -> Iterator[ConfigIssue]:
        return iter(self._issues)

    def error(self) -> ConfigError:
        """One ``ConfigError`` carrying every issue, sorted by file and line."""
        return ConfigError(sorted(self._issues, key=lambda i: (i.file, i.line)))

    def raise_if_any(self) -> None:
        if self._issues:
            raise self.error()


def line_of(node: Node | None) -> int:
    """1-based line where ``node`` starts (0 when there is no node)."""
    if node is None:
        return 0
    return int(node.start_mark.line) + 1


def is_null(node: Node | None) -> bool:
    return node is None or (isinstance(node, ScalarNode) and node.tag == _NULL)


def suggest(word: str, choices: Collection[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``choices``, or ``""``."""
    folded = {c.lower().replace("_", "").replace("-", ""): c for c in choices}
    key = word.lower().replace("_", "").replace("-", "")
    if key in folded:
        return f"; did you mean '{folded[key]}'?"
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if not close:
        close = difflib.get_close_matches(key, list(folded), n=1, cutoff=0.6)
        close = [folded[c] for c in close]
    return f"; did you mean '{close[0]}'?" if close else ""


def compose_documents(text: str, file: str, log: IssueLog, *, line_offset: int = 0,
                      field: str = "") -> list[Node]:
    """Node trees of every document in ``text``; syntax errors go to ``log``.

    Merge keys (``<<``) are flattened and duplicate keys reported, so callers
    see each mapping once with its final keys.
    """
    try:
        docs = [d for d in yaml.compose_all(text, Loader=_Loader) if d is not None]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = int(mark.line) + 1 + line_offset if mark is not None else 0
        what = " ".join(p for p in (exc.context, exc.problem) if p)
        log.add(ConfigIssue(file, line, field, f"invalid YAML: {what}"))
        return []
    except yaml.YAMLError as exc:
        log.add(ConfigIssue(file, line_offset, field, f"invalid YAML: {exc}"))
        return []
    flattener = _Loader("")
    for doc in docs:
        _prepare(doc, field, file, log, flattener, line_offset, set())
    if line_offset:
        for doc in docs:
            _shift(doc, line_offset, set())
    return docs


def _prepare(node: Node, path: str, file: str, log: IssueLog, flattener: _Loader, offset: int,
             done: set[int]) -> None:
    if id(node) in done:
        return
    done.add(id(node))
    if isinstance(node, MappingNode):
        seen: dict[Any, Node] = {}
        for key, _ in node.value:
            if isinstance(key, ScalarNode) and key.tag != _MERGE:
                if key.value in seen:
                    sub = f"{path}.{key.value}" if path else str(key.value)
                    log.add(ConfigIssue(file, line_of(key) + offset, sub,
                                        f"duplicate key '{key.value}' (first on line "
                                        f"{line_of(seen[key.value]) + offset})"))
                seen[key.value] = key
        try:
            flattener.flatten_mapping(node)
        except yaml.MarkedYAMLError as exc:
            log.add(ConfigIssue(file, line_of(node) + offset, path,
                                f"invalid merge key: {exc.problem}"))
            node.value = [(k, v) for k, v in node.value if k.tag != _MERGE]
        for key, value in node.value:
            sub = f"{path}.{key.value}" if path else str(key.value)
            _prepare(value, sub, file, log, flattener, offset, done)
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            _prepare(item, f"{path}[{i}]", file, log, flattener, offset, done)


def _shift(node: Node, offset: int, done: set[int]) -> None:
    """Move a subtree's marks down by ``offset`` lines (for YAML embedded in a string)."""
    if id(node) in done:
        return
    done.add(id(node))
    mark = copy.copy(node.start_mark)
    mark.line += offset
    node.start_mark = mark
    if isinstance(node, MappingNode):
        for key, value in node.value:
            _shift(key, offset, done)
            _shift(value, offset, done)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            _shift(item, offset, done)


def merge_nodes(base: Node, over: Node) -> Node:
    """``over`` deep-merged onto ``base``: mappings merge key by key, anything else replaces.

    An explicit null in ``over`` removes the key. The result shares the original
    nodes, so their lines still point at where each value was written.
    """
    if not (isinstance(base, MappingNode) and isinstance(over, MappingNode)):
        return over
    pairs: dict[Any, tuple[Node, Node]] = {}
    for key, value in base.value:
        pairs[_key(key)] = (key, value)
    for key, value in over.value:
        k = _key(key)
        if k in pairs and not is_null(value):
            pairs[k] = (key, merge_nodes(pairs[k][1], value))
        else:
            pairs[k] = (key, value)
    merged = [(k, v) for k, v in pairs.values() if not is_null(v)]
    return MappingNode(over.tag, merged, over.start_mark, over.end_mark, over.flow_style)


def _key(node: Node) -> Any:
    return node.value if isinstance(node, ScalarNode) else id(node)


def kind_of(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return {_STR: "a string", _INT: "an integer", _FLOAT: "a number", _BOOL: "a boolean",
            _NULL: "null"}.get(node.tag, f"a value tagged {node.tag}")


def scalar_value(node: ScalarNode) -> str | int | float | bool | None:
    text = str(node.value)
    if node.tag == _BOOL:
        return text.lower() == "true"
    if node.tag == _INT:
        return int(text, 0) if text.lower().startswith(("0x", "0o", "0b")) else int(text)
    if node.tag == _FLOAT:
        low = text.lower()
        if low.endswith(".inf"):
            return -math.inf if low.startswith("-") else math.inf
        return math.nan if low == ".nan" else float(text)
    if node.tag == _NULL:
        return None
    return text


def aliases_of(node: Node, path: str, into: dict[int, str] | None = None) -> dict[int, str]:
    """``id(node) -> field path`` for every node under ``node`` (see ``Reader.aliases``)."""
    out: dict[int, str] = {} if into is None else into
    out.setdefault(id(node), path)
    if isinstance(node, MappingNode):
        for key, value in node.value:
            sub = f"{path}.{key.value}" if isinstance(key, ScalarNode) else path
            out.setdefault(id(key), sub)
            aliases_of(value, sub, out)
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            aliases_of(item, f"{path}[{i}]", out)
    return out
