"""Argo CD Applications to gitopsd applications: URL aliases, servers, sources, isolation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gitopsd.config import parse_fleet
from gitopsd.config.argocd import read_argocd_applications
from gitopsd.config.argomatch import NoMatch, match_repository, match_server, normal_server
from gitopsd.errors import ConfigError
from gitopsd.model import Cluster, Fleet, HelmParameter, Repository, SourceRef

FILES = Path(__file__).parent / "testdata" / "config" / "files"

FLEET = f"""
fleet: acme
clusters:
  - name: mgmt
    kubeconfig: {FILES}/kubeconfig-prod-eu
    servers: [https://kubernetes.default.svc]
  - name: edge
    kubeconfig: {FILES}/kubeconfig-two-contexts
    servers: ["https://edge.internal:443/"]
repositories:
  - name: env
    url: /srv/git/env
    aliases: [https://github.com/acme/env.git, git@github.com:acme/env-mirror]
  - name: values
    url: /srv/git/values
    aliases: [https://github.com/acme/values]
applications:
  - name: apps
    argocd: {{repo: env, path: apps}}
"""


def fleet() -> Fleet:
    return parse_fleet(FLEET, "fleet.yaml", check_files=False)


def application(name: str, spec: dict[str, Any]) -> str:
    return yaml.safe_dump({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                           "metadata": {"name": name, "namespace": "argocd"}, "spec": spec},
                          sort_keys=False)


def spec(**source: Any) -> dict[str, Any]:
    return {"project": "default",
            "source": {"repoURL": "https://github.com/acme/env.git", "path": "web", **source},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "web"}}


def test_aliases_match_by_repository_identity() -> None:
    """A repoURL matches a repository's alias whatever its transport, user, .git and case."""
    repos = fleet().repositories
    for url in ("https://github.com/acme/env.git", "https://GitHub.com/acme/env",
                "ssh://git@github.com/acme/env.git", "git@github.com:acme/env-mirror.git",
                "/srv/git/env"):
        assert match_repository(url, repos).name == "env", url
    assert match_repository("https://github.com/acme/values.git", repos).name == "values"
    with pytest.raises(NoMatch, match="add it to a repository's 'aliases'"):
        match_repository("https://github.com/acme/other.git", repos)


def test_an_alias_claimed_by_two_repositories_is_ambiguous() -> None:
    """Two repositories answering for one URL is reported, not resolved by order."""
    repos = (Repository("a", "/srv/a", aliases=("https://github.com/acme/x",)),
             Repository("b", "/srv/b", aliases=("git@github.com:acme/x.git",)))
    with pytest.raises(NoMatch, match=r"several fleet repositories \(a, b\)"):
        match_repository("https://github.com/acme/x.git", repos)


def test_servers_match_normalised_urls() -> None:
    """Server URLs compare without case, default port or trailing slash; in-cluster needs a claim."""
    assert normal_server("HTTPS://Edge.Internal:443/") == "https://edge.internal"
    clusters = fleet().clusters
    assert match_server("https://kubernetes.default.svc/", clusters).name == "mgmt"
    assert match_server("https://edge.internal", clusters).name == "edge"
    assert match_server("https://prod-eu.example.com:6443", clusters).name == "mgmt"  # kubeconfig
    with pytest.raises(NoMatch, match="list it under that cluster's 'servers'"):
        match_server("https://kubernetes.default.svc", (Cluster("x", "k"),))


def test_bad_aliases_and_servers_name_file_line_and_field() -> None:
    """An alias that is no repository URL and a server that is no https URL are reported."""
    text = FLEET.replace("servers: [https://kubernetes.default.svc]", "servers: [kubernetes]")
    text = text.replace("aliases: [https://github.com/acme/values]", "aliases: ['ftp://x/y']")
    with pytest.raises(ConfigError) as info:
        parse_fleet(text, "fleet.yaml", check_files=False)
    shown = sorted((i.line, i.field) for i in info.value.issues)
    assert shown == [(6, "clusters[0].servers[0]"), (16, "repositories[1].aliases[0]")]


def test_helm_fields_translate_as_argo_cd_reads_them() -> None:
    """releaseName, valueFiles, values (string), valuesObject and parameters all carry over."""
    helm = {"releaseName": "web-prod", "valueFiles": ["values-prod.yaml"],
            "values": "replicas: 2\nimage: {tag: v1}\n",
            "valuesObject": {"image": {"tag": "v2"}},
            "parameters": [{"name": "service.port", "value": "8080"},
                           {"name": "build", "value": "0123", "forceString": True}]}
    got = read_argocd_applications({"web.yaml": application("web", spec(helm=helm))}, fleet(),
                                   "env@main:apps")
    assert (got.rejected, got.problems, got.warnings) == ((), (), ())
    (web,) = got.applications
    params = web.source.helm
    assert (web.source.repo, web.source.path) == ("env", "web")
    assert web.destination.clusters.names == ("mgmt",)
    assert params.release_name == "web-prod"
    assert params.value_files == ("values-prod.yaml",)
    assert dict(params.values) == {"replicas": 2, "image": {"tag": "v2"}}
    assert params.parameters == (HelmParameter("service.port", "8080"),
                                 HelmParameter("build", "0123", force_string=True))


def test_multi_source_with_values_ref() -> None:
    """One rendered source plus a ref source: the ref becomes a SourceRef its $values files use."""
    body = {"project": "default",
            "sources": [{"repoURL": "https://github.com/acme/env.git", "path": "charts/web",
                         "targetRevision": "main",
                         "helm": {"valueFiles": ["values.yaml", "$values/prod/web.yaml"]}},
                        {"repoURL": "https://github.com/acme/values", "targetRevision": "v3",
                         "ref": "values"}],
            "destination": {"name": "edge", "namespace": "web"}}
    got = read_argocd_applications({"web.yaml": application("web", body)}, fleet(), "o")
    assert got.rejected == ()
    (web,) = got.applications
    assert (web.source.repo, web.source.path, web.source.target_revision) == (
        "env", "charts/web", "main")
    assert web.source.refs == (SourceRef("values", "values", "v3"),)
    assert web.source.helm.value_files == ("values.yaml", "$values/prod/web.yaml")


@pytest.mark.parametrize(("sources", "field", "message"), [
    ([{"repoURL": "/srv/git/env", "path": "a"}, {"repoURL": "/srv/git/values", "path": "b"}],
     "spec.sources", "gitopsd renders one source per application"),
    ([{"repoURL": "/srv/git/env", "path": "a", "helm": {"valueFiles": ["$vals/x.yaml"]}},
      {"repoURL": "/srv/git/values", "ref": "values"}],
     "spec.sources[0].helm.valueFiles[0]", "which is not a 'ref' of this Application"),
    ([{"repoURL": "/srv/git/values", "ref": "values"}],
     "spec.sources", "no source to render"),
])
def test_multi_source_refusals_name_their_field(sources: list[Any], field: str,
                                                message: str) -> None:
    """Shapes of spec.sources gitopsd cannot honour are refused with the field at fault."""
    body = {"sources": sources, "destination": {"name": "edge"}}
    got = read_argocd_applications({"a.yaml": application("multi", body)}, fleet(), "o")
    (rejected,) = got.rejected
    assert any(f": {field}: " in r and message in r for r in rejected.reasons), rejected.reasons


def test_one_bad_application_fails_alone() -> None:
    """A plugin source is refused for its Application only, with file, line and field."""
    good = application("good", spec())
    bad = application("bad", spec(plugin={"name": "cmp"}))
    got = read_argocd_applications({"apps.yaml": good + "---\n" + bad}, fleet(), "env@main:apps",
                                   entry="apps")
    assert [a.name for a in got.applications] == ["good"]
    (rejected,) = got.rejected
    assert (rejected.name, rejected.origin, rejected.cluster) == ("bad", "apps", "mgmt")
    assert rejected.reasons == (
        "env@main:apps/apps.yaml:25: spec.source.plugin: field 'plugin' is not supported by gitopsd",)


def test_ignored_fields_are_warnings() -> None:
    """The history limit, the source name and helm.version change nothing and say so."""
    body = spec(name="web-src", helm={"version": "v3"})
    body["revisionHistoryLimit"] = 3
    got = read_argocd_applications({"w.yaml": application("w", body)}, fleet(), "o")
    assert [a.name for a in got.applications] == ["w"]
    assert sorted(w.field for w in got.warnings) == [
        "spec.revisionHistoryLimit", "spec.source.helm.version",
        "spec.source.name"]


CHART_FLEET = FLEET.replace("applications:", """helmRepositories:
  - {name: stable, url: "https://charts.example.com/stable"}
  - {name: team, url: "oci://registry.example.com/team"}
applications:""")


@pytest.mark.parametrize(("url", "repo"), [
    ("https://charts.example.com/stable/", "stable"),
    ("registry.example.com/team", "team"),
    ("oci://registry.example.com/team", "team")])
def test_chart_source_matches_a_helm_repository_url(url: str, repo: str) -> None:
    """source.chart with a helmRepositories URL (OCI with or without oci://) is a chart source."""
    body = {"project": "default",
            "source": {"repoURL": url, "chart": "podinfo", "targetRevision": "6.x",
                       "helm": {"releaseName": "pi"}},
            "destination": {"name": "edge", "namespace": "web"}}
    fleet_ = parse_fleet(CHART_FLEET, "fleet.yaml", check_files=False)
    got = read_argocd_applications({"pi.yaml": application("pi", body)}, fleet_, "o")
    assert got.rejected == ()
    (pi,) = got.applications
    assert (pi.source.repo, pi.source.chart, pi.source.target_revision) == (repo, "podinfo", "6.x")
    assert pi.source.helm.release_name == "pi"


def test_chart_source_with_an_unknown_url_or_a_path_is_rejected() -> None:
    """A chart repoURL no helmRepositories entry has, or a path beside chart, is refused."""
    fleet_ = parse_fleet(CHART_FLEET, "fleet.yaml", check_files=False)
    unknown = spec(chart="x")
    unknown["source"] = {"repoURL": "https://elsewhere.example.com", "chart": "x"}
    with_path = spec(chart="x")
    with_path["source"]["repoURL"] = "https://charts.example.com/stable"
    got = read_argocd_applications({"a.yaml": application("a", unknown),
                                    "b.yaml": application("b", with_path)}, fleet_, "o")
    reasons = {r.name: r.reasons for r in got.rejected}
    assert "is not the URL of an entry of the fleet's helmRepositories" in reasons["a"][0]
    assert "a chart source has no 'path'" in reasons["b"][0]


@pytest.mark.parametrize("path", [None, ".", "./"])
def test_an_oci_source_naming_its_chart_is_a_chart_source(path: str | None) -> None:
    """Argo CD's OCI source (repoURL oci://<registry path>/<chart>, path '.') is the chart
    from the helmRepositories entry of its registry path."""
    source: dict[str, Any] = {"repoURL": "oci://registry.example.com/team/podinfo/",
                              "targetRevision": "6.5.0", "helm": {"releaseName": "pi"}}
    if path is not None:
        source["path"] = path
    body = {"project": "default", "source": source,
            "destination": {"name": "edge", "namespace": "web"}}
    fleet_ = parse_fleet(CHART_FLEET, "fleet.yaml", check_files=False)
    got = read_argocd_applications({"pi.yaml": application("pi", body)}, fleet_, "o")
    assert got.rejected == ()
    (pi,) = got.applications
    assert (pi.source.repo, pi.source.chart, pi.source.target_revision) == (
        "team", "podinfo", "6.5.0")
    assert pi.source.helm.release_name == "pi"


@pytest.mark.parametrize(("source", "field", "message"), [
    ({"repoURL": "oci://registry.example.com/team/podinfo", "path": "deploy"},
     "spec.source.path", "its path must be '.'"),
    ({"repoURL": "oci://registry.example.com"}, "spec.source.repoURL", "names no chart"),
    ({"repoURL": "oci://registry.example.com/other/podinfo"}, "spec.source.repoURL",
     "'oci://registry.example.com/other' is not the URL of an entry"),
    ({"repoURL": "oci://registry.example.com/team/podinfo", "ref": "values"},
     "spec.source.ref", "an OCI chart source has no 'ref'"),
])
def test_an_oci_source_gitopsd_cannot_render_is_rejected(source: dict[str, Any], field: str,
                                                         message: str) -> None:
    """An OCI source with a sub-path, without a chart, from an undeclared registry path or
    lending its files as a ref is refused with its field and reason."""
    body = {"project": "default", "source": {"targetRevision": "1.0.0", **source},
            "destination": {"name": "edge", "namespace": "web"}}
    fleet_ = parse_fleet(CHART_FLEET, "fleet.yaml", check_files=False)
    got = read_argocd_applications({"a.yaml": application("a", body)}, fleet_, "o")
    (rejected,) = got.rejected
    assert any(f": {field}: " in r and message in r for r in rejected.reasons), rejected.reasons
