"""The status pages, ``gitopsd history`` and ``gitopsd rollback`` against a real daemon and cluster.

A real ``gitopsd run`` process syncs a Git repository served over SSH into the
local control plane; the pages are read over HTTP as a browser without script
would, the live stream as an ``EventSource`` would, and the CLI is run as a
subprocess. Secret values are checked to appear nowhere on the pages.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pygit2
import yaml

from gitopsd.localcluster import LocalCluster
from tests.integration.daemonproc import DaemonProc, edit, fleet_doc, poll_until, value

AUTO = {"automated": {"prune": True, "selfHeal": True}}
OLD_SECRET, NEW_SECRET = "hunter2-old-8c1f", "hunter2-new-77ab"


def cm(name: str, data: str, wave: int = 0) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": name,
                                        "annotations": {"argocd.argoproj.io/sync-wave": str(wave)}},
                           "data": {"value": data}})


def secret(name: str, password: str) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
                           "type": "Opaque", "stringData": {"password": password}})


def application(name: str, path: str, ns: str, policy: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "source": {"repo": "env", "targetRevision": "main", "path": path},
            "destination": {"clusters": {"names": ["a"]}, "namespace": ns}, "syncPolicy": policy}


def request(d: DaemonProc, method: str, path: str, body: dict[str, str] | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, http.client.HTTPMessage, str]:
    """One request, redirects not followed: status, headers and body text."""
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=60)
    try:
        sent = dict(headers or {})
        data = None
        if body is not None:
            data = urlencode(body)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=data, headers=sent)
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read().decode(errors="replace")
    finally:
        conn.close()


def start(tmp_path: Path, cluster: LocalCluster, ns: str, repo: Any, key: Path, known: Path) -> DaemonProc:
    fleet = fleet_doc([("a", cluster.kubeconfig, {"env": "test"})], repo.ssh_url, key_file=key,
                      known_hosts=known, poll="1s",
                      apps=[application("auto", "auto", ns, AUTO), application("manual", "manual", ns, {})])
    return DaemonProc(fleet, tmp_path / "daemon").start()


def cli(d: DaemonProc, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gitopsd", *args, "--server", f"http://127.0.0.1:{d.port}",
         "--api-token-file", str(d.root / "token")],
        capture_output=True, text=True, timeout=120, check=False, cwd=cwd)


def sync_manual(d: DaemonProc, revision: str) -> None:
    assert d.post("/api/v1/instances/manual/a/sync",
                  headers={"Authorization": f"Bearer {d.token}"}) == 202
    assert poll_until(lambda: (d.instance("manual", "a") or {}).get("revision") == revision, 60), d.logs()


def test_pages_list_instances_objects_and_mask_secrets(
        cluster_a: LocalCluster, make_namespace, git_repos, git_client_key, git_known_hosts,
        tmp_path: Path) -> None:
    """The overview lists both instances and filters them, the instance page shows objects by wave,
    and the diff of an OutOfSync Secret shows that it differs without any of its values."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    repo.commit({"auto/first.yaml": cm("first", "one", wave=-1), "auto/second.yaml": cm("second", "two", 2),
                 "manual/s.yaml": secret("creds", OLD_SECRET), "manual/c.yaml": cm("plain", "x")},
                message="Start the fleet")
    d = start(tmp_path, cluster_a, ns, repo, git_client_key, git_known_hosts)
    try:
        synced = poll_until(lambda: (d.instance("auto", "a") or {}).get("sync_status") == "Synced", 60)
        assert synced, d.logs()
        sync_manual(d, repo.head())
        status, headers, page = request(d, "GET", "/ui/")
        assert status == 200
        assert headers["Content-Type"].startswith("text/html")
        assert 'id="row:auto/a"' in page
        assert 'id="row:manual/a"' in page
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert ">Sync</button>" not in page  # read-only without signing in
        _, _, shown = request(d, "GET", "/ui/?" + urlencode({"label": "env=test", "app": "manual"}))
        assert 'id="row:manual/a"' in shown
        assert 'id="row:auto/a"' not in shown
        _, _, none = request(d, "GET", "/ui/?" + urlencode({"label": "env=prod"}))
        assert 'id="row:' not in none

        status, _, inst = request(d, "GET", "/ui/instances/auto/a")
        assert status == 200
        assert "Start the fleet <span" in inst  # the applied commit's subject and author
        assert "by gitopsd tests" in inst
        waves = [int(w) for w in re.findall(r"<h3>Wave (-?\d+)</h3>", inst)]
        assert waves == [-1, 2]
        assert inst.index(">first<") < inst.index("Wave 2") < inst.index(">second<")

        repo.commit({"manual/s.yaml": secret("creds", NEW_SECRET)})
        assert poll_until(lambda: (d.instance("manual", "a") or {}).get("sync_status") == "OutOfSync",
                          60), d.logs()
        status, _, diff = request(d, "GET", "/ui/instances/manual/a/diff")
        assert status == 200
        assert "Secret/" in diff
        assert "creds" in diff
        assert "+++++" in diff
        for page_text in (diff, request(d, "GET", "/ui/instances/manual/a")[2]):
            for word in (OLD_SECRET, NEW_SECRET):
                assert word not in page_text
                assert base64.b64encode(word.encode()).decode() not in page_text
    finally:
        assert d.stop() == 0


