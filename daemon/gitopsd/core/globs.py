"""Glob patterns as Argo CD matches names in AppProjects (the gobwas/glob syntax).

``*`` matches any run of characters (across every separator unless
separators are given, then within one segment), ``?`` one character,
``[abc]``, ``[a-z]`` and ``[!abc]`` one character of (or not of) a class,
``{a,b}`` either alternative (alternatives may hold patterns), and ``\\``
makes the next character literal. Matching is case-sensitive and covers the
whole text. A pattern that does not compile matches nothing, as in Argo CD.
This module matches strings only; it must not know what the strings name.
"""

from __future__ import annotations

import functools
import re

__all__ = ["glob_match"]


class _Bad(ValueError):
    pass


def _translate(pattern: str, separators: str) -> str:
    out: list[str] = []
    depth = 0
    i = 0
    sep = re.escape(separators)
    any_char = f"[^{sep}]" if separators else "."
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 == len(pattern):
                raise _Bad("trailing backslash")
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if c == "*":
            out.append(f"{any_char}*")
        elif c == "?":
            out.append(any_char)
        elif c == "[":
            end = pattern.find("]", i + 2)
            if end < 0:
                raise _Bad("unclosed character class")
            body = pattern[i + 1:end]
            negate = body.startswith("!")
            body = body[1:] if negate else body
            if not body:
                raise _Bad("empty character class")
            cls = "".join(re.escape(ch) if ch != "-" else "-" for ch in body)
            out.append(f"[{'^' if negate else ''}{cls}]")
            i = end
        elif c == "{":
            depth += 1
            out.append("(?:")
        elif c == "}" and depth:
            depth -= 1
            out.append(")")
        elif c == "," and depth:
            out.append("|")
        else:
            out.append(re.escape(c))
        i += 1
    if depth:
        raise _Bad("unclosed alternative")
    return "".join(out)


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str, separators: str) -> re.Pattern[str] | None:
    try:
        return re.compile(_translate(pattern, separators), re.DOTALL)
    except (_Bad, re.error):
        return None


def glob_match(pattern: str, text: str, separators: str = "") -> bool:
    """Whether TEXT matches PATTERN as a whole; ``*`` and ``?`` do not cross SEPARATORS."""
    compiled = _compiled(pattern, separators)
    return compiled is not None and compiled.fullmatch(text) is not None
