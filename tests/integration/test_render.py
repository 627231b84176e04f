"""The render edge against the real kustomize and helm binaries and the fixture trees."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from gitopsd.edges import binaries
from gitopsd.edges.render import Limits, Renderer, RenderRequest
from gitopsd.errors import RenderError
from gitopsd.model import HelmParams

TESTDATA = Path(__file__).parent / "testdata" / "render"


@pytest.fixture(scope="module")
def tools() -> dict[str, str]:
    """The real kustomize and helm; the tests fail (not skip) when they are not built."""
    try:
        return {name: binaries.find(name) for name in ("kustomize", "helm")}
    except binaries.BinaryNotFound as exc:
        pytest.fail(f"render integration tests need the real binaries: {exc}")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """The fixture trees copied to a temporary directory, as the Git edge would materialise them."""
    root = tmp_path / "checkout"
    shutil.copytree(TESTDATA, root)
    return root


@pytest.fixture
def fake_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory placed first in the binary lookup, for fake tools."""
    directory = tmp_path / "fake-bin"
    directory.mkdir()
    monkeypatch.setenv("GITOPSD_BIN_DIR", str(directory))
    return directory


def write_tool(directory: Path, name: str, body: str) -> str:
    """Write an executable shell script and return its path."""
    path = directory / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def run(argv: list[str]) -> str:
    """Run a tool directly, the way a user would, and return its stdout."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


async def gone(pid: int, within: float = 3.0) -> bool:
    """Whether ``pid`` stops running (exits or is a zombie) within ``within`` seconds."""
    for _ in range(int(within / 0.05)):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.mark.asyncio
async def test_plain_directory_nested_and_non_manifest_files(tools: dict[str, str],
                                                             tree: Path) -> None:
    """A plain directory yields its YAML/YML/JSON files, recursively and sorted, nothing else."""
    result = await Renderer().render(RenderRequest(root=tree, path="plain", cache_key="c1"))
    assert result.renderer == "plain"
    assert result.files is not None
    assert list(result.files) == [
        "plain/config.yaml", "plain/nested/deeper/account.json", "plain/nested/deployment.yml"]
    for rel, text in result.files.items():
        assert text == (TESTDATA / rel).read_text()
    kinds = [d["kind"] for d in yaml.safe_load_all(result.text) if d]
    assert kinds == ["ConfigMap", "Service", "ServiceAccount", "Deployment"]


@pytest.mark.parametrize("path", ["kustomize/base", "kustomize/overlays/prod",
                                  "kustomize/overlays/staging"])
@pytest.mark.asyncio
async def test_kustomize_output_equals_kustomize_build(
        tools: dict[str, str], tree: Path, path: str) -> None:
    """Rendering a kustomization gives exactly what ``kustomize build`` prints for it."""
    result = await Renderer().render(RenderRequest(root=tree, path=path, cache_key="c1"))
    assert result.renderer == "kustomize"
    assert result.files is None
    assert result.text == run([tools["kustomize"], "build", str(tree / path)])


@pytest.mark.asyncio
async def test_overlays_differ_as_configured(tools: dict[str, str], tree: Path) -> None:
    """The prod and staging overlays of one base render their own names, namespaces and replicas."""
    renderer = Renderer()
    docs = {}
    for stage in ("prod", "staging"):
        result = await renderer.render(
            RenderRequest(root=tree, path=f"kustomize/overlays/{stage}", cache_key="c1"))
        docs[stage] = {d["kind"]: d for d in yaml.safe_load_all(result.text)}
    prod, staging = docs["prod"]["Deployment"], docs["staging"]["Deployment"]
    assert (prod["metadata"]["name"], prod["metadata"]["namespace"]) == (
        "prod-guestbook", "guestbook-prod")
    assert (staging["metadata"]["name"], staging["metadata"]["namespace"]) == (
        "guestbook-staging", "guestbook-staging")
    assert (prod["spec"]["replicas"], staging["spec"]["replicas"]) == (3, 1)


@pytest.mark.asyncio
async def test_helm_output_equals_helm_template(
        tools: dict[str, str], tree: Path, tmp_path: Path) -> None:
    """A chart with value files and inline values renders exactly as ``helm template`` does."""
    inline = {"replicaCount": 5, "image": {"tag": "9.9"}}
    req = RenderRequest(
        root=tree, path="helm/demo", release_name="web", namespace="web-prod",
        helm=HelmParams(value_files=("env/prod.yaml", "env/eu.yaml"), values=inline),
        cache_key="c1")
    result = await Renderer().render(req)

    values_file = tmp_path / "inline.yaml"
    values_file.write_text(yaml.safe_dump(inline))
    chart = tree / "helm" / "demo"
    expected = run([tools["helm"], "template", "web", str(chart), "--include-crds",
                    "--kube-version", binaries.K8S_VERSION, "--namespace", "web-prod",
                    "--values", str(chart / "env" / "prod.yaml"),
                    "--values", str(chart / "env" / "eu.yaml"), "--values", str(values_file)])
    assert result.renderer == "helm"
    assert result.text == expected

    docs = {d["kind"]: d for d in yaml.safe_load_all(result.text) if d}
    assert set(docs) == {"CustomResourceDefinition", "ConfigMap", "Deployment"}
    deployment = docs["Deployment"]
    assert deployment["spec"]["replicas"] == 5
    assert deployment["metadata"]["labels"]["region"] == "eu"
    assert deployment["metadata"]["namespace"] == "web-prod"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":9.9")
    assert docs["ConfigMap"]["data"] == {
        "greeting": "hello from prod", "kubeVersion": binaries.K8S_VERSION}


@pytest.mark.asyncio
async def test_helm_kube_version_from_request(tools: dict[str, str], tree: Path) -> None:
    """A cluster's kube version reaches the chart's ``.Capabilities.KubeVersion``."""
    result = await Renderer().render(RenderRequest(
        root=tree, path="helm/demo", release_name="web", kube_version="v1.31.2"))
    configmap = next(d for d in yaml.safe_load_all(result.text) if d and d["kind"] == "ConfigMap")
    assert configmap["data"]["kubeVersion"] == "v1.31.2"


@pytest.mark.asyncio
async def test_helm_template_error_is_reported(tools: dict[str, str], tree: Path) -> None:
    """A failing template gives a RenderError naming the renderer, path and Helm's own message."""
    with pytest.raises(RenderError) as info:
        await Renderer().render(RenderRequest(root=tree, path="helm/broken", release_name="web"))
    message = str(info.value)
    assert message.startswith("helm template failed for 'helm/broken'")
    assert "broken/templates/configmap.yaml:6" in message
    assert "database.host must be set for the broken chart" in message


