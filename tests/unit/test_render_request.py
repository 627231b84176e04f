"""Render requests: path normalisation, containment in the tree, renderer selection."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitopsd.edges.render.request import (
    RendererKind,
    detect_kind,
    normalize_path,
    resolve_in_tree,
)
from gitopsd.errors import RenderError


@pytest.mark.parametrize(("given", "expected"), [
    (".", "."),
    ("", "."),
    ("apps/guestbook/", "apps/guestbook"),
    ("./apps/../apps/guestbook", "apps/guestbook"),
    ("apps//guestbook/./overlays/prod", "apps/guestbook/overlays/prod"),
])
def test_normalize_path_cleans_relative_paths(given: str, expected: str) -> None:
    """Relative paths are normalised to clean POSIX form."""
    assert normalize_path(given) == expected


@pytest.mark.parametrize("given", ["/etc", "../other", "apps/../../other", "..", "apps\\x"])
def test_normalize_path_refuses_escapes(given: str) -> None:
    """Absolute paths, Windows separators and paths leaving the root are refused."""
    with pytest.raises(RenderError, match="source path"):
        normalize_path(given)


def test_missing_path_names_the_path(tmp_path: Path) -> None:
    """A path absent from the tree is a RenderError naming it."""
    with pytest.raises(RenderError, match="path 'apps/missing' does not exist"):
        resolve_in_tree(tmp_path, "apps/missing")


def test_missing_tree_is_an_error(tmp_path: Path) -> None:
    """A tree root that does not exist is a RenderError."""
    with pytest.raises(RenderError, match="does not exist"):
        resolve_in_tree(tmp_path / "gone", ".")


def test_symlink_out_of_the_tree_is_refused(tmp_path: Path) -> None:
    """A path that is a symlink to somewhere outside the tree is refused."""
    tree = tmp_path / "tree"
    outside = tmp_path / "outside"
    tree.mkdir()
    outside.mkdir()
    (tree / "apps").symlink_to(outside)
    with pytest.raises(RenderError, match="outside the source tree"):
        resolve_in_tree(tree, "apps")


def test_resolved_path_is_real_and_inside(tmp_path: Path) -> None:
    """A path inside the tree resolves to its real location."""
    (tmp_path / "apps" / "x").mkdir(parents=True)
    assert resolve_in_tree(tmp_path, "apps/x") == (tmp_path / "apps" / "x").resolve()


@pytest.mark.parametrize(("files", "kind"), [
    (["Chart.yaml", "values.yaml"], RendererKind.HELM),
    (["kustomization.yaml"], RendererKind.KUSTOMIZE),
    (["kustomization.yml"], RendererKind.KUSTOMIZE),
    (["Kustomization"], RendererKind.KUSTOMIZE),
    (["Chart.yaml", "kustomization.yaml"], RendererKind.HELM),
    (["deployment.yaml", "service.yml"], RendererKind.PLAIN),
    (["chart.yaml"], RendererKind.PLAIN),
    ([], RendererKind.PLAIN),
])
def test_detect_kind_by_marker_file(tmp_path: Path, files: list[str], kind: RendererKind) -> None:
    """Chart.yaml selects Helm, a kustomization file Kustomize, anything else plain."""
    for name in files:
        (tmp_path / name).write_text("{}\n")
    assert detect_kind(tmp_path) is kind


def test_marker_in_a_subdirectory_does_not_count(tmp_path: Path) -> None:
    """Only marker files directly in the path select a renderer."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "Chart.yaml").write_text("{}\n")
    assert detect_kind(tmp_path) is RendererKind.PLAIN


def test_a_file_path_is_plain(tmp_path: Path) -> None:
    """A single manifest file is rendered as plain."""
    path = tmp_path / "kustomization.yaml"
    path.write_text("{}\n")
    assert detect_kind(path) is RendererKind.PLAIN
