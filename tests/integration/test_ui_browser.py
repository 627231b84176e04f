"""The status pages in a real browser: headless Chromium from Debian, driven by Playwright.

``gitopsd demo`` runs as a user starts it, and the overview it prints the
address of lists the demo's instances. For the rest a real ``gitopsd run``
process syncs a Git repository served over SSH into the local control plane,
and Chromium (``/usr/bin/chromium``, installed by ``make
chromium``; Playwright never downloads a browser here) loads the pages with
their script and style as a user would. Screenshots of the overview and of an
instance page (and of the history and clusters pages) are kept in
``tests/artifacts/`` (git-ignored) and their paths printed. A missing
Chromium fails these tests: it never skips them.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from kubernetes_asyncio import client
from playwright.async_api import Page, async_playwright, expect

from gitopsd.localcluster import LocalCluster
from tests.integration.daemonproc import DaemonProc, fleet_doc, free_port, poll_until, value
from tests.integration.test_ui import AUTO, application, cm, secret

CHROMIUM = Path("/usr/bin/chromium")
# a closed network: nothing in the background may try to reach out
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
LIVE = 60_000  # milliseconds a page may take to show a status change
SECRET_OLD, SECRET_NEW = "s3cret-browser-old-41d2", "s3cret-browser-new-93fa"


@pytest_asyncio.fixture
async def browser_page(tmp_path: Path) -> AsyncIterator[tuple[Page, list[str]]]:
    """A page of a fresh headless Chromium with an empty profile, and the console errors it logs."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make chromium` installs Debian's package")
    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_ARGS)
        try:
            page = context.pages[0] if context.pages else await context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            yield page, errors
        finally:
            await context.close()


def start(tmp_path: Path, cluster: LocalCluster, repo: Any, key: Path, known: Path,
          apps: list[dict[str, Any]]) -> DaemonProc:
    fleet = fleet_doc([("a", cluster.kubeconfig, {"env": "test"})], repo.ssh_url, key_file=key,
                      known_hosts=known, poll="1s", apps=apps)
    return DaemonProc(fleet, tmp_path / "daemon").start()


async def until(check: Callable[[], Any], timeout: float = 60.0) -> Any:
    """CHECK's first truthy answer, asked in a thread so the browser's connection stays served."""
    return await asyncio.to_thread(poll_until, check, timeout)


async def sync_via_api(d: DaemonProc, app: str, revision: str) -> None:
    assert d.post(f"/api/v1/instances/{app}/a/sync", headers={"Authorization": f"Bearer {d.token}"}) == 202
    assert await until(lambda: (d.instance(app, "a") or {}).get("revision") == revision), d.logs()


async def keep_screenshot(page: Page, name: str, capsys: pytest.CaptureFixture[str]) -> Path:
    """Save a full-page screenshot under tests/artifacts and print where it is."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000
    with capsys.disabled():
        print(f"\nscreenshot: {path}")
    return path


def row(page: Page, app: str) -> Any:
    return page.locator(f'[id="row:{app}/a"]')


def sync_of(page: Page, app: str) -> Any:
    """The sync cell of APP's row: the fourth column (application, cluster, project, sync)."""
    return row(page, app).locator("td").nth(3)


async def sign_in(page: Page, base: str, token: str) -> None:
    await page.goto(base + "/ui/login")
    await page.locator('input[name="token"]').fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()


DEMO_INSTANCES = {("platform", "staging"), ("platform", "prod"), ("web", "staging"), ("web", "prod"),
                  ("cache", "prod")}


async def demo_output_until(demo: asyncio.subprocess.Process, out: list[str], pattern: str,
                            timeout: float) -> re.Match[str]:
    """Read the demo's output into OUT until a line matches PATTERN; fail on exit or timeout."""
    assert demo.stdout is not None
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = await asyncio.wait_for(demo.stdout.readline(), left)
        except TimeoutError:
            break
        if not line:
            break
        out.append(line.decode().rstrip("\n"))
        if match := re.search(pattern, out[-1]):
            return match
    pytest.fail(f"the demo never printed {pattern!r}:\n" + "\n".join(out))


