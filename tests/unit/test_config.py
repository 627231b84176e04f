"""The fleet file: parsing, validation with file:line:field, defaults, templating, Argo CD."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from gitopsd.config import (
    applications_from_argocd,
    default_config_path,
    expand_instances,
    format_duration,
    format_size,
    load_fleet,
    parse_duration,
    parse_fleet,
    parse_size,
    summary,
)
from gitopsd.config.applications import (
    APPLICATION_FIELDS,
    ARGOCD_ENTRY_FIELDS,
    ARGOCD_SOURCE_FIELDS,
    DEFAULTS_FIELDS,
    DESTINATION_FIELDS,
    SELECTOR_FIELDS,
    SOURCE_FIELDS,
)
from gitopsd.config.appspec import (
    AUTOMATED_FIELDS,
    BACKOFF_FIELDS,
    HELM_FIELDS,
    IGNORE_DIFFERENCE_FIELDS,
    RETRY_FIELDS,
    SYNC_POLICY_FIELDS,
)
from gitopsd.config.helmrepos import HELM_REPOSITORY_FIELDS
from gitopsd.config.loader import (
    BASTION_FIELDS,
    CLUSTER_FIELDS,
    FLEET_FIELDS,
    RATE_LIMIT_FIELDS,
    REPOSITORY_FIELDS,
    SETTINGS_FIELDS,
)
from gitopsd.config.rules import check_sync_option
from gitopsd.core.plan import parse_app_options
from gitopsd.errors import ConfigError, ConfigIssue
from gitopsd.model import AppInstance, ClusterSelector, Fleet, Settings
from gitopsd.model.giturls import safe_url
from gitopsd.model.syncoptions import APP_OPTIONS

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config"
TESTDATA = Path(__file__).parent / "testdata" / "config"
ARGO = TESTDATA / "argocd"
ORIGIN = "env@main:clusters/prod/apps"


# ---------------------------------------------------------------- helpers

def _expectations(path: Path) -> list[tuple[int, str, str]]:
    """``# expect: LINE FIELD MESSAGE`` comments of a fixture (FIELD ``-`` means none)."""
    out = []
    for line in path.read_text().splitlines():
        if line.startswith("# expect: "):
            number, field, message = line[len("# expect: "):].split(" ", 2)
            out.append((int(number), "" if field == "-" else field, message))
    assert out, f"{path} has no expectations"
    return out


def _assert_issues(issues: list[ConfigIssue], expected: list[tuple[int, str, str]],
                   file_suffix: str | None = None) -> None:
    """Every issue is expected and every expectation is met, one to one."""
    remaining = list(expected)
    unexpected = []
    for issue in issues:
        match = next((e for e in remaining if e[0] == issue.line and e[1] == issue.field
                      and e[2] in issue.message), None)
        if match is None or (file_suffix is not None and not issue.file.endswith(file_suffix)):
            unexpected.append(str(issue))
        else:
            remaining.remove(match)
    assert not unexpected, unexpected
    assert not remaining, remaining


def _issues(text: str, **kwargs: bool) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as info:
        parse_fleet(text, "fleet.yaml", **kwargs)
    return info.value.issues


BASE = """\
fleet: acme
clusters:
  - {name: prod-eu, kubeconfig: /k/eu, labels: {env: prod, region: eu, tier: gold}}
  - {name: prod-us, kubeconfig: /k/us, labels: {env: prod, region: us}}
  - {name: staging, kubeconfig: /k/st, labels: {env: staging, region: eu}}
repositories:
  - {name: env, url: "https://git.example.com/org/env.git"}
"""


# ---------------------------------------------------------------- the minimal file

def test_minimal_file_parses_to_expected_instances() -> None:
    """The minimal fleet file from the docs yields one templated instance on prod-eu."""
    fleet = load_fleet(CONFIG / "fleet.minimal.yaml", check_files=False)
    assert fleet.instances == (AppInstance("frontend", "prod-eu", fleet.instances[0].source,
                                           "frontend"),)
    source = fleet.instances[0].source
    assert (source.repo, source.target_revision, source.path) == (
        "env", "main", "apps/frontend/overlays/prod")
    assert fleet.application("frontend").source.path == (
        "apps/frontend/overlays/{{cluster.labels.env}}")


