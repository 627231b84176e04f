"""Per-cluster API discovery: which path serves a given apiVersion and kind.

Cached per group/version; a miss (a CRD not installed yet) is remembered until
``invalidate`` is called for that group, so lookups never trigger a storm of
rediscovery. It does not decide anything about objects, only where they live.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gitopsd.edges.kube.client import KubeClient
from gitopsd.errors import UnknownKind


@dataclass(frozen=True)
class ResourceInfo:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def collection(self, namespace: str = "") -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"

    def path(self, name: str, namespace: str = "") -> str:
        return f"{self.collection(namespace)}/{name}"


class Discovery:
    def __init__(self, client: KubeClient) -> None:
        self._client = client
        self._by_gv: dict[str, dict[str, ResourceInfo] | None] = {}

    async def _load(self, api_version: str) -> dict[str, ResourceInfo] | None:
        if api_version in self._by_gv:
            return self._by_gv[api_version]
        group, _, version = api_version.rpartition("/")
        path = f"/apis/{api_version}" if group else f"/api/{api_version}"
        status, body = await self._client.request("GET", path, ok=(404, 503))
        kinds: dict[str, ResourceInfo] | None = None
        if status == 200 and isinstance(body, dict):
            kinds = {}
            for res in body.get("resources", []):
                if "/" in res.get("name", ""):
                    continue  # subresources
                kinds[res["kind"]] = ResourceInfo(group, version, res["kind"], res["name"],
                                                  bool(res.get("namespaced")))
        self._by_gv[api_version] = kinds
        return kinds

    async def find(self, api_version: str, kind: str) -> ResourceInfo | None:
        kinds = await self._load(api_version)
        return (kinds or {}).get(kind)

    async def resolve(self, api_version: str, kind: str) -> ResourceInfo:
        info = await self.find(api_version, kind)
        if info is None:
            raise UnknownKind(f"cluster {self._client.name} serves no {kind} in {api_version}",
                              status=404, reason="NotFound")
        return info

    def invalidate(self, group: str | None = None) -> None:
        """Forget cached answers for GROUP (all groups when None)."""
        if group is None:
            self._by_gv.clear()
            return
        for gv in list(self._by_gv):
            if gv.rpartition("/")[0] == group:
                del self._by_gv[gv]

    def known(self) -> dict[str, Any]:
        return {gv: sorted(k) for gv, k in self._by_gv.items() if k}
