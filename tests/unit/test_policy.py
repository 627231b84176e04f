"""Unit tests for core.policy: image tags, plaintext Secrets, labels, pod risks, path scopes, policy files."""

from __future__ import annotations

from typing import Any

import pytest

from gitopsd.core.policy import (
    RULES,
    PolicyConfig,
    Severity,
    Subject,
    check_kustomization,
    check_object,
    floating_tag,
    is_sops_encrypted,
    matches,
    parse_policy,
)
from gitopsd.errors import ConfigError

PROD = "clusters/prod/apps/web/deployment.yaml"
STAGING = "clusters/staging/apps/web/deployment.yaml"


def deployment(*images: str, init: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "web"}},
        "spec": {"template": {"spec": {
            "initContainers": [{"name": f"i{n}", "image": image} for n, image in enumerate(init)],
            "containers": [{"name": f"c{n}", "image": image} for n, image in enumerate(images)],
        }}},
    }


def secret(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, **fields}


def rules_of(findings: list[Any]) -> list[str]:
    return [f.rule for f in findings]


@pytest.mark.parametrize(("reference", "expected"), [
    ("nginx", ""),
    ("nginx:latest", "latest"),
    ("nginx:1.27", None),
    ("ghcr.io/acme/web:latest", "latest"),
    ("registry.local:5000/web", ""),
    ("registry.local:5000/web:2.0", None),
    ("nginx@sha256:" + "a" * 64, None),
    ("nginx:latest@sha256:" + "a" * 64, None),
    ("${IMAGE}", None),
    ("{{ .Values.image }}", None),
    ("", None),
])
def test_floating_tag(reference: str, expected: str | None) -> None:
    """Untagged and ':latest' references float; digests, release tags and templates do not."""
    assert floating_tag(reference) == expected


@pytest.mark.parametrize(("pattern", "path", "expected"), [
    ("/prod/", "clusters/prod/apps/web.yaml", True),
    ("/prod/", "prod/web.yaml", True),
    ("/prod/", "clusters/production/web.yaml", False),
    ("/prod/", "clusters/preprod/web.yaml", False),
    ("clusters/*/apps/*", "clusters/prod/apps/web.yaml", True),
    ("clusters/*/apps/*", "base/web.yaml", False),
    ("*.sops.yaml", "secrets/db.sops.yaml", True),
])
def test_path_patterns(pattern: str, path: str, expected: bool) -> None:
    """Plain patterns match as slash-anchored substrings, patterns with wildcards as globs."""
    assert matches(pattern, path) is expected


def test_latest_image_under_prod_is_found_at_its_line() -> None:
    """A ':latest' container image under /prod/ is an error at the image field's line."""
    body = deployment("nginx:1.27", "busybox:latest")
    lines = {("spec", "template", "spec", "containers", 1, "image"): 22}
    found = check_object(Subject(body, PROD, 1, lines), PolicyConfig())
    assert [(f.rule, f.line, f.severity) for f in found] == [("image-latest", 22, Severity.ERROR)]
    assert "busybox:latest" in found[0].message
    assert found[0].hint == RULES["image-latest"].hint


def test_latest_image_outside_prod_is_allowed() -> None:
    """The default scope is /prod/, so staging may follow ':latest'."""
    assert check_object(Subject(deployment("busybox:latest"), STAGING, 1), PolicyConfig()) == []


@pytest.mark.parametrize("body", [
    deployment("busybox", init=("alpine:3.20",)),
    deployment("nginx:1.27", init=("busybox",)),
    {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "r"},
     "spec": {"jobTemplate": {"spec": {"template": {"spec": {
         "containers": [{"name": "r", "image": "r"}]}}}}}},
    {"apiVersion": "example.com/v1", "kind": "Runner", "metadata": {"name": "r"},
     "spec": {"pod": {"containers": [{"name": "r", "image": "r:latest"}]}}},
])
def test_untagged_images_anywhere_in_an_object_are_found(body: dict[str, Any]) -> None:
    """Containers are found in init lists, CronJob templates and custom resources alike."""
    assert rules_of(check_object(Subject(body, PROD, 1), PolicyConfig())) == ["image-latest"]


