"""The benchmark harness end to end at a tiny size: it runs, and its JSON and table are complete.

Timing is not asserted: on a shared machine it says nothing about correctness.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.bench.report import COLUMNS
from tests.bench.runner import BENCHMARKS

ROOT = Path(__file__).resolve().parents[2]

MACHINE_KEYS = {"date", "cores", "cpu", "memory_gb", "kernel", "python", "kubernetes", "etcd", "kubectl",
                "gitopsd", "gitopsd_commit", "load_average_start", "load_average_end", "shared"}
SUMMARY_KEYS = {"n", "failures", "p50", "p95", "p99", "max", "mean"}
# (benchmark, path into its result) for every figure the table is built from.
FIGURES = [
    ("drift", ("gitopsd", "p99")), ("drift", ("floor", "p99")),
    ("drift", ("gitopsd", "daemon_cpu_seconds_per_edit")), ("drift", ("floor", "reverter", "applies")),
    ("drift", ("repeat", "p99")), ("drift", ("fight", "waits")), ("drift", ("lua", "p99")),
    ("drift", ("notify", "receiver", "p95")), ("drift", ("notify", "revert", "p95")),
    ("commit", ("floor", "applied", "p95")), ("commit", ("webhook", "applied", "p95")),
    ("commit", ("polling", "applied", "p95")), ("commit", ("polling", "rolled_back", "p95")),
    ("cold", ("gitopsd_seconds",)), ("cold", ("kubectl_seconds",)),
    ("cold", ("kubectl_until_available_seconds",)), ("cold", ("gitopsd_requests_per_object",)),
    ("cold", ("kubectl_requests_per_object",)),
    ("cold", ("gitopsd_all_applied_seconds",)),
    ("noop", ("writes_per_resync",)), ("noop", ("cpu_seconds_per_resync",)), ("noop", ("reads_per_resync",)),
    ("memory", ("idle", "percent_of_one_core")), ("memory", ("idle", "resync_seconds")),
    ("noop", ("periodic", "writes")),
    ("memory", ("unmanaged", "same_process", "change_percent")),
    ("memory", ("unmanaged", "fresh_start", "change_percent")),
    ("isolation", ("b_idle", "p99")), ("isolation", ("b_busy", "p99")), ("isolation", ("b_stopped", "p99")),
    ("isolation", ("b_recovered_seconds",)),
]


def dig(data: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        assert isinstance(data, dict), f"{'.'.join(path)}: not an object at {part}"
        assert part in data, f"missing {'.'.join(path)} at {part}"
        data = data[part]
    return data


@pytest.mark.timeout(600)
def test_harness_produces_complete_json_and_table(tmp_path: Path) -> None:
    """``python -m tests.bench`` at the tiny size exits 0 and writes every expected key and table row."""
    out = tmp_path / "results"
    done = subprocess.run([sys.executable, "-m", "tests.bench", "--size", "tiny", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=580, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads((out / "bench-tiny.json").read_text())
    table = (out / "bench-tiny.md").read_text()

    assert data["errors"] == {}
    assert set(data["selected"]) == set(BENCHMARKS)
    assert set(data["machine"]) >= MACHINE_KEYS, MACHINE_KEYS - set(data["machine"])
    assert data["machine"]["kubernetes"].startswith("v1.")
    assert data["size"]["name"] == "tiny"
    for name in BENCHMARKS:
        assert name in data["benchmarks"], name
    for name, path in FIGURES:
        assert dig(data["benchmarks"][name], path) is not None, (name, path)
    for series in (data["benchmarks"]["drift"]["gitopsd"], data["benchmarks"]["drift"]["floor"]):
        assert set(series) >= SUMMARY_KEYS
        assert series["n"] + series["failures"] == data["size"]["drift_changes"]
    points = data["benchmarks"]["memory"]["points"]
    assert [p["objects"] for p in points] == data["size"]["memory_managed"]
    assert all(p["rss_mb"] > 0 for p in points)
    assert data["benchmarks"]["noop"]["instances"] == 2 * data["size"]["drift_apps"]

    numbers = {r["benchmark"].split()[0] for r in data["rows"]}
    assert numbers == {"1", "2", "3", "4", "5", "6"}, numbers
    assert all(set(r) == set(COLUMNS) for r in data["rows"])
    lines = table.splitlines()
    assert "| " + " | ".join(COLUMNS) + " |" in lines
    body = [ln for ln in lines if ln.startswith("| ") and not ln.startswith("| ---")]
    assert len(body) == len(data["rows"]) + 1
    assert data["machine"]["kubernetes"] in table
    assert "| " + " | ".join(COLUMNS) + " |" in done.stdout
