"""Projects from a fleet file's ``projects`` list and from Argo CD ``AppProject`` manifests.

Both spell a project the same way, Argo CD's ``AppProject.spec``:
``sourceRepos``, ``destinations``, ``clusterResourceWhitelist`` /
``Blacklist``, ``namespaceResourceWhitelist`` / ``Blacklist`` and
``syncWindows`` (read by ``config.windows``). The fleet file
adds ``clusterLabels`` to a destination, to choose clusters by their labels.
Unset and empty lists are told apart where Argo CD tells them apart
(``namespaceResourceWhitelist``). Every problem is reported with file, line
and field through the ``Reader``; AppProject fields gitopsd would have to
ignore to the user's harm (signature keys, impersonation) are reported as
unsupported rather than dropped. The meaning of the rules is
``gitopsd.core.policy.projects``'; this module only reads.
"""

from __future__ import annotations

from collections.abc import Mapping

from yaml.nodes import MappingNode, Node

from gitopsd.config.reader import Reader
from gitopsd.config.rules import check_name
from gitopsd.config.windows import parse_sync_windows
from gitopsd.config.yamlpos import line_of
from gitopsd.model.projects import DEFAULT_PROJECT, GroupKind, Project, ProjectDestination

__all__ = [
    "APPPROJECT_SPEC_FIELDS",
    "DESTINATION_FIELDS",
    "GROUP_KIND_FIELDS",
    "PROJECT_FIELDS",
    "project_names",
    "read_appproject",
    "read_project_spec",
    "read_projects",
]

SPEC_FIELDS = ("description", "sourceRepos", "destinations", "clusterResourceWhitelist",
               "clusterResourceBlacklist", "namespaceResourceWhitelist",
               "namespaceResourceBlacklist", "syncWindows")
PROJECT_FIELDS = ("name", *SPEC_FIELDS)
APPPROJECT_SPEC_FIELDS = SPEC_FIELDS
DESTINATION_FIELDS = ("name", "server", "namespace", "clusterLabels")
GROUP_KIND_FIELDS = ("group", "kind")

# AppProject fields about Argo CD's own API and UI: they bound nothing gitopsd does
APPPROJECT_IGNORED = ("roles", "orphanedResources", "sourceNamespaces")
# fields whose protection gitopsd does not give: accepting them silently would broaden
APPPROJECT_UNSUPPORTED = ("signatureKeys", "sourceIntegrity", "destinationServiceAccounts",
                          "permitOnlyProjectScopedClusters")


def read_projects(r: Reader, node: Node | None) -> tuple[Project, ...]:
    """The fleet file's ``projects`` list; duplicate names are reported at the later one."""
    if node is None:
        return ()
    out: list[Project] = []
    first: dict[str, int] = {}
    for i, item in enumerate(r.sequence(node, "projects") or []):
        p = f"projects[{i}]"
        f = r.mapping(item, p, PROJECT_FIELDS, required=("name",))
        if f is None or "name" not in f:
            continue
        name = r.string(f["name"], f"{p}.name") or ""
        if name and (reason := check_name(name, "project")):
            r.issue(f["name"], f"{p}.name", reason)
        if name in first:
            r.issue(f["name"], f"{p}.name",
                    f"duplicate project name '{name}' (first on line {first[name]})")
            continue
        first[name] = line_of(f["name"])
        out.append(read_project_spec(r, f, p, name, labels=True,
                                     origin=f"{r.file}:{line_of(item)}"))
    return tuple(out)


def project_names(projects: tuple[Project, ...]) -> tuple[str, ...]:
    """The names an application may give as its ``project``: declared ones and ``default``."""
    names = [p.name for p in projects]
    return tuple(names) if DEFAULT_PROJECT in names else (*names, DEFAULT_PROJECT)


