"""Stopping a server process a test started: SIGTERM, a grace period, then SIGKILL."""

from __future__ import annotations

import subprocess


def stop(proc: subprocess.Popen[bytes], grace: float = 30.0) -> None:
    """Terminate PROC and wait up to GRACE seconds before killing it."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