def test_minimal_file_maps_every_field() -> None:
    """Clusters, repositories and syncPolicy of the minimal file land in the model's fields."""
    fleet = load_fleet(CONFIG / "fleet.minimal.yaml", check_files=False)
    assert fleet.name == "acme"
    cluster = fleet.cluster("prod-eu")
    assert cluster.kubeconfig == "/etc/gitopsd/clusters/prod-eu.kubeconfig"
    assert dict(cluster.labels) == {"env": "prod", "region": "eu"}
    assert cluster.server == ""  # the kubeconfig does not exist here
    repo = fleet.repository("env")
    assert (repo.url, repo.ssh_key_file, repo.known_hosts_file, repo.poll_interval) == (
        "ssh://git@git.example.com/org/gitops-env.git", "/etc/gitopsd/keys/env",
        "/etc/gitopsd/known_hosts", 30.0)
    app = fleet.application("frontend")
    assert app.destination.clusters == ClusterSelector(match_labels={"env": "prod"})
    policy = app.sync_policy
    assert (policy.automated, policy.prune, policy.self_heal, policy.allow_empty) == (
        True, True, True, False)
    assert policy.sync_options == ("CreateNamespace=true",)
    assert parse_app_options(policy.sync_options).create_namespace
    assert fleet.settings == Settings()
    assert fleet.source_file.endswith("fleet.minimal.yaml")


def test_minimal_file_with_file_checks_reports_missing_files() -> None:
    """With check_files the minimal file's absent kubeconfig and credentials are issues."""
    with pytest.raises(ConfigError) as info:
        load_fleet(CONFIG / "fleet.minimal.yaml")
    fields = {i.field for i in info.value.issues}
    assert fields == {"clusters[0].kubeconfig", "repositories[0].sshKeyFile",
                      "repositories[0].knownHostsFile"}


def test_example_file_parses() -> None:
    """The full commented example is valid and expands to one instance per selected cluster."""
    fleet = load_fleet(CONFIG / "fleet.example.yaml", check_files=False)
    keys = [i.key for i in fleet.instances]
    assert keys == sorted(keys)
    assert "ingress/staging" in keys
    assert "frontend/staging" not in keys
    assert [s.name for s in fleet.argocd_sources] == ["platform"]
    assert [(c.group, c.kind, c.name) for c in fleet.health_checks] == [
        ("*.crossplane.io", "*", "lua:*.crossplane.io/*"), ("cert-manager.io", "Certificate", "cel")]
    assert [s.name for s in fleet.notifications.services] == ["ops-slack", "pager"]
    assert len(fleet.notifications.subscriptions) == 2
    ingress = next(i for i in fleet.instances if i.key == "ingress/prod-us")
    assert ingress.source.helm.release_name == "ingress-prod-us"
    assert ingress.source.helm.value_files == ("values.yaml", "values-us.yaml")


# ---------------------------------------------------------------- invalid files

INVALID = sorted((TESTDATA / "invalid").glob("*.yaml"))


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_fixture_reports_expected_issues(path: Path) -> None:
    """Each invalid fixture yields exactly the issues its ``# expect:`` comments name."""
    with pytest.raises(ConfigError) as info:
        load_fleet(path)
    for issue in info.value.issues:
        assert issue.file == str(path)
    _assert_issues(info.value.issues, _expectations(path))


def test_several_errors_are_reported_at_once_in_line_order() -> None:
    """Problems from every section come in one ConfigError, sorted by line, one per line."""
    text = BASE + """\
  - {name: env, url: "https://git.example.com/org/env2.git", pollInterval: soon}
applications:
  - name: web
    source: {repo: nope}
    destination: {clusters: {names: [prod-xx]}}
    syncPolicy: {syncOptions: [Bogus=true]}
    sycPolicy: {}
"""
    issues = _issues(text, check_files=False)
    assert [i.line for i in issues] == sorted(i.line for i in issues)
    assert {i.field for i in issues} == {
        "repositories[1].name", "repositories[1].pollInterval", "applications[0].source.repo",
        "applications[0].destination.clusters.names[0]",
        "applications[0].syncPolicy.syncOptions[0]", "applications[0].sycPolicy"}
    message = str(ConfigError(issues))
    assert len(message.splitlines()) == len(issues)
    assert "fleet.yaml:11: applications[0].source.repo: unknown repository 'nope'" in message


