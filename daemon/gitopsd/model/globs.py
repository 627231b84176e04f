"""Argo CD's glob patterns, as used by ``directory.include`` and ``directory.exclude``.

Argo CD matches these with gobwas/glob and no separators, so ``*`` (and
``**``) match any run of characters, ``/`` included; ``?`` matches one
character; ``[abc]``, ``[a-z]`` and ``[!abc]`` are character classes;
``{a,b}`` matches either alternative (alternatives may hold patterns and
nest); ``\\`` makes the next character literal. A pattern matches the whole
path. This module compiles a pattern into a regular expression; it must not
know which files a source holds (``core.directory`` decides that).
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["GlobError", "compile_glob", "glob_match"]


class GlobError(ValueError):
    """A pattern that cannot be compiled (an unclosed class or alternative, a dangling escape)."""


class _Parser:
    def __init__(self, pattern: str) -> None:
        self.text = pattern
        self.pos = 0

    def fail(self, message: str) -> GlobError:
        return GlobError(f"glob {self.text!r}: {message}")

    def sequence(self, depth: int) -> str:
        """Regex of the pattern up to the end, or (inside braces) up to ',' or '}'."""
        out: list[str] = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if depth and ch in ",}":
                return "".join(out)
            self.pos += 1
            if ch == "*":
                while self.pos < len(self.text) and self.text[self.pos] == "*":
                    self.pos += 1
                out.append(".*")
            elif ch == "?":
                out.append(".")
            elif ch == "[":
                out.append(self.char_class())
            elif ch == "{":
                out.append(self.alternatives(depth + 1))
            elif ch == "\\":
                if self.pos >= len(self.text):
                    raise self.fail("ends with an unescaped '\\'")
                out.append(re.escape(self.text[self.pos]))
                self.pos += 1
            else:
                out.append(re.escape(ch))
        if depth:
            raise self.fail("'{' is never closed")
        return "".join(out)

    def alternatives(self, depth: int) -> str:
        options = [self.sequence(depth)]
        while self.pos < len(self.text) and self.text[self.pos] == ",":
            self.pos += 1
            options.append(self.sequence(depth))
        if self.pos >= len(self.text) or self.text[self.pos] != "}":
            raise self.fail("'{' is never closed")
        self.pos += 1
        return "(?:" + "|".join(options) + ")"

    def char_class(self) -> str:
        end = self.text.find("]", self.pos + 1 if self.text[self.pos:self.pos + 1] in ("!", "]")
                             else self.pos)
        body = self.text[self.pos:end] if end >= 0 else ""
        if end < 0 or body in ("", "!"):
            raise self.fail("'[' is never closed")
        self.pos = end + 1
        negate = body.startswith("!")
        if negate:
            body = body[1:]
        parts: list[str] = []
        i = 0
        while i < len(body):
            if i + 2 < len(body) and body[i + 1] == "-":
                low, high = body[i], body[i + 2]
                if low > high:
                    raise self.fail(f"range '{low}-{high}' is reversed")
                parts.append(f"{re.escape(low)}-{re.escape(high)}")
                i += 3
            else:
                parts.append(re.escape(body[i]))
                i += 1
        return "[" + ("^" if negate else "") + "".join(parts) + "]"


@lru_cache(maxsize=256)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """PATTERN as a compiled regular expression matching whole strings; GlobError if invalid."""
    return re.compile(_Parser(pattern).sequence(0), re.DOTALL)


def glob_match(pattern: str, text: str) -> bool:
    """Whether TEXT matches PATTERN as a whole (Argo CD's ``glob.Match``)."""
    return compile_glob(pattern).fullmatch(text) is not None
