"""``select_instances``: the instances a one-shot verb acts on, or one line saying why none."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gitopsd.config import parse_fleet
from gitopsd.core.instances import defines, select_instances
from gitopsd.errors import GitopsdError
from gitopsd.model import Fleet

FLEET = """\
fleet: acme
clusters:
  - {name: prod-eu, kubeconfig: /k/eu, labels: {env: prod}}
  - {name: prod-us, kubeconfig: /k/us, labels: {env: prod}}
  - {name: staging, kubeconfig: /k/st, labels: {env: staging}}
repositories:
  - {name: env, url: "https://git.example.com/org/env.git"}
applications:
  - name: frontend
    source: {repo: env, path: web}
    destination: {clusters: {matchLabels: {env: prod}}, namespace: web}
  - name: reports
    source: {repo: env, path: reports}
    destination: {clusters: {names: [staging]}, namespace: reports}
"""


@pytest.fixture
def fleet() -> Fleet:
    return parse_fleet(FLEET, "fleet.yaml", check_files=False)


def test_every_instance_of_the_application_without_a_cluster(fleet: Fleet) -> None:
    """Without a cluster all instances of the application are chosen, and no other's."""
    chosen = select_instances(fleet, "frontend")
    assert chosen == tuple(i for i in fleet.instances if i.app == "frontend")
    assert len(chosen) > 1


def test_only_the_named_cluster(fleet: Fleet) -> None:
    """With a cluster only the application's instance there is chosen."""
    (only,) = select_instances(fleet, "frontend", "prod-us")
    assert (only.app, only.cluster) == ("frontend", "prod-us")


def test_unknown_application_suggests_the_closest_name(fleet: Fleet) -> None:
    """A misspelt application is refused, naming the application the user probably meant."""
    with pytest.raises(GitopsdError, match=r"unknown application 'frontnd'; did you mean "
                                           r"'frontend'\?"):
        select_instances(fleet, "frontnd")
    with pytest.raises(GitopsdError) as err:
        select_instances(fleet, "zzz")
    assert "did you mean" not in str(err.value)


def test_cluster_the_application_does_not_run_on(fleet: Fleet) -> None:
    """A cluster outside the application's destination is refused, listing where it runs."""
    on = ", ".join(i.cluster for i in fleet.instances if i.app == "frontend")
    with pytest.raises(GitopsdError) as err:
        select_instances(fleet, "frontend", "staging")
    assert str(err.value) == (f"application 'frontend' has no instance on cluster 'staging' "
                              f"(it runs on {on})")


def test_application_without_instances(fleet: Fleet) -> None:
    """An application that has no instance is refused, with or without a cluster."""
    bare = replace(fleet, instances=tuple(i for i in fleet.instances if i.app != "reports"))
    with pytest.raises(GitopsdError, match="application 'reports' selects no cluster"):
        select_instances(bare, "reports")
    with pytest.raises(GitopsdError, match=r"\(it runs on no cluster\)"):
        select_instances(bare, "reports", "staging")
    assert select_instances(fleet, "reports")


def test_defines_follows_the_applications(fleet: Fleet) -> None:
    """An application of the fleet is defined; any other name is not."""
    assert all(defines(fleet, a.name) for a in fleet.applications)
    assert not defines(fleet, "frontend-staging")
