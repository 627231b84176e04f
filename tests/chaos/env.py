"""What one trial runs against: the shared cluster, its Git repository and its daemon(s).

Injectors and invariants both need the same handles (the daemon to kill and
restart with the same state directory, the API server process to pause, the
bare repository to take away), so they live together here.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitopsd.localcluster import LocalCluster
from tests.bench.gitrepo import Repo
from tests.chaos.generate import Plan
from tests.chaos.proxy import Proxy
from tests.integration.daemonproc import DaemonProc

TOKEN = "chaos-api-token-4e1b9d2f"
WEBHOOK_SECRET = "chaos-webhook-secret-8a03c7"


@dataclass
class Env:
    plan: Plan
    cluster: LocalCluster
    root: Path
    repo: Repo
    fleet: dict[str, Any]
    age_key_file: Path
    proxy: Proxy
    """The daemon's way to the API server (the harness itself goes direct)."""
    daemon: DaemonProc | None = None
    others: list[DaemonProc] = field(default_factory=list)
    """Daemons an injector started beside the first (a second writer on the same fleet)."""
    kills: int = 0
    """How many times the daemon was killed (each may cut one sync operation short per instance)."""
    events: list[str] = field(default_factory=list)
    t0: float = field(default_factory=time.monotonic)

    def log(self, message: str) -> None:
        line = f"[chaos seed={self.plan.seed} {time.monotonic() - self.t0:6.1f}s] {message}"
        self.events.append(line)
        print(line, file=sys.stderr, flush=True)

    def new_daemon(self, name: str) -> DaemonProc:
        """A daemon on this trial's fleet with its own state directory under ROOT/NAME."""
        return DaemonProc(self.fleet, self.root / name, token=TOKEN, secret=WEBHOOK_SECRET,
                          extra_env={"GITOPSD_AGE_KEY_FILE": str(self.age_key_file),
                                     "GITOPSD_LOG_LEVEL": os.environ.get("CHAOS_LOG_LEVEL", "info")},
                          resync=30.0)

    def start_daemon(self) -> DaemonProc:
        self.daemon = self.new_daemon("daemon").start()
        return self.daemon

    @property
    def state_dir(self) -> Path:
        return self.root / "daemon" / "state"

    def all_daemons(self) -> list[DaemonProc]:
        return [d for d in (self.daemon, *self.others) if d is not None]

    def stop_all(self) -> None:
        for d in self.all_daemons():
            if d.proc is not None and d.proc.poll() is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    d.stop(3)  # SIGTERM, then SIGKILL: a graceful stop is not what trials test
