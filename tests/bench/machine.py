"""Facts about the machine and the versions a benchmark run used, for its JSON."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import gitopsd
from gitopsd.edges.binaries import find

ROOT = Path(__file__).resolve().parents[2]


def _run(argv: list[str], cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False, cwd=cwd)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _mem_total_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) * 1024 / 1e9, 1)
    except OSError:
        pass
    return 0.0


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def facts(kubernetes_version: str = "") -> dict[str, Any]:
    etcd = _run([find("etcd"), "--version"]).splitlines()
    kubectl = _run([find("kubectl"), "version", "--client"]).splitlines()
    commit = _run(["git", "rev-parse", "HEAD"], cwd=ROOT)
    dirty = bool(_run(["git", "status", "--porcelain", "--untracked-files=no", "--", "daemon"], cwd=ROOT))
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gb": _mem_total_gb(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "kubernetes": kubernetes_version,
        "etcd": etcd[0].split(":", 1)[-1].strip() if etcd else "",
        "kubectl": kubectl[0].split(":", 1)[-1].strip() if kubectl else "",
        "gitopsd": gitopsd.__version__,
        "gitopsd_commit": commit[:12] + ("-dirty" if dirty else ""),
        "load_average_start": load_average(),
        "shared": f"{os.cpu_count()} cores shared by both control planes (etcd, kube-apiserver, "
                  "controller-manager, scheduler, kwok), the daemon, the benchmark and other "
                  "engineers' test runs",
    }
