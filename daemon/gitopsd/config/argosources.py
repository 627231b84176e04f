"""An Argo CD Application's ``spec.source`` or ``spec.sources`` as one gitopsd ``Source``.

A single ``source`` maps field for field. ``sources`` (multi-source) is
honoured in the shape Argo CD documents for Helm: one source is rendered (the
one with a ``path``, or the only one without ``ref``) and any number of
``ref:`` sources lend their files to its ``helm.valueFiles`` as
``$<ref>/<path>``; those become ``Source.refs``. More than one rendered source
is refused with its reason, as are fields gitopsd cannot honour (``plugin``,
``kustomize``); ``directory`` is read as the fleet file reads it. A source
with ``chart`` is a chart source: its ``repoURL`` must match a
``helmRepositories`` entry's URL (an OCI ``repoURL`` may omit ``oci://``) and
its ``targetRevision`` is the chart version or range. Argo CD's OCI source, an
``oci://`` ``repoURL`` naming the chart itself with ``path: .``, is the same
chart source when the registry path above the chart is such an entry. Pure:
problems go to the ``Reader``, warnings about fields that change nothing to
``warn``.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, replace

from yaml.nodes import MappingNode, Node, ScalarNode

from gitopsd.config.appspec import ARGO_HELM_IGNORED, Positions, read_directory, read_helm
from gitopsd.config.argomatch import NoMatch, match_repository
from gitopsd.config.reader import Reader
from gitopsd.config.rules import check_repo_path
from gitopsd.model.fleet import DirectoryParams, Fleet, HelmParams, Source, SourceRef
from gitopsd.model.helmrepos import OCI_SCHEME, HelmRepository, normalized_chart_url

__all__ = ["ARGO_SOURCE_FIELDS", "SOURCE_IGNORED", "SOURCE_UNSUPPORTED", "ignored_fields",
           "read_source", "read_sources"]

ARGO_SOURCE_FIELDS = ("repoURL", "targetRevision", "path", "helm", "directory", "ref", "chart")
SOURCE_IGNORED = ("name",)  # a label for Argo CD's UI and CLI
SOURCE_UNSUPPORTED = ("kustomize", "plugin")
_REF = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass
class _Item:
    source: Source
    ref: str
    rendered: bool
    node: Node
    path: str
    positions: Positions


def ignored_fields(node: Node | None, names: Collection[str]) -> list[tuple[str, Node]]:
    """The keys of mapping NODE that are among NAMES, each with its key node (for its line)."""
    if not isinstance(node, MappingNode):
        return []
    return [(str(k.value), k) for k, _ in node.value
            if isinstance(k, ScalarNode) and k.value in names]


def read_source(r: Reader, node: Node, p: str, fleet: Fleet, positions: Positions,
                warn: Reader) -> Source | None:
    """``spec.source``: one source, rendered; ``$ref`` value files need ``sources``."""
    item = _read_one(r, node, p, fleet, warn)
    if item is None:
        return None
    if item.ref:
        r.issue(_child(node, "ref"), f"{p}.ref", "'ref' names a source for the others of "
                "spec.sources; a single spec.source has no one to lend its files to")
        return None
    positions.update(item.positions)
    if not _check_value_files(r, item, (), positions):
        return None
    return item.source


def read_sources(r: Reader, node: Node, p: str, fleet: Fleet, positions: Positions,
                 warn: Reader) -> Source | None:
    """``spec.sources``: the one rendered source, with the ``ref`` sources as its refs."""
    items: list[_Item] = []
    ok = True
    for i, child in enumerate(r.sequence(node, p) or []):
        item = _read_one(r, child, f"{p}[{i}]", fleet, warn)
        if item is None:
            ok = False
        else:
            items.append(item)
    if not ok:
        return None
    if not items:
        r.issue(node, p, "must list at least one source")
        return None
    rendered = [item for item in items if item.rendered]
    if len(rendered) != 1:
        if rendered:
            which = ", ".join(item.path for item in rendered)
            r.issue(node, p, f"gitopsd renders one source per application; {which} would each "
                    "be rendered (give all but one a 'ref' and no 'path', or split the "
                    "Application)")
        else:
            r.issue(node, p, "no source to render: every source is a 'ref' without a 'path'")
        return None
    refs: list[SourceRef] = []
    for item in items:
        if not item.ref:
            continue
        if any(ref.name == item.ref for ref in refs):
            r.issue(_child(item.node, "ref"), f"{item.path}.ref",
                    f"duplicate ref '{item.ref}'")
            return None
        refs.append(SourceRef(item.ref, item.source.repo, item.source.target_revision))
    chosen = rendered[0]
    positions.update(chosen.positions)
    if not _check_value_files(r, chosen, [ref.name for ref in refs], positions):
        return None
    return replace(chosen.source, refs=tuple(refs))


def _check_value_files(r: Reader, item: _Item, refs: Collection[str],
                       positions: Positions) -> bool:
    """Every ``$<ref>/<path>`` value file names a ref of the Application and a path inside it."""
    ok = True
    for i, name in enumerate(item.source.helm.value_files):
        if not name.startswith("$"):
            continue
        where, line = positions.get(f"source.helm.valueFiles[{i}]",
                                    (f"{item.path}.helm.valueFiles[{i}]", 0))
        ref, _, rest = name[1:].partition("/")
        if ref not in refs:
            known = ", ".join(sorted(refs)) or "none: only spec.sources entries have a 'ref'"
            r.issue_at(where, line, f"value file '{name}' names source '${ref}', which is not a "
                       f"'ref' of this Application (refs: {known})")
            ok = False
        elif not rest or (reason := check_repo_path(rest)):
            r.issue_at(where, line, f"value file '{name}': " + (
                reason if rest and reason else "needs a path after the ref"))
            ok = False
    return ok


def _read_one(r: Reader, node: Node, p: str, fleet: Fleet, warn: Reader) -> _Item | None:
    for key, at in ignored_fields(node, SOURCE_IGNORED):
        warn.issue(at, f"{p}.{key}", f"field '{key}' is ignored by gitopsd")
    helm_node = _child(node, "helm")
    for key, at in ignored_fields(helm_node, ARGO_HELM_IGNORED):
        warn.issue(at, f"{p}.helm.{key}", f"field '{key}' is ignored by gitopsd")
    f = r.mapping(node, p, ARGO_SOURCE_FIELDS, required=("repoURL",),
                  unsupported=SOURCE_UNSUPPORTED, ignored=SOURCE_IGNORED)
    if f is None or "repoURL" not in f:
        return None
    if "chart" in f:
        return _read_chart(r, f, node, p, fleet)
    positions: Positions = {}
    repo = None
    url = r.string(f["repoURL"], f"{p}.repoURL")
    if url is not None and url.strip().lower().startswith(OCI_SCHEME):
        return _read_oci_chart(r, f, node, p, fleet, url.strip())
    if url is not None:
        try:
            repo = match_repository(url, fleet.repositories)
        except NoMatch as exc:
            r.issue(f["repoURL"], f"{p}.repoURL", str(exc))
    revision = "HEAD"
    if "targetRevision" in f:
        revision = r.string(f["targetRevision"], f"{p}.targetRevision") or revision
        positions["source.targetRevision"] = r.where(f["targetRevision"], f"{p}.targetRevision")
    path = "."
    if "path" in f:
        path = r.string(f["path"], f"{p}.path") or path
        positions["source.path"] = r.where(f["path"], f"{p}.path")
        if reason := check_repo_path(path):
            r.issue(f["path"], f"{p}.path", reason)
    ref = ""
    if "ref" in f:
        ref = r.string(f["ref"], f"{p}.ref") or ""
        if ref and not _REF.match(ref):
            r.issue(f["ref"], f"{p}.ref", "a ref is letters, digits, '-' and '_'")
    helm = HelmParams()
    if "helm" in f:
        helm = read_helm(r, f["helm"], f"{p}.helm", "source.helm", positions, argocd=True)
    directory = read_directory(r, f["directory"], f"{p}.directory") if "directory" in f \
        else DirectoryParams()
    if repo is None:
        return None
    source = Source(repo=repo.name, target_revision=revision, path=path, helm=helm,
                    directory=directory)
    return _Item(source, ref, rendered="path" in f or not ref, node=node, path=p,
                 positions=positions)


def chart_repository(fleet: Fleet, url: str) -> HelmRepository | None:
    """The helmRepositories entry whose URL is the Argo CD ``repoURL`` URL of a chart (an OCI
    ``repoURL`` may omit ``oci://``), or None."""
    wanted = {normalized_chart_url(url)}
    if "://" not in url:
        wanted.add(normalized_chart_url(OCI_SCHEME + url))
    return next((h for h in fleet.helm_repositories if normalized_chart_url(h.url) in wanted),
                None)


def _read_chart(r: Reader, f: dict[str, Node], node: Node, p: str, fleet: Fleet
                ) -> _Item | None:
    """A source with ``chart``: the chart at ``targetRevision`` from a fleet Helm repository."""
    ok = True
    for key in ("path", "directory", "ref"):
        if key in f:
            r.issue(f[key], f"{p}.{key}", f"a chart source has no '{key}'")
            ok = False
    url = r.string(f["repoURL"], f"{p}.repoURL") or ""
    chart = r.string(f["chart"], f"{p}.chart") or ""
    if chart and ("/" in chart or chart.startswith(".")):
        r.issue(f["chart"], f"{p}.chart", "a chart name, not a path")
        ok = False
    return _chart_item(r, f, node, p, fleet, url, chart, ok)


def _read_oci_chart(r: Reader, f: dict[str, Node], node: Node, p: str, fleet: Fleet,
                    url: str) -> _Item | None:
    """Argo CD's OCI source: ``repoURL`` ``oci://<registry path>/<chart>``, ``path: .``; the
    registry path must be a fleet Helm repository and the artifact a Helm chart."""
    ok = True
    for key in ("directory", "ref"):
        if key in f:
            r.issue(f[key], f"{p}.{key}", f"an OCI chart source has no '{key}'")
            ok = False
    if "path" in f and (r.string(f["path"], f"{p}.path") or ".").strip("/") not in (".", ""):
        r.issue(f["path"], f"{p}.path", "gitopsd renders an OCI source as the Helm chart it "
                "holds; its path must be '.'")
        ok = False
    registry, _, chart = url[len(OCI_SCHEME):].rstrip("/").rpartition("/")
    if not registry or not chart:
        r.issue(f["repoURL"], f"{p}.repoURL", f"'{url}' names no chart: an OCI source's "
                "repoURL is oci://<registry>/<path>/<chart>")
        return None
    return _chart_item(r, f, node, p, fleet, OCI_SCHEME + registry, chart, ok)


def _chart_item(r: Reader, f: dict[str, Node], node: Node, p: str, fleet: Fleet, url: str,
                chart: str, ok: bool) -> _Item | None:
    """The chart source for CHART from the fleet Helm repository at URL, at ``targetRevision``
    and with ``helm``; None (with the problem reported) when URL is no entry's."""
    positions: Positions = {}
    repo = chart_repository(fleet, url) if url else None
    if url and repo is None:
        known = ", ".join(h.url for h in fleet.helm_repositories) or "none are declared"
        r.issue(f["repoURL"], f"{p}.repoURL", f"'{url}' is not the URL of an entry of the "
                f"fleet's helmRepositories ({known})")
    version = ""
    if "targetRevision" in f:
        version = r.string(f["targetRevision"], f"{p}.targetRevision") or ""
        positions["source.targetRevision"] = r.where(f["targetRevision"], f"{p}.targetRevision")
    helm = HelmParams()
    if "helm" in f:
        helm = read_helm(r, f["helm"], f"{p}.helm", "source.helm", positions, argocd=True)
    if repo is None or not chart or not ok:
        return None
    source = Source(repo=repo.name, target_revision=version, helm=helm, chart=chart)
    return _Item(source, "", rendered=True, node=node, path=p, positions=positions)


def _child(node: Node | None, name: str) -> Node | None:
    if not isinstance(node, MappingNode):
        return None
    return next((v for k, v in node.value if isinstance(k, ScalarNode) and k.value == name), None)
