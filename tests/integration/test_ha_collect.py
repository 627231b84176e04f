"""A member killed for good has its Lease deleted by a live member; when it comes back it joins again."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml

from gitopsd.engine.membership import COLLECT_AFTER, MEMBER_LABEL
from gitopsd.localcluster import LocalCluster
from tests.integration.daemonproc import FLEET, DaemonProc, poll_until
from tests.integration.hakit import identity, members, shared_fleet

DURATION, RENEW = 4.0, 1.0
SELECTOR = f"{MEMBER_LABEL}={FLEET}".replace("/", "%2F").replace("=", "%3D")


def _fleet(ns: str, repo: Any, key: Path, known: Path, cluster: LocalCluster) -> dict[str, Any]:
    return shared_fleet([(f"gc{i}", "main", f"app{i}") for i in range(2)], ns, repo, key, known, cluster,
                        duration=DURATION, renew=RENEW, namespace=ns)


def _leases(cluster: LocalCluster, ns: str) -> dict[str, str]:
    """Member Lease holder -> resourceVersion in NS."""
    status, body = cluster.request(
        "GET", f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases?labelSelector={SELECTOR}")
    assert status == 200, body
    return {i["spec"]["holderIdentity"]: i["metadata"]["resourceVersion"] for i in body["items"]}


def test_a_dead_members_lease_is_collected_and_the_member_can_come_back(
        cluster_a: LocalCluster, make_namespace, git_repos, git_client_key, git_known_hosts,
        tmp_path: Path) -> None:
    """After SIGKILL the member's Lease outlives its death by design, is deleted by the survivor well
    past its duration, and the member restarted on the same state directory joins again."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    repo.commit({f"app{i}/c.yaml": yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap",
                                                    "metadata": {"name": f"gc{i}"}, "data": {"v": "1"}})
                 for i in range(2)})
    doc = _fleet(ns, repo, git_client_key, git_known_hosts, cluster_a)
    a = DaemonProc(doc, tmp_path / "a").start()
    b = DaemonProc(doc, tmp_path / "b").start()
    both = {identity(a), identity(b)}
    try:
        assert poll_until(lambda: members(a) == both and members(b) == both, 60, 0.3), a.logs()[-2000:]
        assert set(_leases(cluster_a, ns)) == both
        assert b.proc is not None
        b.proc.kill()
        b.proc.wait(10)
        killed = time.monotonic()
        assert poll_until(lambda: members(a) == {identity(a)}, 30, 0.3)
        gone_after = None
        while time.monotonic() - killed < COLLECT_AFTER * DURATION + 30:
            if identity(b) not in _leases(cluster_a, ns):
                gone_after = time.monotonic() - killed
                break
            time.sleep(0.3)
        assert gone_after is not None, a.logs()[-3000:]
        # renewed at most one interval before the kill, it is kept COLLECT_AFTER durations after that
        assert gone_after >= COLLECT_AFTER * DURATION - RENEW, gone_after
        assert identity(a) in _leases(cluster_a, ns)
        assert '"membership.collected"' in a.logs()

        b = DaemonProc(doc, tmp_path / "b").start()
        assert poll_until(lambda: members(a) == both and members(b) == both, 60, 0.3), b.logs()[-2000:]
        assert set(_leases(cluster_a, ns)) == both
        print(f"the killed member's Lease was deleted {gone_after:.1f}s after SIGKILL")
    finally:
        for d in (a, b):
            if d.proc is not None and d.proc.poll() is None:
                d.stop()
