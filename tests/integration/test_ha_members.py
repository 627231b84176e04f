"""Three ``gitopsd run`` processes share one fleet through member Leases on a real control plane."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from gitopsd.localcluster import LocalCluster
from tests.integration.daemonproc import DaemonProc, poll_until, value
from tests.integration.hakit import agreed, configmap, identity, members, shared_fleet

APPS = 8
DURATION, RENEW = 8.0, 2.0


def _files(text: str) -> dict[str, str]:
    return {f"app{i}/c.yaml": configmap(f"c{i}", text) for i in range(APPS)}


def _fleet(ns: str, revision: str, repo: Any, key: Path, known: Path,
           cluster: LocalCluster) -> dict[str, Any]:
    return shared_fleet([(f"web{i}", revision, f"app{i}") for i in range(APPS)], ns, repo, key, known,
                        cluster, duration=DURATION, renew=RENEW, poll="2s", epsilon=0)


def _values(cluster: LocalCluster, ns: str) -> dict[str, str | None]:
    return {f"web{i}": value(cluster, ns, f"c{i}") for i in range(APPS)}


def _agreed(daemons: list[DaemonProc], seen: set[str]) -> dict[str, str] | None:
    return agreed(daemons, APPS, seen)


def test_three_members_split_fail_over_and_fence(
        cluster_a: LocalCluster, make_namespace, git_repos, git_client_key, git_known_hosts,
        tmp_path: Path) -> None:
    """Instances spread over three members; a killed member's instances converge on the others; a
    member paused past its Lease writes nothing when it wakes until the others have seen it back."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    old = repo.commit(_files("old"))
    repo.commit(_files("new"))
    current = _fleet(ns, "main", repo, git_client_key, git_known_hosts, cluster_a)
    behind = _fleet(ns, old, repo, git_client_key, git_known_hosts, cluster_a)  # its writes show
    a = DaemonProc(current, tmp_path / "a").start()
    b = DaemonProc(current, tmp_path / "b").start()
    c = DaemonProc(behind, tmp_path / "c").start()
    daemons = [a, b, c]
    ids = {identity(d) for d in daemons}
    want = {identity(a): "new", identity(b): "new", identity(c): "old"}
    try:
        owners = poll_until(lambda: _agreed(daemons, ids), 60, 0.5)
        assert owners is not None, c.logs()[-3000:]
        per_member = {m: sorted(app for app, o in owners.items() if o == m) for m in ids}
        assert all(len(apps) >= 2 for apps in per_member.values()), per_member  # 9 items, bound 3 each
        table = subprocess.run(
            [sys.executable, "-m", "gitopsd", "status", "--server", f"http://127.0.0.1:{b.port}"],
            capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path)
        assert table.returncode == 0, table.stderr
        lines = table.stdout.splitlines()
        assert lines[0].split()[:3] == ["APP", "CLUSTER", "OWNER"]
        assert {ln.split()[0]: ln.split()[2] for ln in lines[1:]} == owners
        expected = {app: want[o] for app, o in owners.items()}
        assert poll_until(lambda: _values(cluster_a, ns) == expected, 60, 0.5), (
            _values(cluster_a, ns), expected)

        # SIGKILL b: its instances go to a and c, which write their own revision there
        killed = time.monotonic()
        b.proc.kill()
        b.proc.wait(10)
        survivors = {identity(a), identity(c)}

        def converged() -> dict[str, str] | None:
            now = _agreed([a, c], survivors)
            if now is None or _values(cluster_a, ns) != {app: want[o] for app, o in now.items()}:
                return None
            return now
        after_kill = poll_until(converged, 60, 0.2)
        failover = time.monotonic() - killed
        assert after_kill is not None, (a.logs()[-3000:], _values(cluster_a, ns))
        moved = per_member[identity(b)]
        assert {after_kill[app] for app in moved} <= survivors
        assert failover <= DURATION + 2 * RENEW + 6, failover  # detection, one step, a pass
        # a and c write different revisions: had both kept writing for one instance, its value and
        # resourceVersion would change again
        settled = {i: _version(cluster_a, ns, f"c{i}") for i in range(APPS)}
        time.sleep(2 * RENEW)
        assert {i: _version(cluster_a, ns, f"c{i}") for i in range(APPS)} == settled
        assert _values(cluster_a, ns) == {app: want[o] for app, o in after_kill.items()}  # none pruned

        # SIGSTOP c past its Lease: a takes everything and writes "new" where c wrote "old"
        os.kill(c.proc.pid, signal.SIGSTOP)
        stopped = time.monotonic()
        only_a = poll_until(lambda: _values(cluster_a, ns) == dict.fromkeys(expected, "new")
                            and members(a) == {identity(a)}, 60, 0.2)
        assert only_a, (_values(cluster_a, ns), members(a))
        takeover = time.monotonic() - stopped
        time.sleep(2 * RENEW)  # well past c's Lease and its own right to act
        versions = {i: _version(cluster_a, ns, f"c{i}") for i in range(APPS)}

        # SIGCONT: until a lists c again (a has let go), nothing of c's is written
        os.kill(c.proc.pid, signal.SIGCONT)
        resumed = time.monotonic()
        seen_back = first_old = None
        while time.monotonic() - resumed < 30 and (seen_back is None or first_old is None):
            now = time.monotonic() - resumed
            if seen_back is None and identity(c) in members(a):
                seen_back = now
            vals = _values(cluster_a, ns)
            if first_old is None and "old" in vals.values():
                first_old = now
                assert seen_back is not None, f"c wrote at {now:.2f}s, before a saw it back"
            if seen_back is None:
                assert {i: _version(cluster_a, ns, f"c{i}") for i in range(APPS)} == versions
            time.sleep(0.1)
        assert seen_back is not None, c.logs()[-2000:]
        assert first_old is not None, c.logs()[-2000:]
        assert first_old >= seen_back
        print(f"failover after SIGKILL {failover:.1f}s; takeover after SIGSTOP {takeover:.1f}s; "
              f"after SIGCONT a saw c back at {seen_back:.1f}s, c first wrote at {first_old:.1f}s")
    finally:
        if c.proc is not None and c.proc.poll() is None:
            os.kill(c.proc.pid, signal.SIGCONT)
        for d in daemons:
            if d.proc is not None and d.proc.poll() is None:
                d.stop()


def _version(cluster: LocalCluster, ns: str, name: str) -> str:
    status, body = cluster.request("GET", f"/api/v1/namespaces/{ns}/configmaps/{name}")
    assert status == 200
    return str(body["metadata"]["resourceVersion"])
