"""The glob dialect of project rules, and the ``!`` that turns a pattern into a denial.

Argo CD matches AppProject fields with the gobwas glob library, so project
patterns here mean what they mean there: ``*`` is any run of characters
(without crossing a separator, when one is given), ``**`` any run at all,
``?`` one character, ``[abc]`` / ``[!abc]`` / ``[a-z]`` a class, and
``{a,b}`` alternatives. A pattern that is exactly ``*`` matches everything.
Matching is case-sensitive. Pure string rules; what a pattern is matched
against is ``gitopsd.core.policy.projects``' business.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["glob_match", "is_denial", "negatable_match"]


def is_denial(pattern: str) -> bool:
    """True for a pattern written with a leading ``!``."""
    return pattern.startswith("!")


def negatable_match(pattern: str, value: str, separator: str = "") -> bool:
    """``glob_match``, inverted for a ``!`` pattern (``!kube-*`` matches what ``kube-*`` does not)."""
    if is_denial(pattern):
        return not glob_match(pattern[1:], value, separator)
    return glob_match(pattern, value, separator)


def glob_match(pattern: str, value: str, separator: str = "") -> bool:
    """Whether VALUE matches the glob PATTERN; ``*`` does not cross SEPARATOR when one is given."""
    if pattern == "*":
        return True
    return _compile(pattern, separator).fullmatch(value) is not None


@lru_cache(maxsize=1024)
def _compile(pattern: str, separator: str) -> re.Pattern[str]:
    one = f"[^{re.escape(separator)}]" if separator else "."
    out: list[str] = []
    i, depth = 0, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                out.append(".*")
                i += 2
                continue
            out.append(f"{one}*")
        elif c == "?":
            out.append(one)
        elif c == "[":
            end = pattern.find("]", i + 2)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:end]
                negate = body.startswith("!")
                body = body[1:] if negate else body
                out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]")
                i = end + 1
                continue
        elif c == "{":
            depth += 1
            out.append("(?:")
        elif c == "}" and depth:
            depth -= 1
            out.append(")")
        elif c == "," and depth:
            out.append("|")
        elif c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        else:
            out.append(re.escape(c))
        i += 1
    if depth:  # an unclosed brace is a literal, as a malformed pattern must not match broadly
        return re.compile(re.escape(pattern))
    try:
        return re.compile("".join(out), re.DOTALL)
    except re.error:
        return re.compile(re.escape(pattern))
