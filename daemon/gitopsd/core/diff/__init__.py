"""Desired against live: normalisation, the object diff, drift, Secret masking.

Pure functions over plain JSON-like trees; the engine brings the server-side
apply dry-run results and live objects. Nothing here talks to a cluster, and
no text produced here ever contains a Secret value.
"""

from gitopsd.core.diff.compare import DiffState, ObjectDiff, diff_objects, drifted, render
from gitopsd.core.diff.normalize import MASK, is_secret, masked, normalize, rules_for

__all__ = [
    "MASK",
    "DiffState",
    "ObjectDiff",
    "diff_objects",
    "drifted",
    "is_secret",
    "masked",
    "normalize",
    "render",
    "rules_for",
]
