"""A real SSH bastion for tests: asyncssh accepting public keys and TCP forwarding only.

It serves no shell and no commands; a client may only open direct-tcpip
channels, which asyncssh connects to the requested address. Every forward is
recorded, and the server can drop its connections or stop and start again on
the same port, so tests can watch a client reconnect. It runs on its own event
loop in a daemon thread, so tests on any loop (and daemon subprocesses) can use it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import asyncssh

from tests.testenv.gitserver import KeyOnlyServer, public_key_line


class BastionServer:
    """An SSH jump host on 127.0.0.1 that forwards TCP for the keys it was given."""

    def __init__(self, authorized_keys: Sequence[str]) -> None:
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self._authorized = "\n".join(authorized_keys) + "\n"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="bastion", daemon=True)
        self._listener: asyncssh.SSHAcceptor | None = None
        self._conns: set[asyncssh.SSHServerConnection] = set()
        self.port = 0
        self.logins = 0
        self.forwards: list[tuple[str, int]] = []

    @property
    def known_hosts_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {public_key_line(self.host_key)}"

    def start(self) -> BastionServer:
        if not self._thread.is_alive():
            self._thread.start()
        self.port = self._run(self._listen(self.port))
        return self

    def stop(self) -> None:
        """Stop listening and drop every connection (the port stays reserved for ``start``)."""
        self._run(self._close())

    def drop(self) -> None:
        """Drop every open connection but keep listening."""
        self._run(self._drop())

    def shutdown(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    def _run(self, coro):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    async def _listen(self, port: int) -> int:
        bastion = self

        class Session(KeyOnlyServer):
            conn: asyncssh.SSHServerConnection | None = None

            def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
                self.conn = conn
                bastion._conns.add(conn)

            def connection_lost(self, exc: Exception | None) -> None:
                if self.conn is not None:
                    bastion._conns.discard(self.conn)

            def auth_completed(self) -> None:
                bastion.logins += 1

            def connection_requested(self, dest_host: str, dest_port: int,
                                     orig_host: str, orig_port: int) -> bool:
                bastion.forwards.append((dest_host, dest_port))
                return True

        self._listener = await asyncssh.listen(
            "127.0.0.1", port, server_factory=Session, server_host_keys=[self.host_key],
            authorized_client_keys=asyncssh.import_authorized_keys(self._authorized),
            allow_scp=False, agent_forwarding=False, x11_forwarding=False, config=[],
            reuse_address=True)
        return int(self._listener.get_port())

    async def _drop(self) -> None:
        for conn in list(self._conns):
            conn.close()
        for conn in list(self._conns):
            await conn.wait_closed()
        self._conns.clear()

    async def _close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            await self._listener.wait_closed()
            self._listener = None
        await self._drop()
