"""Argo CD's glob patterns (the gobwas/glob syntax), for every place gitopsd matches names.

``directory.include``/``exclude``, AppProject fields, sync window selectors
and notification subscriptions all use this one dialect: ``*`` matches any run
of characters (within one segment when SEPARATORS are given; ``**`` crosses
them), ``?`` one character (not a separator), ``[abc]``, ``[a-z]`` and
``[!abc]`` are character classes, ``{a,b}`` matches either alternative
(alternatives may hold patterns and nest), and ``\\`` makes the next
character literal. A pattern matches the whole text, case-sensitively; one
that does not compile matches nothing, and ``*`` alone matches everything, as
in Argo CD. This module compiles patterns into regular expressions; it must
not know what the strings name.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["GlobError", "compile_glob", "glob_match"]


class GlobError(ValueError):
    """A pattern that cannot be compiled (an unclosed class or alternative, a dangling escape)."""


class _Parser:
    def __init__(self, pattern: str, separators: str = "") -> None:
        self.text = pattern
        self.pos = 0
        self.one = f"[^{re.escape(separators)}]" if separators else "."

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
                stars = 1
                while self.pos < len(self.text) and self.text[self.pos] == "*":
                    self.pos += 1
                    stars += 1
                out.append(".*" if stars > 1 else f"{self.one}*")
            elif ch == "?":
                out.append(self.one)
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


@lru_cache(maxsize=1024)
def compile_glob(pattern: str, separators: str = "") -> re.Pattern[str]:
    """PATTERN as a compiled regular expression matching whole strings; GlobError if invalid."""
    return re.compile(_Parser(pattern, separators).sequence(0), re.DOTALL)


def glob_match(pattern: str, text: str, separators: str = "") -> bool:
    """Whether TEXT matches PATTERN as a whole (Argo CD's ``glob.Match``); a PATTERN that is
    exactly ``*`` matches everything, separators or not, and an invalid one matches nothing."""
    if pattern == "*":
        return True
    try:
        return compile_glob(pattern, separators).fullmatch(text) is not None
    except GlobError:
        return False
