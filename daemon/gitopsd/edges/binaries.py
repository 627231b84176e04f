"""Finds the external binaries gitopsd runs (kube-apiserver, etcd, helm, ...).

Lookup order for a binary NAME: ``$GITOPSD_BIN_DIR/NAME``, then
``$KUBEBUILDER_ASSETS/NAME``, then the versioned cache that
``tests/testenv/build.sh`` fills, then ``$PATH``. This module only locates
files; it never builds or downloads anything.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from gitopsd.errors import GitopsdError

K8S_VERSION = "v1.34.4"


class BinaryNotFound(GitopsdError):
    """A required external binary is not installed where gitopsd looks."""


def cache_dir() -> Path:
    """The asset directory that tests/testenv/build.sh writes."""
    root = os.environ.get("GITOPSD_TESTENV_CACHE")
    base = Path(root) if root else Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gitopsd" / "testenv"
    return base / f"k8s-{K8S_VERSION.lstrip('v')}-linux-amd64"


def search_dirs() -> list[Path]:
    dirs = [os.environ.get("GITOPSD_BIN_DIR"), os.environ.get("KUBEBUILDER_ASSETS")]
    return [Path(d) for d in dirs if d] + [cache_dir()]


def find(name: str) -> str:
    """Absolute path of binary NAME, or BinaryNotFound naming where it looked."""
    for d in search_dirs():
        candidate = d / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    on_path = shutil.which(name)
    if on_path:
        return on_path
    looked = ", ".join(str(d) for d in search_dirs())
    raise BinaryNotFound(
        f"{name} not found in {looked} or $PATH; run tests/testenv/build.sh to build it")
