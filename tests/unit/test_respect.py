"""RespectIgnoreDifferences: the body to apply keeps the live value of every ignored field."""

from __future__ import annotations

import copy
from typing import Any

from gitopsd.core.diff.respect import respect_ignored
from gitopsd.model import IgnoreDifference

DESIRED: dict[str, Any] = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
    "spec": {"replicas": 3, "template": {"spec": {"containers": [
        {"name": "web", "image": "web:1"}, {"name": "proxy", "image": "proxy:1"}]}}},
}


def live_with(**changes: Any) -> dict[str, Any]:
    live = copy.deepcopy(DESIRED)
    live["metadata"]["resourceVersion"] = "42"
    if "replicas" in changes:
        live["spec"]["replicas"] = changes["replicas"]
    if "containers" in changes:
        live["spec"]["template"]["spec"]["containers"] = changes["containers"]
    return live


def test_pointer_takes_the_live_value() -> None:
    """A replica count an autoscaler set is what the body to apply carries."""
    rule = IgnoreDifference(group="apps", kind="Deployment", json_pointers=("/spec/replicas",))
    body = respect_ignored(DESIRED, live_with(replicas=7), [rule])
    assert body["spec"]["replicas"] == 7
    assert DESIRED["spec"]["replicas"] == 3
    assert "resourceVersion" not in body["metadata"]


def test_field_missing_live_keeps_its_desired_value() -> None:
    """An ignored field the live object lacks is applied as desired."""
    live = live_with()
    del live["spec"]["replicas"]
    rule = IgnoreDifference(kind="Deployment", json_pointers=("/spec/replicas",))
    assert respect_ignored(DESIRED, live, [rule])["spec"]["replicas"] == 3


def test_jq_path_matches_containers_by_name_in_any_order() -> None:
    """A sidecar image the cluster changed is kept even when live lists containers in another order."""
    rule = IgnoreDifference(kind="Deployment", jq_path_expressions=(
        '.spec.template.spec.containers[] | select(.name == "proxy") | .image',))
    live = live_with(containers=[{"name": "injected", "image": "mesh:2"},
                                 {"name": "proxy", "image": "proxy:9"},
                                 {"name": "web", "image": "web:5"}])
    body = respect_ignored(DESIRED, live, [rule])
    assert body["spec"]["template"]["spec"]["containers"] == [
        {"name": "web", "image": "web:1"}, {"name": "proxy", "image": "proxy:9"}]


def test_ignored_element_absent_from_desired_is_not_added() -> None:
    """A whole ignored container that Git does not declare stays out of the body."""
    rule = IgnoreDifference(kind="Deployment", jq_path_expressions=(
        '.spec.template.spec.containers[] | select(.name == "injected")',))
    live = live_with(containers=[*DESIRED["spec"]["template"]["spec"]["containers"],
                                 {"name": "injected", "image": "mesh:2"}])
    body = respect_ignored(DESIRED, live, [rule])
    assert [c["name"] for c in body["spec"]["template"]["spec"]["containers"]] == ["web", "proxy"]


def test_without_rules_the_body_is_the_desired_one() -> None:
    """No rule, no change."""
    assert respect_ignored(DESIRED, live_with(replicas=7), []) == DESIRED


def test_gitopsds_marks_and_server_metadata_never_come_from_live() -> None:
    """Ignoring all annotations keeps other tools' annotations live, but gitopsd's own marks as desired."""
    desired = copy.deepcopy(DESIRED)
    desired["metadata"]["annotations"] = {"gitopsd.io/tracking-id": "app:apps/Deployment:/web",
                                          "gitopsd.io/desired-hash": "new"}
    live = live_with()
    live["metadata"]["annotations"] = {"gitopsd.io/tracking-id": "other:apps/Deployment:/web",
                                       "gitopsd.io/desired-hash": "old", "injector/at": "09:00"}
    rule = IgnoreDifference(kind="Deployment", json_pointers=("/metadata/annotations",
                                                              "/metadata/resourceVersion"))
    body = respect_ignored(desired, live, [rule])
    assert body["metadata"]["annotations"] == {"gitopsd.io/tracking-id": "app:apps/Deployment:/web",
                                               "gitopsd.io/desired-hash": "new", "injector/at": "09:00"}
    assert "resourceVersion" not in body["metadata"]
