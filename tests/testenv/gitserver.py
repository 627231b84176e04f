"""A real Git-over-SSH server for tests: asyncssh in front of ``git upload-pack``.

Each SSH ``exec`` request of the form ``git-upload-pack '/name.git'`` (or
``git-receive-pack``) runs the real git subprocess against a bare repository
under ``root`` and pipes the channel through it, so clients speak the genuine
Git SSH transport. The server has a generated host key and accepts only the
public keys it was given; it runs on its own event loop in a daemon thread so
that tests on any loop, and plain threads such as libgit2's, can reach it.

It is test infrastructure only: it never runs anything but those two git
commands and never serves a path outside ``root``.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import threading
from collections.abc import Sequence
from pathlib import Path

import asyncssh

GIT_COMMANDS = {"git-upload-pack": "upload-pack", "git-receive-pack": "receive-pack"}


def public_key_line(key: asyncssh.SSHKey) -> str:
    """The OpenSSH one-line public key (``ssh-ed25519 AAAA...``) of KEY."""
    return key.export_public_key("openssh").decode().strip()


def write_client_key(directory: Path, name: str = "id_ed25519") -> Path:
    """Generate an ed25519 client key pair as OpenSSH files; return the private key path."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    private = directory / name
    private.write_bytes(key.export_private_key("openssh"))
    private.chmod(0o600)
    (directory / f"{name}.pub").write_text(public_key_line(key) + "\n")
    return private


class KeyOnlyServer(asyncssh.SSHServer):
    """Public-key authentication only, no passwords; forwarding stays refused unless a subclass allows it."""

    def begin_auth(self, username: str) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return False


class GitSSHServer:
    """Serves the bare repositories under ``root`` over SSH on 127.0.0.1."""

    def __init__(self, root: Path, authorized_keys: Sequence[str],
                 host_key: asyncssh.SSHKey | None = None) -> None:
        self.root = root.resolve()
        self.host_key = host_key or asyncssh.generate_private_key("ssh-ed25519")
        self._authorized = "\n".join(authorized_keys) + "\n"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever,
                                        name="git-ssh-server", daemon=True)
        self._listener: asyncssh.SSHAcceptor | None = None
        self.port = 0
        self.commands: list[str] = []

    @property
    def known_hosts_line(self) -> str:
        """This server's host key in known_hosts form for its non-standard port."""
        return f"[127.0.0.1]:{self.port} {public_key_line(self.host_key)}"

    def url(self, repo: str, user: str = "git") -> str:
        """The ssh:// URL of bare repository ``<root>/<repo>.git``."""
        return f"ssh://{user}@127.0.0.1:{self.port}/{repo}.git"

    def start(self) -> GitSSHServer:
        self._thread.start()
        fut = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        self.port = fut.result(timeout=30)
        return self

    def stop(self) -> None:
        if self._listener is not None:
            asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    async def _listen(self) -> int:
        self._listener = await asyncssh.listen(
            "127.0.0.1", 0,
            server_factory=KeyOnlyServer,
            server_host_keys=[self.host_key],
            authorized_client_keys=asyncssh.import_authorized_keys(self._authorized),
            process_factory=self._serve,
            encoding=None,
            allow_scp=False,
            agent_forwarding=False,
            x11_forwarding=False,
            config=[],
        )
        return int(self._listener.get_port())

    async def _close(self) -> None:
        assert self._listener is not None
        self._listener.close()
        await self._listener.wait_closed()

    def _repo_path(self, command: str) -> tuple[str, Path] | None:
        try:
            argv = shlex.split(command)
        except ValueError:
            return None
        if len(argv) != 2 or argv[0] not in GIT_COMMANDS:
            return None
        path = (self.root / argv[1].lstrip("/")).resolve()
        if not path.is_relative_to(self.root) or not path.is_dir():
            return None
        return GIT_COMMANDS[argv[0]], path

    async def _serve(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        command = process.command or ""
        self.commands.append(command)
        target = self._repo_path(command)
        if target is None:
            process.stderr.write(f"fatal: {command!r} does not appear to be a git repository\n"
                                 .encode())
            process.exit(128)
            return
        verb, path = target
        proc = await asyncio.create_subprocess_exec(
            "git", verb, str(path),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        assert proc.stdin is not None
        assert proc.stdout is not None
        assert proc.stderr is not None

        async def feed() -> None:
            assert proc.stdin
            with contextlib.suppress(Exception):
                while data := await process.stdin.read(65536):
                    proc.stdin.write(data)
                    await proc.stdin.drain()
                proc.stdin.close()

        async def pump(src: asyncio.StreamReader, dst: asyncssh.SSHWriter[bytes]) -> None:
            while data := await src.read(65536):
                with contextlib.suppress(Exception):
                    dst.write(data)
                    await dst.drain()

        feeder = asyncio.create_task(feed())
        try:
            await asyncio.gather(pump(proc.stdout, process.stdout),
                                 pump(proc.stderr, process.stderr))
            rc = await proc.wait()
        finally:
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeder
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        with contextlib.suppress(Exception):
            process.exit(rc)
