"""A YAML loader that keeps scalars as their author wrote them (YAML 1.2 core schema).

PyYAML follows YAML 1.1: ``on``/``yes``/``no`` become booleans, ``2024-01-01``
becomes a date, ``0777`` an octal number and ``1:30`` a base-60 integer. Applied
to Kubernetes manifests that silently changes what reaches the cluster, so this
loader resolves plain scalars by the YAML 1.2 core schema instead (only
``true``/``false`` are booleans, dates stay strings), except that a leading
zero still means octal (``defaultMode: 0644``), as kubectl reads it. It refuses
tags it does not know, and reports duplicate mapping keys. Documents come back with the line on
which each starts so that callers can point users at their files.

This module only turns text into plain Python values; it knows nothing about
Kubernetes and must not grow rules about objects.
"""

from __future__ import annotations

import math
import re
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import yaml
from yaml.composer import Composer
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.scanner import Scanner

_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_MERGE = "tag:yaml.org,2002:merge"

_INT_RE = re.compile(
    r"^[-+]?(?:0|[1-9][0-9]*|0[0-7]+|0o[0-7]+|0x[0-9a-fA-F]+|0b[01]+)$")
_FLOAT_RE = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")


class YamlError(ValueError):
    """Text is not valid YAML; ``line`` is 1-based, ``problem`` never quotes the text."""

    def __init__(self, problem: str, line: int) -> None:
        super().__init__(f"line {line}: {problem}" if line else problem)
        self.problem = problem
        self.line = line


def _construct_int(loader: yaml.constructor.SafeConstructor, node: ScalarNode) -> int:
    text = loader.construct_scalar(node)
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    if digits[:2] in ("0o", "0x", "0b"):
        return sign * int(digits, 0)
    if len(digits) > 1 and digits.startswith("0"):  # 0644: octal, as kubectl reads it
        return sign * int(digits, 8)
    return sign * int(digits, 10)


def _construct_float(loader: yaml.constructor.SafeConstructor, node: ScalarNode) -> float:
    text = loader.construct_scalar(node).lower()
    if text.endswith(".inf"):
        return -math.inf if text.startswith("-") else math.inf
    if text == ".nan":
        return math.nan
    return float(text)


def _construct_unknown(loader: yaml.constructor.SafeConstructor, node: Node) -> Any:
    raise yaml.constructor.ConstructorError(
        None, None, f"unsupported tag {node.tag!r}", node.start_mark)


class _CoreResolver(yaml.resolver.BaseResolver):
    """Implicit scalar types of the YAML 1.2 core schema, plus ``<<`` merge keys."""

    yaml_implicit_resolvers: dict[Any, Any] = {}  # noqa: RUF012 - PyYAML registry


_CoreResolver.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_CoreResolver.add_implicit_resolver(_INT, _INT_RE, list("-+0123456789"))
_CoreResolver.add_implicit_resolver(_FLOAT, _FLOAT_RE, list("-+0123456789."))
_CoreResolver.add_implicit_resolver(
    _NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_CoreResolver.add_implicit_resolver(_MERGE, re.compile(r"^(?:<<)$"), ["<"])

_SAFE = yaml.constructor.SafeConstructor.yaml_constructors


class _StrictConstructor(yaml.constructor.SafeConstructor):
    """Builds str, int, float, bool, None, dict and list only; rejects duplicate keys."""

    yaml_constructors: ClassVar[dict[str | None, Any]] = {
        _STR: _SAFE[_STR],
        _MERGE: _SAFE[_STR],  # "<<" outside a key position is text
        _NULL: _SAFE[_NULL],
        _BOOL: _SAFE[_BOOL],
        "tag:yaml.org,2002:map": _SAFE["tag:yaml.org,2002:map"],
        "tag:yaml.org,2002:seq": _SAFE["tag:yaml.org,2002:seq"],
        _INT: _construct_int,
        _FLOAT: _construct_float,
        None: _construct_unknown,
    }

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag != _MERGE:
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None,
                        f"duplicate key {key_node.value!r} (first on line {seen[key_node.value]})",
                        key_node.start_mark)
                seen[key_node.value] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


class _PyLoader(Reader, Scanner, Parser, Composer, _StrictConstructor, _CoreResolver):
    """Pure-Python parser stack, used when PyYAML was built without libyaml."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _StrictConstructor.__init__(self)
        _CoreResolver.__init__(self)


_Loader: type[_PyLoader] = _PyLoader
try:
    from yaml._yaml import CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    pass
else:
    class _CLoader(CParser, _StrictConstructor, _CoreResolver):
        """libyaml parser with the strict constructor and the 1.2 resolver."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            _StrictConstructor.__init__(self)
            _CoreResolver.__init__(self)

    _Loader = _CLoader  # type: ignore[assignment]


@dataclass(frozen=True)
class Document:
    """One YAML document: its value and the 1-based lines where it starts and ends.

    ``item_lines`` gives, when the value is a mapping with an ``items`` list,
    the start line of each item (for ``kind: List`` documents).
    """

    value: Any
    line: int
    end_line: int
    item_lines: tuple[int, ...] = ()


def _item_lines(node: Node) -> tuple[int, ...]:
    if not isinstance(node, MappingNode):
        return ()
    for key_node, value_node in node.value:
        if isinstance(key_node, ScalarNode) and key_node.value == "items" \
                and isinstance(value_node, SequenceNode):
            return tuple(item.start_mark.line + 1 for item in value_node.value)
    return ()


def _marked(exc: yaml.MarkedYAMLError) -> YamlError:
    """The error at the line where its cause is: where an unclosed construct starts when the
    parser only noticed at the end of the stream, else where the parser stopped."""
    problem = exc.problem or exc.context or "invalid YAML"
    at = exc.problem_mark.line + 1 if exc.problem_mark is not None else 0
    start = exc.context_mark.line + 1 if exc.context_mark is not None else 0
    if not (exc.context and start and start != at):
        return YamlError(problem, at or start)
    subject = exc.context.removeprefix("while ").split(" ", 1)[-1]  # "a quoted scalar"
    if "end of stream" in problem:
        return YamlError(f"{subject} that starts here is never closed ({problem} on line {at})",
                         start)
    return YamlError(f"{problem} (in {subject} that starts on line {start})", at)


def _error(exc: yaml.YAMLError, text: str) -> YamlError:
    if isinstance(exc, yaml.MarkedYAMLError):
        return _marked(exc)
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1 if exc.position >= 0 else 0
        return YamlError(f"character U+{exc.character:04X} is not allowed in YAML", line)
    return YamlError("invalid YAML", 0)


def load_documents(text: str) -> Iterator[Document]:
    """Yield every document of ``text``, empty ones included (their value is None).

    Raises ``YamlError`` at the first syntax or type error; the message carries
    the line and the kind of problem but never a copy of the offending text.
    """
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # pragma: no cover - check_node() guarantees a node
                break
            value = loader.construct_document(node)
            yield Document(value, node.start_mark.line + 1, node.end_mark.line + 1,
                           _item_lines(node))
    except yaml.YAMLError as exc:
        raise _error(exc, text) from None
    finally:
        loader.dispose()