@pytest.mark.asyncio
async def test_demo_overview_lists_the_demo_instances(
        tmp_path: Path, browser_page: tuple[Page, list[str]], capsys: pytest.CaptureFixture[str]) -> None:
    """`gitopsd demo` prints its status table, reverts its drift and then the page's address; that
    overview lists the demo's five instances Synced and Healthy, signed in with the demo's token it
    offers Sync, the instance page shows the platform objects by wave, and Ctrl-C removes the
    clusters."""
    page, errors = browser_page
    root = tmp_path / "demo"
    demo = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gitopsd", "demo", "--dir", str(root), "--listen", f"127.0.0.1:{free_port()}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    out: list[str] = []
    try:
        address = (await demo_output_until(demo, out, r"status page: (http://\S+/ui/)", 240))[1]
        table = [ln.split() for ln in out if ln.startswith(("platform ", "web ", "cache "))]
        assert {(r[0], r[1]) for r in table} == DEMO_INSTANCES, "\n".join(out)
        assert all(r[2:4] == ["Synced", "Healthy"] for r in table), "\n".join(out)
        assert any("reverted to log-level: info" in ln for ln in out), "\n".join(out)

        await page.goto(address)
        for app, cluster in sorted(DEMO_INSTANCES):
            cells = page.locator(f'[id="row:{app}/{cluster}"]').locator("td")
            await expect(cells.first).to_have_text(app)
            await expect(cells.nth(1)).to_have_text(cluster)
            await expect(cells.nth(3)).to_have_text("Synced")
            await expect(cells.nth(4)).to_contain_text("Healthy")
        await expect(page.locator('tr[id^="row:"]')).to_have_count(len(DEMO_INSTANCES))
        await keep_screenshot(page, "overview-demo", capsys)

        await sign_in(page, address.removesuffix("/ui/"), (root / "api-token").read_text().strip())
        await page.goto(address)
        await expect(page.locator('[id="row:web/prod"]').get_by_role("button", name="Sync")).to_be_visible()
        await page.goto(address + "instances/platform/prod")
        await expect(page.locator("h1")).to_have_text("platform on prod")
        await expect(page.locator("h3", has_text="Wave")).to_have_text(["Wave -1", "Wave 0", "Wave 1"])
        for name in ("platform", "settings", "api"):
            await expect(page.get_by_role("cell", name=name, exact=True).first).to_be_visible()
        await keep_screenshot(page, "instance-demo", capsys)
        assert errors == []
    finally:
        if demo.returncode is None:
            demo.send_signal(signal.SIGINT)
        rest, _ = await asyncio.wait_for(demo.communicate(), 120)
        out.extend(rest.decode().splitlines())
    assert demo.returncode == 0, "\n".join(out)
    assert out[-1] == "demo stopped; clusters removed"
    assert not any(root.glob("cluster-*/localcluster.json"))


