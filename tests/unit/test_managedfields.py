"""Folding gitopsd's old Update managedFields entries into its Apply entry."""

from __future__ import annotations

from typing import Any

from gitopsd.core.managedfields import stale_entries, upgraded


def _entry(manager: str, operation: str, fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"manager": manager, "operation": operation, "apiVersion": "v1", "fieldsType": "FieldsV1",
            "fieldsV1": fields, **extra}


def test_update_entry_alone_becomes_the_apply_entry() -> None:
    """An object only ever created the old way gets an Apply entry with the same fields."""
    entries = [_entry("gitopsd", "Update", {"f:data": {"f:a": {}, "f:b": {}}}, time="t1")]
    assert upgraded(entries, "gitopsd") == [
        _entry("gitopsd", "Apply", {"f:data": {"f:a": {}, "f:b": {}}}, time="t1")]


def test_update_entry_is_folded_into_an_existing_apply_entry() -> None:
    """Fields of the Update entry join those of the Apply entry; other managers are kept."""
    entries = [_entry("gitopsd", "Apply", {"f:data": {"f:a": {}}}),
               _entry("kubectl", "Update", {"f:data": {"f:x": {}}}),
               _entry("gitopsd", "Update", {"f:data": {"f:b": {}}, "f:metadata": {"f:labels": {}}})]
    assert upgraded(entries, "gitopsd") == [
        _entry("gitopsd", "Apply", {"f:data": {"f:a": {}, "f:b": {}}, "f:metadata": {"f:labels": {}}}),
        _entry("kubectl", "Update", {"f:data": {"f:x": {}}})]


def test_nothing_to_fold_and_status_entries_stay() -> None:
    """Without an Update entry of the manager on the main resource there is nothing to do."""
    entries = [_entry("gitopsd", "Apply", {"f:data": {}}),
               _entry("gitopsd", "Update", {"f:status": {}}, subresource="status")]
    assert upgraded(entries, "gitopsd") is None
    assert stale_entries({"metadata": {"managedFields": entries}}, "gitopsd") == []
