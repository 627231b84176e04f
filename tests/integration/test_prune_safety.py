"""Prunes against a real API server when the world moves under them: objects replaced between
the comparison and the delete, a lost inventory, and a sync killed after its deletes went out.

Prunes here use background propagation: cluster A runs no garbage collector.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gitopsd.localcluster import LocalCluster
from gitopsd.model import ChangeAction, OutcomeKind, SyncPolicy
from tests.integration.synckit import Kit, cm, kit

POLICY = SyncPolicy(automated=True, prune=True, max_prune_share=0.9,
                    sync_options=("PrunePropagationPolicy=background",))
INVENTORIES = "/api/v1/namespaces/gitopsd-system/configmaps"


class Killed(BaseException):
    """The daemon died: nothing after this point of the pass runs."""


def _get(cluster: LocalCluster, path: str) -> dict[str, Any]:
    status, body = cluster.request("GET", path)
    assert status == 200, f"GET {path}: {status} {body}"
    return body


def _entries(cluster: LocalCluster, app: str) -> str:
    return str(_get(cluster, f"{INVENTORIES}/gitopsd-inv-{app}")["data"]["entries"])


def _before_delete(k: Kit, path: str, act: Callable[[], None], *, after: bool = False) -> None:
    """Run ACT once, just before (or just after) gitopsd's first DELETE of PATH."""
    inner = k.conn.objects.client.request
    done = False

    async def request(method: str, url: str, **kw: Any) -> Any:
        nonlocal done
        hit = method == "DELETE" and url == path and not done
        if hit and not after:
            done = True
            act()
        result = await inner(method, url, **kw)
        if hit and after:
            done = True
            act()
        return result

    k.conn.objects.client.request = request  # type: ignore[method-assign]


REPLACEMENTS: dict[str, Callable[[str], dict[str, str]]] = {
    "untracked": lambda ns: {},
    "other-app": lambda ns: {"gitopsd.io/tracking-id": f"other:/ConfigMap:{ns}/b"},
}


@pytest.mark.asyncio
@pytest.mark.parametrize("how", ["untracked", "other-app", "re-marked in place"])
async def test_a_prune_leaves_alone_what_took_the_objects_place(cluster_a: LocalCluster, make_namespace,
                                                               git_repos, tmp_path: Path,
                                                               how: str) -> None:
    """An object that left Git but was replaced (or re-marked) by a foreign object after the
    comparison is neither modified nor deleted by the prune, and leaves the inventory."""
    ns = make_namespace(cluster_a)
    app = f"swap-{ns}"
    path = f"/api/v1/namespaces/{ns}/configmaps/b"
    repo = git_repos.new()
    repo.commit({"app/a.yaml": cm("a", {"x": "1"}), "app/b.yaml": cm("b", {"x": "1"}),
                 "app/c.yaml": cm("c", {"x": "1"})})
    foreign: dict[str, Any] = {}

    def replace() -> None:
        if how == "re-marked in place":
            patch = {"metadata": {"annotations": {"gitopsd.io/tracking-id": f"other:/ConfigMap:{ns}/b"}},
                     "data": {"owner": "other"}}
            status, body = cluster_a.request("PATCH", path, patch,
                                             content_type="application/merge-patch+json")
            assert status == 200, body
        else:
            assert cluster_a.request("DELETE", path)[0] == 200
            body = {"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "b", "namespace": ns, "labels": {"gitopsd.io/fleet": "testfleet"},
                                 "annotations": REPLACEMENTS[how](ns)},
                    "data": {"owner": "other"}}
            status, body = cluster_a.request("POST", f"/api/v1/namespaces/{ns}/configmaps", body)
            assert status == 201, body
        foreign.update(body)

    async with kit(cluster_a, repo, tmp_path, app=app, path="app", namespace=ns, policy=POLICY) as k:
        assert (await k.sync()).kind is OutcomeKind.SYNCED
        repo.commit({"app/b.yaml": None})
        _before_delete(k, path, replace)
        outcome = await k.sync()
    assert foreign, "the prune never reached the object"
    live = _get(cluster_a, path)
    assert (live["metadata"]["uid"], live["metadata"]["resourceVersion"]) == \
        (foreign["metadata"]["uid"], foreign["metadata"]["resourceVersion"])
    assert live["data"] == foreign["data"]
    assert [(c.key.name, c.action) for c in outcome.changes if c.key.name == "b"] == \
        [("b", ChangeAction.SKIPPED)]
    assert f"{ns}/b" not in _entries(cluster_a, app)
    assert outcome.kind is OutcomeKind.SYNCED, outcome.message


