"""Start, observe and stop the detached processes of a local control plane.

Processes run in their own session (so ``gitopsd localcluster up`` can return
while they keep running) and are identified by pid plus start time, so a
recycled pid is never signalled. This module knows nothing about Kubernetes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcessRecord:
    name: str
    pid: int
    start_ticks: int
    log: str

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def _start_ticks(pid: int) -> int:
    """Process start time in clock ticks since boot (field 22 of /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
        stat = f.read()
    return int(stat.rsplit(")", 1)[1].split()[19])


# Processes this interpreter started, kept so they are reaped through Popen.poll
# (and never garbage-collected while running).
_children: dict[int, subprocess.Popen[bytes]] = {}


def spawn(name: str, argv: list[str], log: Path, env: dict[str, str] | None = None) -> ProcessRecord:
    """Start ARGV detached, output appended to LOG."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env, close_fds=True)
    _children[proc.pid] = proc
    return ProcessRecord(name, proc.pid, _start_ticks(proc.pid), str(log))


def argv_of(rec: ProcessRecord) -> list[str]:
    """The command line REC's running process was started with (to start it again alike)."""
    if not alive(rec):
        raise ProcessLookupError(f"{rec.name} (pid {rec.pid}) is not running")
    raw = Path(f"/proc/{rec.pid}/cmdline").read_bytes()
    return [a.decode() for a in raw.rstrip(b"\0").split(b"\0")]


def alive(rec: ProcessRecord) -> bool:
    """True while REC's process runs (reaping it first when it is our child)."""
    child = _children.get(rec.pid)
    if child is not None:
        if child.poll() is None:
            return True
        del _children[rec.pid]
        return False
    with contextlib.suppress(ChildProcessError):
        pid, _ = os.waitpid(rec.pid, os.WNOHANG)
        if pid == rec.pid:
            return False
    try:
        if _start_ticks(rec.pid) != rec.start_ticks:
            return False
        with open(f"/proc/{rec.pid}/stat", encoding="ascii", errors="replace") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        return False
    return state not in ("Z", "X")


def stop(rec: ProcessRecord, grace: float = 10.0) -> None:
    """SIGTERM REC's process group, then SIGKILL after GRACE seconds; wait until gone."""
    if not alive(rec):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(rec.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while alive(rec) and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive(rec):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(rec.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while alive(rec) and time.monotonic() < deadline:
            time.sleep(0.05)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def last_line(log: str) -> str:
    """The last non-empty line of LOG, trimmed, for one-line error messages."""
    try:
        lines = [ln.strip() for ln in Path(log).read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""
