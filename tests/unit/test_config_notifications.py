"""The fleet file's notifications section: services, subscriptions, templates and their errors."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from gitopsd.config import parse_fleet, summary
from gitopsd.config.argocd import read_argocd_applications
from gitopsd.config.notifications import NOTIFICATION_FIELDS, SERVICE_FIELDS, SUBSCRIPTION_FIELDS
from gitopsd.errors import ConfigError, ConfigIssue
from gitopsd.model.notifications import ServiceType, Trigger

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "config" / "fleet.schema.json").read_text())

BASE = """\
fleet: acme
clusters:
  - {name: prod, kubeconfig: /k/eu}
repositories:
  - {name: env, url: "https://git.example.com/org/env.git"}
"""

GOOD = """\
notifications:
  rateLimit: 2m
  reminder: 1h
  outOfSyncAfter: 30s
  services:
    - {name: ops, type: slack, urlFile: /s/slack}
    - {name: pager, type: pagerduty, tokenFile: /s/pd}
    - {name: am, type: alertmanager, url: "http://am:9093"}
    - {name: hook, type: webhook, url: "http://hook", secretFile: /s/key, retries: 1, retryBackoff: 1s}
    - {name: mail, type: email, host: smtp, from: a@b.c, to: [sre@b.c]}
  subscriptions:
    - triggers: [on-sync-failed, health-degraded]
      services: [ops, pager]
      applications: ["pay-*"]
      projects: [prod]
  templates:
    on-sync-failed: "$app failed at $short_revision"
"""


def _issues(text: str) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as info:
        parse_fleet(text, "fleet.yaml", check_files=False)
    return info.value.issues


def test_a_full_section_is_read() -> None:
    """Every field of a valid section becomes its model value, with defaults filled in."""
    n = parse_fleet(BASE + GOOD, "fleet.yaml", check_files=False).notifications
    assert (n.rate_limit, n.reminder, n.out_of_sync_after, n.events) == (120.0, 3600.0, 30.0, True)
    assert [s.type for s in n.services] == [ServiceType.SLACK, ServiceType.PAGERDUTY,
                                            ServiceType.ALERTMANAGER, ServiceType.WEBHOOK,
                                            ServiceType.EMAIL]
    assert [s.send_resolved for s in n.services] == [False, True, True, True, False]
    hook = n.service("hook")
    assert hook is not None
    assert (hook.retries, hook.retry_backoff, hook.secret_file) == (1, 1.0, "/s/key")
    sub = n.subscriptions[0]
    assert sub.triggers == (Trigger.SYNC_FAILED, Trigger.HEALTH_DEGRADED)
    assert (sub.services, sub.applications, sub.projects) == (("ops", "pager"), ("pay-*",), ("prod",))
    assert sub.origin == "fleet.yaml:17"
    assert n.templates == {Trigger.SYNC_FAILED: "$app failed at $short_revision"}


def test_without_a_section_nothing_is_subscribed() -> None:
    """A fleet file without notifications has no services and no subscriptions."""
    n = parse_fleet(BASE, "fleet.yaml", check_files=False).notifications
    assert (n.services, n.subscriptions) == ((), ())


@pytest.mark.parametrize(("bad", "line", "field", "words"), [
    ("  services:\n    - {name: x, type: teams, url: u}\n", 8, "notifications.services[0].type",
     "unknown service type 'teams'"),
    ("  services:\n    - {name: x, type: slack, url: http://hooks}\n", 8, "notifications.services[0].url",
     "is a secret"),
    ("  services:\n    - {name: x, type: pagerduty}\n", 8, "notifications.services[0]", "needs tokenFile"),
    ("  services:\n    - {name: x, type: email, host: h}\n", 8, "notifications.services[0]", "needs 'to'"),
    ("  subscriptions:\n    - {triggers: [on-sync-exploded], services: []}\n", 8,
     "notifications.subscriptions[0].triggers[0]", "unknown trigger 'on-sync-exploded'"),
    ("  subscriptions:\n    - {triggers: [on-deployed], services: [nobody]}\n", 8,
     "notifications.subscriptions[0].services[0]", "no service named 'nobody'"),
    ("  templates:\n    on-deployed: \"$app at $nonsense\"\n", 8, "notifications.templates.on-deployed",
     "unknown name(s) nonsense"),
    ("  templates:\n    on-deployed: \"cost $5\"\n", 8, "notifications.templates.on-deployed",
     "malformed placeholder"),
    ("  rateLimit: soon\n", 7, "notifications.rateLimit", "duration"),
    ("  sevices: []\n", 7, "notifications.sevices", "did you mean 'services'"),
])
def test_errors_name_file_line_and_field(bad: str, line: int, field: str, words: str) -> None:
    """Each mistake is reported at its own line and field."""
    issues = _issues(BASE + "notifications:\n" + bad)
    assert [(i.file, i.line, i.field) for i in issues] == [("fleet.yaml", line, field)], issues
    assert words in issues[0].message


def test_a_secret_file_that_cannot_be_read_is_reported_without_its_content(tmp_path: Path) -> None:
    """A missing urlFile is an issue naming the file's path, at its line."""
    path = tmp_path / "fleet.yaml"
    path.write_text(BASE + "notifications:\n  services:\n    - {name: x, type: slack, urlFile: nowhere}\n")
    with pytest.raises(ConfigError) as info:
        parse_fleet(path.read_text(), str(path), check_files=True)
    issue = next(i for i in info.value.issues if i.field.startswith("notifications"))
    assert (issue.line, issue.field) == (8, "notifications.services[0].urlFile")
    assert str(tmp_path / "nowhere") in issue.message


