"""Packaged Helm charts as an application's source: resolve a version, unpack it to render.

``resolve`` asks the chart repository (or registry) for the chart at an exact
version or a range through ``ChartFetcher``, so a newer version matching the
range is found at the next pass; the revision is ``<version>@sha256:<digest>``
of the package. ``materialise`` unpacks the cached package into a private
temporary directory, refusing links and paths that leave it. This module
must not render.
"""

from __future__ import annotations

import asyncio
import shutil
import tarfile
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from gitopsd.edges import binaries
from gitopsd.edges.render.charts import ChartFetcher, PulledChart, describe
from gitopsd.errors import RenderError
from gitopsd.model import Revision
from gitopsd.model.helmrepos import HelmRepository


class ChartSource:
    """The engine's ChartPort over a ChartFetcher; ``helm`` None finds the binary when needed."""

    def __init__(self, fetcher: ChartFetcher, *, helm: str | None = None) -> None:
        self.fetcher = fetcher
        self.helm = helm

    def _binary(self) -> str:
        if self.helm:
            return self.helm
        try:
            return binaries.find("helm")
        except binaries.BinaryNotFound as exc:
            raise RenderError(f"helm is needed to fetch charts: {exc}") from None

    async def resolve(self, repo: HelmRepository, chart: str, version: str) -> Revision:
        pulled = await self.fetcher.pull(self._binary(), repo, chart, version)
        return Revision(repo=repo.name, ref=version or "*", sha=f"{pulled.version}@{pulled.digest}")

    @asynccontextmanager
    async def materialise(self, repo: HelmRepository, chart: str,
                          revision: Revision) -> AsyncIterator[Path]:
        version, _, digest = revision.sha.partition("@")
        pulled = self.fetcher.cached(repo, chart, version)
        if pulled is None or pulled.digest != digest:
            raise RenderError(f"{describe(repo)}: chart {chart} {version} with digest {digest} "
                              "is no longer in the cache")
        work = Path(tempfile.mkdtemp(prefix="gitopsd-chart-"))
        try:
            await asyncio.to_thread(_unpack, pulled, work)
            if not (work / chart / "Chart.yaml").is_file():
                raise RenderError(f"{describe(repo)}: the package of {chart} {version} holds no "
                                  f"{chart}/Chart.yaml")
            yield work
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _unpack(pulled: PulledChart, into: Path) -> None:
    try:
        with tarfile.open(pulled.path, "r:gz") as archive:
            archive.extractall(into, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise RenderError(f"chart package {pulled.name}-{pulled.version} cannot be unpacked: "
                          f"{exc}") from None
