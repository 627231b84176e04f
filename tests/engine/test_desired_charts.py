"""Chart sources on the desired side: resolved through the chart port, never through Git, and
rendered once per chart version and digest."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gitopsd.engine.desired import DesiredState
from gitopsd.model import AppInstance, Fleet, HelmParams, Revision, Source
from gitopsd.model.helmrepos import HelmRepository
from tests.engine.fakefleet import FakeGit, fleet_on

REPO = HelmRepository("charts", "https://charts.example.com")


class FakeCharts:
    """A chart port whose newest matching version is whatever ``version`` says."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.version = "1.0.0"
        self.asked: list[tuple[str, str, str]] = []

    async def resolve(self, repo: HelmRepository, chart: str, version: str) -> Revision:
        self.asked.append((repo.name, chart, version))
        return Revision(repo.name, version, f"{self.version}@sha256:{self.version}")

    @contextlib.asynccontextmanager
    async def _open(self, chart: str) -> AsyncIterator[Path]:
        (self.root / chart).mkdir(parents=True, exist_ok=True)
        yield self.root

    def materialise(self, repo: HelmRepository, chart: str,
                    revision: Revision) -> contextlib.AbstractAsyncContextManager[Path]:
        return self._open(chart)


class Recording:
    """A renderer that records what it was asked and answers one ConfigMap."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def render(self, root: Path, path: str, *, release_name: str, namespace: str,
                     helm: HelmParams, kube_version: str, cache_key: str,
                     max_output: int = 0, ref_files: Any = None) -> str:
        self.calls.append({"root": root, "path": path, "release": release_name,
                           "cache_key": cache_key})
        return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-chart}\n"


def _chart_fleet() -> tuple[Fleet, AppInstance]:
    base = fleet_on()
    source = Source(repo="charts", target_revision="^1.0.0", chart="web")
    instance = dataclasses.replace(base.instances[0], source=source)
    app = dataclasses.replace(base.application(instance.app), source=source)
    fleet = dataclasses.replace(base, applications=(app,), instances=(instance,),
                                helm_repositories=(REPO,))
    return fleet, instance


@pytest.mark.asyncio
async def test_a_chart_source_resolves_through_the_chart_port_and_renders_the_chart(
        tmp_path: Path) -> None:
    """The range goes to the chart port, Git is never asked, and the chart renders as itself."""
    fleet, instance = _chart_fleet()
    git, charts, renderer = FakeGit(), FakeCharts(tmp_path), Recording()
    desired = DesiredState(fleet, git, renderer, charts=charts)
    revision = await desired.resolve(instance)
    manifests = await desired.manifests(instance, revision)
    assert charts.asked == [("charts", "web", "^1.0.0")]
    assert revision.sha == "1.0.0@sha256:1.0.0"
    assert [m.key.name for m in manifests] == ["from-chart"]
    assert renderer.calls == [{"root": tmp_path, "path": "web", "release": instance.app,
                               "cache_key": f"chart:{REPO.url}/web@1.0.0@sha256:1.0.0"}]
    assert git.ensured == []


@pytest.mark.asyncio
async def test_a_new_chart_version_renders_again_and_the_same_one_does_not(tmp_path: Path) -> None:
    """The render is cached per chart version and digest: a new version is rendered anew."""
    fleet, instance = _chart_fleet()
    charts, renderer = FakeCharts(tmp_path), Recording()
    desired = DesiredState(fleet, FakeGit(), renderer, charts=charts)
    await desired.manifests(instance, await desired.resolve(instance))
    await desired.manifests(instance, await desired.resolve(instance))
    charts.version = "1.1.0"
    await desired.manifests(instance, await desired.resolve(instance))
    assert [c["cache_key"] for c in renderer.calls] == [
        f"chart:{REPO.url}/web@1.0.0@sha256:1.0.0", f"chart:{REPO.url}/web@1.1.0@sha256:1.1.0"]