def test_unreadable_files_are_not_issues_without_check_files() -> None:
    """check_files=False accepts credential files and kubeconfigs that do not exist."""
    fleet = load_fleet(TESTDATA / "invalid" / "unreadable-files.yaml", check_files=False)
    assert fleet.cluster("prod-eu").server == ""
    assert fleet.repository("env").ssh_key_file.endswith("files/no-such-key")


def test_missing_fleet_file_is_a_config_error() -> None:
    """A fleet file that cannot be read is reported as a ConfigError naming it."""
    with pytest.raises(ConfigError) as info:
        load_fleet(TESTDATA / "no-such-fleet.yaml")
    assert info.value.issues[0].file.endswith("no-such-fleet.yaml")
    assert "cannot read fleet file" in info.value.issues[0].message


@pytest.mark.parametrize(("text", "message"), [
    ("", "the fleet file is empty"),
    ("- a\n- b\n", "expected a mapping, got a list"),
    ("fleet: a\n---\nfleet: b\n", "one YAML document"),
])
def test_fleet_file_shape(text: str, message: str) -> None:
    """An empty file, a non-mapping or several documents are reported."""
    issues = _issues(text)
    assert any(message in i.message for i in issues), issues


def test_password_in_url_is_reported_but_never_echoed() -> None:
    """A token inside a repository URL is an issue whose text does not contain the token."""
    text = "fleet: acme\nrepositories:\n  - {name: env, url: 'https://bot:s3cr3t-t0ken@h.example/o/r'}\n"
    issues = _issues(text)
    assert [(i.line, i.field) for i in issues] == [(3, "repositories[0].url")]
    assert "s3cr3t" not in str(ConfigError(issues))
    assert safe_url("https://bot:s3cr3t-t0ken@h.example/o/r") == "https://bot@h.example/o/r"


# ---------------------------------------------------------------- defaults and templating

def test_defaults_are_deep_merged_under_each_application() -> None:
    """Defaults fill what an application leaves out; nested mappings merge key by key."""
    text = BASE.replace("fleet: acme\n", """\
fleet: acme
settings: {syncTimeout: 2m}
defaults:
  source: {targetRevision: release-1}
  destination: {namespace: shared}
  cascadeDelete: true
  syncPolicy:
    automated: {prune: true, selfHeal: true}
    syncOptions: [CreateNamespace=true]
""") + """\
applications:
  - name: a
    source: {repo: env, path: apps/a}
    destination: {clusters: {names: [prod-eu]}}
  - name: b
    cascadeDelete: false
    source: {repo: env, targetRevision: main}
    destination: {clusters: {names: [prod-eu]}, namespace: b}
    syncPolicy:
      automated: {prune: false}
      syncOptions: [ServerSideApply=true]
      syncTimeout: 30s
  - name: c
    source: {repo: env}
    destination: {clusters: {names: [prod-eu]}}
    syncPolicy: {automated: null}
"""
    fleet = parse_fleet(text, "fleet.yaml", check_files=False)
    a, b, c = (fleet.application(n) for n in "abc")
    assert (a.source.target_revision, a.source.path, a.destination.namespace) == (
        "release-1", "apps/a", "shared")
    assert (a.sync_policy.automated, a.sync_policy.prune, a.sync_policy.self_heal) == (
        True, True, True)
    assert a.sync_policy.sync_timeout == 120.0
    assert (a.cascade_delete, b.cascade_delete) == (True, False)
    assert (b.source.target_revision, b.destination.namespace) == ("main", "b")
    assert (b.sync_policy.prune, b.sync_policy.self_heal) == (False, True)
    assert b.sync_policy.sync_options == ("ServerSideApply=true",)
    assert b.sync_policy.sync_timeout == 30.0
    assert c.sync_policy.automated is False
    assert c.sync_policy.sync_options == ("CreateNamespace=true",)


