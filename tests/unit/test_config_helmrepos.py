"""The fleet file's helmRepositories and chart sources: parsing and file:line:field errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitopsd.config import parse_fleet
from gitopsd.errors import ConfigError, ConfigIssue
from gitopsd.model.helmrepos import HelmRepository, find_helm_repository

BASE = """\
fleet: acme
clusters:
  - {name: prod, kubeconfig: /k/prod}
repositories:
  - {name: env, url: "https://git.example.com/org/env.git"}
"""


def _issues(text: str) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as info:
        parse_fleet(text, "fleet.yaml", check_files=False)
    return info.value.issues


def test_helm_repositories_and_a_chart_source_are_read(tmp_path: Path) -> None:
    """Credential files resolve against the fleet file and a chart source keeps its range."""
    text = BASE + """\
helmRepositories:
  - name: charts
    url: https://charts.example.com/stable/
    usernameFile: secrets/user
    passwordFile: secrets/pass
    caFile: /etc/ca.pem
  - {name: registry, url: "oci://registry.example.com/team", insecureSkipTLSVerify: true}
applications:
  - name: podinfo
    source: {helmRepo: charts, chart: podinfo, version: "^6.5.0", helm: {releaseName: web}}
    destination: {clusters: {names: [prod]}, namespace: web}
"""
    fleet = parse_fleet(text, str(tmp_path / "fleet.yaml"), check_files=False)
    charts, registry = fleet.helm_repositories
    assert charts == HelmRepository(
        name="charts", url="https://charts.example.com/stable",
        username_file=str(tmp_path / "secrets/user"), password_file=str(tmp_path / "secrets/pass"),
        ca_file="/etc/ca.pem")
    assert registry.oci
    assert registry.insecure_skip_tls_verify
    source = fleet.application("podinfo").source
    assert (source.repo, source.chart, source.target_revision, source.helm.release_name) == (
        "charts", "podinfo", "^6.5.0", "web")
    assert fleet.source_url(source) == "https://charts.example.com/stable"


@pytest.mark.parametrize(("entry", "line", "field", "message"), [
    ('{name: c, url: "ftp://x/y"}', 7, "helmRepositories[0].url", "https://, http:// or oci://"),
    ('{name: c, url: "https://u:p@x/y"}', 7, "helmRepositories[0].url",
     "contains credentials"),
    ('{name: c, url: "https://x", usernameFile: /u}', 7, "helmRepositories[0].usernameFile",
     "go together"),
    ('{name: c, url: "http://x", usernameFile: /u, passwordFile: /p}', 7,
     "helmRepositories[0].passwordFile", "clear text"),
    ('{name: c, url: "https://x", token: /t}', 7, "helmRepositories[0].token", "unknown field"),
    ('{name: env, url: "https://x"}', 7, "helmRepositories[0].name",
     "already the name of a Git repository"),
    ('{name: c, url: "http://x", plainHTTP: true}', 7, "helmRepositories[0].plainHTTP",
     "for oci:// registries"),
    ('{name: c, url: "oci://x/y", plainHTTP: true, usernameFile: /u, passwordFile: /p}', 7,
     "helmRepositories[0].plainHTTP", "clear text over plain HTTP"),
    ('{name: c, url: "oci://x/y", plainHTTP: true, caFile: /ca.pem}', 7,
     "helmRepositories[0].plainHTTP", "caFile would not apply"),
    ('{name: c, url: "oci://x/y", plainHTTP: yes-please}', 7, "helmRepositories[0].plainHTTP",
     "boolean"),
])
def test_bad_helm_repository_entries_name_line_and_field(entry: str, line: int, field: str,
                                                         message: str) -> None:
    """Each mistake in a helmRepositories entry is reported at its line and field."""
    issues = _issues(BASE + "helmRepositories:\n  - " + entry + "\n")
    assert [(i.line, i.field) for i in issues] == [(line, field)]
    assert message in issues[0].message


def test_chart_source_mistakes_are_reported_where_written() -> None:
    """An unknown helmRepo, a Git-only field and a path as chart name are each reported."""
    text = BASE + """\
helmRepositories:
  - {name: charts, url: "https://charts.example.com"}
applications:
  - name: web
    source:
      helmRepo: chrts
      chart: ./web
      path: charts/web
    destination: {clusters: {names: [prod]}}
"""
    found = {(i.line, i.field): i.message for i in _issues(text)}
    assert set(found) == {(11, "applications[0].source.helmRepo"),
                          (12, "applications[0].source.chart"),
                          (13, "applications[0].source.path")}
    assert "did you mean 'charts'" in found[(11, "applications[0].source.helmRepo")]


def test_chart_urls_match_by_url_or_longest_oci_prefix() -> None:
    """A dependency URL finds its entry ignoring a trailing slash; an OCI chart, its registry path."""
    repos = (HelmRepository("a", "https://charts.example.com/stable"),
             HelmRepository("r", "oci://reg.example.com"),
             HelmRepository("t", "oci://reg.example.com/team"))
    assert find_helm_repository(repos, "HTTPS://charts.example.com/stable/") is repos[0]
    assert find_helm_repository(repos, "oci://reg.example.com/team/lib") is repos[2]
    assert find_helm_repository(repos, "oci://reg.example.com/other/lib") is repos[1]
    assert find_helm_repository(repos, "https://charts.example.com") is None


def test_plain_http_marks_an_oci_registry() -> None:
    """``plainHTTP: true`` on an oci:// entry is read onto the repository; without it, TLS."""
    text = BASE + """\
helmRepositories:
  - {name: lab, url: "oci://127.0.0.1:5000/charts", plainHTTP: true}
  - {name: tls, url: "oci://127.0.0.1:5001/charts", plainHTTP: false}
"""
    lab, tls = parse_fleet(text, "fleet.yaml", check_files=False).helm_repositories
    assert (lab.oci, lab.plain_http) == (True, True)
    assert tls.plain_http is False
