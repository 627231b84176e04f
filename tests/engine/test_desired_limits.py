"""The desired side under huge sources: size limits from the fleet's settings, parsing off the loop.

``DesiredState`` runs against the in-memory Git of ``fakefleet``; a fake
renderer stands for Kustomize where a render output is needed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gitopsd.engine import desired as desired_module
from gitopsd.engine.desired import DesiredState
from gitopsd.errors import SourceTooLarge
from gitopsd.model import Fleet, HelmParams, Repository, Settings
from tests.engine.fakefleet import FakeGit, NoRenderer, configmap, fleet_on


def _fleet(**settings: Any) -> Fleet:
    return dataclasses.replace(fleet_on(), settings=Settings(**settings))


class TreeGit(FakeGit):
    """FakeGit that can also materialise a commit, as an empty directory."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    @contextlib.asynccontextmanager
    async def _materialise(self, path: str) -> AsyncIterator[Path]:
        target = self.root / path
        target.mkdir(parents=True, exist_ok=True)
        yield target

    def materialise(self, repo: Repository, sha: str,
                    path: str = ".") -> contextlib.AbstractAsyncContextManager[Path]:
        return self._materialise(path)


class Flooding:
    """A renderer whose output is always past the limit it is given."""

    def __init__(self) -> None:
        self.limits: list[int] = []

    async def render(self, root: Path, path: str, *, release_name: str, namespace: str,
                     helm: HelmParams, kube_version: str, cache_key: str,
                     max_output: int = 0, ref_files: Any = None) -> str:
        self.limits.append(max_output)
        raise SourceTooLarge(f"kustomize build output for {path!r} exceeded {max_output} bytes")


class Echo:
    """A renderer whose output is one ConfigMap."""

    async def render(self, root: Path, path: str, *, release_name: str, namespace: str,
                     helm: HelmParams, kube_version: str, cache_key: str,
                     max_output: int = 0, ref_files: Any = None) -> str:
        return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: rendered}\n"


@pytest.mark.asyncio
async def test_a_manifest_file_past_the_limit_fails_naming_repo_revision_path_and_setting() -> None:
    """A file larger than settings.maxManifestFileSize fails the application, named in full."""
    git = FakeGit()
    sha = git.commit({"app/small.yaml": configmap("small", {"a": "1"}),
                      "app/huge.yaml": configmap("huge", {"blob": "x" * 4096})})
    fleet = _fleet(max_manifest_file_size=1024)
    desired = DesiredState(fleet, git, NoRenderer())
    instance = fleet.instances[0]
    with pytest.raises(SourceTooLarge) as info:
        await desired.manifests(instance, await desired.resolve(instance))
    message = str(info.value)
    assert message.startswith(f"env@{sha[:12]}:app/huge.yaml: the file is ")
    assert message.endswith("over the limit of 1024 bytes (settings.maxManifestFileSize: 1Ki)")


@pytest.mark.asyncio
async def test_a_large_file_that_is_not_a_manifest_is_no_reason_to_fail() -> None:
    """Only manifest files (.yaml, .yml, .json) are held to the per-file limit."""
    git = FakeGit()
    git.commit({"app/cm.yaml": configmap("small", {"a": "1"}), "app/logo.png": "p" * 4096})
    fleet = _fleet(max_manifest_file_size=1024)
    desired = DesiredState(fleet, git, NoRenderer())
    instance = fleet.instances[0]
    manifests = await desired.manifests(instance, await desired.resolve(instance))
    assert [m.key.name for m in manifests] == ["small"]


@pytest.mark.asyncio
async def test_a_plain_directory_past_the_render_limit_fails_before_parsing() -> None:
    """Manifest files that together exceed settings.maxRenderOutputSize fail the application."""
    git = FakeGit()
    sha = git.commit({f"app/cm{i}.yaml": configmap(f"cm{i}", {"blob": "y" * 900})
                      for i in range(4)})
    fleet = _fleet(max_manifest_file_size=1024, max_render_output_size=2048)
    desired = DesiredState(fleet, git, NoRenderer())
    instance = fleet.instances[0]
    with pytest.raises(SourceTooLarge) as info:
        await desired.manifests(instance, await desired.resolve(instance))
    message = str(info.value)
    assert message.startswith(f"env@{sha[:12]}:app: the manifest files total ")
    assert message.endswith("over the limit of 2048 bytes (settings.maxRenderOutputSize: 2Ki)")


@pytest.mark.asyncio
async def test_a_render_output_past_the_limit_fails_naming_repo_revision_path_and_setting(
        tmp_path: Path) -> None:
    """The renderer is given settings.maxRenderOutputSize, and its refusal names the source."""
    git = TreeGit(tmp_path)
    sha = git.commit({"app/kustomization.yaml": "resources: [cm.yaml]\n",
                      "app/cm.yaml": configmap("cm", {"a": "1"})})
    fleet = _fleet(max_render_output_size=3 * 1024 * 1024)
    renderer = Flooding()
    desired = DesiredState(fleet, git, renderer)
    instance = fleet.instances[0]
    with pytest.raises(SourceTooLarge) as info:
        await desired.manifests(instance, await desired.resolve(instance))
    assert renderer.limits == [3 * 1024 * 1024]
    assert str(info.value) == (
        f"env@{sha[:12]}:app: kustomize build output for 'app' exceeded 3145728 bytes "
        "(settings.maxRenderOutputSize: 3Mi)")


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["plain", "rendered"])
async def test_parsing_runs_on_a_worker_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               kind: str) -> None:
    """Manifests are parsed away from the event loop's thread, plain files and render output alike."""
    threads: list[threading.Thread] = []
    for name in ("parse_files", "parse_stream"):
        real = getattr(desired_module, name)

        def spy(*args: Any, _real: Any = real, **kwargs: Any) -> Any:
            threads.append(threading.current_thread())
            return _real(*args, **kwargs)

        monkeypatch.setattr(desired_module, name, spy)
    git = TreeGit(tmp_path)
    files: dict[str, Any] = {"app/cm.yaml": configmap("cm", {"a": "1"})}
    if kind == "rendered":
        files["app/kustomization.yaml"] = "resources: [cm.yaml]\n"
    git.commit(files)
    fleet = fleet_on()
    desired = DesiredState(fleet, git, Echo())
    instance = fleet.instances[0]
    manifests = await desired.manifests(instance, await desired.resolve(instance))
    assert [m.key.name for m in manifests] == ["rendered" if kind == "rendered" else "cm"]
    assert len(threads) == 1
    assert threads[0] is not threading.current_thread()
