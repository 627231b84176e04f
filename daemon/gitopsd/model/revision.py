"""A resolved source revision."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Revision:
    """A ref of a repository resolved to a full commit SHA."""

    repo: str
    ref: str
    sha: str

    def __str__(self) -> str:
        return f"{self.repo}@{self.ref} ({self.sha[:12]})"
