"""A member killed in the middle of its syncs: the others finish them, prune nothing, and write alone."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import yaml

from gitopsd.localcluster import LocalCluster
from tests.integration.daemonproc import DaemonProc, poll_until, value
from tests.integration.hakit import agreed, configmap, identity, shared_fleet

APPS = 6
DURATION, RENEW = 8.0, 2.0
WAVE = "argocd.argoproj.io/sync-wave"


def _gate(i: int) -> str:
    """A LoadBalancer Service in wave 0: Progressing until the test gives it an ingress, so every
    sync of its application waits at the health gate before wave 1."""
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Service",
                           "metadata": {"name": f"gate{i}", "annotations": {WAVE: "0"}},
                           "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}})


def _cm(i: int, text: str) -> str:
    doc = yaml.safe_load(configmap(f"mid{i}", text))
    doc["metadata"]["annotations"] = {WAVE: "1"}
    return yaml.safe_dump(doc)


def _exists(cluster: LocalCluster, ns: str, kind: str, name: str) -> bool:
    return cluster.request("GET", f"/api/v1/namespaces/{ns}/{kind}/{name}")[0] == 200


def _version(cluster: LocalCluster, ns: str, kind: str, name: str) -> str:
    status, body = cluster.request("GET", f"/api/v1/namespaces/{ns}/{kind}/{name}")
    assert status == 200, body
    return str(body["metadata"]["resourceVersion"])


def test_a_member_killed_mid_sync_is_finished_by_the_others(
        cluster_a: LocalCluster, make_namespace, git_repos, git_client_key, git_known_hosts,
        tmp_path: Path) -> None:
    """SIGKILL of a member whose syncs wait at a health gate after their first wave: once the gate
    opens the survivors finish those syncs, every object of the commit is in place, and after the
    handover no object is written again."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    repo.commit({f"app{i}/c.yaml": _cm(i, "old") for i in range(APPS)})
    doc = shared_fleet([(f"mid{i}", "main", f"app{i}") for i in range(APPS)], ns, repo, git_client_key,
                       git_known_hosts, cluster_a, duration=DURATION, renew=RENEW, poll="1s", epsilon=0)
    # identities (host:state-directory) decide who owns what: fixed directories, the same split each run
    root = Path(tempfile.gettempdir()) / "gitopsd-ha-midsync"
    shutil.rmtree(root, ignore_errors=True)
    daemons = [DaemonProc(doc, root / n).start() for n in ("a", "b", "c")]
    a, b, c = daemons
    try:
        before = poll_until(lambda: agreed(daemons, APPS), 90, 0.5)
        assert before is not None, b.logs()[-3000:]
        assert poll_until(lambda: all(value(cluster_a, ns, f"mid{i}") == "old" for i in range(APPS)), 60, 0.5)
        of_b = sorted(int(app[3:]) for app, owner in before.items() if owner == identity(b))
        assert of_b, before

        repo.commit({**{f"app{i}/c.yaml": _cm(i, "new") for i in range(APPS)},
                     **{f"app{i}/gate.yaml": _gate(i) for i in range(APPS)}})
        # b has applied the first wave of its instances and waits at the gate: kill it there
        gated = poll_until(lambda: all(_exists(cluster_a, ns, "services", f"gate{i}") for i in of_b), 60, 0.2)
        assert gated, b.logs()[-3000:]
        time.sleep(RENEW)
        assert all(value(cluster_a, ns, f"mid{i}") == "old" for i in of_b)
        assert b.proc is not None
        b.proc.kill()
        b.proc.wait(10)
        for i in range(APPS):  # the load balancers arrive
            poll_until(lambda i=i: _exists(cluster_a, ns, "services", f"gate{i}"), 60, 0.2)
            status, body = cluster_a.request(
                "PATCH", f"/api/v1/namespaces/{ns}/services/gate{i}/status",
                {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}},
                content_type="application/merge-patch+json")
            assert status == 200, body

        survivors = {identity(a), identity(c)}
        after = poll_until(lambda: agreed([a, c], APPS, survivors), 90, 0.5)
        assert after is not None, a.logs()[-3000:]
        assert {after[f"mid{i}"] for i in of_b} <= survivors
        done = poll_until(lambda: all(value(cluster_a, ns, f"mid{i}") == "new" for i in range(APPS)), 90, 0.5)
        assert done, (a.logs()[-3000:], c.logs()[-3000:])
        assert all(_exists(cluster_a, ns, "services", f"gate{i}") for i in range(APPS))  # nothing pruned
        settled = {(k, i): _version(cluster_a, ns, k, f"{p}{i}")
                   for k, p in (("configmaps", "mid"), ("services", "gate")) for i in range(APPS)}
        time.sleep(3 * RENEW)
        assert {(k, i): _version(cluster_a, ns, k, f"{p}{i}")
                for k, p in (("configmaps", "mid"), ("services", "gate")) for i in range(APPS)} == settled
        assert '"reconcile.done"' in a.logs() + c.logs()
    finally:
        for d in daemons:
            if d.proc is not None and d.proc.poll() is None:
                d.stop()