def test_templates_resolve_per_cluster() -> None:
    """Each selected cluster gets its own path, revision, namespace and helm strings."""
    text = BASE + """\
applications:
  - name: web
    source:
      repo: env
      targetRevision: "{{cluster.labels.env}}"
      path: "apps/{{app.name}}/{{cluster.labels.region}}"
      helm:
        releaseName: "{{fleet}}-{{ app.name }}"
        valueFiles: ["values-{{cluster.name}}.yaml"]
        values:
          host: "{{app.name}}.{{cluster.labels.region}}.example.com"
          alert: "{{ $labels.instance }} is down"
          chart: "{{ .Values.name }}"
          list: ["{{cluster.name}}", 3]
    destination: {clusters: {matchLabels: {}}, namespace: "web-{{cluster.labels.env}}"}
"""
    fleet = parse_fleet(text, "fleet.yaml", check_files=False)
    got = {i.cluster: i for i in fleet.instances}
    assert [i.key for i in fleet.instances] == ["web/prod-eu", "web/prod-us", "web/staging"]
    us = got["prod-us"].source
    assert (us.target_revision, us.path, got["prod-us"].namespace) == (
        "prod", "apps/web/us", "web-prod")
    assert us.helm.release_name == "acme-web"
    assert us.helm.value_files == ("values-prod-us.yaml",)
    assert dict(us.helm.values) == {"host": "web.us.example.com",
                                    "alert": "{{ $labels.instance }} is down",
                                    "chart": "{{ .Values.name }}", "list": ["prod-us", 3]}
    assert got["staging"].source.target_revision == "staging"
    assert got["staging"].namespace == "web-staging"


def test_defaults_problem_is_reported_once_at_the_defaults_line() -> None:
    """A template variable missing in defaults names the defaults line, the app and the cluster."""
    text = BASE.replace("fleet: acme\n", """\
fleet: acme
defaults:
  source: {path: "apps/{{cluster.labels.tier}}"}
""") + """\
applications:
  - {name: a, source: {repo: env}, destination: {clusters: {names: [prod-eu, prod-us]}}}
  - {name: b, source: {repo: env}, destination: {clusters: {names: [staging]}}}
"""
    issues = _issues(text, check_files=False)
    assert [(i.line, i.field) for i in issues] == [(3, "defaults.source.path")] * 2
    assert "application 'a'" in issues[0].message
    assert "cluster 'prod-us'" in issues[0].message
    assert "application 'b'" in issues[1].message
    assert "cluster 'staging'" in issues[1].message


def test_expand_instances_reports_missing_variables() -> None:
    """The public expansion raises for a cluster lacking a label, naming app and field."""
    fleet = parse_fleet(BASE + """\
applications:
  - {name: web, source: {repo: env, path: "a/{{cluster.labels.tier}}"},
     destination: {clusters: {names: [prod-eu]}}}
""", "fleet.yaml", check_files=False)
    assert [i.source.path for i in expand_instances(fleet)] == ["a/gold"]
    wider = fleet.applications[0]
    wider = type(wider)(wider.name, wider.source,
                        type(wider.destination)(ClusterSelector(), wider.destination.namespace))
    with pytest.raises(ConfigError) as info:
        expand_instances(fleet, [wider])
    assert {(i.field, i.line) for i in info.value.issues} == {("applications[web].source.path", 0)}
    assert len(info.value.issues) == 2  # prod-us and staging lack the label


# ---------------------------------------------------------------- YAML details

def test_yaml_scalars_follow_yaml_1_2() -> None:
    """``on``, ``yes`` and ``010`` stay strings, as Kubernetes tooling reads them."""
    fleet = parse_fleet("fleet: acme\nclusters:\n  - {name: a, kubeconfig: /k, labels: "
                        "{feature: on, legacy: yes, zone: '7', code: 010}}\n", "f.yaml",
                        check_files=False)
    assert dict(fleet.clusters[0].labels) == {"feature": "on", "legacy": "yes", "zone": "7",
                                              "code": "010"}


