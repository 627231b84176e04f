"""The Git edge: change detection, fetching and tree reading with pygit2.

``GitSource`` is the only entry point the engine needs; ``RepoStats`` are its
per-URL counters. Nothing outside this package imports pygit2.
"""

from gitopsd.edges.git.cache import RepoStats
from gitopsd.edges.git.source import GitSource

__all__ = ["GitSource", "RepoStats"]
