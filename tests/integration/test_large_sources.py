"""One huge manifest fails its own application only: the daemon stays responsive.

A 20 MB ConfigMap sits in one application's path while another application
is small. The real daemon process runs both against a real API server; the
huge one fails on every pass (refused by its size before it is read), while
the small one converges and ``/healthz`` keeps answering.
The ``/healthz`` latencies seen are printed (``pytest -s``); the bounds
asserted are generous, since this is a shared machine, not a benchmark.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import yaml

from gitopsd.localcluster import LocalCluster
from tests.integration.daemonproc import DaemonProc, fleet_doc, poll_until, value

HUGE_BYTES = 20 * 1024 * 1024
AUTO = {"automated": {"prune": True, "selfHeal": True}}


def huge_configmap(size: int) -> str:
    """A ConfigMap of about SIZE bytes of YAML, in many short keys (the costly shape to parse)."""
    line = "  key-{:07d}: " + "v" * 80 + "\n"
    count = size // len(line.format(0))
    return ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: huge\ndata:\n"
            + "".join(line.format(i) for i in range(count)))


def small_configmap(text: str) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "small"},
                           "data": {"value": text}})


def _app(name: str, path: str, ns: str) -> dict[str, Any]:
    return {"name": name, "source": {"repo": "env", "targetRevision": "main", "path": path},
            "destination": {"clusters": {"matchLabels": {}}, "namespace": ns},
            "syncPolicy": AUTO}


def _healthz(d: DaemonProc) -> float | None:
    """Seconds /healthz took to answer, or None when it did not answer within 5 s."""
    start = time.monotonic()
    answer = d.get("/healthz", auth=False)
    return time.monotonic() - start if answer is not None else None


def test_a_huge_manifest_fails_alone_while_health_and_other_apps_carry_on(
        cluster_a: LocalCluster, make_namespace, git_repos, tmp_path: Path) -> None:
    """The huge application fails repeatedly with its path named; the small one converges,
    and every /healthz probe meanwhile is answered."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    repo.commit({"apps/huge/huge.yaml": huge_configmap(HUGE_BYTES),
                 "apps/small/small.yaml": small_configmap("one")})
    fleet = fleet_doc([("a", cluster_a.kubeconfig, {})], str(repo.path), poll="1s",
                      apps=[_app("huge", "apps/huge", ns), _app("small", "apps/small", ns)])
    d = DaemonProc(fleet, tmp_path / "daemon", resync=2.0).start()  # a stalled pass: every 2 s
    latencies: list[float | None] = []
    try:
        assert poll_until(lambda: value(cluster_a, ns, "small") == "one", 30), d.logs()[-3000:]

        def failed_twice() -> bool:
            latencies.append(_healthz(d))
            row = d.instance("huge", "a") or {}
            return int(row.get("last_sync", {}).get("attempts") or 0) >= 2
        assert poll_until(failed_twice, 40, interval=0.2), (d.instance("huge", "a"), d.logs()[-3000:])
        repo.commit({"apps/small/small.yaml": small_configmap("two")})

        def small_moved() -> bool:
            latencies.append(_healthz(d))
            return value(cluster_a, ns, "small") == "two"
        assert poll_until(small_moved, 30, interval=0.2), d.logs()[-3000:]
        row = d.instance("huge", "a") or {}
    finally:
        assert d.stop() == 0
    message = row["last_sync"]["message"]
    assert row["sync_status"] != "Synced"
    assert f"env@{repo.head()[:12]}:apps/huge/huge.yaml: the file is " in message, message
    assert "(settings.maxManifestFileSize: 4Mi)" in message, message
    answered = [t for t in latencies if t is not None]
    print(json.dumps({"probes": len(latencies), "answered": len(answered),
                      "max_s": round(max(answered), 3),
                      "p50_s": round(sorted(answered)[len(answered) // 2], 4)}))
    assert len(answered) == len(latencies), latencies
