"""Jsonnet evaluation by the render edge: variables, library paths, imports, errors and limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitopsd.edges.render import Limits, Renderer
from gitopsd.errors import RenderError, SourceTooLarge
from gitopsd.model import JsonnetParams, JsonnetVar

PARAMS = JsonnetParams(
    tlas=(JsonnetVar("env", "prod"), JsonnetVar("replicas", "2 + 1", code=True)),
    ext_vars=(JsonnetVar("region", "eu"), JsonnetVar("debug", "false", code=True)),
    libs=("vendor", "lib"))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A repository with a Jsonnet app, two library paths and a file beside it."""
    root = tmp_path / "repo"
    (root / "apps" / "web").mkdir(parents=True)
    (root / "vendor").mkdir()
    (root / "lib").mkdir()
    (root / "vendor" / "k.libsonnet").write_text("{ name: 'vendor' }\n")
    (root / "lib" / "k.libsonnet").write_text("{ name: 'lib' }\n")
    (root / "lib" / "cm.libsonnet").write_text(
        "{ cm(name, data):: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: name },"
        " data: data } }\n")
    (root / "apps" / "web" / "local.libsonnet").write_text("{ color: 'blue' }\n")
    (root / "apps" / "web" / "main.jsonnet").write_text(
        "local cm = import 'cm.libsonnet';\n"
        "local k = import 'k.libsonnet';\n"
        "local local_ = import 'local.libsonnet';\n"
        "function(env, replicas) [\n"
        "  cm.cm(env, { replicas: std.toString(replicas), region: std.extVar('region'),\n"
        "               debug: std.toString(std.extVar('debug')), lib: k.name,\n"
        "               color: local_.color }),\n"
        "]\n")
    return root


async def _render(tree: Path, files: tuple[str, ...], params: JsonnetParams = PARAMS,
                  **kw: int) -> dict[str, object]:
    out = await Renderer(**({"limits": Limits(timeout=kw["timeout"])} if "timeout" in kw else {})
                         ).render_jsonnet(tree, "apps/web", files, params,
                                          max_output=kw.get("max_output", 0))
    return {name: json.loads(text) for name, text in out.items()}


@pytest.mark.asyncio
async def test_tlas_ext_vars_and_library_paths(tree: Path) -> None:
    """TLAs and extVars (strings and code) reach the file; the last library path wins."""
    out = await _render(tree, ("apps/web/main.jsonnet",))
    assert out == {"apps/web/main.jsonnet": [{
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "prod"},
        "data": {"replicas": "3", "region": "eu", "debug": "false", "lib": "lib",
                 "color": "blue"}}]}


@pytest.mark.asyncio
async def test_evaluation_error_names_file_and_line(tree: Path) -> None:
    """A runtime error names the file and line, with paths relative to the repository."""
    (tree / "apps" / "web" / "bad.jsonnet").write_text("{\n  a: error 'boom',\n}\n")
    with pytest.raises(RenderError) as info:
        await _render(tree, ("apps/web/bad.jsonnet",), JsonnetParams())
    message = str(info.value)
    assert "boom" in message
    assert "apps/web/bad.jsonnet:2:" in message
    assert str(tree) not in message


@pytest.mark.asyncio
async def test_missing_top_level_argument_is_an_error(tree: Path) -> None:
    """A function without its arguments fails with Jsonnet's own reason."""
    with pytest.raises(RenderError, match="env"):
        await _render(tree, ("apps/web/main.jsonnet",), JsonnetParams(libs=("lib",)))


@pytest.mark.asyncio
async def test_imports_outside_the_repository_are_refused(tree: Path, tmp_path: Path) -> None:
    """An import that leaves the repository (absolute or through '..') is never read."""
    (tmp_path / "secret.libsonnet").write_text("{ s: 'leaked' }\n")
    (tree / "apps" / "web" / "abs.jsonnet").write_text(
        f"(import '{tmp_path / 'secret.libsonnet'}')\n")
    (tree / "apps" / "web" / "up.jsonnet").write_text("(import '../../../secret.libsonnet')\n")
    for name in ("abs", "up"):
        with pytest.raises(RenderError, match="resolves outside the repository") as info:
            await _render(tree, (f"apps/web/{name}.jsonnet",), JsonnetParams())
        assert "leaked" not in str(info.value)


@pytest.mark.asyncio
async def test_library_path_outside_the_repository_is_refused(tree: Path) -> None:
    """A library path that points outside the repository is an error naming the field."""
    with pytest.raises(RenderError, match=r"directory\.jsonnet\.libs"):
        await _render(tree, ("apps/web/main.jsonnet",), JsonnetParams(libs=("../elsewhere",)))


@pytest.mark.asyncio
async def test_output_and_time_are_bounded(tree: Path) -> None:
    """Output past the limit and an evaluation past the timeout are stopped."""
    (tree / "apps" / "web" / "big.jsonnet").write_text("[std.repeat('x', 100000)]\n")
    with pytest.raises(SourceTooLarge):
        await _render(tree, ("apps/web/big.jsonnet",), JsonnetParams(), max_output=1000)
    (tree / "apps" / "web" / "slow.jsonnet").write_text(
        "std.foldl(function(a, b) a + b, std.range(1, 100000000), 0)\n")
    with pytest.raises(RenderError, match="timed out"):
        await _render(tree, ("apps/web/slow.jsonnet",), JsonnetParams(), timeout=1)
