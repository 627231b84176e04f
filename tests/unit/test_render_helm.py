"""The Helm renderer's command line, values and environment, checked with a fake helm."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from gitopsd.edges import binaries
from gitopsd.edges.render import Renderer, RenderRequest
from gitopsd.errors import RenderError
from gitopsd.model import HelmParams

# Prints each argument on its own line, then the inline values file, then Helm's env.
FAKE_HELM = """\
for a in "$@"; do echo "ARG $a"; done
for a in "$@"; do last="$a"; done
case "$last" in */inline-values.yaml) sed 's/^/VALUES /' "$last";; esac
env | sed 's/^/ENV /'
"""


def write_tool(directory: Path, name: str, body: str) -> str:
    """Write an executable shell script and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def section(text: str, prefix: str) -> list[str]:
    """Lines of the fake's output that start with ``prefix``, without it."""
    return [line[len(prefix) + 1:] for line in text.splitlines() if line.startswith(prefix + " ")]


@pytest.fixture
def chart(tmp_path: Path) -> Path:
    """A tree with a chart at charts/api and two value files."""
    root = tmp_path / "tree"
    chart_dir = root / "charts" / "api"
    (chart_dir / "env").mkdir(parents=True)
    (chart_dir / "Chart.yaml").write_text("apiVersion: v2\nname: api\nversion: 0.1.0\n")
    (chart_dir / "env" / "prod.yaml").write_text("replicas: 3\n")
    (root / "shared.yaml").write_text("region: eu\n")
    return root


@pytest.fixture
def helm(tmp_path: Path) -> str:
    """The fake helm binary."""
    return write_tool(tmp_path / "bin", "helm", FAKE_HELM)


@pytest.mark.asyncio
async def test_helm_template_command_line(chart: Path, helm: str) -> None:
    """Release, chart, namespace, CRDs, kube version and value files in order, inline last."""
    req = RenderRequest(
        root=chart, path="charts/api", release_name="api", namespace="prod",
        helm=HelmParams(value_files=("env/prod.yaml", "../../shared.yaml"),
                        values={"image": {"tag": "2.0"}, "replicas": 5}),
        kube_version="v1.33.2")
    result = await Renderer(helm=helm).render(req)
    args = section(result.text, "ARG")
    chart_dir = (chart / "charts" / "api").resolve()
    assert result.renderer == "helm"
    assert args[:-2] == [
        "template", "api", str(chart_dir), "--include-crds", "--kube-version", "v1.33.2",
        "--namespace", "prod",
        "--values", str(chart_dir / "env" / "prod.yaml"),
        "--values", str(chart.resolve() / "shared.yaml")]
    assert args[-2] == "--values"
    assert args[-1].endswith("/inline-values.yaml")
    inline = yaml.safe_load("\n".join(section(result.text, "VALUES")))
    assert inline == {"image": {"tag": "2.0"}, "replicas": 5}


@pytest.mark.asyncio
async def test_defaults_pinned_kube_version_and_no_namespace(chart: Path, helm: str) -> None:
    """Without a kube version the pinned one is used; without a namespace none is passed."""
    result = await Renderer(helm=helm).render(
        RenderRequest(root=chart, path="charts/api", release_name="api"))
    args = section(result.text, "ARG")
    assert args[args.index("--kube-version") + 1] == binaries.K8S_VERSION
    assert "--namespace" not in args
    assert "--values" not in args


@pytest.mark.asyncio
async def test_release_name_from_helm_params_wins(chart: Path, helm: str) -> None:
    """``helm.release_name`` overrides the request's release name."""
    result = await Renderer(helm=helm).render(RenderRequest(
        root=chart, path="charts/api", release_name="app", helm=HelmParams(release_name="rel")))
    assert section(result.text, "ARG")[1] == "rel"


@pytest.mark.asyncio
async def test_helm_homes_are_private(
        chart: Path, helm: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Helm's cache, config and data homes live in the private temp home, plugins off."""
    monkeypatch.setenv("HELM_REPOSITORY_CONFIG", "/etc/helm/repos.yaml")
    monkeypatch.setenv("HELM_KUBETOKEN", "kube-token-1618")
    result = await Renderer(helm=helm).render(
        RenderRequest(root=chart, path="charts/api", release_name="api"))
    env = dict(line.split("=", 1) for line in section(result.text, "ENV"))
    home = env["HOME"]
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        assert env[var].startswith(home + "/")
    assert env["HELM_NO_PLUGINS"] == "1"
    assert "HELM_REPOSITORY_CONFIG" not in env
    assert "kube-token-1618" not in result.text
    assert not Path(home).exists()


@pytest.mark.asyncio
async def test_helm_cache_key_includes_destination(chart: Path, helm: str) -> None:
    """The same chart at the same commit renders again for another namespace, not for the same."""
    renderer = Renderer(helm=helm)
    base = {"root": chart, "path": "charts/api", "release_name": "api", "cache_key": "c1"}
    await renderer.render(RenderRequest(namespace="a", **base))  # type: ignore[arg-type]
    await renderer.render(RenderRequest(namespace="a", **base))  # type: ignore[arg-type]
    await renderer.render(RenderRequest(namespace="b", **base))  # type: ignore[arg-type]
    assert (renderer.stats.hits, renderer.stats.renders) == (1, 2)


@pytest.mark.parametrize(("value_file", "message"), [
    ("env/missing.yaml", "helm value file 'env/missing.yaml' does not exist in 'charts/api'"),
    ("../../../outside.yaml", "must be a path inside the repository"),
    ("/etc/passwd", "must be a path inside the repository"),
])
@pytest.mark.asyncio
async def test_bad_value_files_are_refused(
        chart: Path, helm: str, value_file: str, message: str) -> None:
    """Value files must exist inside the tree; the error names the file and the chart path."""
    (chart.parent / "outside.yaml").write_text("x: 1\n")
    req = RenderRequest(root=chart, path="charts/api", release_name="api",
                        helm=HelmParams(value_files=(value_file,)))
    with pytest.raises(RenderError, match=re.escape(message)):
        await Renderer(helm=helm).render(req)


@pytest.mark.asyncio
async def test_release_name_is_required(chart: Path, helm: str) -> None:
    """A chart cannot be rendered without a release name."""
    with pytest.raises(RenderError, match="helm chart 'charts/api' needs a release name"):
        await Renderer(helm=helm).render(RenderRequest(root=chart, path="charts/api"))


@pytest.mark.asyncio
async def test_missing_dependency_error_explains_offline_rendering(
        tmp_path: Path, chart: Path) -> None:
    """Helm's missing-dependency error is kept and explained: dependencies must be vendored."""
    failing = write_tool(tmp_path / "bin2", "helm", (
        "echo 'Error: An error occurred while checking for chart dependencies. "
        "found in Chart.yaml, but missing in charts/ directory: cachestore' >&2\nexit 1\n"))
    with pytest.raises(RenderError) as info:
        await Renderer(helm=failing).render(
            RenderRequest(root=chart, path="charts/api", release_name="api"))
    message = str(info.value)
    assert "helm template failed for 'charts/api'" in message
    assert "missing in charts/ directory: cachestore" in message
    assert "does not download chart dependencies" in message
