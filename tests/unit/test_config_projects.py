"""Projects in the fleet file and in Argo CD AppProject files: reading, references, errors."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from gitopsd.config import applications_from_argocd, load_fleet, parse_fleet, projects_from_argocd, summary
from gitopsd.config.projects import DESTINATION_FIELDS, GROUP_KIND_FIELDS, PROJECT_FIELDS
from gitopsd.errors import ConfigError, ConfigIssue
from gitopsd.model.projects import BUILTIN_DEFAULT, GroupKind, ProjectDestination

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "config" / "fleet.schema.json").read_text())

BASE = """\
fleet: acme
clusters:
  - {name: prod-eu, kubeconfig: /k/eu, labels: {env: prod}}
repositories:
  - {name: env, url: "https://git.example.com/org/env.git"}
"""

PROJECTS = """\
projects:
  - name: team-a
    description: Team A
    sourceRepos: ["https://git.example.com/org/*", "!https://git.example.com/org/secret"]
    destinations:
      - {name: "prod-*", namespace: team-a}
      - {clusterLabels: {env: prod}, namespace: "team-a-*"}
    clusterResourceWhitelist: []
    namespaceResourceWhitelist:
      - {group: "", kind: ConfigMap}
      - {group: apps, kind: "*"}
    namespaceResourceBlacklist:
      - {kind: ResourceQuota}
    syncWindows:
      - {kind: allow, schedule: "0 22 * * *", duration: 1h, applications: ["*"]}
  - name: locked
    namespaceResourceWhitelist: []
"""

APP = """\
applications:
  - name: web
    project: {project}
    source: {{repo: env, path: web}}
    destination: {{clusters: {{names: [prod-eu]}}, namespace: team-a}}
"""


def _issues(text: str) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as info:
        parse_fleet(text, "fleet.yaml", check_files=False)
    return info.value.issues


def test_fleet_projects_are_read_with_every_field() -> None:
    """A project's repos, destinations, kind lists and sync windows are read as written."""
    fleet = parse_fleet(BASE + PROJECTS + APP.format(project="team-a"), "fleet.yaml", check_files=False)
    team = fleet.project("team-a")
    assert team is not None
    assert team.source_repos == ("https://git.example.com/org/*", "!https://git.example.com/org/secret")
    assert team.destinations == (
        ProjectDestination(namespace="team-a", name="prod-*"),
        ProjectDestination(namespace="team-a-*", cluster_labels={"env": "prod"}))
    assert team.cluster_resource_whitelist == ()
    assert team.namespace_resource_whitelist == (GroupKind("", "ConfigMap"), GroupKind("apps", "*"))
    assert team.namespace_resource_blacklist == (GroupKind("", "ResourceQuota"),)
    assert [(w.kind.value, str(w.schedule), w.duration, w.applications) for w in team.sync_windows] == \
        [("allow", "0 22 * * *", 3600.0, ("*",))]
    assert team.origin == "fleet.yaml:7"
    locked = fleet.project("locked")
    assert locked is not None
    assert locked.namespace_resource_whitelist == ()  # present but empty: no namespaced kind
    assert team.description == "Team A"
    assert fleet.application("web").project == "team-a"


def test_application_without_project_is_in_default() -> None:
    """An application that names no project belongs to the built-in default project."""
    text = BASE + APP.format(project="default").replace("    project: default\n", "")
    fleet = parse_fleet(text, "fleet.yaml", check_files=False)
    assert fleet.application("web").project == "default"
    assert fleet.project("default") is BUILTIN_DEFAULT


def test_unknown_project_is_an_error_with_file_and_line() -> None:
    """An application naming an undeclared project is refused at its project line."""
    issues = _issues(BASE + PROJECTS + APP.format(project="team-b"))
    assert [(i.file, i.line, i.field) for i in issues] == [("fleet.yaml", 25, "applications[0].project")]
    assert "unknown project 'team-b'" in issues[0].message


def test_unknown_project_in_defaults_is_reported_where_written() -> None:
    """A project named in defaults must exist too."""
    text = BASE + "defaults:\n  project: ghost\n" + APP.format(project="default").replace(
        "    project: default\n", "")
    issues = _issues(text)
    assert [(i.line, i.field) for i in issues] == [(7, "defaults.project")]


@pytest.mark.parametrize(("snippet", "line", "field", "message"), [
    ("projects:\n  - name: a\n    destinations:\n      - {namespace: x}\n", 9, "projects[0].destinations[0]",
     "needs name, server or clusterLabels"),
    ("projects:\n  - name: a\n    destinations:\n      - {name: prod-eu}\n", 9, "projects[0].destinations[0]",
     "missing required field 'namespace'"),
    ("projects:\n  - name: a\n    clusterResourceWhitelist:\n      - {group: apps}\n", 9,
     "projects[0].clusterResourceWhitelist[0]", "missing required field 'kind'"),
    ("projects:\n  - name: a\n  - name: a\n", 8, "projects[1].name", "duplicate project name 'a'"),
    ("projects:\n  - name: a\n    sourceRepo: ['*']\n", 8, "projects[0].sourceRepo",
     "did you mean 'sourceRepos'"),
    ("projects:\n  - name: A_B\n", 7, "projects[0].name", "invalid project name"),
])
def test_broken_project_names_file_line_and_field(snippet: str, line: int, field: str, message: str) -> None:
    """Each project mistake is reported at its file, line and field."""
    issues = _issues(BASE + snippet)
    assert [(i.file, i.line, i.field) for i in issues] == [("fleet.yaml", line, field)]
    assert message in issues[0].message


