"""Pod-level risks: ``hostPath`` volumes and privileged containers, wherever pod specs sit.

Like the image rule, these look through the whole object, so workloads,
CronJobs and custom resources with embedded pod templates are covered.
CustomResourceDefinitions are skipped: their schemas mention these fields
without using them. Like every policy module, this one only reads the object
it is given.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from gitopsd.core.policy.subject import FieldPath, walk


def _is_crd(body: Mapping[str, Any]) -> bool:
    return body.get("kind") == "CustomResourceDefinition"


def host_paths(body: Mapping[str, Any]) -> Iterator[FieldPath]:
    """The path of every ``hostPath`` volume source (a mapping under a ``hostPath`` key)."""
    if _is_crd(body):
        return
    for path, value in walk(body):
        if path and path[-1] == "hostPath" and isinstance(value, Mapping):
            yield path


def privileged_containers(body: Mapping[str, Any]) -> Iterator[FieldPath]:
    """The path of every ``securityContext.privileged: true``."""
    if _is_crd(body):
        return
    for path, value in walk(body):
        if path and path[-1] == "securityContext" and isinstance(value, Mapping) \
                and value.get("privileged") is True:
            yield (*path, "privileged")