@pytest.mark.parametrize(("body", "expected"), [
    (secret(data={"password": "aHVudGVyMg=="}), ["plaintext-secret"]),
    (secret(stringData={"password": "hunter2"}), ["plaintext-secret"]),
    (secret(type="kubernetes.io/service-account-token"), []),
    (secret(data={}), []),
    (secret(data={"password": "ENC[AES256_GCM,data:x,type:str]"},
            sops={"mac": "ENC[AES256_GCM,data:y]", "age": [{"recipient": "age1x", "enc": "z"}]}), []),
    ({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "db"},
      "spec": {"encryptedData": {"password": "AgBy"}}}, []),
])
def test_plaintext_secrets(body: dict[str, Any], expected: list[str]) -> None:
    """Secrets with data are flagged unless SOPS-encrypted; SealedSecrets and empty Secrets pass."""
    assert rules_of(check_object(Subject(body, "base/db.yaml", 1), PolicyConfig())) == expected


def test_secret_values_never_reach_findings() -> None:
    """A plaintext Secret's finding names the field, never the value."""
    found = check_object(Subject(secret(stringData={"password": "hunter2-value"}), "x.yaml", 1,
                                 {("stringData",): 7}), PolicyConfig())
    assert found[0].line == 7
    text = " ".join(f"{f.message} {f.hint} {f.subject}" for f in found)
    assert "hunter2" not in text


@pytest.mark.parametrize(("sops", "encrypted"), [
    ({"mac": "ENC[x]", "age": [{"recipient": "age1"}]}, True),
    ({"mac": "ENC[x]", "pgp": [{"fp": "ABC"}]}, True),
    ({"mac": "ENC[x]"}, False),
    ({"age": [{"recipient": "age1"}]}, False),
    ("yes", False),
])
def test_sops_detection(sops: Any, encrypted: bool) -> None:
    """A SOPS file has a top-level sops map with a MAC and a key source."""
    assert is_sops_encrypted({"sops": sops}) is encrypted


def test_kustomization_latest_override_under_prod() -> None:
    """A kustomization that sets newTag: latest under /prod/ is found at the newTag line."""
    body = {"images": [{"name": "web", "newTag": "1.2.3"}, {"name": "api", "newTag": "latest"},
                       {"name": "db", "newTag": "latest", "digest": "sha256:" + "b" * 64}]}
    found = check_kustomization(Subject(body, "clusters/prod/kustomization.yaml", 1,
                                        {("images", 1, "newTag"): 9}), PolicyConfig())
    assert [(f.rule, f.line) for f in found] == [("image-latest", 9)]
    assert check_kustomization(Subject(body, "clusters/staging/kustomization.yaml", 1),
                               PolicyConfig()) == []


def test_scope_overrides_the_reported_file_for_path_patterns() -> None:
    """A rendered object reported at base/ is judged by the application path that rendered it."""
    subject = Subject(deployment("web:latest"), "base/web/deployment.yaml", 1, scope="clusters/prod/web/")
    assert rules_of(check_object(subject, PolicyConfig())) == ["image-latest"]


def test_optional_rules_are_off_by_default() -> None:
    """hostPath, privileged containers and required labels need a policy file to run."""
    body = deployment("nginx:1.27")
    pod = body["spec"]["template"]["spec"]
    pod["volumes"] = [{"name": "h", "hostPath": {"path": "/var/run"}}]
    pod["containers"][0]["securityContext"] = {"privileged": True}
    assert check_object(Subject(body, PROD, 1), PolicyConfig()) == []