def read_project_spec(r: Reader, f: Mapping[str, Node], p: str, name: str, *, labels: bool,
                      origin: str) -> Project:
    """A project from the known fields F of a project entry or an AppProject ``spec`` at path P.

    LABELS allows ``clusterLabels`` in destinations (the fleet file's addition).
    """
    def kinds(field: str) -> tuple[GroupKind, ...] | None:
        return _group_kinds(r, f[field], f"{p}.{field}") if field in f else None

    description = r.string(f["description"], f"{p}.description", empty=True) or "" \
        if "description" in f else ""
    repos = r.string_list(f["sourceRepos"], f"{p}.sourceRepos") or () if "sourceRepos" in f else ()
    destinations = _destinations(r, f["destinations"], f"{p}.destinations", labels=labels) \
        if "destinations" in f else ()
    windows = parse_sync_windows(r, f["syncWindows"], f"{p}.syncWindows") if "syncWindows" in f else ()
    return Project(name=name, source_repos=tuple(repos), destinations=destinations,
                   cluster_resource_whitelist=kinds("clusterResourceWhitelist") or (),
                   cluster_resource_blacklist=kinds("clusterResourceBlacklist") or (),
                   namespace_resource_whitelist=kinds("namespaceResourceWhitelist"),
                   namespace_resource_blacklist=kinds("namespaceResourceBlacklist") or (),
                   sync_windows=windows, description=description, origin=origin)


def _group_kinds(r: Reader, node: Node, p: str) -> tuple[GroupKind, ...]:
    out: list[GroupKind] = []
    for i, item in enumerate(r.sequence(node, p) or []):
        f = r.mapping(item, f"{p}[{i}]", GROUP_KIND_FIELDS, required=("kind",))
        if f is None or "kind" not in f:
            continue
        group = r.string(f["group"], f"{p}[{i}].group", empty=True) or "" if "group" in f else ""
        kind = r.string(f["kind"], f"{p}[{i}].kind")
        if kind is not None:
            out.append(GroupKind(group, kind))
    return tuple(out)


def _destinations(r: Reader, node: Node, p: str, *, labels: bool) -> tuple[ProjectDestination, ...]:
    fields = DESTINATION_FIELDS if labels else DESTINATION_FIELDS[:3]
    out: list[ProjectDestination] = []
    for i, item in enumerate(r.sequence(node, p) or []):
        at = f"{p}[{i}]"
        f = r.mapping(item, at, fields, required=("namespace",) if labels else ())
        if f is None:
            continue
        text = {k: r.string(f[k], f"{at}.{k}", empty=k == "namespace") or ""
                for k in ("name", "server", "namespace") if k in f}
        chosen = r.string_map(f["clusterLabels"], f"{at}.clusterLabels") or {} \
            if "clusterLabels" in f else {}
        if not (text.get("name") or text.get("server") or chosen):
            wanted = "name, server or clusterLabels" if labels else "server or name"
            r.issue(item, at, f"a destination needs {wanted} to choose its clusters")
            continue
        out.append(ProjectDestination(namespace=text.get("namespace", ""), name=text.get("name", ""),
                                      server=text.get("server", ""), cluster_labels=chosen))
    return tuple(out)


def read_appproject(r: Reader, doc: Node, name_node: Node | None) -> Project | None:
    """The project an ``argoproj.io/v1alpha1`` AppProject document DOC defines (its name at
    NAME_NODE), or None after reporting why it cannot be read."""
    if name_node is None:
        r.issue(doc, "metadata", "missing required field 'name'")
        return None
    name = r.string(name_node, "metadata.name") or ""
    if name and (reason := check_name(name, "project")):
        r.issue(name_node, "metadata.name", reason)
    spec_node = next((v for k, v in doc.value if getattr(k, "value", None) == "spec"), None) \
        if isinstance(doc, MappingNode) else None
    if spec_node is None:
        r.issue(doc, "", "missing required field 'spec'")
        return None
    f = r.mapping(spec_node, "spec", APPPROJECT_SPEC_FIELDS, ignored=APPPROJECT_IGNORED,
                  unsupported=APPPROJECT_UNSUPPORTED)
    if f is None or not name:
        return None
    return read_project_spec(r, f, "spec", name, labels=False, origin=f"{r.file}:{line_of(name_node)}")
