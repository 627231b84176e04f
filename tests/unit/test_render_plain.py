"""The plain-directory renderer: which files, in what order, and how they are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gitopsd.edges.render import Renderer, RenderRequest
from gitopsd.edges.render.plain import join_stream, render_plain
from gitopsd.errors import RenderError


def make_tree(root: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (relative path -> text) under ``root``."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\n"


@pytest.mark.asyncio
async def test_nested_manifests_sorted_and_others_ignored(tmp_path: Path) -> None:
    """YAML/YML/JSON files are collected recursively in path order; other files are skipped."""
    make_tree(tmp_path, {
        "apps/web/z.yaml": CM.format("z"),
        "apps/web/a/b.yml": CM.format("b"),
        "apps/web/a/c.json": '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}',
        "apps/web/UPPER.YAML": CM.format("upper"),
        "apps/web/README.md": "# docs\n",
        "apps/web/run.sh": "echo hi\n",
        "apps/web/.hidden.yaml": CM.format("hidden"),
        "apps/web/.github/workflow.yml": CM.format("workflow"),
        "apps/other.yaml": CM.format("other"),
    })
    result = await Renderer().render(RenderRequest(root=tmp_path, path="apps/web"))
    assert result.renderer == "plain"
    assert result.files is not None
    assert list(result.files) == [
        "apps/web/UPPER.YAML", "apps/web/a/b.yml", "apps/web/a/c.json", "apps/web/z.yaml"]
    names = [d["metadata"]["name"] for d in yaml.safe_load_all(result.text) if d]
    assert names == ["upper", "b", "c", "z"]


@pytest.mark.asyncio
async def test_multi_document_file_is_kept_whole(tmp_path: Path) -> None:
    """A file with several documents keeps its text, and the stream yields every document."""
    body = CM.format("one") + "---\n" + CM.format("two") + "---\n"
    make_tree(tmp_path, {"app/all.yaml": body})
    result = await Renderer().render(RenderRequest(root=tmp_path, path="app"))
    assert result.files == {"app/all.yaml": body}
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(result.text) if d] == ["one", "two"]
    assert "# Source: app/all.yaml" in result.text


@pytest.mark.asyncio
async def test_single_file_path(tmp_path: Path) -> None:
    """A path naming one file renders just that file."""
    make_tree(tmp_path, {"app/one.yaml": CM.format("one"), "app/two.yaml": CM.format("two")})
    result = await Renderer().render(RenderRequest(root=tmp_path, path="app/two.yaml"))
    assert result.files == {"app/two.yaml": CM.format("two")}


@pytest.mark.asyncio
async def test_empty_directory_renders_nothing(tmp_path: Path) -> None:
    """A directory with no manifests renders an empty stream."""
    make_tree(tmp_path, {"app/README.md": "nothing here\n"})
    result = await Renderer().render(RenderRequest(root=tmp_path, path="app"))
    assert (result.text, dict(result.files or {})) == ("", {})


@pytest.mark.asyncio
async def test_file_map_is_read_only(tmp_path: Path) -> None:
    """The returned file map cannot be changed by a caller (results are shared via the cache)."""
    make_tree(tmp_path, {"a.yaml": CM.format("a")})
    result = await Renderer().render(RenderRequest(root=tmp_path))
    with pytest.raises(TypeError):
        result.files["b.yaml"] = "x"  # type: ignore[index]


def test_symlinked_file_outside_the_tree_is_refused(tmp_path: Path) -> None:
    """A manifest symlink pointing out of the tree is a RenderError naming the file."""
    tree = make_tree(tmp_path / "tree", {"app/ok.yaml": CM.format("ok")})
    secret = tmp_path / "shadow.yaml"
    secret.write_text("password: hunter2\n")
    (tree / "app" / "leak.yaml").symlink_to(secret)
    with pytest.raises(RenderError, match=r"'app/leak\.yaml' is a symlink that leaves") as info:
        render_plain(tree.resolve(), (tree / "app").resolve(), 1 << 20)
    assert "hunter2" not in str(info.value)


def test_symlinked_file_inside_the_tree_is_read(tmp_path: Path) -> None:
    """A manifest symlink to another file in the tree is read under its own name."""
    tree = make_tree(tmp_path, {"shared/cm.yaml": CM.format("shared"), "app/keep.yaml": ""})
    (tree / "app" / "link.yaml").symlink_to(tree / "shared" / "cm.yaml")
    result = render_plain(tree.resolve(), (tree / "app").resolve(), 1 << 20)
    assert result.files == {"app/keep.yaml": "", "app/link.yaml": CM.format("shared")}


def test_non_utf8_file_is_named(tmp_path: Path) -> None:
    """A manifest that is not UTF-8 is a RenderError naming the file."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "bad.yaml").write_bytes(b"kind: \xff\xfe\n")
    with pytest.raises(RenderError, match=r"'app/bad\.yaml' is not UTF-8"):
        render_plain(tmp_path.resolve(), (tmp_path / "app").resolve(), 1 << 20)


def test_size_cap_applies_to_plain_directories(tmp_path: Path) -> None:
    """Plain manifests larger in total than the output cap are refused."""
    make_tree(tmp_path, {"app/a.yaml": "a" * 600, "app/b.yaml": "b" * 600})
    with pytest.raises(RenderError, match="exceed 1000 bytes"):
        render_plain(tmp_path.resolve(), (tmp_path / "app").resolve(), 1000)


def test_join_stream_separates_files_that_lack_a_final_newline() -> None:
    """Files without a trailing newline still form separate documents."""
    text = join_stream({"a.yaml": "kind: A", "b.yaml": "kind: B\n"})
    assert [d["kind"] for d in yaml.safe_load_all(text) if d] == ["A", "B"]
