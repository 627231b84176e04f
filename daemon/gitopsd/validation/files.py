"""Which files to validate and what each one is: manifest, Kustomize patch or kustomization.

Directories are walked in sorted order, skipping hidden directories (``.git``,
``.github``) and Helm charts (a directory with ``Chart.yaml``: its templates
are not YAML until rendered; ``--config`` renders them). Files named on the
command line are taken as they are, except those inside a chart. A file that
a kustomization in its own directory (or in any directory walked) lists under
``patches``, ``patchesStrategicMerge`` or ``patchesJson6902`` is a patch: a
partial object, checked for syntax and policy but not against a schema.
This module finds and classifies files; it parses no manifests other than
kustomization files.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from gitopsd.core.manifests.yaml12 import YamlError, load_documents
from gitopsd.errors import GitopsdError

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
CHART_FILE = "Chart.yaml"


class Role(StrEnum):
    """What a file is to validation."""

    MANIFEST = "manifest"
    PATCH = "patch"
    KUSTOMIZATION = "kustomization"


@dataclass(frozen=True)
class SourceFile:
    """A file to validate: absolute path, path as reported, and role."""

    path: Path
    rel: str
    role: Role


def relative(path: Path, root: Path) -> str:
    """PATH relative to ROOT in POSIX form, or the absolute POSIX path when outside ROOT."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def read_text(path: Path) -> str | None:
    """The UTF-8 text of PATH; None when it is not UTF-8. I/O failures raise GitopsdError."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise GitopsdError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def find_repo_root(start: Path) -> Path:
    """The nearest ancestor of START (itself included) holding ``.git``; without one, the
    current directory when START lies inside it, else START."""
    start = start.absolute()
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    cwd = Path.cwd()
    return cwd if start == cwd or cwd in start.parents else start


def walk_tree(directory: Path, charts: list[Path] | None = None) -> Iterator[Path]:
    """Manifest-like files under DIRECTORY, sorted, outside hidden directories and charts.

    Chart directories passed over are appended to CHARTS when it is given.
    """
    for current, dirs, files in os.walk(directory):
        if CHART_FILE in files:
            dirs[:] = []
            if charts is not None:
                charts.append(Path(current))
            continue
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.endswith(MANIFEST_SUFFIXES) or name in KUSTOMIZATION_FILES:
                yield Path(current) / name


def _inside_chart(path: Path, root: Path) -> bool:
    for parent in path.parents:
        if (parent / CHART_FILE).is_file():
            return True
        if parent == root or parent == parent.parent:
            return False
    return False


def load_kustomization(path: Path) -> dict[str, Any] | None:
    """The data of a kustomization file, or None when it cannot be read as one mapping."""
    text = read_text(path)
    if text is None:
        return None
    try:
        docs = [doc.value for doc in load_documents(text) if doc.value is not None]
    except YamlError:
        return None
    return docs[0] if len(docs) == 1 and isinstance(docs[0], dict) else None


def kustomization_in(directory: Path) -> Path | None:
    for name in KUSTOMIZATION_FILES:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def _local(entry: Any) -> str | None:
    """ENTRY as a local relative path, or None for URLs, inline patches and non-strings."""
    if not isinstance(entry, str) or not entry or "\n" in entry or "://" in entry \
            or entry.startswith("git@"):
        return None
    return entry


def patch_files(kustomization: Path, data: dict[str, Any]) -> set[Path]:
    """Files the kustomization applies as patches, resolved against its directory."""
    base = kustomization.parent
    found: set[Path] = set()
    entries: list[Any] = []
    for field in ("patches", "patchesJson6902"):
        value = data.get(field)
        if isinstance(value, list):
            entries.extend(e.get("path") for e in value if isinstance(e, dict))
    value = data.get("patchesStrategicMerge")
    if isinstance(value, list):
        entries.extend(value)
    for entry in entries:
        local = _local(entry)
        if local is not None:
            found.add(Path(os.path.normpath(base / local)))
    return found


def referenced(kustomization: Path, data: dict[str, Any]) -> tuple[set[Path], set[Path]]:
    """(directories, files) the kustomization builds from: resources, bases, components."""
    base = kustomization.parent
    dirs: set[Path] = set()
    files: set[Path] = set()
    for field in ("resources", "bases", "components"):
        value = data.get(field)
        if not isinstance(value, list):
            continue
        for entry in value:
            local = _local(entry)
            if local is None:
                continue
            target = Path(os.path.normpath(base / local))
            if target.is_dir():
                dirs.add(target)
            elif target.is_file():
                files.add(target)
    return dirs, files


def reachable_files(directory: Path) -> set[Path]:
    """Every file the kustomization in DIRECTORY builds from, following bases recursively."""
    seen: set[Path] = set()
    files: set[Path] = set()
    stack = [directory]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        kustomization = kustomization_in(current)
        data = load_kustomization(kustomization) if kustomization else None
        if kustomization is None or data is None:
            continue
        more_dirs, more_files = referenced(kustomization, data)
        files |= more_files | patch_files(kustomization, data)
        stack.extend(sorted(more_dirs))
    return files


def collect(paths: Sequence[Path], root: Path, charts: list[Path] | None = None) -> list[SourceFile]:
    """The files to validate for PATHS (files or directories), each with its role.

    Helm chart directories that were skipped are appended to CHARTS when given.
    A path that does not exist raises GitopsdError.
    """
    chosen: list[Path] = []
    for given in paths:
        path = given.absolute()
        if path.is_dir():
            chosen.extend(walk_tree(path, charts))
        elif path.is_file():
            if not _inside_chart(path, root):
                chosen.append(path)
        else:
            raise GitopsdError(f"no such file or directory: {given}")
    unique = list(dict.fromkeys(Path(os.path.normpath(p)) for p in chosen))
    patches = _patches(unique)
    out = []
    for path in unique:
        if path.name in KUSTOMIZATION_FILES:
            role = Role.KUSTOMIZATION
        elif path in patches:
            role = Role.PATCH
        elif path.name.endswith(MANIFEST_SUFFIXES):
            role = Role.MANIFEST
        else:
            continue
        out.append(SourceFile(path, relative(path, root), role))
    return out


def _patches(files: Iterable[Path]) -> set[Path]:
    kustomizations = {f for f in files if f.name in KUSTOMIZATION_FILES}
    for directory in {f.parent for f in files}:
        found = kustomization_in(directory)
        if found is not None:
            kustomizations.add(Path(os.path.normpath(found)))
    patches: set[Path] = set()
    for kustomization in sorted(kustomizations):
        data = load_kustomization(kustomization)
        if data is not None:
            patches |= patch_files(kustomization, data)
    return patches
