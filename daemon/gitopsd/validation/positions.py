"""Where things are in a YAML file: the line of every field of every document.

``core.manifests`` reports the line on which each object starts; schema and
policy findings want the line of the offending field. This module composes
the same text into PyYAML nodes (no values are constructed) and records, per
object, a map from field path to line, keyed by the object's start line, the
same line ``core.manifests`` gives. It never fails: text it cannot compose
simply has no positions.
"""

from __future__ import annotations

from collections.abc import Mapping

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from gitopsd.core.policy import FieldPath

_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Lines = Mapping[FieldPath, int]


def _lines(node: Node, path: FieldPath, out: dict[FieldPath, int], depth: int = 0) -> None:
    if depth > 100:
        return
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if not isinstance(key, ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                continue
            child = (*path, key.value)
            out.setdefault(child, key.start_mark.line + 1)
            _lines(value, child, out, depth + 1)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            out.setdefault(child, item.start_mark.line + 1)
            _lines(item, child, out, depth + 1)


def object_lines(text: str) -> dict[int, Lines]:
    """For each object in TEXT, keyed by its start line: field path -> 1-based line.

    Objects are the documents themselves and, for documents with an ``items``
    list (``kind: List``), each item, keyed by the item's own start line.
    """
    found: dict[int, Lines] = {}
    try:
        for root in yaml.compose_all(text, Loader=_Loader):
            if root is None:
                continue
            start = root.start_mark.line + 1
            lines: dict[FieldPath, int] = {}
            _lines(root, (), lines)
            found.setdefault(start, lines)
            if isinstance(root, MappingNode):
                for key, value in root.value:
                    if isinstance(key, ScalarNode) and key.value == "items" \
                            and isinstance(value, SequenceNode):
                        for item in value.value:
                            item_lines: dict[FieldPath, int] = {}
                            _lines(item, (), item_lines)
                            found.setdefault(item.start_mark.line + 1, item_lines)
    except yaml.YAMLError:
        pass
    return found
