"""Metadata accessors of model/objects: present fields, absent ones, and malformed metadata."""

from __future__ import annotations

from typing import Any

import pytest

from gitopsd.model import objects

FULL: dict[str, Any] = {
    "apiVersion": "v1", "kind": "ConfigMap",
    "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "42", "uid": "u-1",
                 "labels": {"app": "web"}, "annotations": {"note": "kept"}},
}


def test_fields_are_read() -> None:
    """Each accessor returns its field of a complete body."""
    assert objects.meta(FULL) is FULL["metadata"]
    assert objects.labels(FULL) == {"app": "web"}
    assert objects.annotations(FULL) == {"note": "kept"}
    assert (objects.name(FULL), objects.namespace(FULL)) == ("web", "shop")
    assert (objects.resource_version(FULL), objects.uid(FULL)) == ("42", "u-1")


@pytest.mark.parametrize("body", [
    {},
    {"metadata": None},
    {"metadata": ["not", "a", "mapping"]},
    {"metadata": {"labels": None, "annotations": "text", "name": None, "namespace": ""}},
])
def test_absent_or_malformed_metadata_reads_as_empty(body: dict[str, Any]) -> None:
    """Missing, null or non-mapping metadata (or maps inside it) read as empty values."""
    assert objects.labels(body) == {}
    assert objects.annotations(body) == {}
    assert objects.name(body) == objects.namespace(body) == ""
    assert objects.resource_version(body) == objects.uid(body) == ""