def test_anchors_and_merge_keys_are_supported() -> None:
    """YAML anchors and ``<<`` merge keys work inside the fleet file."""
    text = """\
fleet: acme
clusters:
  - &eu {name: prod-eu, kubeconfig: /k/eu, labels: {env: prod}}
  - <<: *eu
    name: prod-eu2
"""
    fleet = parse_fleet(text, "f.yaml", check_files=False)
    assert [(c.name, c.kubeconfig) for c in fleet.clusters] == [
        ("prod-eu", "/k/eu"), ("prod-eu2", "/k/eu")]


def test_relative_file_names_resolve_against_the_fleet_file(tmp_path: Path) -> None:
    """Credential and kubeconfig names are relative to the fleet file's directory."""
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "env").write_text("placeholder")
    (tmp_path / "known_hosts").write_text("placeholder")
    kubeconfig = (TESTDATA / "files" / "kubeconfig-prod-eu").read_text()
    (tmp_path / "eu.kubeconfig").write_text(kubeconfig)
    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text("""\
fleet: acme
clusters: [{name: prod-eu, kubeconfig: eu.kubeconfig}]
repositories:
  - {name: env, url: "git@git.example.com:org/env.git", sshKeyFile: keys/env,
     knownHostsFile: ./known_hosts}
""")
    fleet = load_fleet(fleet_file)
    assert fleet.repository("env").ssh_key_file == str(tmp_path / "keys" / "env")
    assert fleet.cluster("prod-eu").server == "https://prod-eu.example.com:6443"


def test_kubeconfig_context_selects_the_server() -> None:
    """The named context, else the current context, gives each cluster its API server."""
    fleet = load_fleet(ARGO / "fleet.yaml")
    assert {c.name: c.server for c in fleet.clusters} == {
        "prod-eu": "https://prod-eu.example.com:6443",
        "prod-us": "https://prod-us.example.com:6443/",
        "staging": "https://staging.example.com:6443",
    }


# ---------------------------------------------------------------- Argo CD applications

def _argo_files(*dirs: str) -> dict[str, str]:
    return {p.name: p.read_text() for d in dirs for p in sorted((ARGO / d).iterdir())}


def test_argocd_applications_convert() -> None:
    """Application manifests map repoURL, destination server/name, helm, syncPolicy and diffs."""
    fleet = load_fleet(ARGO / "fleet.yaml")
    assert fleet.argocd_sources[0].path == "clusters/prod/apps"
    apps = {a.name: a for a in applications_from_argocd(_argo_files("valid"), fleet, ORIGIN)}
    assert sorted(apps) == ["guestbook", "ingress", "metrics"]
    guestbook = apps["guestbook"]
    assert (guestbook.source.repo, guestbook.source.target_revision, guestbook.source.path) == (
        "env", "v1.2.0", "apps/guestbook")
    assert guestbook.destination.clusters.names == ("prod-eu",)
    assert guestbook.destination.namespace == "guestbook"
    policy = guestbook.sync_policy
    assert (policy.automated, policy.prune, policy.self_heal) == (True, True, True)
    assert policy.sync_options == ("CreateNamespace=true", "PruneLast=true")
    assert (policy.retry.limit, policy.retry.backoff.duration, policy.retry.backoff.factor,
            policy.retry.backoff.max_duration) == (3, 10.0, 3.0, 300.0)
    assert guestbook.ignore_differences[0].json_pointers == ("/spec/replicas",)
    assert guestbook.ignore_differences[0].jq_path_expressions == (
        '.spec.template.spec.containers[] | select(.name == "istio-proxy") | .image',)
    assert guestbook.cascade_delete  # the resources finalizer
    assert not apps["ingress"].cascade_delete
    ingress = apps["ingress"]
    assert ingress.destination.clusters.names == ("staging",)
    assert (ingress.source.repo, ingress.source.helm.release_name) == ("charts", "edge")
    assert dict(ingress.source.helm.values) == {
        "replicas": 2, "service": {"type": "LoadBalancer", "port": 443}}
    assert apps["metrics"].destination.clusters.names == ("prod-us",)  # trailing '/' ignored
    assert apps["metrics"].source.repo == "env"  # ssh:// form of the scp-style fleet URL
    instances = expand_instances(fleet, apps.values())
    assert [i.key for i in instances] == ["guestbook/prod-eu", "ingress/staging",
                                          "metrics/prod-us"]


