"""Renders a plain directory of manifests: every YAML/JSON file, recursively.

Files are read in sorted path order; files with other suffixes (READMEs,
scripts) and hidden files and directories (names starting with ".") are
ignored. Symlinks are followed only while they stay inside the source tree.
This module only reads files; it must not parse YAML (``core`` does that with
the file map this returns, so errors can name the file).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from gitopsd.edges.render.request import MANIFEST_SUFFIXES, Rendered, RendererKind
from gitopsd.errors import RenderError, SourceTooLarge


def _is_manifest(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(MANIFEST_SUFFIXES)


def _manifest_paths(tree: Path, target: Path) -> list[Path]:
    if target.is_file():
        return [target]
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(target, followlinks=False):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        found.extend(Path(dirpath) / name for name in filenames if _is_manifest(name))
    return sorted(found, key=lambda p: p.relative_to(tree).as_posix())


def _read(tree: Path, path: Path, rel: str) -> str:
    real = Path(os.path.realpath(path))
    if real != tree and tree not in real.parents:
        raise RenderError(f"plain manifest {rel!r} is a symlink that leaves the source tree")
    if not real.is_file():
        raise RenderError(f"plain manifest {rel!r} is not a regular file")
    try:
        return real.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RenderError(f"plain manifest {rel!r} is not UTF-8 text") from None
    except OSError as exc:
        raise RenderError(f"plain manifest {rel!r} could not be read: {exc.strerror}") from None


def render_plain(tree: Path, target: Path, max_output: int) -> Rendered:
    """Read the manifests under ``target`` (inside the real path ``tree``).

    Blocking file I/O: call it from a worker thread.
    """
    files: dict[str, str] = {}
    total = 0
    for path in _manifest_paths(tree, target):
        rel = path.relative_to(tree).as_posix()
        text = _read(tree, path, rel)
        total += len(text)
        if total > max_output:
            raise SourceTooLarge(
                f"plain manifests under {target.relative_to(tree).as_posix()!r} "
                f"exceed {max_output} bytes")
        files[rel] = text
    return Rendered(text=join_stream(files), files=MappingProxyType(files),
                    renderer=RendererKind.PLAIN.value)


def join_stream(files: Mapping[str, str]) -> str:
    """One YAML stream of all files, each opened by ``---`` and a ``# Source:`` comment."""
    parts = []
    for rel, text in files.items():
        body = text if not text or text.endswith("\n") else text + "\n"
        parts.append(f"---\n# Source: {rel}\n{body}")
    return "".join(parts)