def test_sync_needs_a_session_and_its_csrf_token(
        cluster_a: LocalCluster, make_namespace, git_repos, git_client_key, git_known_hosts,
        tmp_path: Path) -> None:
    """A POST sync without a session, with a forged one, without the CSRF token or from another
    origin is refused and syncs nothing; signed in with the token the Sync button syncs."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    repo.commit({"auto/c.yaml": cm("a", "1"), "manual/c.yaml": cm("m", "first")})
    d = start(tmp_path, cluster_a, ns, repo, git_client_key, git_known_hosts)
    try:
        assert poll_until(lambda: d.instance("manual", "a") is not None and
                          (d.instance("manual", "a") or {}).get("sync_status") == "OutOfSync", 60), d.logs()
        path = "/ui/instances/manual/a/sync"
        assert request(d, "POST", path, {"csrf": "x"})[0] == 403
        assert request(d, "POST", path, {"csrf": "x"}, {"Cookie": "gitopsd_session=forged"})[0] == 403
        assert request(d, "POST", "/ui/login", {"token": "wrong"})[0] == 401

        status, headers, _ = request(d, "POST", "/ui/login", {"token": d.token})
        assert status == 303
        cookie = headers["Set-Cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        session = {"Cookie": cookie.split(";")[0]}
        _, _, page = request(d, "GET", "/ui/instances/manual/a", headers=session)
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
        assert csrf, page[:2000]
        assert request(d, "POST", path, {}, session)[0] == 403
        assert request(d, "POST", path, {"csrf": "0" * 64}, session)[0] == 403
        assert request(d, "POST", path, {"csrf": csrf.group(1)},
                       {**session, "Origin": "http://evil.example"})[0] == 403
        time.sleep(2)
        assert value(cluster_a, ns, "m") is None  # nothing refused has synced

        status, headers, _ = request(d, "POST", path, {"csrf": csrf.group(1)},
                                     {**session, "Origin": f"http://127.0.0.1:{d.port}"})
        assert status == 303
        assert headers["Location"].endswith("synced=1")
        assert poll_until(lambda: value(cluster_a, ns, "m") == "first", 60), d.logs()
        status, _, _ = request(d, "POST", "/api/v1/instances/manual/a/sync",
                               headers={"Cookie": session["Cookie"]})
        assert status == 401  # the page session is no API credential
    finally:
        assert d.stop() == 0


def test_events_stream_a_status_change_after_drift(
        cluster_a: LocalCluster, make_namespace, git_repos, git_client_key, git_known_hosts,
        tmp_path: Path) -> None:
    """/ui/events sends the row's cells on connecting and again, OutOfSync, after a live edit."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    repo.commit({"auto/c.yaml": cm("a", "1"), "manual/c.yaml": cm("m", "first")})
    d = start(tmp_path, cluster_a, ns, repo, git_client_key, git_known_hosts)
    try:
        sync_manual(d, repo.head())
        assert poll_until(lambda: (d.instance("manual", "a") or {}).get("sync_status") == "Synced", 30)
        conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=60)
        conn.request("GET", "/ui/events")
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/event-stream"

        def next_event() -> dict[str, Any]:
            while True:
                line = resp.fp.readline().decode()
                assert line, "the stream ended"
                if line.startswith("data: "):
                    return dict(json.loads(line[6:]))

        first = {}
        while "row:manual/a" not in first:
            event = next_event()
            first[event["id"]] = event["cells"]
        assert "Synced" in first["row:manual/a"]["sync"]
        edit(cluster_a, ns, "m", "edited by hand")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            event = next_event()
            if event["id"] == "row:manual/a" and "OutOfSync" in event["cells"]["sync"]:
                break
        else:
            raise AssertionError("no OutOfSync event for manual/a")
        conn.close()
    finally:
        assert d.stop() == 0


