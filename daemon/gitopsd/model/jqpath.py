"""jq path expressions as used by ``ignoreDifferences.jqPathExpressions``.

Argo CD deletes what such an expression names (``del(EXPR)``) from both sides
before comparing. This module implements the part of jq that path
expressions for that purpose are written in, as a small language that always
terminates:

- ``.field``, ``."any key"``, ``.["any key"]``, ``.[2]`` (negative counts from
  the end), ``.[]`` (every element or value), each optionally followed by ``?``;
- ``|`` between steps;
- ``select(COND)``, where COND compares a relative path with a JSON literal by
  ``==`` or ``!=``, combined with ``and``, ``or`` and parentheses.

For example ``.spec.template.spec.containers[] | select(.name == "sidecar") | .image``.
Anything else is rejected when the fleet file is read, with the position of
the first unsupported character. A step that does not apply to a value (a
field of a list, an index past the end) yields nothing rather than an error,
as ``?`` would. Nothing here knows about Kubernetes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

Path = tuple[str | int, ...]
SUPPORTED = ('supported: .field, ."key", .["key"], .[n], .[], "|", '
             'select(.path == value) with ==, !=, and, or')
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


class JqPathError(ValueError):
    """A string is not a supported jq path expression."""


@dataclass(frozen=True)
class Field:
    name: str


@dataclass(frozen=True)
class Index:
    index: int


@dataclass(frozen=True)
class Each:
    pass


@dataclass(frozen=True)
class Select:
    test: Callable[[Any], bool]


Step = Field | Index | Each | Select


@dataclass(frozen=True)
class JqPath:
    """A parsed expression; ``paths`` finds what it names in a document."""

    source: str
    steps: tuple[Step, ...]

    def paths(self, doc: Any) -> list[Path]:
        current: list[tuple[Path, Any]] = [((), doc)]
        for step in self.steps:
            current = [out for path, value in current for out in _apply(step, path, value)]
        return [path for path, _ in current]


def _apply(step: Step, path: Path, value: Any) -> list[tuple[Path, Any]]:
    if isinstance(step, Field):
        if isinstance(value, Mapping) and step.name in value:
            return [((*path, step.name), value[step.name])]
        return []
    if isinstance(step, Index):
        if isinstance(value, list) and -len(value) <= step.index < len(value):
            i = step.index % len(value)
            return [((*path, i), value[i])]
        return []
    if isinstance(step, Each):
        if isinstance(value, Mapping):
            return [((*path, k), v) for k, v in value.items()]
        if isinstance(value, list):
            return [((*path, i), v) for i, v in enumerate(value)]
        return []
    return [(path, value)] if step.test(value) else []


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, what: str = "") -> JqPathError:
        rest = self.text[self.pos:self.pos + 20]
        where = f"at position {self.pos + 1} ({rest!r})" if rest else "at its end"
        return JqPathError(f"jq path expression {self.text!r}: {what or 'unsupported syntax'} "
                           f"{where}; {SUPPORTED}")

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self, token: str) -> bool:
        self.skip()
        return self.text.startswith(token, self.pos)

    def take(self, token: str) -> bool:
        if self.peek(token):
            self.pos += len(token)
            return True
        return False

    def word(self, word: str) -> bool:
        self.skip()
        m = _IDENT.match(self.text, self.pos)
        if m and m.group() == word:
            self.pos = m.end()
            return True
        return False

    def string(self) -> str:
        m = _STRING.match(self.text, self.pos)
        if not m:
            raise self.fail("expected a quoted string")
        self.pos = m.end()
        try:
            return str(json.loads(m.group()))
        except ValueError:
            raise self.fail("malformed string") from None

    def expression(self) -> tuple[Step, ...]:
        steps: list[Step] = []
        while True:
            if self.word("select"):
                if not self.take("("):
                    raise self.fail("expected '(' after select")
                test = self.condition()
                if not self.take(")"):
                    raise self.fail("expected ')'")
                steps.append(Select(test))
            else:
                steps.extend(self.path(allow_each=True))
            if not self.take("|"):
                break
        self.skip()
        if self.pos != len(self.text):
            raise self.fail()
        return tuple(steps)

    def path(self, *, allow_each: bool) -> list[Step]:
        """A path that starts with '.': ``.a.b[0]["c"][]`` (steps after the dot are optional)."""
        if not self.take("."):
            raise self.fail("expected '.'")
        steps: list[Step] = []
        first = True
        while True:
            if self.pos < len(self.text) and self.text[self.pos] == "[":
                steps.append(self.bracket(allow_each))
            elif first or self.text.startswith(".", self.pos):
                if not first:
                    self.pos += 1
                m = _IDENT.match(self.text, self.pos)
                if m:
                    steps.append(Field(m.group()))
                    self.pos = m.end()
                elif self.text.startswith('"', self.pos):
                    steps.append(Field(self.string()))
                elif not first:
                    raise self.fail("expected a field name after '.'")
                else:
                    first = False
                    continue
            else:
                break
            first = False
            if self.text.startswith("?", self.pos):
                self.pos += 1
        return steps

    def bracket(self, allow_each: bool) -> Step:
        self.pos += 1
        self.skip()
        step: Step
        if self.text.startswith("]", self.pos):
            if not allow_each:
                raise self.fail("'[]' is not supported inside select")
            step = Each()
        elif self.text.startswith('"', self.pos):
            step = Field(self.string())
        else:
            m = re.compile(r"-?[0-9]+").match(self.text, self.pos)
            if not m:
                raise self.fail("expected a number, a quoted key or ']'")
            step = Index(int(m.group()))
            self.pos = m.end()
        if not self.take("]"):
            raise self.fail("expected ']'")
        return step

    def condition(self) -> Callable[[Any], bool]:
        tests = [self.conjunction()]
        while self.word("or"):
            tests.append(self.conjunction())
        return tests[0] if len(tests) == 1 else (lambda v: any(t(v) for t in tests))

    def conjunction(self) -> Callable[[Any], bool]:
        tests = [self.comparison()]
        while self.word("and"):
            tests.append(self.comparison())
        return tests[0] if len(tests) == 1 else (lambda v: all(t(v) for t in tests))

    def comparison(self) -> Callable[[Any], bool]:
        if self.take("("):
            inner = self.condition()
            if not self.take(")"):
                raise self.fail("expected ')'")
            return inner
        lhs = JqPath("", tuple(self.path(allow_each=False)))
        if self.take("=="):
            equal = True
        elif self.take("!="):
            equal = False
        else:
            raise self.fail("expected '==' or '!='")
        literal = self.literal()

        def test(value: Any) -> bool:
            found = [_lookup(value, p) for p in lhs.paths(value)] or [None]
            return any(_same(v, literal) is equal for v in found)
        return test

    def literal(self) -> Any:
        self.skip()
        if self.text.startswith('"', self.pos):
            return self.string()
        for word, value in (("true", True), ("false", False), ("null", None)):
            if self.word(word):
                return value
        m = _NUMBER.match(self.text, self.pos)
        if not m:
            raise self.fail("expected a JSON literal")
        self.pos = m.end()
        number = json.loads(m.group())
        return float(number) if isinstance(number, float) else int(number)


def _same(a: Any, b: Any) -> bool:
    """jq's equality: numbers by value (1 == 1.0), booleans only with booleans."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and bool(a == b)


def _lookup(doc: Any, path: Path) -> Any:
    for part in path:
        doc = doc[part]
    return doc


@lru_cache(maxsize=512)
def parse_jq_path(text: str) -> JqPath:
    """Parse TEXT, or raise JqPathError naming the first unsupported part."""
    steps = _Parser(text).expression()
    if not any(isinstance(s, (Field, Index, Each)) for s in steps):
        raise JqPathError(f"jq path expression {text!r} names the whole object, not a field in it")
    return JqPath(text, steps)


def remove_paths(doc: Any, paths: Sequence[Path]) -> Any:
    """DOC without the values at PATHS (list elements from the last, so indexes stay valid)."""
    def order(path: Path) -> tuple[tuple[int, int, str], ...]:
        return tuple((1, p, "") if isinstance(p, int) else (0, 0, p) for p in path)

    for path in sorted(set(paths), key=order, reverse=True):
        if not path:
            continue
        parent = doc
        try:
            for part in path[:-1]:
                parent = parent[part]
            del parent[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue
    return doc
