"""The policy rules: catalogue entries and the functions that apply them to one object.

``check_object`` runs every enabled rule on a Kubernetes object (a full
object or a Kustomize patch); ``check_kustomization`` looks at a
kustomization file's ``images`` overrides. Both return findings located by
file and line and never quote Secret values.
"""

from __future__ import annotations

from collections.abc import Mapping

from gitopsd.core.policy.config import (
    HOST_PATH,
    IMAGE_LATEST,
    PLAINTEXT_SECRET,
    PRIVILEGED,
    REQUIRED_LABELS,
    PolicyConfig,
)
from gitopsd.core.policy.findings import Finding, Rule, Severity, finding
from gitopsd.core.policy.images import container_images, floating_tag, kustomize_images
from gitopsd.core.policy.pods import host_paths, privileged_containers
from gitopsd.core.policy.secrets import plaintext_fields
from gitopsd.core.policy.subject import Subject
from gitopsd.model import objects

RULES: Mapping[str, Rule] = {rule.id: rule for rule in (
    Rule(IMAGE_LATEST, Severity.ERROR, "Image uses the floating ':latest' tag or no tag",
         "pin the image to a release tag or a digest (name:1.2.3 or name@sha256:...)"),
    Rule(PLAINTEXT_SECRET, Severity.ERROR, "Secret with plaintext data committed to Git",
         "encrypt the file with SOPS or replace the Secret with a SealedSecret"),
    Rule(REQUIRED_LABELS, Severity.ERROR, "Object lacks labels the policy requires",
         "add the missing keys under metadata.labels"),
    Rule(HOST_PATH, Severity.ERROR, "Pod mounts a hostPath volume",
         "use a PersistentVolumeClaim, ConfigMap, Secret or emptyDir volume instead"),
    Rule(PRIVILEGED, Severity.ERROR, "Container runs privileged",
         "remove securityContext.privileged or set it to false; grant single capabilities instead"),
)}


def check_object(subject: Subject, config: PolicyConfig, *, partial: bool = False) -> list[Finding]:
    """Every policy finding for one object.

    PARTIAL marks a Kustomize patch: what it sets is checked, but labels it
    does not repeat (they come from the object it patches) are not required.
    """
    found: list[Finding] = []
    kind = subject.kind

    def report(rule_id: str, message: str, line: int) -> None:
        settings = config.settings(rule_id)
        found.append(finding(RULES[rule_id], message, file=subject.file, line=line,
                             subject=subject.description, severity=settings.severity))

    if config.settings(IMAGE_LATEST).applies(subject.scope_path, kind):
        for path, image in container_images(subject.body):
            tag = floating_tag(image)
            if tag is not None:
                what = "the ':latest' tag" if tag else "no tag (so ':latest')"
                report(IMAGE_LATEST, f"image {image} uses {what}", subject.line_of(path))
    if config.settings(PLAINTEXT_SECRET).applies(subject.scope_path, kind):
        fields = plaintext_fields(subject.body)
        if fields:
            report(PLAINTEXT_SECRET, f"Secret holds plaintext {' and '.join(fields)}",
                   subject.line_of((fields[0],)))
    labels = config.settings(REQUIRED_LABELS)
    if not partial and labels.applies(subject.scope_path, kind):
        missing = [key for key in labels.labels if key not in objects.labels(subject.body)]
        if missing:
            report(REQUIRED_LABELS, f"missing required label{'s' if len(missing) > 1 else ''} "
                   f"{', '.join(missing)}", subject.line_of(("metadata", "labels")))
    if config.settings(HOST_PATH).applies(subject.scope_path, kind):
        for path in host_paths(subject.body):
            report(HOST_PATH, f"hostPath volume at {_dotted(path)}", subject.line_of(path))
    if config.settings(PRIVILEGED).applies(subject.scope_path, kind):
        for path in privileged_containers(subject.body):
            report(PRIVILEGED, f"privileged container at {_dotted(path[:-2])}", subject.line_of(path))
    return found


def check_kustomization(subject: Subject, config: PolicyConfig) -> list[Finding]:
    """Findings for a kustomization file: ``images`` entries that set ``newTag: latest``."""
    settings = config.settings(IMAGE_LATEST)
    if not settings.applies(subject.scope_path, "Kustomization"):
        return []
    return [finding(RULES[IMAGE_LATEST], f"images override sets {name or 'an image'} to ':latest'",
                    file=subject.file, line=subject.line_of(path), subject="Kustomization",
                    severity=settings.severity)
            for path, name in kustomize_images(subject.body)]


def _dotted(path: tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text