@pytest.mark.asyncio
async def test_overview_lists_instances_and_shows_a_drift_live(
        cluster_a: LocalCluster, kube_a: client.ApiClient, make_namespace, git_repos, git_client_key,
        git_known_hosts, tmp_path: Path, browser_page: tuple[Page, list[str]],
        capsys: pytest.CaptureFixture[str]) -> None:
    """The overview lists every instance; a live edit turns the row's sync cell OutOfSync and a sync
    from elsewhere turns it Synced again, both through the event stream, the page never reloaded;
    the clusters page shows the cluster reachable and watched."""
    page, errors = browser_page
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    repo.commit({"auto/c.yaml": cm("shown", "1"), "live/c.yaml": cm("live", "from-git")})
    d = start(tmp_path, cluster_a, repo, git_client_key, git_known_hosts,
              [application("browser-auto", "auto", ns, AUTO), application("browser-live", "live", ns, {})])
    try:
        await sync_via_api(d, "browser-live", repo.head())
        assert await until(lambda: (d.instance("browser-auto", "a") or {}).get("sync_status") == "Synced")
        await page.goto(f"http://127.0.0.1:{d.port}/ui/")
        for app in ("browser-auto", "browser-live"):
            await expect(row(page, app).locator("td").first).to_have_text(app)
        sync_cell = sync_of(page, "browser-live")
        await expect(sync_cell).to_have_text("Synced")
        await keep_screenshot(page, "overview", capsys)
        await page.evaluate("window.keptSinceLoad = true")

        core = client.CoreV1Api(kube_a)
        await core.patch_namespaced_config_map("live", ns, {"data": {"value": "edited by hand"}},
                                               field_manager="kubectl-edit")
        await expect(sync_cell).to_have_text("OutOfSync", timeout=LIVE)
        assert d.post("/api/v1/instances/browser-live/a/sync",  # as `gitopsd sync` from a terminal
                      headers={"Authorization": f"Bearer {d.token}"}) == 202
        await expect(sync_cell).to_have_text("Synced", timeout=LIVE)
        assert value(cluster_a, ns, "live") == "from-git"
        assert await page.evaluate("window.keptSinceLoad") is True  # the same document all along
        assert errors == []  # the script ran: no Content-Security-Policy or script error

        await page.get_by_role("link", name="Clusters").click()
        cluster = page.locator('[id="cluster:a"]')
        await expect(cluster.locator("td").nth(1)).to_have_text("Reachable")
        await expect(cluster.locator("td").nth(2)).to_contain_text("1 kind watched")
        await expect(cluster.locator("td").nth(3)).to_have_text("2")
        await keep_screenshot(page, "clusters", capsys)
    finally:
        assert d.stop() == 0


@pytest.mark.asyncio
async def test_diff_view_masks_a_secret(
        cluster_a: LocalCluster, make_namespace, git_repos, git_client_key, git_known_hosts,
        tmp_path: Path, browser_page: tuple[Page, list[str]], capsys: pytest.CaptureFixture[str]) -> None:
    """The instance page links to the diff of an OutOfSync Secret, which the browser shows as
    differing with none of the old or new values, plain or base64."""
    page, errors = browser_page
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    repo.commit({"creds/s.yaml": secret("browser-creds", SECRET_OLD), "creds/c.yaml": cm("plain", "x")})
    d = start(tmp_path, cluster_a, repo, git_client_key, git_known_hosts,
              [application("browser-secret", "creds", ns, {})])
    try:
        await sync_via_api(d, "browser-secret", repo.head())
        repo.commit({"creds/s.yaml": secret("browser-creds", SECRET_NEW)})
        assert await until(lambda: (d.instance("browser-secret", "a") or {}).get("sync_status")
                           == "OutOfSync"), d.logs()
        await page.goto(f"http://127.0.0.1:{d.port}/ui/instances/browser-secret/a")
        await expect(page.locator("h1")).to_have_text("browser-secret on a")
        await expect(page.get_by_role("cell", name="browser-creds")).to_be_visible()
        await keep_screenshot(page, "instance", capsys)

        await page.get_by_role("link", name="Diff").click()
        await expect(page.locator("h3", has_text="Secret/")).to_contain_text(f"{ns}/browser-creds")
        await expect(page.locator("pre").first).to_contain_text("+++++")
        shown = [await page.content(), await page.locator("body").inner_text()]
        for word in (SECRET_OLD, SECRET_NEW):
            for text in shown:
                assert word not in text
                assert base64.b64encode(word.encode()).decode() not in text
        assert errors == []
    finally:
        assert d.stop() == 0


