"""Per-cluster templates in application sources, and expansion into instances.

An application's ``source`` strings (path, targetRevision, helm releaseName,
valueFiles and values) and its destination namespace may use
``{{cluster.name}}``, ``{{cluster.labels.<key>}}``, ``{{app.name}}`` and
``{{fleet}}``. Any other ``{{...}}`` (Go or Helm templates inside values) is
left as written. Expansion yields one ``AppInstance`` per (application,
selected cluster). Pure functions; positions are the caller's business.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from gitopsd.config.rules import check_namespace, check_repo_path
from gitopsd.config.yamlpos import suggest
from gitopsd.errors import ConfigError, ConfigIssue
from gitopsd.model.fleet import AppInstance, Application, Cluster, Fleet

__all__ = [
    "TEMPLATE_VARIABLES",
    "TemplateProblem",
    "expand_instances",
    "instantiate",
    "render",
]

_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.\-/]*)\s*\}\}")
_ROOTS = ("cluster", "app", "fleet")
TEMPLATE_VARIABLES = ("cluster.name", "cluster.labels.<key>", "app.name", "fleet")


@dataclass(frozen=True)
class TemplateProblem:
    """A template that cannot be rendered; ``field`` is relative to the application.

    ``per_cluster`` is set for problems of one cluster (a missing label), unset
    for variables that can never resolve.
    """

    field: str
    message: str
    per_cluster: bool = False


def _ours(name: str) -> bool:
    return name.split(".", 1)[0] in _ROOTS


def _unknown(name: str) -> str | None:
    if name in ("cluster.name", "app.name", "fleet"):
        return None
    if name.startswith("cluster.labels.") and len(name) > len("cluster.labels."):
        return None
    hint = suggest(name, ("cluster.name", "cluster.labels", "app.name", "fleet"))
    return (f"unknown template variable '{name}'{hint} "
            f"(known: {', '.join(TEMPLATE_VARIABLES)})")


def render(text: str, cluster: Cluster, app: str, fleet: str
           ) -> tuple[str, list[TemplateProblem]]:
    """``text`` with our variables replaced for ``cluster``, and the problems met
    (their ``field`` is left empty for the caller to fill)."""
    problems: list[TemplateProblem] = []

    def value(m: re.Match[str]) -> str:
        name = m.group(1)
        if not _ours(name):
            return m.group(0)
        problem = _unknown(name)
        if problem:
            problems.append(TemplateProblem("", problem))
            return m.group(0)
        if name == "cluster.name":
            return cluster.name
        if name == "app.name":
            return app
        if name == "fleet":
            return fleet
        key = name[len("cluster.labels."):]
        if key not in cluster.labels:
            problems.append(TemplateProblem(
                "", f"template variable '{name}' is not defined for cluster '{cluster.name}' "
                f"(it has no label '{key}')", per_cluster=True))
            return m.group(0)
        return cluster.labels[key]

    return _VARIABLE.sub(value, text), problems


def _render_data(data: Any, field: str, render_one: Any) -> Any:
    if isinstance(data, str):
        return render_one(data, field)
    if isinstance(data, dict):
        return {k: _render_data(v, f"{field}.{k}", render_one) for k, v in data.items()}
    if isinstance(data, list):
        return [_render_data(v, f"{field}[{i}]", render_one) for i, v in enumerate(data)]
    return data


def instantiate(app: Application, cluster: Cluster, fleet: str
                ) -> tuple[AppInstance, list[TemplateProblem]]:
    """The instance of ``app`` on ``cluster`` and every template problem found on the way."""
    problems: list[TemplateProblem] = []

    def one(text: str, field: str) -> str:
        out, found = render(text, cluster, app.name, fleet)
        problems.extend(replace(p, field=field) for p in found)
        return out

    src = app.source
    path = one(src.path, "source.path")
    if path != src.path and (reason := check_repo_path(path)):
        problems.append(TemplateProblem("source.path", f"on cluster '{cluster.name}': {reason}",
                                        per_cluster=True))
    namespace = one(app.destination.namespace, "destination.namespace")
    if namespace != app.destination.namespace and namespace and (
            reason := check_namespace(namespace)):
        problems.append(TemplateProblem("destination.namespace",
                                        f"on cluster '{cluster.name}': {reason}", per_cluster=True))
    helm = replace(
        src.helm,
        release_name=one(src.helm.release_name, "source.helm.releaseName"),
        value_files=tuple(one(f, f"source.helm.valueFiles[{i}]")
                          for i, f in enumerate(src.helm.value_files)),
        values=_render_data(dict(src.helm.values), "source.helm.values", one),
    )
    source = replace(src, target_revision=one(src.target_revision, "source.targetRevision"),
                     path=path, helm=helm)
    return AppInstance(app.name, cluster.name, source, namespace), problems


def expand_instances(fleet: Fleet, applications: Iterable[Application] | None = None
                     ) -> tuple[AppInstance, ...]:
    """Instances of ``applications`` (default: the fleet's) on the clusters they select.

    Sorted by (application, cluster). Template problems raise one ``ConfigError``;
    its issues carry ``fleet.source_file`` and no line, since values carry no
    positions (``parse_fleet`` reports the same problems with lines).
    """
    apps = fleet.applications if applications is None else tuple(applications)
    instances: list[AppInstance] = []
    issues: list[ConfigIssue] = []
    for app in apps:
        for cluster in fleet.clusters:
            if not app.destination.clusters.matches(cluster):
                continue
            instance, problems = instantiate(app, cluster, fleet.name)
            instances.append(instance)
            issues.extend(ConfigIssue(fleet.source_file, 0, f"applications[{app.name}].{p.field}",
                                      p.message) for p in problems)
    if issues:
        raise ConfigError(list(dict.fromkeys(issues)))
    return tuple(sorted(instances))