def test_history_rollback_and_revert(
        cluster_a: LocalCluster, make_namespace, git_repos, git_client_key, git_known_hosts,
        tmp_path: Path) -> None:
    """`gitopsd history` lists the syncs; `rollback` is refused for an automated application and
    syncs a manual one back to an entry's revision; `rollback --revert` prepares, but never pushes,
    a revert commit of the revision applied."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    repo.commit({"auto/c.yaml": cm("a", "1"), "manual/c.yaml": cm("m", "first")})
    first = repo.head()
    d = start(tmp_path, cluster_a, ns, repo, git_client_key, git_known_hosts)
    try:
        sync_manual(d, first)
        second = repo.commit({"manual/c.yaml": cm("m", "second")}, message="Bump m to second\n\nWhy.")
        assert poll_until(lambda: (d.instance("manual", "a") or {}).get("sync_status") == "OutOfSync", 60)
        sync_manual(d, second)
        assert value(cluster_a, ns, "m") == "second"

        out = cli(d, "history", "manual", "--cluster", "a")
        assert out.returncode == 0, out.stderr
        header, *lines = out.stdout.splitlines()
        assert header.split()[:4] == ["ID", "REVISION", "SUBJECT", "STARTED"]
        assert "Bump m to second" in lines[0]  # the commit's subject, not its body
        assert "Why." not in out.stdout
        entries = {line.split()[1]: int(line.split()[0]) for line in lines}
        assert list(entries) == [second[:12], first[:12]]

        auto = cli(d, "history", "auto")
        assert auto.returncode == 0, auto.stderr
        assert auto.stdout.splitlines()[1:], auto.stdout
        auto_id = auto.stdout.splitlines()[1].split()[0]
        refused = cli(d, "rollback", "auto", auto_id)
        assert refused.returncode == 2
        assert "automated" in refused.stderr
        assert "syncPolicy.automated" in refused.stderr

        clone = tmp_path / "revert"
        reverted = cli(d, "rollback", "manual", "--revert", "--dir", str(clone), "--config",
                       str(d.fleet_file))
        assert reverted.returncode == 0, reverted.stderr
        assert f"git -C {clone} push origin HEAD:main" in reverted.stdout
        local = pygit2.Repository(str(clone))
        head = local[local.head.target]
        assert [str(p) for p in head.parent_ids] == [second]
        assert yaml.safe_load((clone / "manual/c.yaml").read_text())["data"]["value"] == "first"
        assert repo.head() == second  # nothing was pushed

        done = cli(d, "rollback", "manual", str(entries[first[:12]]))
        assert done.returncode == 0, done.stderr
        assert first in done.stdout
        assert poll_until(lambda: value(cluster_a, ns, "m") == "first", 60), d.logs()
        row = poll_until(lambda: (r := d.instance("manual", "a")) and r["revision"] == first and r, 30)
        assert row, d.logs()
        assert cli(d, "rollback", "manual", "99999", "--cluster", "a").returncode == 2
    finally:
        assert d.stop() == 0
