"""The ``settings.coordination`` block of a fleet file shared by several daemons."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from gitopsd.config import parse_fleet
from gitopsd.config.coordination import COORDINATION_FIELDS
from gitopsd.errors import ConfigError, ConfigIssue
from gitopsd.model.fleet import Coordination

BASE = """\
fleet: acme
clusters:
  - {name: hub, kubeconfig: /k/hub, labels: {gitopsd.io/host: host-a}}
  - {name: edge, kubeconfig: /k/edge}
"""


def _issues(text: str) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as info:
        parse_fleet(text, "fleet.yaml", check_files=False)
    return info.value.issues


def test_without_coordination_the_fleet_has_one_daemon() -> None:
    """A fleet file without the block leaves coordination off."""
    assert parse_fleet(BASE, "fleet.yaml", check_files=False).settings.coordination is None


def test_every_field_is_read() -> None:
    """Cluster, namespace, timings, pin label and load bound are all read."""
    text = BASE + ("settings:\n  coordination: {cluster: hub, namespace: ha, leaseDuration: 30s,\n"
                   "    renewInterval: 5s, pinLabel: gitopsd.io/host, epsilon: 0.5}\n")
    got = parse_fleet(text, "fleet.yaml", check_files=False).settings.coordination
    assert got == Coordination(cluster="hub", namespace="ha", lease_duration=30.0, renew_interval=5.0,
                               pin_label="gitopsd.io/host", epsilon=0.5)


def test_defaults_apply_to_fields_left_out() -> None:
    """Only the cluster is required; the Lease timing defaults to 12 s and 3 s."""
    got = parse_fleet(BASE + "settings: {coordination: {cluster: edge}}\n", "fleet.yaml",
                      check_files=False).settings.coordination
    assert got == Coordination(cluster="edge")
    assert (got.namespace, got.lease_duration, got.renew_interval) == ("gitopsd-system", 12.0, 3.0)


def test_an_unknown_cluster_is_reported_at_its_line() -> None:
    """A coordination cluster that is not in the fleet is an issue at its own line and field."""
    issues = _issues(BASE + "settings:\n  coordination:\n    cluster: nowhere\n")
    assert [(i.file, i.line, i.field) for i in issues] == [("fleet.yaml", 7, "settings.coordination.cluster")]
    assert "nowhere" in issues[0].message


def test_a_renew_interval_too_close_to_the_duration_is_refused() -> None:
    """A renewal interval above a quarter of the Lease duration leaves no safety margin and is refused."""
    issues = _issues(BASE + "settings:\n  coordination:\n    cluster: hub\n    leaseDuration: 10s\n"
                            "    renewInterval: 4s\n")
    assert [(i.line, i.field) for i in issues] == [(9, "settings.coordination.renewInterval")]
    assert "quarter" in issues[0].message


def test_unknown_and_missing_fields_are_reported() -> None:
    """A misspelt field and a missing cluster are both reported with their lines."""
    issues = _issues(BASE + "settings:\n  coordination:\n    namespce: x\n")
    assert sorted((i.line, i.field) for i in issues) == [
        (7, "settings.coordination"), (7, "settings.coordination.namespce")]
    assert sorted(i.message.split(" ")[0] for i in issues) == ["missing", "unknown"]


def test_the_schema_names_exactly_the_fields_read() -> None:
    """The fleet schema's coordination object lists the fields the loader reads and accepts an example."""
    schema = json.loads((Path(__file__).parents[2] / "config" / "fleet.schema.json").read_text())
    node = schema["$defs"]["settings"]["properties"]["coordination"]
    assert set(node["properties"]) == set(COORDINATION_FIELDS)
    doc = yaml.safe_load(BASE + "settings: {coordination: {cluster: hub, leaseDuration: 20s, epsilon: 0}}\n")
    jsonschema.validate(doc, schema)
    doc["settings"]["coordination"]["leaseDurtion"] = "20s"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)
