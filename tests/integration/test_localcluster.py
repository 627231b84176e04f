"""`gitopsd localcluster up/down` start and stop real control planes cleanly."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gitopsd import localcluster
from gitopsd.edges.binaries import find
from gitopsd.errors import LocalClusterError
from gitopsd.localcluster import LocalCluster
from gitopsd.localcluster.processes import alive, port_in_use


def _gitopsd(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gitopsd", *args], capture_output=True, text=True,
                          timeout=180, env=env, check=False)


def _etcd_processes(directory: Path) -> list[int]:
    """Pids of processes whose command line mentions DIRECTORY."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(directory) in cmd:
            pids.append(int(entry.name))
    return pids


def test_up_then_down_leaves_nothing_behind(tmp_path: Path) -> None:
    """The CLI starts a cluster that outlives it, and down leaves no process, port or directory."""
    directory = tmp_path / "c1"
    scratch = tmp_path / "tmpdir"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    up = _gitopsd("localcluster", "up", "--name", "c1", "--dir", str(directory), env=env)
    assert up.returncode == 0, up.stderr
    cluster = LocalCluster.load(directory)
    assert cluster.request("GET", "/readyz")[0] == 200
    assert (directory / "kubeconfig").is_file()
    assert (directory / "kubeconfig-alice").is_file()
    records = list(cluster.processes)
    assert all(alive(p) for p in records)
    down = _gitopsd("localcluster", "down", "--dir", str(directory), env=env)
    assert down.returncode == 0, down.stderr
    assert not any(alive(p) for p in records)
    assert not port_in_use(cluster.port)
    assert not directory.exists()
    assert _etcd_processes(directory) == []
    assert list(scratch.iterdir()) == []


def test_missing_binary_is_one_line_error(tmp_path: Path) -> None:
    """A missing binary ends with a one-line error naming it, and nothing is started."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(find("etcd"), bin_dir / "etcd")
    env = {**os.environ, "GITOPSD_BIN_DIR": str(bin_dir), "GITOPSD_TESTENV_CACHE": str(tmp_path / "none"),
           "KUBEBUILDER_ASSETS": "", "PATH": "/usr/bin:/bin"}
    directory = tmp_path / "c2"
    result = _gitopsd("localcluster", "up", "--dir", str(directory), env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "kube-apiserver not found" in lines[0]
    assert _etcd_processes(directory) == []


def test_port_in_use_names_cause_and_log(tmp_path: Path) -> None:
    """A busy API port fails with the cause and the log file, leaving no etcd running."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        directory = tmp_path / "c3"
        result = _gitopsd("localcluster", "up", "--dir", str(directory), "--port", str(port),
                          "--timeout", "60")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "address already in use" in lines[0]
    assert "kube-apiserver.log" in lines[0]
    assert _etcd_processes(directory) == []


def test_never_ready_is_reported_without_orphans(tmp_path: Path) -> None:
    """An API server that never gets ready times out with the log to read and stops etcd."""
    fake_dir = tmp_path / "bin"
    fake_dir.mkdir()
    os.symlink(find("etcd"), fake_dir / "etcd")
    fake = fake_dir / "kube-apiserver"
    fake.write_text("#!/bin/sh\necho 'waiting for nothing'\nexec sleep 600\n")
    fake.chmod(0o755)
    directory = tmp_path / "c4"
    os.environ["GITOPSD_BIN_DIR"] = str(fake_dir)
    try:
        with pytest.raises(LocalClusterError) as info:
            localcluster.up("c4", directory, ready_timeout=3)
    finally:
        del os.environ["GITOPSD_BIN_DIR"]
    message = str(info.value)
    assert "did not become ready" in message
    assert "kube-apiserver.log" in message
    assert "\n" not in message
    assert _etcd_processes(directory) == []


def test_clusters_run_side_by_side(tmp_path: Path) -> None:
    """Two clusters started from Python run at once on distinct ports."""
    one = localcluster.up("one", tmp_path / "one")
    try:
        two = localcluster.up("two", tmp_path / "two")
        try:
            assert one.port != two.port
            assert one.request("GET", "/readyz")[0] == 200
            assert two.request("GET", "/readyz")[0] == 200
        finally:
            localcluster.down(two.dir)
    finally:
        localcluster.down(one.dir)