@pytest.mark.asyncio
async def test_sync_without_the_token_is_refused(
        cluster_a: LocalCluster, make_namespace, git_repos, git_client_key, git_known_hosts,
        tmp_path: Path, browser_page: tuple[Page, list[str]]) -> None:
    """Without signing in the page offers no Sync button and a posted sync is refused and applies
    nothing; a wrong token does not sign in; after signing in with the token the button syncs."""
    page, _ = browser_page
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    repo.commit({"guard/c.yaml": cm("guarded", "first")})
    d = start(tmp_path, cluster_a, repo, git_client_key, git_known_hosts,
              [application("browser-guard", "guard", ns, {})])
    base = f"http://127.0.0.1:{d.port}"
    try:
        assert await until(lambda: (d.instance("browser-guard", "a") or {}).get("sync_status")
                           == "OutOfSync"), d.logs()
        await page.goto(base + "/ui/")
        guard = row(page, "browser-guard")
        await expect(sync_of(page, "browser-guard")).to_have_text("OutOfSync")
        await expect(guard.get_by_role("button", name="Sync")).to_have_count(0)
        refused = await page.request.post(base + "/ui/instances/browser-guard/a/sync",
                                          form={"csrf": "forged"}, max_redirects=0)
        assert refused.status == 403

        await page.goto(base + "/ui/login")
        await page.locator('input[name="token"]').fill("not-the-token")
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.locator(".flash")).to_contain_text("not the daemon's API token")
        started = time.monotonic()
        await page.goto(base + "/ui/")
        await expect(guard.get_by_role("button", name="Sync")).to_have_count(0)
        await asyncio.sleep(max(0.0, 2 - (time.monotonic() - started)))
        assert value(cluster_a, ns, "guarded") is None  # nothing refused was applied

        await sign_in(page, base, d.token)
        await page.wait_for_url(base + "/ui/")
        await guard.get_by_role("button", name="Sync").click()
        await expect(page.locator(".flash")).to_have_text("Sync requested.")
        assert await until(lambda: value(cluster_a, ns, "guarded") == "first"), d.logs()
    finally:
        assert d.stop() == 0


@pytest.mark.asyncio
async def test_rollback_button_rolls_back_and_is_refused_while_automated(
        cluster_a: LocalCluster, make_namespace, git_repos, git_client_key, git_known_hosts,
        tmp_path: Path, browser_page: tuple[Page, list[str]], capsys: pytest.CaptureFixture[str]) -> None:
    """Signed in, the history page's Roll back button syncs a manual instance back to an older
    entry's revision, and for an automated one shows the refusal with how to turn automation off."""
    page, errors = browser_page
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    repo.commit({"back/c.yaml": cm("back", "first"), "keep/c.yaml": cm("keep", "1")})
    first = repo.head()
    d = start(tmp_path, cluster_a, repo, git_client_key, git_known_hosts,
              [application("browser-back", "back", ns, {}), application("browser-keep", "keep", ns, AUTO)])
    base = f"http://127.0.0.1:{d.port}"
    try:
        await sync_via_api(d, "browser-back", first)
        second = repo.commit({"back/c.yaml": cm("back", "second")})
        assert await until(lambda: (d.instance("browser-back", "a") or {}).get("sync_status")
                           == "OutOfSync"), d.logs()
        await sync_via_api(d, "browser-back", second)
        assert value(cluster_a, ns, "back") == "second"
        assert await until(lambda: (d.instance("browser-keep", "a") or {}).get("sync_status") == "Synced")

        await sign_in(page, base, d.token)
        await page.goto(base + "/ui/instances/browser-back/a/history")
        older = page.locator("tr", has=page.locator(f'code[title="{first}"]'))
        await keep_screenshot(page, "history", capsys)
        await older.first.get_by_role("button", name="Roll back").click()
        await expect(page.locator(".flash")).to_have_text("Rollback requested.")
        assert await until(lambda: value(cluster_a, ns, "back") == "first"), d.logs()

        await page.goto(base + "/ui/instances/browser-keep/a/history")
        await page.get_by_role("button", name="Roll back").first.click()
        await expect(page.locator(".flash")).to_contain_text("Rollback refused")
        await expect(page.locator(".flash")).to_contain_text("syncPolicy.automated")
        assert errors == [] or all("409" in e for e in errors)  # the refusal page is answered 409
    finally:
        assert d.stop() == 0
