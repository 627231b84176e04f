"""One HTTP client per cluster, with explicit timeouts and translated errors.

Built on kubernetes_asyncio's ApiClient (its kubeconfig loading, TLS and auth)
but speaking plain JSON so that any kind, built-in or custom, is handled the
same way. Every request has a timeout; every failure leaves this module as a
``gitopsd.errors.ClusterError``. It never logs request bodies (they may hold
Secret data). A cluster with an SSH bastion is reached through a
``gitopsd.edges.tunnel.Tunnel`` that the client owns; TLS is still verified
against the API server's own name.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from kubernetes_asyncio import config as kconfig
from kubernetes_asyncio.client import ApiClient, Configuration
from kubernetes_asyncio.client.rest import ApiException

from gitopsd.errors import ApiError, ClusterUnreachable
from gitopsd.model import Cluster

if TYPE_CHECKING:
    from gitopsd.edges.tunnel import Tunnel

JSON = "application/json"
APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
DEFAULT_TIMEOUT = 30.0
Query = Sequence[tuple[str, str]]


def _status_message(status: int, body: bytes) -> tuple[str, str]:
    try:
        doc = json.loads(body)
        return str(doc.get("message") or ""), str(doc.get("reason") or "")
    except ValueError:
        return body.decode(errors="replace")[:300], ""


class KubeClient:
    """Requests against one cluster's API server."""

    def __init__(self, cluster: Cluster, api: ApiClient, temp_dir: str,
                 tunnel: Tunnel | None = None) -> None:
        self.cluster = cluster
        self.name = cluster.name
        self._api = api
        self._temp_dir = temp_dir
        self.tunnel = tunnel
        self.requests = 0

    @classmethod
    async def connect(cls, cluster: Cluster, *, server: str | None = None,
                      tls_server_name: str | None = None, pool: int = 16) -> KubeClient:
        """A client for CLUSTER from its kubeconfig (optionally via a tunnel address).

        POOL bounds the connections to the API server (each TLS connection keeps a
        read buffer, so the bound is what keeps memory flat as fleets grow).
        """
        temp_dir = _credential_dir()
        cfg = Configuration()
        try:
            await kconfig.load_kube_config(
                config_file=cluster.kubeconfig, context=cluster.context or None,
                client_configuration=cfg, persist_config=False, temp_file_path=temp_dir)
        except (OSError, kconfig.ConfigException, ValueError, KeyError) as e:
            raise ClusterUnreachable(f"cluster {cluster.name}: cannot load kubeconfig "
                                     f"{cluster.kubeconfig}: {type(e).__name__}") from None
        cfg.connection_pool_maxsize = pool
        if server:
            cfg.host = server
        if tls_server_name:
            cfg.tls_server_name = tls_server_name
        tunnel = await _tunnel(cluster, cfg) if cluster.bastion is not None else None
        try:
            api = ApiClient(configuration=cfg)
        except (OSError, ValueError) as e:  # ssl.SSLError is an OSError: a key that fits no cert
            if tunnel is not None:
                await tunnel.close()
            raise ClusterUnreachable(f"cluster {cluster.name}: cannot use the credentials in "
                                     f"{cluster.kubeconfig}: {type(e).__name__}") from None
        # kubernetes_asyncio's session trusts the environment, which makes aiohttp read
        # ~/.netrc in a worker thread on every request and apply *_PROXY variables; cluster
        # traffic goes straight to the API server (or an explicit tunnel) instead.
        session = getattr(api.rest_client, "pool_manager", None)
        if session is not None and hasattr(session, "_trust_env"):
            session._trust_env = False
        return cls(cluster, api, temp_dir, tunnel)

    async def close(self) -> None:
        await self._api.close()
        if self.tunnel is not None:
            await self.tunnel.close()

    def unreachable(self, what: str, e: BaseException) -> ClusterUnreachable:
        """The error for WHAT failing with E, naming the bastion's trouble when there is one."""
        if self.tunnel is not None and self.tunnel.last_error:
            return ClusterUnreachable(f"cluster {self.name}: {what} failed: {self.tunnel.where}: "
                                      f"{self.tunnel.last_error}")
        return ClusterUnreachable(f"cluster {self.name}: {what} failed: {type(e).__name__}: {_short(e)}")

    async def request(self, method: str, path: str, *, query: Query = (), body: Any = None,
                      content_type: str = JSON, timeout: float = DEFAULT_TIMEOUT,
                      ok: Sequence[int] = ()) -> tuple[int, Any]:
        """Send one request; return (status, parsed JSON body).

        2xx and the statuses in OK are returned; any other status raises ApiError.
        """
        async with self.raw(method, path, query=query, body=body, content_type=content_type,
                            timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            try:
                data = await resp.read()
            except (TimeoutError, aiohttp.ClientError) as e:
                raise self.unreachable(f"reading {method} {path}", e) from None
            status = resp.status
        if 200 <= status < 300 or status in ok:
            try:
                return status, json.loads(data) if data else None
            except ValueError:
                return status, None
        message, reason = _status_message(status, data)
        raise ApiError(f"cluster {self.name}: {method} {path}: {status} {reason or ''} {message}".strip(),
                       status=status, reason=reason)

    @asynccontextmanager
    async def raw(self, method: str, path: str, *, query: Query = (), body: Any = None,
                  content_type: str = JSON,
                  timeout: aiohttp.ClientTimeout | None = None) -> AsyncIterator[aiohttp.ClientResponse]:
        """An open response for streaming (watches); the caller reads it."""
        self.requests += 1
        headers = {"Accept": JSON, "Content-Type": content_type}
        try:
            resp = await self._api.call_api(
                path, method, query_params=list(query), header_params=headers, body=body,
                auth_settings=["BearerToken"], _preload_content=False,
                _request_timeout=timeout or aiohttp.ClientTimeout(total=DEFAULT_TIMEOUT))
        except ApiException as e:
            raise ApiError(f"cluster {self.name}: {method} {path}: {e.status} {e.reason}",
                           status=e.status or 0, reason=str(e.reason or "")) from None
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            raise self.unreachable(f"{method} {path}", e) from None
        try:
            yield resp
        finally:
            resp.release()


async def _tunnel(cluster: Cluster, cfg: Configuration) -> Tunnel:
    """Start CLUSTER's bastion tunnel and point CFG at it, keeping TLS checked against the real name.

    asyncssh (and the crypto it loads) is imported only here: fleets without a
    bastion do not pay its memory.
    """
    from gitopsd.edges.tunnel import Tunnel

    assert cluster.bastion is not None
    url = urlsplit(str(cfg.host))
    try:
        host, port = url.hostname, url.port or 443
    except ValueError:
        host, port = None, 0
    if not host:
        raise ClusterUnreachable(f"cluster {cluster.name}: the kubeconfig server '{cfg.host}' "
                                 "names no host to reach through the bastion")
    tunnel = Tunnel(cluster.name, cluster.bastion, host, port)
    local = await tunnel.start()
    cfg.host = urlunsplit((url.scheme or "https", f"127.0.0.1:{local}", url.path, "", ""))
    if not cfg.tls_server_name:
        cfg.tls_server_name = host
    return tunnel


def _short(e: BaseException) -> str:
    text = str(e)
    return text[:200] if text else ""


_CREDENTIAL_DIR: list[str] = []


def _credential_dir() -> str:
    """One private directory per process for the CA and client-cert files kubeconfigs carry.

    kubernetes_asyncio caches these files by content for the whole process, so
    they must outlive any one client; the directory is removed at exit.
    """
    if not _CREDENTIAL_DIR:
        path = tempfile.mkdtemp(prefix="gitopsd-kube-")
        os.chmod(path, 0o700)
        atexit.register(shutil.rmtree, path, True)
        _CREDENTIAL_DIR.append(path)
    return _CREDENTIAL_DIR[0]


def query(**params: str | int | bool | None) -> list[tuple[str, str]]:
    """Query parameters in the API server's spelling, dropping None values."""
    out = []
    for k, v in params.items():
        if v is None:
            continue
        out.append((k, ("true" if v else "false") if isinstance(v, bool) else str(v)))
    return out