def test_argocd_errors_name_file_line_and_field() -> None:
    """Unknown servers, clusters and repos, unsupported fields: each at its file and line."""
    fleet = load_fleet(ARGO / "fleet.yaml")
    with pytest.raises(ConfigError) as info:
        applications_from_argocd(_argo_files("valid", "invalid"), fleet, ORIGIN)
    issues = info.value.issues
    for path in sorted((ARGO / "invalid").iterdir()):
        mine = [i for i in issues if i.file == f"{ORIGIN}/{path.name}"]
        _assert_issues(mine, _expectations(path))
    assert all(i.file.startswith(f"{ORIGIN}/") for i in issues)
    assert not [i for i in issues if "/guestbook.yaml" in i.file or "/platform.yaml" in i.file]


def test_argocd_application_clashing_with_the_fleet_file() -> None:
    """An Argo CD Application may not reuse the name of a fleet-file application."""
    fleet = load_fleet(ARGO / "fleet.yaml")
    files = {"platform.yaml": (ARGO / "valid" / "guestbook.yaml").read_text().replace(
        "name: guestbook", "name: platform")}
    with pytest.raises(ConfigError) as info:
        applications_from_argocd(files, fleet, "")
    assert [(i.file, i.line, i.field) for i in info.value.issues] == [
        ("platform.yaml", 4, "metadata.name")]
    assert "already defined in the fleet file" in info.value.issues[0].message


# ---------------------------------------------------------------- durations, URLs, options

def test_size_limits_default_to_4mi_per_file_and_16mi_per_render() -> None:
    """Without the settings, a manifest file may hold 4 MiB and a render output 16 MiB."""
    fleet = parse_fleet(BASE, "fleet.yaml", check_files=False)
    assert (fleet.settings.max_manifest_file_size, fleet.settings.max_render_output_size) == (
        4 * 1024 * 1024, 16 * 1024 * 1024)


def test_size_limits_are_read_from_settings() -> None:
    """maxManifestFileSize and maxRenderOutputSize take quantities or plain bytes."""
    text = BASE + "settings: {maxManifestFileSize: 512Ki, maxRenderOutputSize: 2000000}\n"
    fleet = parse_fleet(text, "fleet.yaml", check_files=False)
    assert (fleet.settings.max_manifest_file_size, fleet.settings.max_render_output_size) == (
        512 * 1024, 2_000_000)


def test_status_page_settings() -> None:
    """settings.ui defaults to on and settings.tracesUrl to none; both are read when given."""
    assert (parse_fleet(BASE, "fleet.yaml", check_files=False).settings.ui, "") == (True, "")
    text = BASE + "settings: {ui: false, tracesUrl: 'https://jaeger.example/trace/{traceId}'}\n"
    settings = parse_fleet(text, "fleet.yaml", check_files=False).settings
    assert (settings.ui, settings.traces_url) == (False, "https://jaeger.example/trace/{traceId}")


def test_bad_status_page_settings_are_issues_with_their_line() -> None:
    """A ui that is not a boolean and a tracesUrl without {traceId} are reported at line and field."""
    text = BASE + "settings:\n  ui: sometimes\n  tracesUrl: https://jaeger.example/trace\n"
    issues = _issues(text, check_files=False)
    assert [(i.line, i.field) for i in issues] == [(9, "settings.ui"), (10, "settings.tracesUrl")]
    assert "{traceId}" in issues[1].message


def test_bad_size_limits_are_issues_with_their_line() -> None:
    """A size that is not one, or is zero, is reported at its line and field."""
    text = BASE + "settings:\n  maxManifestFileSize: 4 megabytes\n  maxRenderOutputSize: 0\n"
    issues = _issues(text, check_files=False)
    assert [(i.line, i.field) for i in issues] == [
        (9, "settings.maxManifestFileSize"), (10, "settings.maxRenderOutputSize")]
    assert "e.g. 4Mi" in issues[0].message
    assert "more than 0 bytes" in issues[1].message