@pytest.mark.asyncio
async def test_helm_missing_dependency_is_reported(tools: dict[str, str], tree: Path) -> None:
    """A chart whose dependency is not vendored fails clearly, without reaching the network."""
    with pytest.raises(RenderError) as info:
        await Renderer().render(
            RenderRequest(root=tree, path="helm/missing-dep", release_name="web"))
    message = str(info.value)
    assert "helm template failed for 'helm/missing-dep'" in message
    assert "missing in charts/ directory: cachestore" in message
    assert "does not download chart dependencies" in message


@pytest.mark.asyncio
async def test_kustomize_error_names_repository_paths(tools: dict[str, str], tree: Path) -> None:
    """Kustomize's error reaches the message with the temporary checkout path stripped."""
    app = tree / "apps" / "bad"
    app.mkdir(parents=True)
    (app / "kustomization.yaml").write_text("resources:\n  - gone.yaml\n")
    with pytest.raises(RenderError) as info:
        await Renderer().render(RenderRequest(root=tree, path="apps/bad"))
    message = str(info.value)
    assert message.startswith("kustomize build failed for 'apps/bad'")
    assert "gone.yaml" in message
    assert str(tree) not in message


@pytest.mark.asyncio
async def test_missing_path_is_named(tools: dict[str, str], tree: Path) -> None:
    """A path that is not in the tree gives a RenderError naming it."""
    with pytest.raises(RenderError, match="path 'apps/nowhere' does not exist"):
        await Renderer().render(RenderRequest(root=tree, path="apps/nowhere"))


