"""A cluster's API server reached through an SSH bastion, as a local TCP port.

``Tunnel`` binds one port on 127.0.0.1 for the life of a cluster client and
carries each connection made to it over a direct-tcpip channel of one shared
SSH connection to the bastion. The port never changes, so the Kubernetes client
is built once; the SSH connection is opened on first use, kept alive, and
re-opened after it drops (not sooner than a growing cool-down after a failed
attempt, so a dead bastion is not hammered). TLS still runs end to end between
the client and the API server: the bastion only sees ciphertext.

Host keys are always checked against the configured known_hosts file, the
user's ``~/.ssh/config`` and SSH agent are never consulted, and errors name the
bastion and the cause, never key material. This module must not know about
Kubernetes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import warnings
from dataclasses import dataclass

import structlog

with warnings.catch_warnings():
    # asyncssh still names cryptography's DSA types at import; gitopsd never uses DSA keys.
    warnings.filterwarnings("ignore", "DSA is deprecated", module=r"asyncssh\.crypto\.")
    import asyncssh

from gitopsd.errors import ClusterUnreachable
from gitopsd.model import Bastion

log = structlog.get_logger("gitopsd.tunnel")

CHUNK = 64 * 1024


@dataclass(frozen=True)
class TunnelTimeouts:
    connect: float = 15.0  # TCP connect plus SSH handshake and authentication
    keepalive: float = 15.0  # seconds between keepalives; 3 unanswered close the connection
    cooldown_min: float = 1.0
    cooldown_max: float = 30.0


def describe(e: BaseException) -> str:
    """One short phrase for why an SSH connection or channel failed."""
    if isinstance(e, asyncssh.HostKeyNotVerifiable):
        return "host key not verifiable against the known hosts file"
    if isinstance(e, asyncssh.PermissionDenied):
        return "authentication refused"
    if isinstance(e, asyncssh.KeyImportError):
        return "the key file cannot be read as an unencrypted private key"
    if isinstance(e, asyncssh.ChannelOpenError):
        return f"the bastion refused to forward: {e.reason}"
    if isinstance(e, asyncssh.DisconnectError):
        return f"disconnected: {e.reason}"
    if isinstance(e, TimeoutError):
        return "timed out"
    if isinstance(e, OSError):
        what = e.strerror or type(e).__name__
        return f"{what}: {e.filename}" if e.filename else what
    return type(e).__name__


class Tunnel:
    """127.0.0.1:PORT, forwarded through BASTION to TARGET_HOST:TARGET_PORT."""

    def __init__(self, cluster: str, bastion: Bastion, target_host: str, target_port: int,
                 timeouts: TunnelTimeouts | None = None) -> None:
        self.cluster = cluster
        self.bastion = bastion
        self.target = (target_host, target_port)
        self.timeouts = timeouts or TunnelTimeouts()
        self.port = 0
        self.connects = 0
        self.last_error = ""
        self._server: asyncio.Server | None = None
        self._conn: asyncssh.SSHClientConnection | None = None
        self._lock = asyncio.Lock()
        self._retry_at = 0.0
        self._cooldown = 0.0
        self._pipes: set[asyncio.Task[None]] = set()

    @property
    def where(self) -> str:
        return f"bastion {self.bastion.user}@{self.bastion.host}:{self.bastion.port}"

    async def start(self) -> int:
        """Bind the local port (the SSH connection opens on first use); return the port."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._pipes):
            task.cancel()
        for task in list(self._pipes):
            with contextlib.suppress(BaseException):
                await task
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
            with contextlib.suppress(Exception):
                await conn.wait_closed()

    def unreachable(self) -> ClusterUnreachable:
        reason = self.last_error or "not connected"
        return ClusterUnreachable(f"cluster {self.cluster}: {self.where}: {reason}")

    async def connection(self) -> asyncssh.SSHClientConnection:
        """The open SSH connection to the bastion, opened if needed; ClusterUnreachable if not."""
        async with self._lock:
            conn = self._conn
            if conn is not None and not conn.is_closed():
                return conn
            now = time.monotonic()
            if now < self._retry_at:
                raise self.unreachable()
            try:
                conn = await asyncio.wait_for(self._open(), self.timeouts.connect)
            except (OSError, TimeoutError, asyncssh.Error, ValueError) as e:
                self.last_error = describe(e)
                self._cooldown = min(max(self._cooldown * 2, self.timeouts.cooldown_min),
                                     self.timeouts.cooldown_max)
                self._retry_at = time.monotonic() + self._cooldown
                log.warning("tunnel.connect.failed", cluster=self.cluster, bastion=self.where,
                            error=self.last_error, retry_in=round(self._cooldown, 1))
                raise self.unreachable() from None
            self._conn = conn
            self._watch(conn)
            self._cooldown = 0.0
            self._retry_at = 0.0
            self.connects += 1
            if self.last_error:
                log.info("tunnel.reconnected", cluster=self.cluster, bastion=self.where)
            else:
                log.info("tunnel.connected", cluster=self.cluster, bastion=self.where)
            self.last_error = ""
            return conn

    def _watch(self, conn: asyncssh.SSHClientConnection) -> None:
        """Note the reason when CONN closes under us, so failures meanwhile name it."""
        async def closed() -> None:
            with contextlib.suppress(Exception):
                await conn.wait_closed()
            if self._conn is conn and self._server is not None:
                self.last_error = "the connection to the bastion closed"
                log.warning("tunnel.closed", cluster=self.cluster, bastion=self.where)
        task = asyncio.ensure_future(closed())
        self._pipes.add(task)
        task.add_done_callback(self._pipes.discard)

    async def _open(self) -> asyncssh.SSHClientConnection:
        b = self.bastion
        return await asyncssh.connect(
            b.host, b.port, username=b.user, client_keys=[b.key_file],
            known_hosts=b.known_hosts_file, config=[], agent_path=None, passphrase=None,
            keepalive_interval=self.timeouts.keepalive, keepalive_count_max=3)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._pipes.add(task)
        try:
            await self._carry(reader, writer)
        finally:
            self._pipes.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _carry(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            conn = await self.connection()
            remote_r, remote_w = await asyncio.wait_for(
                conn.open_connection(*self.target), self.timeouts.connect)
        except ClusterUnreachable:
            return
        except (OSError, TimeoutError, asyncssh.Error) as e:
            self.last_error = describe(e)
            log.warning("tunnel.forward.failed", cluster=self.cluster, bastion=self.where,
                        target=f"{self.target[0]}:{self.target[1]}", error=self.last_error)
            return
        self.last_error = ""  # the bastion is fine; later failures are the API server's own
        upstream = asyncio.ensure_future(_pump(reader, remote_w))
        downstream = asyncio.ensure_future(_pump(remote_r, writer))
        try:
            # The exchange is over when the API server's side ends, or when the
            # client's side breaks (a clean end from the client is only a half-close).
            await asyncio.wait([upstream, downstream], return_when=asyncio.FIRST_COMPLETED)
            if upstream.done() and upstream.result():
                await downstream
        finally:
            for task in (upstream, downstream):
                task.cancel()
            remote_w.close()


async def _pump(src: asyncio.StreamReader | asyncssh.SSHReader[bytes],
                dst: asyncio.StreamWriter | asyncssh.SSHWriter[bytes]) -> bool:
    """Copy SRC to DST until end of file (then half-close DST and return True) or a break (False)."""
    try:
        while True:
            data = await src.read(CHUNK)
            if not data:
                break
            dst.write(data)
            await dst.drain()
        if dst.can_write_eof():
            dst.write_eof()
        return True
    except (OSError, asyncssh.Error):
        return False