@pytest.mark.parametrize(("text", "size"), [
    ("4Mi", 4 * 1024 * 1024), ("512Ki", 512 * 1024), ("1Gi", 1024**3), ("16M", 16_000_000),
    ("3k", 3000), ("1048576", 1048576), (1024, 1024), ("+2Mi", 2 * 1024 * 1024),
])
def test_parse_size_accepts(text: str | int, size: int) -> None:
    """Kubernetes-style quantities and plain integers become bytes."""
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "4MB", "1.5Mi", "-1", "0", "Mi", True, 0])
def test_parse_size_rejects(text: str | int) -> None:
    """Anything but a positive whole number of bytes is a ValueError."""
    with pytest.raises(ValueError, match=r"expected|more than 0|boolean"):
        parse_size(text)


def test_format_size_uses_the_largest_whole_binary_unit() -> None:
    """A size prints in the largest binary unit that divides it, else in bytes."""
    assert [format_size(n) for n in (4 * 1024**2, 512 * 1024, 1536, 1024**3, 7)] == [
        "4Mi", "512Ki", "1536", "1Gi", "7"]


@pytest.mark.parametrize(("text", "seconds"), [
    ("500ms", 0.5), ("5s", 5.0), ("3m", 180.0), ("1h", 3600.0), ("1h30m", 5400.0),
    ("1.5h", 5400.0), ("2m30s", 150.0), ("30", 30.0), ("0.25", 0.25), ("0", 0.0),
    ("1m0.5s", 60.5), ("100us", 0.0001), ("250µs", 0.00025), ("+5s", 5.0), (" 10s ", 10.0),
    (7, 7.0), (2.5, 2.5),
])
def test_parse_duration_accepts(text: str | float, seconds: float) -> None:
    """Go/Argo CD durations and plain numbers become seconds."""
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(("text", "reason"), [
    ("", "empty"), ("5", None), ("1d", "expected a number followed by"),
    ("5 minutes", "expected a number followed by"), ("-5s", "cannot be negative"),
    ("s", "expected a number followed by"), ("1h-5m", "expected a number followed by"),
    ("inf", "expected a number followed by"), (True, "boolean"), (-1, "cannot be negative"),
])
def test_parse_duration_rejects(text: str | float, reason: str | None) -> None:
    """Anything but a non-negative duration is a ValueError with a reason."""
    if reason is None:  # the control row: a plain number parses
        assert parse_duration(text) == 5.0
        return
    with pytest.raises(ValueError, match=reason):
        parse_duration(text)


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (0.5, "500ms"), (5, "5s"), (90, "1m30s"), (5400, "1h30m"), (3600, "1h"),
    (60.5, "1m0.5s"),
])
def test_format_duration_round_trips(seconds: float, text: str) -> None:
    """Formatting gives the Go spelling, which parses back to the same seconds."""
    assert format_duration(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds)


def test_sync_option_rules_cover_argo_cd_list() -> None:
    """Every Argo CD option with each accepted value passes; a wrong value or name does not."""
    for name, values in APP_OPTIONS.items():
        for value in values:
            assert check_sync_option(f"{name}={value}") is None
        assert check_sync_option(f"{name}=maybe") is not None
    assert "did you mean 'ServerSideApply'" in (check_sync_option("ServerSideApplied=true") or "")


# ---------------------------------------------------------------- summary and environment

def test_summary_lists_instances() -> None:
    """check-config's table shows counts and one row per instance with repo@revision."""
    fleet = load_fleet(CONFIG / "fleet.example.yaml", check_files=False)
    text = summary(fleet)
    lines = text.splitlines()
    assert lines[0] == "fleet acme: 3 clusters, 3 repositories, 3 applications, 6 instances"
    assert lines[1].split() == ["APPLICATION", "CLUSTER", "SOURCE", "PATH", "NAMESPACE"]
    assert lines[2].split() == ["frontend", "prod-eu", "env@main", "apps/frontend/overlays/prod",
                                "frontend"]
    assert "platform-tools  staging  local@HEAD" in text
    assert lines[-1] == "argocd platform: Applications from env@main:clusters/prod/apps"


def test_summary_of_an_empty_fleet() -> None:
    """A fleet without instances prints only its counts."""
    assert summary(Fleet("acme", (), (), ())) == (
        "fleet acme: 0 clusters, 0 repositories, 0 applications, 0 instances")