@pytest.mark.asyncio
async def test_a_lost_inventory_is_rebuilt_before_pruning(cluster_a: LocalCluster, make_namespace,
                                                          git_repos, tmp_path: Path) -> None:
    """With the inventory ConfigMap deleted, objects that then leave Git are still pruned: the
    inventory is rebuilt from the live objects carrying the application's marks."""
    ns = make_namespace(cluster_a)
    app = f"lost-{ns}"
    repo = git_repos.new()
    repo.commit({"app/a.yaml": cm("a", {"x": "1"}), "app/b.yaml": cm("b", {"x": "1"}),
                 "app/c.yaml": cm("c", {"x": "1"})})
    async with kit(cluster_a, repo, tmp_path, app=app, path="app", namespace=ns, policy=POLICY) as k:
        assert (await k.sync()).kind is OutcomeKind.SYNCED
        assert cluster_a.request("DELETE", f"{INVENTORIES}/gitopsd-inv-{app}")[0] == 200
        repo.commit({"app/b.yaml": None, "app/c.yaml": None})
        outcome = await k.sync()
    assert outcome.kind is OutcomeKind.SYNCED, outcome.message
    assert sorted(c.key.name for c in outcome.changes.by_action(ChangeAction.PRUNED)) == ["b", "c"]
    for name in ("b", "c"):
        assert cluster_a.request("GET", f"/api/v1/namespaces/{ns}/configmaps/{name}")[0] == 404
    assert _entries(cluster_a, app) == f"v1 ConfigMap {ns}/a\n"


@pytest.mark.asyncio
async def test_a_pass_killed_after_its_deletes_finishes_them_next_time(cluster_a: LocalCluster,
                                                                       make_namespace, git_repos,
                                                                       tmp_path: Path) -> None:
    """A pass killed right after a prune went out leaves the rest to the next pass, and an
    object still being deleted keeps its inventory entry until it is gone."""
    ns = make_namespace(cluster_a)
    app = f"kill-{ns}"
    held = f"/api/v1/namespaces/{ns}/configmaps/held"
    repo = git_repos.new()
    repo.commit({"app/a.yaml": cm("a", {"x": "1"}), "app/held.yaml": cm("held", {"x": "1"}),
                 "app/plain.yaml": cm("plain", {"x": "1"})})
    async with kit(cluster_a, repo, tmp_path, app=app, path="app", namespace=ns, policy=POLICY) as k:
        assert (await k.sync()).kind is OutcomeKind.SYNCED
        status, body = cluster_a.request("PATCH", held, {"metadata": {"finalizers": ["example.com/hold"]}},
                                         content_type="application/merge-patch+json")
        assert status == 200, body
        repo.commit({"app/held.yaml": None, "app/plain.yaml": None})

        def die() -> None:
            raise Killed

        _before_delete(k, held, die, after=True)
        with pytest.raises(Killed):
            await k.sync()
        assert _get(cluster_a, held)["metadata"].get("deletionTimestamp")
        assert cluster_a.request("GET", f"/api/v1/namespaces/{ns}/configmaps/plain")[0] == 200
        assert _entries(cluster_a, app) == f"v1 ConfigMap {ns}/a\nv1 ConfigMap {ns}/held\n" \
            f"v1 ConfigMap {ns}/plain\n"

        second = await k.sync()
        assert second.kind is OutcomeKind.SYNCED, second.message
        assert cluster_a.request("GET", f"/api/v1/namespaces/{ns}/configmaps/plain")[0] == 404
        assert cluster_a.request("GET", held)[0] == 200
        assert f"{ns}/held" in _entries(cluster_a, app)
        assert f"{ns}/plain" not in _entries(cluster_a, app)

        status, body = cluster_a.request("PATCH", held, {"metadata": {"finalizers": None}},
                                         content_type="application/merge-patch+json")
        assert status == 200, body
        assert cluster_a.request("GET", held)[0] == 404
        third = await k.sync()
    assert third.kind is OutcomeKind.SYNCED, third.message
    assert _entries(cluster_a, app) == f"v1 ConfigMap {ns}/a\n"
