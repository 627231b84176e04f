"""Byte sizes written as Kubernetes writes quantities: ``4Mi``, ``512Ki``, ``16M``.

A plain integer means bytes. The binary suffixes (``Ki``, ``Mi``, ``Gi``) and
the decimal ones (``k``, ``M``, ``G``) are accepted, as in a container's memory
limit. This module parses text only; it must not know where the text came from.
"""

from __future__ import annotations

import re

__all__ = ["format_size", "parse_size"]

_UNITS = {"": 1, "k": 1000, "M": 1000**2, "G": 1000**3,
          "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}
_SIZE = re.compile(r"^\+?([0-9]+)(Ki|Mi|Gi|k|M|G)?$")
_HINT = "expected bytes, or a number followed by Ki, Mi, Gi, k, M or G (e.g. 4Mi)"


def parse_size(text: str | int) -> int:
    """Bytes in ``text`` (``"4Mi"`` → 4194304, ``"16M"`` → 16000000, ``1024`` → 1024).

    Raises ``ValueError`` with a one-line reason for anything else, including
    zero, which no limit accepts.
    """
    if isinstance(text, bool):
        raise ValueError("expected a size, got a boolean")
    if isinstance(text, int):
        value = text
    else:
        match = _SIZE.match(text.strip())
        if match is None:
            raise ValueError(_HINT)
        value = int(match[1]) * _UNITS[match[2] or ""]
    if value <= 0:
        raise ValueError("must be more than 0 bytes")
    return value


def format_size(size: int) -> str:
    """``size`` bytes in the largest binary unit that divides it (``4Mi``), else in bytes."""
    for unit in ("Gi", "Mi", "Ki"):
        if size >= _UNITS[unit] and size % _UNITS[unit] == 0:
            return f"{size // _UNITS[unit]}{unit}"
    return str(size)