@pytest.mark.parametrize(("environ", "expected"), [
    ({"GITOPSD_CONFIG": "/etc/gitopsd/fleet.yaml"}, "/etc/gitopsd/fleet.yaml"),
    ({"GITOPSD_CONFIG": ""}, None),
    ({}, None),
])
def test_default_config_path(environ: dict[str, str], expected: str | None) -> None:
    """``--config`` falls back to $GITOPSD_CONFIG when it is set and not empty."""
    assert default_config_path(environ) == expected


def test_default_config_path_reads_the_process_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an explicit mapping the process environment is used."""
    monkeypatch.setenv("GITOPSD_CONFIG", "/srv/fleet.yaml")
    assert default_config_path() == "/srv/fleet.yaml"


# ---------------------------------------------------------------- the JSON Schema

SCHEMA = json.loads((CONFIG / "fleet.schema.json").read_text())


def _props(pointer: str) -> set[str]:
    node = SCHEMA
    for part in pointer.strip("/").split("/") if pointer.strip("/") else []:
        node = node[part]
    return set(node["properties"])


@pytest.mark.parametrize(("pointer", "fields"), [
    ("/", FLEET_FIELDS),
    ("/$defs/settings", SETTINGS_FIELDS),
    ("/$defs/cluster", CLUSTER_FIELDS),
    ("/$defs/bastion", BASTION_FIELDS),
    ("/$defs/rateLimit", RATE_LIMIT_FIELDS),
    ("/$defs/repository", REPOSITORY_FIELDS),
    ("/$defs/applicationFields", DEFAULTS_FIELDS),
    ("/$defs/source", SOURCE_FIELDS),
    ("/$defs/helm", HELM_FIELDS),
    ("/$defs/destination", DESTINATION_FIELDS),
    ("/$defs/clusterSelector", SELECTOR_FIELDS),
    ("/$defs/syncPolicy", SYNC_POLICY_FIELDS),
    ("/$defs/syncPolicy/properties/automated", AUTOMATED_FIELDS),
    ("/$defs/syncPolicy/properties/retry", RETRY_FIELDS),
    ("/$defs/syncPolicy/properties/retry/properties/backoff", BACKOFF_FIELDS),
    ("/$defs/ignoreDifference", IGNORE_DIFFERENCE_FIELDS),
    ("/$defs/argocdEntry", ARGOCD_ENTRY_FIELDS),
    ("/$defs/argocdEntry/properties/argocd", ARGOCD_SOURCE_FIELDS),
    ("/$defs/helmRepository", HELM_REPOSITORY_FIELDS),
])
def test_schema_names_the_fields_the_loader_accepts(pointer: str, fields: tuple[str, ...]
                                                    ) -> None:
    """Each object in the schema lists exactly the fields the loader reads there."""
    assert _props(pointer) == set(fields)


def test_schema_application_is_name_plus_defaults_fields() -> None:
    """An application entry is the defaults' fields plus its name."""
    assert _props("/$defs/application") | set(DEFAULTS_FIELDS) == set(APPLICATION_FIELDS)


def test_schema_is_valid_and_accepts_the_examples() -> None:
    """The schema is valid draft 2020-12 and both example files satisfy it."""
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for name in ("fleet.minimal.yaml", "fleet.example.yaml"):
        errors = list(validator.iter_errors(yaml.safe_load((CONFIG / name).read_text())))
        assert not errors, (name, [e.message for e in errors])


@pytest.mark.parametrize("name", ["unknown-field", "wrong-type", "missing-required",
                                  "bad-sync-options", "bad-durations"])
def test_schema_rejects_structural_mistakes(name: str) -> None:
    """Fixtures with unknown fields, wrong types or bad values fail the schema too."""
    doc = yaml.safe_load((TESTDATA / "invalid" / f"{name}.yaml").read_text())
    assert list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(doc))


def test_schema_sync_option_pattern_matches_the_rules() -> None:
    """The schema's syncOption pattern accepts exactly what the loader accepts."""
    pattern = re.compile(SCHEMA["$defs"]["syncOption"]["pattern"])
    for name, values in APP_OPTIONS.items():
        for value in (*values, "maybe"):
            option = f"{name}={value}"
            assert bool(pattern.match(option)) == (check_sync_option(option) is None), option
