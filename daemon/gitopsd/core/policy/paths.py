"""Path patterns that scope policy rules to parts of a repository.

A pattern without wildcards matches when it occurs anywhere in the path with
a leading slash added (``/prod/`` matches ``clusters/prod/apps/web.yaml``);
a pattern with ``*``, ``?`` or ``[`` is a shell-style glob over that same
slash-prefixed path, where ``*`` also crosses directories. Pure string rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

_GLOB_CHARS = frozenset("*?[")


def matches(pattern: str, path: str) -> bool:
    """Whether the repository-relative PATH falls under PATTERN."""
    subject = "/" + path.lstrip("/")
    if _GLOB_CHARS & set(pattern):
        return fnmatchcase(subject, pattern if pattern.startswith(("/", "*")) else "/" + pattern)
    return pattern in subject


def in_scope(path: str, include: Iterable[str], exclude: Iterable[str]) -> bool:
    """PATH is in scope when INCLUDE is empty or one of it matches, and no EXCLUDE matches."""
    patterns = tuple(include)
    if patterns and not any(matches(p, path) for p in patterns):
        return False
    return not any(matches(p, path) for p in exclude)
