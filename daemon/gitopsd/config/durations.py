"""Durations written as Argo CD and Go write them: ``500ms``, ``30s``, ``1h30m``.

A plain number means seconds. Everything is returned as seconds (float), the
unit the model uses. This module parses text only; it must not know where the
text came from.
"""

from __future__ import annotations

import math
import re

__all__ = ["format_duration", "parse_duration"]

_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,  # micro sign
    "μs": 1e-6,  # greek mu
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_PLAIN = re.compile(rf"{_NUMBER}")
_PART = re.compile(rf"({_NUMBER})(ns|us|µs|μs|ms|s|m|h)")
_HINT = "expected a number followed by ms, s, m or h (e.g. 500ms, 30s, 3m, 1h30m)"


def parse_duration(text: str | float) -> float:
    """Seconds in ``text`` (``"1h30m"`` → 5400.0, ``"0.5s"`` → 0.5, ``"30"`` → 30.0).

    Raises ``ValueError`` with a one-line reason for anything else, including
    negative durations, which no setting accepts.
    """
    if isinstance(text, bool):
        raise ValueError("expected a duration, got a boolean")
    if isinstance(text, int | float):
        return _checked(float(text), str(text))
    s = text.strip()
    if not s:
        raise ValueError(f"empty duration; {_HINT}")
    if s[0] in "+-":
        if s[0] == "-" and len(s) > 1:
            raise ValueError(f"invalid duration {text!r}: durations cannot be negative")
        s = s[1:]
    if _PLAIN.fullmatch(s):
        return _checked(float(s), text)
    total = 0.0
    pos = 0
    while pos < len(s):
        m = _PART.match(s, pos)
        if m is None:
            raise ValueError(f"invalid duration {text!r}: {_HINT}")
        total += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        pos = m.end()
    if pos == 0:
        raise ValueError(f"invalid duration {text!r}: {_HINT}")
    return _checked(total, text)


def _checked(seconds: float, text: str) -> float:
    if not math.isfinite(seconds):
        raise ValueError(f"invalid duration {text!r}: not a finite number")
    if seconds < 0:
        raise ValueError(f"invalid duration {text!r}: durations cannot be negative")
    return seconds


def format_duration(seconds: float) -> str:
    """Shortest Go-style spelling of ``seconds`` (5400.0 → ``"1h30m"``, 0.5 → ``"500ms"``)."""
    if seconds == 0:
        return "0s"
    if seconds < 1:
        ms = seconds * 1000
        return f"{ms:g}ms"
    whole = int(seconds)
    frac = seconds - whole
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    out = ""
    if hours:
        out += f"{hours}h"
    if minutes:
        out += f"{minutes}m"
    if secs or frac:
        out += f"{secs + frac:g}s"
    return out
