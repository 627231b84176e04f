"""The systemd unit passes systemd-analyze, and sd_notify messages reach a real notify socket."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitopsd.edges.notify import Notifier
from gitopsd.edges.telemetry.logging import configure_logging, unconfigure_logging

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "systemd" / "gitopsd.service"


def _systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    assert path, "systemd-analyze is required (Debian package: systemd)"
    return path


def _unit_for_this_machine(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this environment's gitopsd script, which must exist."""
    script = Path(sys.prefix) / "bin" / "gitopsd"
    assert script.is_file(), f"{script} missing; install the package into the venv"
    text = UNIT.read_text()
    rewritten, count = re.subn(r"^ExecStart=/usr/local/bin/gitopsd ", f"ExecStart={script} ", text,
                               flags=re.MULTILINE)
    assert count == 1
    target = tmp_path / "gitopsd.service"
    target.write_text(rewritten)
    return target


def _unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def test_unit_verifies_without_any_output(tmp_path: Path) -> None:
    """systemd-analyze verify prints nothing for the unit (it exits 0 even on most errors)."""
    unit = _unit_for_this_machine(tmp_path)
    result = subprocess.run([_systemd_analyze(), "verify", "--man=no", str(unit)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.stdout + result.stderr == ""
    assert result.returncode == 0


def test_verify_would_notice_a_broken_unit(tmp_path: Path) -> None:
    """The same check reports an unknown key, so an empty output above means something."""
    unit = _unit_for_this_machine(tmp_path)
    unit.write_text(unit.read_text().replace("[Service]\n", "[Service]\nProtectSystm=strict\n"))
    result = subprocess.run([_systemd_analyze(), "verify", "--man=no", str(unit)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert "ProtectSystm" in result.stdout + result.stderr


def test_unit_exposure_is_low(tmp_path: Path) -> None:
    """systemd-analyze security rates the hardened unit at an exposure of 2.0 or less."""
    unit = _unit_for_this_machine(tmp_path)
    result = subprocess.run(
        [_systemd_analyze(), "security", "--offline=true", "--threshold=20", "--no-pager", str(unit)],
        capture_output=True, text=True, timeout=60, check=False)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 2.0
    assert result.returncode == 0


@pytest.mark.parametrize(("key", "value"), [
    ("Type", "notify"),
    ("WatchdogSec", "30"),
    ("Restart", "on-failure"),
    ("TimeoutStopSec", "30"),
    ("DynamicUser", "yes"),
    ("StateDirectory", "gitopsd"),
    ("ConfigurationDirectory", "gitopsd"),
    ("Environment", "GITOPSD_STATE_DIR=%S/gitopsd"),
    ("ProtectSystem", "strict"),
    ("NoNewPrivileges", "yes"),
    ("CapabilityBoundingSet", ""),
    ("SystemCallFilter", "@system-service"),
    ("UMask", "0077"),
])
def test_unit_sets(key: str, value: str) -> None:
    """The unit sets KEY to VALUE, as the daemon's systemd integration expects."""
    assert value in _unit_settings().get(key, [])


def test_unit_loads_both_credentials() -> None:
    """The age key and the API token come in as systemd credentials, not environment variables."""
    names = {v.split(":", 1)[0] for v in _unit_settings().get("LoadCredential", [])}
    assert names == {"age.key", "api-token"}


# -- sd_notify against real datagram sockets -------------------------------------------------


@pytest.fixture(params=["path", "abstract"])
def notify_socket(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    """A bound AF_UNIX datagram socket, by file path or in the abstract namespace, with its address."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if request.param == "path":
        address = str(tmp_path / "notify.sock")
        sock.bind(address)
    else:
        name = f"gitopsd-test-{uuid.uuid4().hex}"
        sock.bind(b"\0" + name.encode())
        address = "@" + name
    sock.settimeout(5)
    try:
        yield address, sock
    finally:
        sock.close()


def _receive(sock: socket.socket) -> str:
    return sock.recv(4096).decode()


def test_messages_arrive(notify_socket: tuple[str, socket.socket]) -> None:
    """READY=1, STATUS, WATCHDOG=1 and STOPPING=1 arrive as datagrams on the NOTIFY_SOCKET."""
    address, sock = notify_socket
    notifier = Notifier.from_env({"NOTIFY_SOCKET": address})
    assert notifier.enabled
    assert notifier.ready()
    assert _receive(sock) == "READY=1"
    assert notifier.status("syncing 3 apps\non 2 clusters")
    assert _receive(sock) == "STATUS=syncing 3 apps on 2 clusters"
    assert notifier.watchdog()
    assert _receive(sock) == "WATCHDOG=1"
    assert notifier.stopping("shutting down")
    assert _receive(sock) == "STOPPING=1\nSTATUS=shutting down"
    assert notifier.extend_timeout(2.5)
    assert _receive(sock) == "EXTEND_TIMEOUT_USEC=2500000"


def test_from_process_environment(notify_socket: tuple[str, socket.socket],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an explicit mapping, the notifier reads os.environ and can unset it for children."""
    address, sock = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", address)
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    notifier = Notifier.from_env(unset_environment=True)
    assert "NOTIFY_SOCKET" not in os.environ
    assert "WATCHDOG_USEC" not in os.environ
    assert notifier.ready("up")
    assert _receive(sock) == "READY=1\nSTATUS=up"
    assert notifier.watchdog_interval() == 15.0


@pytest.mark.asyncio
async def test_keep_alive_pings_from_the_event_loop(notify_socket: tuple[str, socket.socket]) -> None:
    """keep_alive sends WATCHDOG=1 every half WATCHDOG_USEC while the loop runs."""
    address, sock = notify_socket
    notifier = Notifier.from_env({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "100000"})
    assert notifier.watchdog_interval() == pytest.approx(0.05)
    task = asyncio.create_task(notifier.keep_alive())
    try:
        pings = [await asyncio.to_thread(_receive, sock) for _ in range(3)]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert pings == ["WATCHDOG=1"] * 3


@pytest.mark.parametrize(("env", "interval"), [
    ({"WATCHDOG_USEC": "30000000"}, 15.0),
    ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 15.0),
    ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),
    ({"WATCHDOG_USEC": "0"}, None),
    ({"WATCHDOG_USEC": "soon"}, None),
    ({}, None),
])
def test_watchdog_interval(env: dict[str, str], interval: float | None) -> None:
    """The ping interval is half of WATCHDOG_USEC, and only for the process WATCHDOG_PID names."""
    notifier = Notifier.from_env({"NOTIFY_SOCKET": "/run/systemd/notify", **env})
    assert notifier.watchdog_interval() == interval


@pytest.mark.asyncio
async def test_no_socket_means_no_op() -> None:
    """Without NOTIFY_SOCKET nothing is sent, nothing fails and keep_alive returns at once."""
    notifier = Notifier.from_env({"WATCHDOG_USEC": "1000000"})
    assert not notifier.enabled
    assert notifier.ready() is False
    assert notifier.watchdog_interval() is None
    await asyncio.wait_for(notifier.keep_alive(), 1)


def test_missing_socket_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    """A NOTIFY_SOCKET nobody listens on makes sends return False and logs one warning, not one per send."""
    stream = io.StringIO()
    level = logging.getLogger().level
    configure_logging("info", stream)
    try:
        notifier = Notifier.from_env({"NOTIFY_SOCKET": str(tmp_path / "nobody.sock")})
        assert notifier.enabled
        assert notifier.ready() is False
        assert notifier.watchdog() is False
    finally:
        unconfigure_logging()
        logging.getLogger().setLevel(level)
    [line] = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert (line["level"], line["event"]) == ("warning", "sd_notify failed")
    assert "No such file" in line["error"]


def test_unsupported_address_disables_notifications() -> None:
    """An address that is neither a path nor an abstract name turns notifications off."""
    notifier = Notifier.from_env({"NOTIFY_SOCKET": "vsock:2:1234"})
    assert not notifier.enabled
    assert notifier.ready() is False
