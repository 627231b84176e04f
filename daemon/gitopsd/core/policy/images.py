"""Image references: which ones float (``:latest`` or no tag) and where they sit in an object.

Containers are found wherever an object keeps them (``containers``,
``initContainers``, ``ephemeralContainers`` lists), so pods, workloads,
CronJobs and custom resources that embed pod templates are all covered. A
reference pinned by digest never floats. References that are templates
(``${IMAGE}``, ``{{ .Values.image }}``) are left alone. References are
only read, never resolved against a registry.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from gitopsd.core.policy.subject import FieldPath, walk

CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


def floating_tag(reference: str) -> str | None:
    """``"latest"`` or ``""`` (untagged) when REFERENCE floats; None when it is pinned.

    ``registry:5000/app`` has no tag (the colon belongs to the host);
    ``app@sha256:...`` and ``app:latest@sha256:...`` are pinned by digest.
    """
    if not reference or "${" in reference or "{{" in reference:
        return None
    name, _, digest = reference.partition("@")
    if digest:
        return None
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        return ""
    tag = last.split(":", 1)[1]
    return "latest" if tag == "latest" else None


def container_images(body: Mapping[str, Any]) -> Iterator[tuple[FieldPath, str]]:
    """(path of the ``image`` field, reference) for every container in BODY."""
    for path, value in walk(body):
        if not path or path[-1] not in CONTAINER_LISTS or not isinstance(value, list):
            continue
        for index, item in enumerate(value):
            if isinstance(item, Mapping) and isinstance(item.get("image"), str):
                yield (*path, index, "image"), item["image"]


def kustomize_images(body: Mapping[str, Any]) -> Iterator[tuple[FieldPath, str]]:
    """(path of ``newTag``, image name) for each ``images`` entry of a kustomization that sets
    ``newTag: latest`` without a digest."""
    entries = body.get("images")
    if not isinstance(entries, list):
        return
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping) or entry.get("digest"):
            continue
        if entry.get("newTag") == "latest":
            yield ("images", index, "newTag"), str(entry.get("newName") or entry.get("name") or "")
