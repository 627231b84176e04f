"""Helm parameters and value files of another source, as the fake helm sees them."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitopsd.edges.render import Renderer, RenderRequest
from gitopsd.errors import RenderError
from gitopsd.model import HelmParameter, HelmParams

# Prints each argument, and the content of every --values file, one line each.
FAKE_HELM = """\
prev=""
for a in "$@"; do
  echo "ARG $a"
  if [ "$prev" = "--values" ]; then sed 's/^/FILE /' "$a"; fi
  prev="$a"
done
"""


def lines(text: str, prefix: str) -> list[str]:
    return [line[len(prefix) + 1:] for line in text.splitlines() if line.startswith(prefix + " ")]


@pytest.fixture
def helm(tmp_path: Path) -> str:
    path = tmp_path / "bin" / "helm"
    path.parent.mkdir()
    path.write_text("#!/bin/sh\n" + FAKE_HELM)
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def chart(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "web").mkdir(parents=True)
    (root / "web" / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    (root / "web" / "values-a.yaml").write_text("a: local\n")
    return root


@pytest.mark.asyncio
async def test_ref_value_files_keep_their_place_and_parameters_come_last(
        chart: Path, helm: str) -> None:
    """A $values file sits between the local ones as listed; parameters follow as --set flags."""
    params = HelmParams(value_files=("values-a.yaml", "$values/prod/web.yaml"),
                        values={"c": "inline"},
                        parameters=(HelmParameter("image.tag", "v1,v2"),
                                    HelmParameter("build", "007", force_string=True)))
    out = await Renderer(helm=helm).render(RenderRequest(
        root=chart, path="web", release_name="web", helm=params,
        ref_files={"$values/prod/web.yaml": "b: from-values-repo\n"}))
    assert lines(out.text, "FILE") == ["a: local", "b: from-values-repo", "c: inline"]
    args = lines(out.text, "ARG")
    assert args[-4:] == ["--set", "image.tag=v1\\,v2", "--set-string", "build=007"]


@pytest.mark.asyncio
async def test_a_ref_value_file_not_given_is_an_error(chart: Path, helm: str) -> None:
    """A $ref value file whose text the caller did not read fails the render, naming it."""
    params = HelmParams(value_files=("$values/prod/web.yaml",))
    with pytest.raises(RenderError, match=r"'\$values/prod/web.yaml'"):
        await Renderer(helm=helm).render(RenderRequest(root=chart, path="web",
                                                       release_name="web", helm=params))


@pytest.mark.asyncio
async def test_ref_file_content_is_part_of_the_cache_key(chart: Path, helm: str) -> None:
    """Another text of the same $ref file at the same commit renders again."""
    renderer = Renderer(helm=helm)
    params = HelmParams(value_files=("$values/x.yaml",))
    first = await renderer.render(RenderRequest(root=chart, path="web", release_name="web",
                                                helm=params, cache_key="c1",
                                                ref_files={"$values/x.yaml": "v: 1\n"}))
    second = await renderer.render(RenderRequest(root=chart, path="web", release_name="web",
                                                 helm=params, cache_key="c1",
                                                 ref_files={"$values/x.yaml": "v: 2\n"}))
    assert lines(first.text, "FILE") == ["v: 1"]
    assert lines(second.text, "FILE") == ["v: 2"]