@pytest.mark.parametrize(("path", "tool", "release"), [
    ("kustomize/overlays/prod", "kustomize", ""),
    ("helm/demo", "helm", "web"),
])
@pytest.mark.asyncio
async def test_second_render_of_a_commit_runs_no_tool(
        tools: dict[str, str], tree: Path, tmp_path: Path,
        path: str, tool: str, release: str) -> None:
    """Rendering the same commit and parameters again is a cache hit and starts no process."""
    log = tmp_path / "invocations"
    wrapper = write_tool(tmp_path, tool, f'echo "$@" >> {log}\nexec {tools[tool]} "$@"\n')
    renderer = Renderer(**{tool: wrapper})
    req = RenderRequest(root=tree, path=path, release_name=release, namespace="apps",
                        cache_key=("demo-repo", "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c"))
    first = await renderer.render(req)
    second = await renderer.render(req)
    assert second.text == first.text
    assert len(log.read_text().splitlines()) == 1
    assert (renderer.stats.hits, renderer.stats.misses, renderer.stats.renders) == (1, 1, 1)
    await renderer.render(RenderRequest(root=tree, path=path, release_name=release,
                                        namespace="apps", cache_key=("demo-repo", "new-sha")))
    assert len(log.read_text().splitlines()) == 2


@pytest.mark.asyncio
async def test_hanging_renderer_is_killed_at_the_timeout(
        tree: Path, tmp_path: Path, fake_bin: Path) -> None:
    """A helm that hangs (with a child) is killed with its whole group at the timeout."""
    pids = tmp_path / "pids"
    write_tool(fake_bin, "helm", f"sleep 600 &\necho $$ $! > {pids}\nwait\n")
    renderer = Renderer(limits=Limits(timeout=1.0))
    with pytest.raises(RenderError) as info:
        await renderer.render(RenderRequest(root=tree, path="helm/demo", release_name="web"))
    assert str(info.value) == "helm template timed out after 1s for 'helm/demo'"
    for pid in (int(p) for p in pids.read_text().split()):
        assert await gone(pid), f"process {pid} survived the timeout"


@pytest.mark.asyncio
async def test_output_cap_stops_a_real_render(tools: dict[str, str], tree: Path) -> None:
    """Output past the cap fails the render instead of being buffered."""
    renderer = Renderer(limits=Limits(max_output=200))
    with pytest.raises(RenderError, match="kustomize build output for 'kustomize/overlays/prod' "
                                          "exceeded 200 bytes"):
        await renderer.render(RenderRequest(root=tree, path="kustomize/overlays/prod"))


@pytest.mark.parametrize(("tool", "path"), [("kustomize", "kustomize/base"),
                                            ("helm", "helm/demo")])
@pytest.mark.asyncio
async def test_no_daemon_environment_reaches_a_tool(
        tree: Path, fake_bin: Path, monkeypatch: pytest.MonkeyPatch, tool: str, path: str) -> None:
    """A tool sees no GITOPSD_* variable and none of the daemon's credentials."""
    secrets = {"GITOPSD_API_TOKEN": "tok-5772156649", "GITOPSD_CONFIG": "/etc/gitopsd/fleet.yaml",
               "GITHUB_TOKEN": "ghp-1414213562", "AWS_SECRET_ACCESS_KEY": "aws-1732050807",
               "KUBECONFIG": "/root/.kube/prod-admin"}
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    write_tool(fake_bin, tool, "exec env\n")
    result = await Renderer().render(RenderRequest(root=tree, path=path, release_name="web"))
    names = {line.split("=", 1)[0] for line in result.text.splitlines() if "=" in line}
    assert "PATH" in names
    assert not {n for n in names if n.startswith("GITOPSD_")}
    for name, value in secrets.items():
        assert name not in names
        assert value not in result.text
