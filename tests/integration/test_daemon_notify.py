"""Process life of ``gitopsd run`` as systemd sees it: sd_notify messages on a test socket, SIGTERM.

The daemon runs as a subprocess with ``NOTIFY_SOCKET`` naming a datagram
socket bound by the test and a 2 s ``WATCHDOG_USEC``. SIGHUP must be
announced as RELOADING=1 followed by READY=1. Its second revision
renders with Kustomize from a URL that a test server accepts but never
answers, so SIGTERM arrives while a child process is busy: the daemon must
still say STOPPING=1, exit 0 within the unit's TimeoutStopSec and leave no
process behind.
"""

from __future__ import annotations

import itertools
import re
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from gitopsd.localcluster import LocalCluster
from tests.integration.daemonproc import ROOT, running_daemon, wait_for, write_fleet
from tests.integration.synckit import cm
from tests.testenv.git_fixtures import RepoFactory

WATCHDOG_USEC = 2_000_000


def _unit_stop_timeout() -> float:
    text = (ROOT / "systemd" / "gitopsd.service").read_text()
    match = re.search(r"^TimeoutStopSec=(\d+)s?$", text, re.MULTILINE)
    assert match, "the unit sets TimeoutStopSec in seconds"
    return float(match.group(1))


@dataclass
class NotifySocket:
    """A datagram socket standing in for systemd's; every message is kept with its arrival time."""

    path: str
    messages: list[tuple[float, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self, key: str, value: str = "1") -> list[float]:
        with self.lock:
            return [t for t, m in self.messages if m.get(key) == value]


@pytest.fixture
def notify_socket() -> Iterator[NotifySocket]:
    """An AF_UNIX datagram socket under a short /tmp path (sun_path is limited to 108 bytes)."""
    directory = tempfile.mkdtemp(prefix="gn-", dir="/tmp")
    state = NotifySocket(f"{directory}/notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(state.path)
    sock.settimeout(0.2)
    stop = threading.Event()

    def receive() -> None:
        while not stop.is_set():
            try:
                data = sock.recv(4096)
            except TimeoutError:
                continue
            lines = dict(line.partition("=")[::2] for line in data.decode().splitlines() if line)
            with state.lock:
                state.messages.append((time.monotonic(), lines))

    thread = threading.Thread(target=receive, name="notify-socket", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        stop.set()
        thread.join(5)
        sock.close()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def silent_http() -> Iterator[str]:
    """A base URL whose server accepts connections and never answers them."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()
    listener.settimeout(0.2)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, name="silent-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    start: int
    cmdline: str


def _processes() -> dict[int, Proc]:
    """Every process visible in /proc (those that vanish while reading are skipped)."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        out[int(entry.name)] = Proc(int(entry.name), int(fields[1]), int(fields[19]), cmdline)
    return out


def _descendants(pid: int) -> list[Proc]:
    procs = _processes()
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        for p in procs.values():
            if p.ppid == parent:
                found.append(p)
                frontier.append(p.pid)
    return found


def _alive(p: Proc) -> bool:
    now = _processes().get(p.pid)
    return now is not None and now.start == p.start


def _kustomization(resources: list[str]) -> str:
    return yaml.safe_dump({"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                           "resources": resources})


def test_ready_after_first_sync_watchdog_and_clean_stop_on_sigterm(
        cluster_a: LocalCluster, make_namespace: Callable[[LocalCluster], str],
        git_repos: RepoFactory, tmp_path: Path, notify_socket: NotifySocket, silent_http: str) -> None:
    """READY=1 follows the first sync and each reload, WATCHDOG=1 keeps coming, SIGTERM stops cleanly."""
    stop_timeout = _unit_stop_timeout()
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    head = repo.commit({"app/kustomization.yaml": _kustomization(["cm.yaml"]),
                        "app/cm.yaml": cm("notified", {"k": "v"})})
    app = f"notify-{ns.rpartition('-')[2]}"
    fleet = write_fleet(tmp_path / "fleet.yaml", cluster=cluster_a, repo_url=str(repo.path), app=app,
                        namespace=ns)
    env = {"NOTIFY_SOCKET": notify_socket.path, "WATCHDOG_USEC": str(WATCHDOG_USEC)}
    with running_daemon(tmp_path / "run", fleet, token="notify-test-api-token",
                        webhook_secret="notify-test-hook-secret", env=env) as daemon:
        ready = wait_for(lambda: notify_socket.received("READY"), 60, "READY=1")
        row = daemon.instance(app, cluster_a.name)
        assert row is not None
        assert (row["revision"], row["last_sync"]["result"]) == (head, "Synced")
        assert cluster_a.request("GET", f"/api/v1/namespaces/{ns}/configmaps/notified")[0] == 200
        events = [e["event"] for e in daemon.log_events()]
        assert events.index("reconcile.done") < events.index("daemon.ready")
        assert len(ready) == 1

        # SIGHUP reloads the fleet file: RELOADING=1, then READY=1 again.
        daemon.proc.send_signal(signal.SIGHUP)
        reloading = wait_for(lambda: notify_socket.received("RELOADING"), 30, "RELOADING=1")
        wait_for(lambda: len(notify_socket.received("READY")) == 2, 30, "READY=1 after the reload")
        assert reloading[0] < notify_socket.received("READY")[1]

        # A render that never finishes: kustomize waits on a server that never answers.
        repo.commit({"app/kustomization.yaml": _kustomization(["cm.yaml", f"{silent_http}/more.yaml"])})
        state_dir = str(daemon.state_dir)

        def rendering() -> list[Proc] | None:
            daemon.assert_alive()
            kids = [p for p in _descendants(daemon.pid) if state_dir in p.cmdline]
            return kids or None
        children = wait_for(rendering, 30, "a kustomize child rendering the new revision", interval=0.05)
        time.sleep(2.5)  # the watchdog must keep ticking while the sync waits on its child
        assert daemon.proc.poll() is None

        sigterm = time.monotonic()
        code = daemon.terminate(stop_timeout)
        exited = time.monotonic()
        leftover = [p for p in children if _alive(p)]
        holding_state = [p for p in _processes().values() if state_dir in p.cmdline]
    assert code == 0, daemon.log_text()[-3000:]
    assert exited - sigterm < stop_timeout
    assert not leftover, leftover
    assert not holding_state, holding_state

    stopping = notify_socket.received("STOPPING")
    assert len(stopping) == 1
    assert sigterm <= stopping[0] <= exited
    pings = notify_socket.received("WATCHDOG")
    after_ready = [t for t in pings if ready[0] <= t <= sigterm]
    assert len(after_ready) >= 3, pings
    gaps = [b - a for a, b in itertools.pairwise(pings) if b <= sigterm]
    assert max(gaps) < WATCHDOG_USEC / 1_000_000, gaps
    assert [e for e in daemon.log_events() if e.get("level") in ("error", "critical")] == []