def test_declared_default_project_tightens_default() -> None:
    """Declaring a project named default replaces the built-in one."""
    text = BASE + "projects:\n  - {name: default, sourceRepos: ['https://git.example.com/*']}\n"
    default = parse_fleet(text, "fleet.yaml", check_files=False).project("default")
    assert default is not None
    assert default.source_repos == ("https://git.example.com/*",)
    assert default.destinations == ()


APPPROJECT = """\
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: team-a
  namespace: argocd
spec:
  sourceRepos: ["*"]
  destinations:
    - {server: "https://eu.example.com:6443", namespace: team-a}
  namespaceResourceBlacklist: [{group: "", kind: Secret}]
  roles: [{name: ci}]
"""

ARGO_APP = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web
spec:
  project: {project}
  source: {{repoURL: "https://git.example.com/org/env.git", path: web}}
  destination: {{name: prod-eu, namespace: team-a}}
"""


def test_appproject_files_are_read_beside_applications() -> None:
    """An AppProject beside an Application defines the project its spec.project names."""
    fleet = parse_fleet(BASE, "fleet.yaml", check_files=False)
    files = {"project.yaml": APPPROJECT, "web.yaml": ARGO_APP.format(project="team-a")}
    (project,) = projects_from_argocd(files, "env@main:apps")
    assert project.name == "team-a"
    assert project.destinations == (ProjectDestination(namespace="team-a",
                                                       server="https://eu.example.com:6443"),)
    assert project.namespace_resource_whitelist is None
    assert project.namespace_resource_blacklist == (GroupKind("", "Secret"),)
    assert project.origin == "env@main:apps/project.yaml:4"
    (app,) = applications_from_argocd(files, fleet, "env@main:apps")
    assert app.project == "team-a"


def test_argocd_application_with_unknown_project_is_an_error() -> None:
    """spec.project naming no known project is refused at its file and line."""
    fleet = parse_fleet(BASE, "fleet.yaml", check_files=False)
    with pytest.raises(ConfigError) as info:
        applications_from_argocd({"web.yaml": ARGO_APP.format(project="team-z")}, fleet, "env@main:apps")
    assert [(i.file, i.line, i.field) for i in info.value.issues] == [
        ("env@main:apps/web.yaml", 6, "spec.project")]
    assert "unknown project 'team-z'" in info.value.issues[0].message


def test_argocd_application_may_name_a_fleet_file_project() -> None:
    """spec.project may name a project declared in the fleet file."""
    fleet = parse_fleet(BASE + PROJECTS, "fleet.yaml", check_files=False)
    (app,) = applications_from_argocd({"web.yaml": ARGO_APP.format(project="locked")}, fleet, "")
    assert app.project == "locked"


def test_appproject_unsupported_fields_are_reported() -> None:
    """AppProject fields whose protection gitopsd does not give are errors, not silently dropped."""
    text = APPPROJECT.replace("  roles: [{name: ci}]\n", "  signatureKeys: [{keyID: ABC}]\n")
    with pytest.raises(ConfigError) as info:
        projects_from_argocd({"p.yaml": text}, "")
    assert [(i.line, i.field) for i in info.value.issues] == [(11, "spec.signatureKeys")]
    assert "not supported" in info.value.issues[0].message


def test_schema_names_project_fields() -> None:
    """The fleet schema's project objects list exactly the fields the loader reads, and accept a file."""
    defs = SCHEMA["$defs"]
    assert set(defs["project"]["properties"]) == set(PROJECT_FIELDS)
    assert set(defs["projectDestination"]["properties"]) == set(DESTINATION_FIELDS)
    assert set(defs["groupKind"]["properties"]) == set(GROUP_KIND_FIELDS)
    doc = yaml.safe_load(BASE + PROJECTS + APP.format(project="team-a"))
    assert not list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(doc))
    doc["projects"][0]["destinations"].append({"namespace": "x"})
    assert list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(doc))


def test_check_config_summary_lists_projects() -> None:
    """check-config's summary names each declared project with its applications."""
    fleet = parse_fleet(BASE + PROJECTS + APP.format(project="team-a"), "fleet.yaml", check_files=False)
    lines = summary(fleet).splitlines()
    assert "project team-a: 1 application, 2 destinations" in lines
    assert "project locked: 0 applications, 0 destinations" in lines


def test_example_fleet_declares_a_project() -> None:
    """The commented example file puts frontend in project web, the others in default."""
    fleet = load_fleet(Path(__file__).resolve().parents[2] / "config" / "fleet.example.yaml",
                       check_files=False)
    assert [p.name for p in fleet.projects] == ["web"]
    assert {a.name: a.project for a in fleet.applications} == {
        "frontend": "web", "ingress": "default", "platform-tools": "default"}


def test_each_application_gets_its_projects_sync_windows() -> None:
    """The daemon's window source gives an application its own project's windows and no other's."""
    from gitopsd.engine.windows import WindowsByApp

    text = BASE + PROJECTS + APP.format(project="team-a") + """\
  - name: other
    source: {repo: env, path: other}
    destination: {clusters: {names: [prod-eu]}, namespace: other}
"""
    source = WindowsByApp.of(parse_fleet(text, "fleet.yaml", check_files=False))
    assert [str(w.schedule) for w in source.windows("web")] == ["0 22 * * *"]
    assert source.windows("other") == ()
