"""Verified commits end to end: ``gitopsd run`` against a real API server and an SSH-served repository.

A revision that is not signed by an allowed key is never applied: the objects
of the last good revision stay, the instance shows a ``SignatureInvalid``
condition naming the commit and why, and the refusal is counted in
``/metrics``. The next properly signed commit is applied as usual.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from gitopsd.localcluster import LocalCluster
from tests.integration.daemonproc import DaemonProc, fleet_doc, poll_until, value
from tests.testenv.signing import SshKey, commit


def cm(name: str, text: str) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                           "data": {"value": text}})


def refused_row(d: DaemonProc, sha: str) -> dict[str, Any] | None:
    row = d.instance("signed", "a")
    if row and any(c["type"] == "SignatureInvalid" and sha[:12] in c["message"] for c in row["conditions"]):
        return row
    return None


def test_unsigned_revision_is_refused_and_the_previous_state_stays(
        cluster_a: LocalCluster, make_namespace, git_repos, git_client_key, git_known_hosts,
        tmp_path: Path) -> None:
    """An unsigned head leaves the applied objects and shows SignatureInvalid; a signed seal applies."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    key = SshKey(tmp_path / "signer")
    (tmp_path / "allowed_signers").write_text(key.allowed_line("release@example.test") + "\n")
    good = commit(repo.path, {"c.yaml": cm("c", "signed-one")}, signer=key)
    fleet = fleet_doc([("a", cluster_a.kubeconfig, {})], repo.ssh_url, key_file=git_client_key,
                      known_hosts=git_known_hosts, poll="1s", apps=[{
                          "name": "signed", "source": {"repo": "env", "targetRevision": "main", "path": "."},
                          "destination": {"clusters": {"names": ["a"]}, "namespace": ns},
                          "syncPolicy": {"automated": {"prune": True, "selfHeal": True}}}])
    fleet["repositories"][0]["verify"] = {"mode": "strict", "startTrailer": "Gitopsd-verified-from",
                                          "sshAllowedSigners": str(tmp_path / "allowed_signers")}
    d = DaemonProc(fleet, tmp_path / "daemon")
    d.root.mkdir(parents=True)
    d.write_fleet()
    check = subprocess.run([sys.executable, "-m", "gitopsd", "check-config", "--config", str(d.fleet_file)],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    d.start()
    try:
        assert poll_until(lambda: value(cluster_a, ns, "c") == "signed-one", 30), d.logs()
        assert poll_until(lambda: (d.instance("signed", "a") or {}).get("revision") == good, 10), d.logs()
        unsigned = commit(repo.path, {"c.yaml": cm("c", "unsigned-two")})
        row = poll_until(lambda: refused_row(d, unsigned), 30)
        assert row, d.logs()
        [condition] = [c for c in row["conditions"] if c["type"] == "SignatureInvalid"]
        assert "not signed" in condition["message"]
        assert row["revision"] == good
        assert value(cluster_a, ns, "c") == "signed-one"
        # a signed commit on top of the unsigned one is still refused in strict mode
        over = commit(repo.path, {"c.yaml": cm("c", "signed-over-unsigned")}, signer=key)
        row = poll_until(lambda: (r := refused_row(d, unsigned)) and over[:12] in r["last_sync"]["message"]
                         and r, 30)
        assert row, d.logs()
        assert row["revision"] == good
        assert value(cluster_a, ns, "c") == "signed-one"
        # a signed commit carrying the start trailer marks where verification starts again
        sealed = commit(repo.path, {"c.yaml": cm("c", "sealed-three")}, signer=key,
                        message="reviewed\n\nGitopsd-verified-from: audit 42")
        assert poll_until(lambda: value(cluster_a, ns, "c") == "sealed-three", 30), d.logs()
        assert poll_until(lambda: not refused_row(d, unsigned)
                          and (d.instance("signed", "a") or {}).get("revision") == sealed, 10), d.logs()
        metrics = d.get("/metrics", auth=False)
        assert 'gitopsd_signature_invalid_total{app="signed",cluster="a",repo="env"}' in metrics
    finally:
        assert d.stop() == 0


def test_check_config_reports_a_bad_verify_block_with_file_and_line(tmp_path: Path) -> None:
    """``gitopsd check-config`` exits 2 and names the fleet file and line of a broken verify block."""
    (tmp_path / "signers").write_text("release@example.test\n")
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("fleet: f\nrepositories:\n  - name: env\n    url: /srv/env.git\n    verify:\n"
                     "      mode: sometimes\n      sshAllowedSigners: signers\n")
    check = subprocess.run([sys.executable, "-m", "gitopsd", "check-config", "--config", str(fleet)],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode != 0
    assert f"{fleet}:6: repositories[0].verify.mode: must be one of head, strict, tag" in check.stderr
    assert f"{tmp_path / 'signers'}:1: expected principals" in check.stderr
