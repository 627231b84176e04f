"""The guarded subprocess runner: output, errors, timeout, size cap, environment, cleanup."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from gitopsd.edges.render.runner import Limits, run_tool, scrubbed_env, stderr_tail
from gitopsd.errors import RenderError


def write_tool(directory: Path, name: str, body: str) -> str:
    """Write an executable shell script and return its path."""
    path = directory / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def is_running(pid: int) -> bool:
    """True while a process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def wait_gone(pid: int, within: float = 3.0) -> bool:
    """Poll until ``pid`` is no longer running; False if it survives ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        if not is_running(pid):
            return True
        await asyncio.sleep(0.05)
    return not is_running(pid)


async def wait_for_file(path: Path, within: float = 5.0) -> str:
    """Poll until ``path`` has content and return it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text()
        await asyncio.sleep(0.02)
    raise AssertionError(f"{path} was never written")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A private home directory for the tool."""
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.mark.asyncio
async def test_returns_stdout_text(tmp_path: Path, home: Path) -> None:
    """A tool that succeeds yields exactly its stdout."""
    tool = write_tool(tmp_path, "ok", "printf 'kind: A\\n---\\nkind: B\\n'\necho noise >&2\n")
    out = await run_tool([tool], label="fake build", subject="apps/x", home=home)
    assert out == "kind: A\n---\nkind: B\n"


@pytest.mark.asyncio
async def test_failure_names_label_subject_and_stderr_tail(tmp_path: Path, home: Path) -> None:
    """A failing tool raises RenderError with its exit status and only the last stderr lines."""
    tool = write_tool(tmp_path, "bad", (
        "i=1\nwhile [ $i -le 30 ]; do echo \"line $i at /srv/tree/apps/x\" >&2; i=$((i+1)); done\n"
        "exit 3\n"))
    with pytest.raises(RenderError) as info:
        await run_tool([tool], label="fake build", subject="apps/x", home=home,
                       replacements={"/srv/tree/": ""})
    message = str(info.value)
    assert message.startswith("fake build failed for 'apps/x' (exit status 3):")
    assert "line 30 at apps/x" in message
    assert "line 11 at apps/x" in message
    assert "line 10 at" not in message
    assert "/srv/tree" not in message


@pytest.mark.asyncio
async def test_single_stderr_line_stays_on_one_line(tmp_path: Path, home: Path) -> None:
    """A one-line tool error is appended to the summary on the same line."""
    tool = write_tool(tmp_path, "bad", "echo 'Error: no such thing' >&2\nexit 1\n")
    with pytest.raises(RenderError) as info:
        await run_tool([tool], label="fake build", subject="x", home=home)
    assert str(info.value) == "fake build failed for 'x' (exit status 1): Error: no such thing"


@pytest.mark.asyncio
async def test_timeout_kills_the_whole_process_group(tmp_path: Path, home: Path) -> None:
    """A hanging tool and the child it started are killed at the timeout and reaped."""
    pids = tmp_path / "pids"
    tool = write_tool(tmp_path, "hang", f"sleep 300 &\necho $$ $! > {pids}\nwait\n")
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(RenderError) as info:
        await run_tool([tool], label="fake build", subject="apps/x", home=home,
                       limits=Limits(timeout=0.5))
    assert loop.time() - started < 5
    assert str(info.value) == "fake build timed out after 0.5s for 'apps/x'"
    leader, child = (int(p) for p in pids.read_text().split())
    assert await wait_gone(leader)
    assert await wait_gone(child)


@pytest.mark.asyncio
async def test_output_cap_kills_the_tool(tmp_path: Path, home: Path) -> None:
    """A tool writing more than the cap is killed and the render fails."""
    pid_file = tmp_path / "pid"
    tool = write_tool(tmp_path, "flood", f"echo $$ > {pid_file}\nexec yes 'kind: Flood'\n")
    with pytest.raises(RenderError) as info:
        await run_tool([tool], label="fake build", subject="apps/x", home=home,
                       limits=Limits(max_output=1024 * 1024))
    assert str(info.value) == "fake build output for 'apps/x' exceeded 1048576 bytes"
    assert await wait_gone(int(pid_file.read_text()))


@pytest.mark.asyncio
async def test_output_at_the_cap_is_accepted(tmp_path: Path, home: Path) -> None:
    """Output exactly as large as the cap is returned whole."""
    tool = write_tool(tmp_path, "exact", "head -c 4096 /dev/zero | tr '\\0' 'a'\n")
    out = await run_tool([tool], label="fake build", subject="x", home=home,
                         limits=Limits(max_output=4096))
    assert out == "a" * 4096


@pytest.mark.asyncio
async def test_cancellation_kills_the_tool(tmp_path: Path, home: Path) -> None:
    """Cancelling the caller kills the running tool instead of leaving it behind."""
    pid_file = tmp_path / "pid"
    tool = write_tool(tmp_path, "hang", f"echo $$ > {pid_file}\nexec sleep 300\n")
    task = asyncio.ensure_future(run_tool([tool], label="fake build", subject="x", home=home))
    pid = int(await wait_for_file(pid_file))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await wait_gone(pid)


@pytest.mark.asyncio
async def test_environment_is_scrubbed(
        tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tool sees only PATH, HOME, TMPDIR, LANG and the explicit extras, never the daemon's."""
    monkeypatch.setenv("GITOPSD_API_TOKEN", "tok-3141592653")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-2718281828")
    monkeypatch.setenv("KUBECONFIG", "/root/.kube/admin")
    monkeypatch.setenv("SSH_AUTH_SOCK", "/run/agent.sock")
    tool = write_tool(tmp_path, "env", "exec env\n")
    out = await run_tool([tool], label="fake build", subject="x", home=home,
                         env={"TOOL_SETTING": "on"})
    seen = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert set(seen) - {"PWD", "SHLVL", "_"} == {"PATH", "HOME", "TMPDIR", "LANG", "TOOL_SETTING"}
    assert seen["HOME"] == str(home)
    assert seen["TMPDIR"] == str(home)
    for secret in ("tok-3141592653", "aws-2718281828", "/root/.kube/admin", "agent.sock"):
        assert secret not in out


