"""Identity and content of Kubernetes objects as gitopsd sees them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gitopsd.model import objects


@dataclass(frozen=True, order=True)
class ResourceKey:
    """Identity of an object: API group (no version), kind, namespace, name.

    Cluster-scoped objects have an empty namespace; the core group is "".
    """

    group: str
    kind: str
    namespace: str
    name: str

    @property
    def group_kind(self) -> str:
        """``group/kind`` with an empty group for the core API (``/ConfigMap``)."""
        return f"{self.group}/{self.kind}"

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind}{'.' + self.group if self.group else ''} {where}"

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ResourceKey:
        """Key of a parsed object (``apiVersion``, ``kind``, ``metadata``)."""
        api_version = str(obj.get("apiVersion", ""))
        group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
        return cls(group, str(obj.get("kind", "")), objects.namespace(obj), objects.name(obj))


@dataclass(frozen=True)
class SourceLocation:
    """Where a desired object came from: repo, revision, file and line."""

    repo: str = ""
    revision: str = ""
    path: str = ""
    line: int = 0
    decrypted: bool = False  # the text it was read from held SOPS-decrypted content

    def __str__(self) -> str:
        parts = [p for p in (self.repo, self.revision[:12]) if p]
        where = "@".join(parts)
        if self.path:
            where = f"{where}:{self.path}" if where else self.path
            if self.line:
                where += f":{self.line}"
        return where


@dataclass(frozen=True)
class Manifest:
    """One desired object: its key, its full body and where it came from."""

    key: ResourceKey
    body: Mapping[str, Any]
    source: SourceLocation = field(default_factory=SourceLocation, compare=False)

    @property
    def api_version(self) -> str:
        return str(self.body.get("apiVersion", ""))

    @property
    def annotations(self) -> Mapping[str, str]:
        return objects.annotations(self.body)

    @property
    def labels(self) -> Mapping[str, str]:
        return objects.labels(self.body)
