"""The history kept in a target cluster: bounded, newest first, one entry per sync, per cluster."""

from __future__ import annotations

import json

from gitopsd.edges.kube.history import KEEP, MAX_MESSAGE, merged, parse


def entry(n: int, **extra: object) -> dict[str, object]:
    return {"revision": f"{n:040x}", "started": 1.7e9 + n, "duration": 1.0, "result": "Synced",
            "message": f"sync {n}", "trace_id": "", "changes": {"created": n}, **extra}


def test_merged_keeps_the_newest_entries_first_and_bounded() -> None:
    """Adding more entries than KEEP keeps the KEEP newest, newest first, whatever the arrival order."""
    kept: list[dict[str, object]] = []
    for n in [*range(5, 15), *range(5)]:
        kept = merged(kept, entry(n))
    assert len(kept) == KEEP
    assert [e["started"] for e in kept] == [1.7e9 + n for n in range(14, 4, -1)]


def test_merged_records_one_sync_once_and_bounds_its_message() -> None:
    """The same sync recorded twice (two hosts, a retry) is one entry; a long message is cut."""
    kept = merged(merged([], entry(1)), entry(1))
    assert len(kept) == 1
    long = merged([], entry(2, message="x" * (MAX_MESSAGE * 2), extra="dropped"))[0]
    assert len(str(long["message"])) == MAX_MESSAGE
    assert "extra" not in long


def test_parse_reads_one_clusters_entries_and_tolerates_garbage() -> None:
    """A ConfigMap holds a list per cluster; a broken or foreign one reads as no history."""
    body = {"data": {"entries": json.dumps({"a": [entry(1), {"revision": 3}], "b": [entry(2)]})}}
    assert [e["revision"] for e in parse(body, "a")] == [entry(1)["revision"]]
    assert parse(body, "c") == []
    assert parse({"data": {"entries": "{not json"}}, "a") == []
    assert parse({"data": {"entries": "[1, 2]"}}, "a") == []
    assert parse(None, "a") == []