def test_scrubbed_env_keeps_path_and_lang(monkeypatch: pytest.MonkeyPatch) -> None:
    """PATH and LANG are inherited, extras override, nothing else is copied."""
    monkeypatch.setenv("PATH", "/opt/tools/bin:/usr/bin")
    monkeypatch.setenv("LANG", "de_DE.UTF-8")
    monkeypatch.setenv("GITOPSD_STATE_DIR", "/var/lib/gitopsd")
    env = scrubbed_env(Path("/tmp/h"), {"HELM_NO_PLUGINS": "1"})
    assert env == {"PATH": "/opt/tools/bin:/usr/bin", "HOME": "/tmp/h", "TMPDIR": "/tmp/h",
                   "LANG": "de_DE.UTF-8", "HELM_NO_PLUGINS": "1"}


@pytest.mark.asyncio
async def test_arguments_never_pass_through_a_shell(tmp_path: Path, home: Path) -> None:
    """Shell metacharacters in arguments reach the tool verbatim and run nothing."""
    marker = tmp_path / "pwned"
    tool = write_tool(tmp_path, "echo-arg", 'printf "%s" "$1"\n')
    hostile = f"x; touch {marker} $(touch {marker})"
    out = await run_tool([tool, hostile], label="fake build", subject="x", home=home)
    assert out == hostile
    assert not marker.exists()


@pytest.mark.asyncio
async def test_missing_executable_is_a_render_error(tmp_path: Path, home: Path) -> None:
    """A tool that cannot be started is reported as a RenderError naming it."""
    missing = str(tmp_path / "nowhere" / "kustomize")
    with pytest.raises(RenderError, match="fake build could not start for 'x'") as info:
        await run_tool([missing], label="fake build", subject="x", home=home)
    assert missing in str(info.value)


@pytest.mark.asyncio
async def test_non_utf8_output_is_rejected(tmp_path: Path, home: Path) -> None:
    """Output that is not UTF-8 text is a RenderError, not garbage manifests."""
    tool = write_tool(tmp_path, "binary", "printf '\\377\\376\\375'\n")
    with pytest.raises(RenderError, match="not UTF-8"):
        await run_tool([tool], label="fake build", subject="x", home=home)


def test_stderr_tail_bounds_lines() -> None:
    """Overlong lines are cut and blank lines dropped."""
    tail = stderr_tail(b"\n\n" + b"x" * 2000 + b"\nlast\n")
    first, second = tail.split("\n")
    assert first == "x" * 500 + "..."
    assert second == "last"


def test_process_helpers_see_this_process() -> None:
    """The liveness helper reports a running process as running."""
    assert is_running(os.getpid())
