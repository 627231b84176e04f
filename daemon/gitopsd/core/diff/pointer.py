"""JSON Pointers (RFC 6901) as used by ``ignoreDifferences.jsonPointers``.

Only what diffing needs: parse a pointer and remove the value it names from a
plain JSON-like tree. Nothing here knows about Kubernetes.
"""

from __future__ import annotations

from typing import Any


class PointerError(ValueError):
    """A string is not a valid JSON Pointer."""


def parse_pointer(pointer: str) -> tuple[str, ...]:
    """Split a pointer into its unescaped reference tokens (``""`` is the whole document)."""
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise PointerError(f"JSON pointer {pointer!r} must start with '/'")
    tokens = pointer[1:].split("/")
    for token in tokens:
        rest = token.replace("~0", "").replace("~1", "")
        if "~" in rest:
            raise PointerError(f"JSON pointer {pointer!r} has an invalid '~' escape")
    return tuple(t.replace("~1", "/").replace("~0", "~") for t in tokens)


def _index(token: str, length: int) -> int | None:
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        return None
    index = int(token)
    return index if index < length else None


def remove_pointer(doc: Any, tokens: tuple[str, ...]) -> Any:
    """Remove what ``tokens`` names from ``doc`` in place; return the document.

    A pointer to nothing is ignored. The empty pointer names the whole document,
    which then becomes None.
    """
    if not tokens:
        return None
    parent = doc
    for token in tokens[:-1]:
        if isinstance(parent, dict):
            if token not in parent:
                return doc
            parent = parent[token]
        elif isinstance(parent, list):
            index = _index(token, len(parent))
            if index is None:
                return doc
            parent = parent[index]
        else:
            return doc
    last = tokens[-1]
    if isinstance(parent, dict):
        parent.pop(last, None)
    elif isinstance(parent, list):
        index = _index(last, len(parent))
        if index is not None:
            del parent[index]
    return doc
