"""The ``!`` that turns a project's glob pattern into a denial, as in Argo CD's AppProjects.

The patterns themselves are ``gitopsd.model.globs``' (Argo CD's gobwas
dialect). Pure string rules; what a pattern is matched against is
``gitopsd.core.policy.projects``' business.
"""

from __future__ import annotations

from gitopsd.model.globs import glob_match

__all__ = ["is_denial", "negatable_match"]


def is_denial(pattern: str) -> bool:
    """True for a pattern written with a leading ``!``."""
    return pattern.startswith("!")


def negatable_match(pattern: str, value: str, separator: str = "") -> bool:
    """``glob_match``, inverted for a ``!`` pattern (``!kube-*`` matches what ``kube-*`` does not)."""
    if is_denial(pattern):
        return not glob_match(pattern[1:], value, separator)
    return glob_match(pattern, value, separator)
