"""Renders a Helm chart with ``helm template``, offline.

The chart is rendered as ``helm template <release> <chart> --include-crds
--kube-version <v> [--namespace <ns>] --values <file>... --set[-string] ...``
where the value files come first (relative to the chart directory, inside the
tree, or ``$<ref>/<path>`` files of another source whose text the caller
gives), the application's inline values next, and parameters last, so
parameters win over values as they do in Argo CD. Helm gets private
cache/config/data homes and no plugins. Dependencies missing from ``charts/``
are pulled by ``helmdeps`` into a private copy of the chart when the renderer
has a ``ChartFetcher``; without one a chart must carry them. This module
builds the command line and the values file; it must not parse the output.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from gitopsd.edges.render.charts import ChartFetcher
from gitopsd.edges.render.helmdeps import complete_chart
from gitopsd.edges.render.request import Rendered, RendererKind
from gitopsd.edges.render.runner import Limits, run_tool
from gitopsd.errors import RenderError
from gitopsd.model import HelmParameter, HelmParams
from gitopsd.model.helmrepos import HelmRepository

LABEL = "helm template"
_MISSING_DEPENDENCY = "missing in charts/ directory"


def helm_argv(
    binary: str,
    release: str,
    chart: Path,
    *,
    namespace: str,
    kube_version: str,
    value_files: Sequence[Path] = (),
    parameters: Sequence[HelmParameter] = (),
) -> list[str]:
    """The ``helm template`` command line; later value files override earlier ones."""
    argv = [binary, "template", release, str(chart), "--include-crds",
            "--kube-version", kube_version]
    if namespace:
        argv += ["--namespace", namespace]
    for path in value_files:
        argv += ["--values", str(path)]
    for p in parameters:
        # a comma would split one --set into several; Helm reads "\," as a comma
        value = p.value.replace(",", "\\,")
        argv += ["--set-string" if p.force_string else "--set", f"{p.name}={value}"]
    return argv


def helm_env(home: Path) -> dict[str, str]:
    """Helm's own variables: every Helm home inside ``home`` and plugins off."""
    return {
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
        "HELM_NO_PLUGINS": "1",
    }


def resolve_value_files(tree: Path, chart: Path, rel: str, names: Sequence[str],
                        ref_files: Mapping[str, str] | None = None,
                        home: Path | None = None) -> list[Path]:
    """Value files named relative to the chart directory, each required to exist in the tree;
    a ``$<ref>/<path>`` name is written from REF_FILES into HOME."""
    resolved = []
    for index, name in enumerate(names):
        if name.startswith("$"):
            text = (ref_files or {}).get(name)
            if text is None or home is None:
                raise RenderError(f"helm value file {name!r} of {rel!r} was not read from "
                                  "its source")
            path = home / f"ref-values-{index}.yaml"
            path.write_text(text, encoding="utf-8")
            resolved.append(path)
            continue
        candidate = Path(os.path.realpath(chart / name))
        if Path(name).is_absolute() or (tree not in candidate.parents):
            raise RenderError(
                f"helm value file {name!r} of {rel!r} must be a path inside the repository")
        if not candidate.is_file():
            raise RenderError(f"helm value file {name!r} does not exist in {rel!r}")
        resolved.append(candidate)
    return resolved


def plain_data(value: Any) -> Any:
    """Values as plain dicts and lists (mappings and tuples from the model converted)."""
    if isinstance(value, Mapping):
        return {str(k): plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(v) for v in value]
    return value


def _write_values(home: Path, values: Mapping[str, Any]) -> Path:
    path = home / "inline-values.yaml"
    path.write_text(yaml.safe_dump(plain_data(values), sort_keys=True), encoding="utf-8")
    return path


async def render_helm(
    binary: str,
    tree: Path,
    chart: Path,
    rel: str,
    *,
    release: str,
    namespace: str,
    kube_version: str,
    params: HelmParams,
    limits: Limits,
    ref_files: Mapping[str, str] | None = None,
    fetcher: ChartFetcher | None = None,
    repositories: tuple[HelmRepository, ...] = (),
) -> Rendered:
    """Run ``helm template`` for the chart ``chart`` (the real path of ``rel`` in ``tree``);
    with FETCHER, dependencies missing from ``charts/`` are pulled first (REPOSITORIES
    give their credentials)."""
    if not release:
        raise RenderError(f"helm chart {rel!r} needs a release name")
    with tempfile.TemporaryDirectory(prefix="gitopsd-helm-") as tmp:
        home = Path(tmp)
        value_files = resolve_value_files(tree, chart, rel, params.value_files, ref_files, home)
        if params.values:
            value_files.append(_write_values(home, params.values))
        rendered = chart
        if fetcher is not None:
            rendered = await complete_chart(fetcher, binary, repositories, tree, chart, rel, home)
        argv = helm_argv(binary, release, rendered, namespace=namespace,
                         kube_version=kube_version, value_files=value_files,
                         parameters=params.parameters)
        try:
            text = await run_tool(
                argv, label=LABEL, subject=rel, home=home, env=helm_env(home), cwd=rendered,
                limits=limits, replacements={f"{rendered}/": "", f"{tree}/": "", str(tree): "."})
        except RenderError as exc:
            if _MISSING_DEPENDENCY in str(exc):
                raise RenderError(
                    f"{exc}\nthis renderer does not download chart dependencies: "
                    "commit them in the chart's charts/ directory") from None
            raise
    return Rendered(text=text, files=None, renderer=RendererKind.HELM.value)