def test_schema_lists_the_fields_the_loader_reads() -> None:
    """The schema's notifications objects list exactly the loader's fields, and accept the example."""
    defs = SCHEMA["$defs"]
    assert set(defs["notifications"]["properties"]) == set(NOTIFICATION_FIELDS)
    assert set(defs["notificationService"]["properties"]) == set(SERVICE_FIELDS)
    assert set(defs["notificationSubscription"]["properties"]) == set(SUBSCRIPTION_FIELDS)
    errors = list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(yaml.safe_load(BASE + GOOD)))
    assert errors == []


SERVERS = "  - {name: prod, kubeconfig: /k/eu, servers: [https://kubernetes.default.svc]}"
ARGO_FLEET = BASE.replace("  - {name: prod, kubeconfig: /k/eu}", SERVERS) + """\
notifications:
  services:
    - {name: slack, type: slack, urlFile: /s/slack}
"""


def test_argocd_subscribe_annotations_become_the_applications_own_subscriptions() -> None:
    """subscribe.<trigger>.<service> annotations subscribe their recipients; unknown ones are warnings."""
    fleet = parse_fleet(ARGO_FLEET, "fleet.yaml", check_files=False)
    doc = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
           "metadata": {"name": "web", "annotations": {
               "notifications.argoproj.io/subscribe.on-sync-failed.slack": "ops;web-team",
               "notifications.argoproj.io/subscribe.on-created.slack": "ops",
               "notifications.argoproj.io/subscribe.on-deployed.teams": "ops"}},
           "spec": {"source": {"repoURL": "https://git.example.com/org/env.git", "path": "web"},
                    "destination": {"server": "https://kubernetes.default.svc", "namespace": "web"}}}
    got = read_argocd_applications({"web.yaml": yaml.safe_dump(doc, sort_keys=False)}, fleet, "apps")
    [app] = got.applications
    [sub] = app.subscriptions
    assert (sub.triggers, sub.services, sub.recipients) == ((Trigger.SYNC_FAILED,), ("slack",),
                                                            ("ops", "web-team"))
    assert sub.origin == "apps/web.yaml:6"
    assert [(w.line, w.message.split(":")[0]) for w in got.warnings] == [(7, "ignored"), (8, "ignored")]
    assert "on-created" in got.warnings[0].message
    assert "teams" in got.warnings[1].message


def test_check_config_summary_lists_services_and_their_triggers() -> None:
    """The check-config summary names each service, its type and the triggers subscribed to it."""
    text = summary(parse_fleet(BASE + GOOD, "fleet.yaml", check_files=False))
    assert "notifications ops (slack): on-health-degraded, on-sync-failed" in text
    assert "notifications mail (email): no subscriptions" in text
