"""Completes a chart's ``charts/`` directory from its declared dependencies, as
``helm dependency build`` does.

Chart.yaml's ``dependencies`` (or a v1 chart's requirements.yaml) are read;
a dependency already in ``charts/`` (a directory or a ``<name>-*.tgz``) is
kept. The others are pulled through ``ChartFetcher`` at the version Chart.lock
pins when there is one, else at the version (or range) Chart.yaml asks for;
``file://`` dependencies are copied from inside the source tree. The chart is
completed in a private copy, never in the materialised tree. A dependency's
``repository`` is matched against the fleet's ``helmRepositories`` (by URL,
or by name as ``@name`` / ``alias:name``) for credentials; an unmatched URL
is pulled anonymously. This module must not render anything.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gitopsd.edges.render.charts import ChartFetcher
from gitopsd.errors import RenderError
from gitopsd.model.helmrepos import HelmRepository, find_helm_repository


@dataclass(frozen=True)
class Dependency:
    name: str
    version: str
    repository: str


def _load(path: Path, rel: str) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RenderError(f"cannot read {path.name} of helm chart {rel!r}: "
                          f"{type(exc).__name__}") from None


def dependencies(chart: Path, rel: str) -> list[Dependency]:
    """The dependencies CHART declares, at the versions its lock file pins where it has one."""
    meta = _load(chart / "Chart.yaml", rel) or {}
    listed = meta.get("dependencies") if isinstance(meta, Mapping) else None
    lock_file = "Chart.lock"
    if not listed and (chart / "requirements.yaml").is_file():
        listed = (_load(chart / "requirements.yaml", rel) or {}).get("dependencies")
        lock_file = "requirements.lock"
    if not listed:
        return []
    pinned: dict[tuple[str, str], str] = {}
    if (chart / lock_file).is_file():
        lock = _load(chart / lock_file, rel) or {}
        for item in lock.get("dependencies") or []:
            if isinstance(item, Mapping) and item.get("name"):
                key = (str(item["name"]), str(item.get("repository") or ""))
                pinned[key] = str(item.get("version") or "")
    out = []
    for item in listed:
        if not isinstance(item, Mapping) or not item.get("name"):
            raise RenderError(f"helm chart {rel!r}: a dependency in {lock_file.split('.')[0]} "
                              "has no name")
        name = str(item["name"])
        repository = str(item.get("repository") or "")
        version = pinned.get((name, repository)) or str(item.get("version") or "")
        out.append(Dependency(name, version, repository))
    return out


def _present(charts: Path, name: str) -> bool:
    return (charts / name).is_dir() or any(charts.glob(f"{name}-*.tgz"))


def missing(chart: Path, rel: str) -> list[Dependency]:
    """The dependencies of CHART that its ``charts/`` directory lacks."""
    return [d for d in dependencies(chart, rel) if not _present(chart / "charts", d.name)]


def repository_for(dep: Dependency, repos: tuple[HelmRepository, ...], rel: str
                   ) -> HelmRepository:
    """The fleet's Helm repository DEP comes from, or an anonymous one for its URL."""
    ref = dep.repository
    if ref.startswith("@") or ref.startswith("alias:"):
        name = ref[1:] if ref.startswith("@") else ref[len("alias:"):]
        found = next((r for r in repos if r.name == name), None)
        if found is None:
            raise RenderError(f"helm chart {rel!r}: dependency {dep.name!r} names repository "
                              f"{ref!r}, which is not in helmRepositories")
        return found
    if not ref:
        raise RenderError(f"helm chart {rel!r}: dependency {dep.name!r} has no repository and "
                          "is not in charts/")
    return find_helm_repository(repos, ref) or HelmRepository(name="", url=ref.rstrip("/"))


async def complete_chart(fetcher: ChartFetcher, binary: str, repos: tuple[HelmRepository, ...],
                         tree: Path, chart: Path, rel: str, work: Path) -> Path:
    """CHART itself when nothing is missing, else a copy of it in WORK with every
    dependency in its ``charts/``."""
    needed = missing(chart, rel)
    if not needed:
        return chart
    copy = work / "chart" / chart.name
    shutil.copytree(chart, copy, symlinks=True)
    charts = copy / "charts"
    charts.mkdir(exist_ok=True)
    for dep in needed:
        if dep.repository.startswith("file://"):
            _copy_local(dep, tree, chart, charts, rel)
            continue
        repo = repository_for(dep, repos, rel)
        pulled = await fetcher.pull(binary, repo, dep.name, dep.version)
        shutil.copyfile(pulled.path, charts / pulled.path.name)
    return copy


def _copy_local(dep: Dependency, tree: Path, chart: Path, charts: Path, rel: str) -> None:
    source = Path(os.path.realpath(chart / dep.repository[len("file://"):]))
    if tree != source and tree not in source.parents:
        raise RenderError(f"helm chart {rel!r}: dependency {dep.name!r} at {dep.repository!r} "
                          "is outside the repository")
    if not (source / "Chart.yaml").is_file():
        raise RenderError(f"helm chart {rel!r}: dependency {dep.name!r} at {dep.repository!r} "
                          "is not a chart")
    shutil.copytree(source, charts / dep.name, symlinks=True)
