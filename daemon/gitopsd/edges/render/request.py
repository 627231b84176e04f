"""What a render is asked for and what it gives back, plus the path rules.

A render reads a source tree that is already on disk (the Git edge
materialises a commit into a directory) and turns one path inside it into a
YAML stream. This module holds the request and result values and resolves the
request's path safely inside the tree. It must not run tools or parse YAML;
parsing rendered text into manifests happens in ``core``.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from gitopsd.errors import RenderError
from gitopsd.model import HelmParams


class RendererKind(StrEnum):
    """Which renderer turns a path into manifests."""

    PLAIN = "plain"
    KUSTOMIZE = "kustomize"
    HELM = "helm"


KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
CHART_FILE = "Chart.yaml"
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class RenderRequest:
    """Render ``path`` (relative to ``root``) with the given parameters.

    ``cache_key`` identifies the tree's content, normally the commit SHA (or a
    ``(repository, sha)`` tuple). An empty key means the tree is not
    content-addressed (a working directory), so the result is never cached.
    ``release_name`` is the Helm release unless ``helm.release_name`` is set;
    ``kube_version`` empty means the pinned default version. ``max_output``
    bounds the output in bytes (0: the renderer's own limit). ``ref_files``
    holds the text of each ``$<ref>/<path>`` value file of ``helm``: files of
    another source, read by the caller.
    """

    root: Path
    path: str = "."
    release_name: str = ""
    namespace: str = ""
    helm: HelmParams = field(default_factory=HelmParams)
    kube_version: str = ""
    cache_key: tuple[object, ...] | str = ""
    max_output: int = 0
    ref_files: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rendered:
    """The raw output of a render.

    ``text`` is a YAML stream. For plain directories ``files`` maps each
    manifest file's repository-relative path to its text (in sorted order) so
    that parse errors can name the file; it is None for Kustomize and Helm.
    """

    text: str
    files: Mapping[str, str] | None
    renderer: str


def normalize_path(path: str) -> str:
    """The request path as a clean relative POSIX path; RenderError if it escapes."""
    raw = path.strip() or "."
    if raw.startswith("/") or "\\" in raw:
        raise RenderError(f"source path {path!r} must be relative to the repository root")
    clean = posixpath.normpath(raw)
    if clean == ".." or clean.startswith("../"):
        raise RenderError(f"source path {path!r} points outside the repository")
    return clean


def resolve_in_tree(root: Path, rel: str) -> Path:
    """Absolute location of ``rel`` under ``root``, refusing symlinks that leave the tree."""
    real_root = Path(os.path.realpath(root))
    if not real_root.is_dir():
        raise RenderError(f"source tree {str(root)!r} does not exist")
    target = Path(os.path.realpath(real_root / rel))
    if not target.exists():
        raise RenderError(f"path {rel!r} does not exist in the source tree")
    if target != real_root and real_root not in target.parents:
        raise RenderError(f"path {rel!r} resolves outside the source tree")
    return target


def detect_kind(directory: Path) -> RendererKind:
    """Helm if the directory holds Chart.yaml, Kustomize if a kustomization, else plain."""
    if directory.is_dir():
        if (directory / CHART_FILE).is_file():
            return RendererKind.HELM
        if any((directory / name).is_file() for name in KUSTOMIZATION_FILES):
            return RendererKind.KUSTOMIZE
    return RendererKind.PLAIN
