"""A notification receiver that is down: retried, then counted as dropped, at no cost to drift repair.

One daemon repairs ConfigMaps edited out of band, one at a time, and sends an
on-drift-reverted notice for each to a webhook on loopback. The receiver runs
in some blocks of edits and is stopped (its port refuses connections) in the
others, in the order up, down, down, up, ... so that a slow spell of the
machine falls on both alike. Each edit is timed from the write's response to
the watch event that shows it restored (the drift benchmark's observer).
Drift revert p99 with the receiver down must stay within 1.2x of p99 with it up.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitopsd.localcluster import ADMIN_USER, LocalCluster
from tests.bench.kube import Kube, endpoint_of
from tests.bench.observe import Observer, Target, edit_and_time
from tests.bench.stats import summary
from tests.integration.daemonproc import FLEET, DaemonProc, fleet_doc, free_port, poll_until
from tests.integration.receivers import Received, Receiver
from tests.testenv.git_fixtures import RepoFactory

EDITS = 300  # per condition
BLOCK = 5  # edits in a row under one condition
RETRIES = 2


def _cm(name: str) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                           "data": {"value": "v0"}})


def _counter(d: DaemonProc, result: str) -> float:
    text = str(d.get("/metrics", auth=False) or "")
    prefix = f'gitopsd_notifications_total{{result="{result}",service="hook",type="webhook"}} '
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))


@pytest.mark.asyncio
# the test's own receiver is stopped with the daemon's connection to it open, on purpose; the socket
# aiohttp leaves behind then is not a failure of the daemon
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_a_dead_receiver_is_retried_and_dropped_while_drift_repair_keeps_its_pace(
        cluster_a: LocalCluster, make_namespace: Callable[[LocalCluster], str], git_repos: RepoFactory,
        tmp_path: Path) -> None:
    """Notices to a stopped receiver are tried 1 + retries times and then counted dropped, and drift
    revert p99 while it is down stays within 1.2x of p99 while it is up."""
    ns = make_namespace(cluster_a)
    app = f"deadrx-{ns.rpartition('-')[2]}"
    names = [f"c-{i:03d}" for i in range(2 * EDITS)]
    repo = git_repos.new()
    head = repo.commit({f"app/{n}.yaml": _cm(n) for n in names})
    port = free_port()
    fleet = fleet_doc([("a", cluster_a.kubeconfig, {})], str(repo.path), poll="1s", apps=[{
        "name": app, "source": {"repo": "env", "targetRevision": "main", "path": "app"},
        "destination": {"clusters": {"names": ["a"]}, "namespace": ns},
        "syncPolicy": {"automated": {"prune": True, "selfHeal": True}}}])
    fleet["notifications"] = {
        "services": [{"name": "hook", "type": "webhook", "url": f"http://127.0.0.1:{port}/hook",
                      "retries": RETRIES, "retryBackoff": "50ms", "timeout": "1s"}],
        "subscriptions": [{"triggers": ["on-drift-reverted"], "services": ["hook"]}]}
    d = DaemonProc(fleet, tmp_path / "daemon").start()
    kube = Kube(endpoint_of("a", cluster_a.dir, cluster_a.server, cluster_a.tokens[ADMIN_USER]))
    observer = Observer({"a": kube}, ["ConfigMap"], f"gitopsd.io/fleet={FLEET}")
    received: list[Received] = []
    reverts: dict[str, list[float | None]] = {"up": [], "down": []}
    try:
        synced = poll_until(lambda: (r := d.instance(app, "a")) and r["revision"] == head, 120)
        assert synced, d.logs()[-3000:]
        await observer.start()
        targets = iter(Target("a", app, "ConfigMap", ns, n) for n in names)
        for block in range(2 * EDITS // BLOCK):
            up = block % 4 in (0, 3)
            with ExitStack() as stack:
                rx: Receiver | None = stack.enter_context(Receiver.running(port)) if up else None
                for _ in range(BLOCK):
                    target = next(targets)
                    reverts["up" if up else "down"].append(
                        await edit_and_time(observer, kube, target, block, timeout=30))
            if rx is not None:  # stopped: nothing more arrives there
                received.extend(rx.requests)
        settled = poll_until(lambda: _counter(d, "sent") + _counter(d, "dropped") >= 2 * EDITS, 60)
        sent, failed, dropped = _counter(d, "sent"), _counter(d, "failed"), _counter(d, "dropped")
        events = [e for e in _log_events(d) if e.get("event") == "notify.failed"]
        overflowed = any(e.get("event") == "notify.queue_full" for e in _log_events(d))
    finally:
        await observer.stop()
        await kube.close()
        assert d.stop() == 0

    up, down = summary([t for t in reverts["up"] if t is not None]), \
        summary([t for t in reverts["down"] if t is not None])
    assert (up["failures"], down["failures"]) == (0, 0)
    assert None not in reverts["up"] + reverts["down"]
    assert settled, (sent, failed, dropped)
    assert dropped > 0
    assert sent > 0
    assert sent == len(received)
    assert sent + dropped == 2 * EDITS
    giving_up = [e for e in events if e["giving_up"]]
    # every drop is a notice given up after its retries, or one a full queue refused (a slow
    # spell of the machine can back the queue up behind the retries)
    assert 0 < len(giving_up) <= dropped
    assert len(giving_up) == dropped or overflowed, (len(giving_up), dropped)
    assert {e["attempt"] for e in giving_up} == {RETRIES + 1}
    assert failed >= (RETRIES + 1) * dropped
    ratio = down["p99"] / up["p99"]
    print(f"revert p50/p99 up {up['p50']}/{up['p99']} s, down {down['p50']}/{down['p99']} s, "
          f"ratio {ratio:.2f}; sent {sent:g}, failed {failed:g}, dropped {dropped:g}")
    assert ratio <= 1.2, f"revert p99 with the receiver down {down['p99']}s, up {up['p99']}s: {ratio:.2f}x"


def _log_events(d: DaemonProc) -> list[dict[str, Any]]:
    out = []
    for line in d.logs().splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out