def test_configured_rules_find_host_paths_privilege_and_missing_labels() -> None:
    """A policy file enables hostPath, privileged and label rules with their own scopes and severities."""
    policy = parse_policy({"rules": {
        "host-path": {"paths": ["/prod/"]},
        "privileged-container": {"severity": "warning"},
        "required-labels": {"labels": ["app.kubernetes.io/name", "team"], "kinds": ["Deployment"]},
    }}, file="policy.yaml")
    body = deployment("nginx:1.27")
    pod = body["spec"]["template"]["spec"]
    pod["volumes"] = [{"name": "h", "hostPath": {"path": "/var/run"}}]
    pod["containers"][0]["securityContext"] = {"privileged": True}
    found = check_object(Subject(body, PROD, 1), policy)
    assert sorted((f.rule, f.severity.value) for f in found) == [
        ("host-path", "error"), ("privileged-container", "warning"), ("required-labels", "error")]
    assert next(f for f in found if f.rule == "required-labels").message == "missing required label team"
    staging = check_object(Subject(body, STAGING, 1), policy)
    assert sorted(f.rule for f in staging) == ["privileged-container", "required-labels"]
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}}
    assert check_object(Subject(service, PROD, 1), policy) == []


def test_a_rule_can_be_switched_off_or_rescoped() -> None:
    """severity: off disables a default rule; paths replaces the default /prod/ scope."""
    policy = parse_policy({"rules": {"plaintext-secret": {"severity": "off"},
                                     "image-latest": {"paths": ["/staging/"], "severity": "note"}}},
                          file="p.yaml")
    assert check_object(Subject(secret(data={"a": "Yg=="}), PROD, 1), policy) == []
    assert check_object(Subject(deployment("x:latest"), PROD, 1), policy) == []
    found = check_object(Subject(deployment("x:latest"), STAGING, 1), policy)
    assert [(f.rule, f.severity) for f in found] == [("image-latest", Severity.NOTE)]
    assert not found[0].severity.fails


@pytest.mark.parametrize(("data", "field", "line"), [
    ({"rules": {"no-such-rule": {}}}, "rules.no-such-rule", 3),
    ({"rules": {"image-latest": {"severity": "fatal"}}}, "rules.image-latest.severity", 4),
    ({"rules": {"image-latest": {"paths": "/prod/"}}}, "rules.image-latest.paths", 0),
    ({"rules": {"required-labels": {}}}, "rules.required-labels", 0),
    ({"rules": {"host-path": {"colour": "red"}}}, "rules.host-path.colour", 0),
    ({"rule": {}}, "rule", 0),
])
def test_invalid_policy_files_name_field_and_line(data: dict[str, Any], field: str, line: int) -> None:
    """Every problem in a policy file is reported with its field path and, when known, its line."""
    lines = {("rules", "no-such-rule"): 3, ("rules", "image-latest", "severity"): 4}
    with pytest.raises(ConfigError) as caught:
        parse_policy(data, file="policy.yaml", lines=lines)
    issues = caught.value.issues
    assert [(i.file, i.field, i.line) for i in issues] == [("policy.yaml", field, line)]


def test_empty_policy_file_keeps_the_defaults() -> None:
    """A policy file with nothing in it behaves like no policy file."""
    assert parse_policy(None, file="p.yaml") == PolicyConfig()
    assert parse_policy({"rules": {}}, file="p.yaml") == PolicyConfig()


def test_patches_are_not_held_to_required_labels() -> None:
    """A Kustomize patch need not repeat labels, but its images are still checked."""
    policy = parse_policy({"rules": {"required-labels": {"labels": ["team"]}}}, file="p.yaml")
    patch = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
             "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "web:latest"}]}}}}
    assert rules_of(check_object(Subject(patch, PROD, 1), policy, partial=True)) == ["image-latest"]
    assert sorted(rules_of(check_object(Subject(patch, PROD, 1), policy))) == ["image-latest",
                                                                              "required-labels"]
