"""The Renderer with fake tools: dispatch, caching, sharing, errors and binary lookup."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gitopsd.edges import binaries
from gitopsd.edges.render import Limits, RenderCache, Renderer, RenderRequest
from gitopsd.errors import RenderError


def write_tool(directory: Path, name: str, body: str) -> str:
    """Write an executable shell script and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def calls(log: Path) -> list[str]:
    """The invocations a counting fake tool logged."""
    return log.read_text().splitlines() if log.exists() else []


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A source tree with a kustomization at apps/web and a chart at charts/api."""
    root = tmp_path / "tree"
    (root / "apps" / "web").mkdir(parents=True)
    (root / "apps" / "web" / "kustomization.yaml").write_text("resources: []\n")
    (root / "charts" / "api").mkdir(parents=True)
    (root / "charts" / "api" / "Chart.yaml").write_text("name: api\n")
    return root


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """Where counting fakes append one line per invocation."""
    return tmp_path / "calls.log"


@pytest.fixture
def kustomize(tmp_path: Path, log: Path) -> str:
    """A fake kustomize that logs its arguments and prints a manifest naming its target."""
    return write_tool(tmp_path / "bin", "kustomize",
                      f'echo "$@" >> {log}\nprintf "kind: Built\\nsource: %s\\n" "$2"\n')


@pytest.mark.asyncio
async def test_kustomize_dir_runs_kustomize_build(tree: Path, kustomize: str, log: Path) -> None:
    """A kustomization directory is built with ``kustomize build <dir>``."""
    result = await Renderer(kustomize=kustomize).render(RenderRequest(root=tree, path="apps/web"))
    target = (tree / "apps" / "web").resolve()
    assert result.renderer == "kustomize"
    assert result.files is None
    assert result.text == f"kind: Built\nsource: {target}\n"
    assert calls(log) == [f"build {target}"]


@pytest.mark.asyncio
async def test_second_render_of_same_commit_is_a_cache_hit(
        tree: Path, kustomize: str, log: Path) -> None:
    """The same commit, path and parameters render once; the second call is served from cache."""
    renderer = Renderer(kustomize=kustomize)
    req = RenderRequest(root=tree, path="apps/web", cache_key="abc123")
    first = await renderer.render(req)
    second = await renderer.render(req)
    assert second == first
    assert len(calls(log)) == 1
    stats = renderer.stats
    assert (stats.hits, stats.misses, stats.renders) == (1, 1, 1)


@pytest.mark.asyncio
async def test_other_commit_or_uncached_request_renders_again(
        tree: Path, kustomize: str, log: Path) -> None:
    """A new commit renders again, and a request without a cache key is never cached."""
    renderer = Renderer(kustomize=kustomize)
    await renderer.render(RenderRequest(root=tree, path="apps/web", cache_key="c1"))
    await renderer.render(RenderRequest(root=tree, path="apps/web", cache_key="c2"))
    await renderer.render(RenderRequest(root=tree, path="apps/web"))
    await renderer.render(RenderRequest(root=tree, path="apps/web"))
    assert len(calls(log)) == 4
    assert renderer.stats.hits == 0


@pytest.mark.asyncio
async def test_kustomize_result_shared_across_namespaces(
        tree: Path, kustomize: str, log: Path) -> None:
    """Kustomize output does not depend on the destination, so other clusters hit the cache."""
    renderer = Renderer(kustomize=kustomize)
    for ns, kube in (("a", "v1.30.0"), ("b", "v1.34.4")):
        await renderer.render(RenderRequest(root=tree, path="apps/web", namespace=ns,
                                            kube_version=kube, cache_key="c1"))
    assert len(calls(log)) == 1


@pytest.mark.asyncio
async def test_concurrent_requests_share_one_render(tmp_path: Path, tree: Path, log: Path) -> None:
    """Requests for the same key arriving together wait for a single tool run."""
    slow = write_tool(tmp_path / "bin", "kustomize", f"echo x >> {log}\nsleep 0.3\necho 'kind: A'\n")
    renderer = Renderer(kustomize=slow)
    req = RenderRequest(root=tree, path="apps/web", cache_key="c1")
    results = await asyncio.gather(*(renderer.render(req) for _ in range(5)))
    assert {r.text for r in results} == {"kind: A\n"}
    assert len(calls(log)) == 1
    assert renderer.stats.shared == 4


@pytest.mark.asyncio
async def test_failures_are_not_cached(tmp_path: Path, tree: Path, log: Path) -> None:
    """A failed render is retried on the next request rather than served from cache."""
    flag = tmp_path / "fail-once"
    flag.write_text("1")
    flaky = write_tool(tmp_path / "bin", "kustomize", (
        f"echo x >> {log}\n"
        f"if [ -e {flag} ]; then rm {flag}; echo 'Error: flaky' >&2; exit 1; fi\n"
        "echo 'kind: A'\n"))
    renderer = Renderer(kustomize=flaky)
    req = RenderRequest(root=tree, path="apps/web", cache_key="c1")
    with pytest.raises(RenderError, match=r"kustomize build failed for 'apps/web'.*Error: flaky"):
        await renderer.render(req)
    assert (await renderer.render(req)).text == "kind: A\n"
    assert len(calls(log)) == 2


@pytest.mark.asyncio
async def test_hanging_kustomize_times_out_with_its_name(tmp_path: Path, tree: Path) -> None:
    """A kustomize that never finishes fails with a timeout error naming tool and path."""
    hang = write_tool(tmp_path / "bin", "kustomize", "exec sleep 300\n")
    renderer = Renderer(kustomize=hang, limits=Limits(timeout=0.4))
    with pytest.raises(RenderError) as info:
        await renderer.render(RenderRequest(root=tree, path="apps/web", cache_key="c1"))
    assert str(info.value) == "kustomize build timed out after 0.4s for 'apps/web'"


@pytest.mark.asyncio
async def test_stderr_paths_are_repository_relative(tmp_path: Path, tree: Path) -> None:
    """The temporary tree location is stripped from tool errors so they name repo paths."""
    real = tree.resolve()
    tool = write_tool(tmp_path / "bin", "kustomize",
                      f"echo \"Error: missing file {real}/apps/web/patch.yaml\" >&2\nexit 1\n")
    with pytest.raises(RenderError) as info:
        await Renderer(kustomize=tool).render(RenderRequest(root=tree, path="apps/web"))
    assert str(info.value).endswith("Error: missing file apps/web/patch.yaml")


@pytest.mark.asyncio
async def test_missing_binary_is_a_render_error(
        tmp_path: Path, tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a kustomize binary anywhere, rendering a kustomization is a RenderError."""
    monkeypatch.delenv("GITOPSD_BIN_DIR", raising=False)
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)
    monkeypatch.setenv("GITOPSD_TESTENV_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    with pytest.raises(RenderError, match="kustomize is needed to render 'apps/web'"):
        await Renderer().render(RenderRequest(root=tree, path="apps/web"))


@pytest.mark.asyncio
async def test_binary_found_through_the_lookup(
        tmp_path: Path, tree: Path, log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an explicit path the tool comes from ``binaries.find`` ($GITOPSD_BIN_DIR first)."""
    bin_dir = tmp_path / "bindir"
    write_tool(bin_dir, "kustomize", f"echo found >> {log}\necho 'kind: A'\n")
    monkeypatch.setenv("GITOPSD_BIN_DIR", str(bin_dir))
    assert binaries.find("kustomize") == str(bin_dir / "kustomize")
    await Renderer().render(RenderRequest(root=tree, path="apps/web"))
    assert calls(log) == ["found"]


@pytest.mark.asyncio
async def test_aclose_kills_running_renders(tmp_path: Path, tree: Path) -> None:
    """Closing the renderer cancels in-flight renders and kills their tools."""
    pid_file = tmp_path / "pid"
    hang = write_tool(tmp_path / "bin", "kustomize", f"echo $$ > {pid_file}\nexec sleep 300\n")
    renderer = Renderer(kustomize=hang)
    task = asyncio.ensure_future(
        renderer.render(RenderRequest(root=tree, path="apps/web", cache_key="c1")))
    for _ in range(200):
        if pid_file.exists() and pid_file.read_text().strip():
            break
        await asyncio.sleep(0.02)
    pid = int(pid_file.read_text())
    await renderer.aclose()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(100):
        if not Path(f"/proc/{pid}").exists():
            break
        await asyncio.sleep(0.02)
    assert not Path(f"/proc/{pid}").exists()


@pytest.mark.asyncio
async def test_concurrency_is_bounded(tmp_path: Path, tree: Path) -> None:
    """No more than ``max_concurrency`` tools run at the same time."""
    spans = tmp_path / "spans"
    tool = write_tool(tmp_path / "bin", "kustomize", (
        f"echo start >> {spans}\nsleep 0.2\necho end >> {spans}\necho 'kind: A'\n"))
    renderer = Renderer(kustomize=tool, max_concurrency=2, cache=RenderCache(max_entries=0))
    await asyncio.gather(*(
        renderer.render(RenderRequest(root=tree, path="apps/web", cache_key=f"c{i}"))
        for i in range(5)))
    running = peak = 0
    for event in spans.read_text().split():
        running += 1 if event == "start" else -1
        peak = max(peak, running)
    assert peak == 2
    assert renderer.stats.renders == 5
