"""Where a running daemon's API is, told through its state directory; and its own token.

``gitopsd run`` publishes ``<state-dir>/api.json`` once its HTTP server is
bound: the URL a client on this host should call and the path of the API
token file (never the token). It is removed when the daemon stops; a file
left by a killed daemon only names an address that no longer answers.
``gitopsd status`` and ``gitopsd sync`` read it (``read_endpoint``). When
no token file is configured, the daemon makes one in the state directory,
readable by its owner only (``ensure_token``). This module must not log or
return a token's content, except ``ensure_token``'s file that holds it.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from gitopsd.errors import GitopsdError

ENDPOINT_FILE = "api.json"
TOKEN_FILE = "api-token"  # noqa: S105 (a file name, not a secret)

__all__ = ["ENDPOINT_FILE", "TOKEN_FILE", "Endpoint", "client_url", "ensure_token",
           "publish", "read_endpoint", "withdraw"]


@dataclass(frozen=True)
class Endpoint:
    """A daemon's published API: the URL to call and where its token file is."""

    url: str
    token_file: str
    pid: int = 0


def client_url(host: str, port: int) -> str:
    """The URL a client on this host uses for a server bound to HOST:PORT."""
    if host in ("", "0.0.0.0"):  # noqa: S104 (a bind-all address is reached on loopback)
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def publish(state_dir: Path, endpoint: Endpoint) -> Path:
    """Write ENDPOINT to ``<state_dir>/api.json`` (replaced atomically; readable by all, since
    it holds no secret; the token file's path made absolute). Raises ``GitopsdError`` when
    the state directory cannot be written."""
    path = state_dir / ENDPOINT_FILE
    tmp = state_dir / f".{ENDPOINT_FILE}.{os.getpid()}"
    token_file = os.path.abspath(endpoint.token_file) if endpoint.token_file else ""
    body = json.dumps({"url": endpoint.url, "token_file": token_file,
                       "pid": endpoint.pid}, indent=2) + "\n"
    try:
        tmp.write_text(body, encoding="utf-8")
        tmp.chmod(0o644)
        os.replace(tmp, path)
    except OSError as exc:
        raise GitopsdError(f"cannot publish the API address in {state_dir}: "
                           f"{exc.strerror or exc}") from None
    return path


def withdraw(state_dir: Path, pid: int) -> None:
    """Remove ``api.json`` if it is still the one process PID published."""
    path = state_dir / ENDPOINT_FILE
    found = read_endpoint(state_dir)
    if found is not None and found.pid == pid:
        path.unlink(missing_ok=True)


def read_endpoint(state_dir: Path) -> Endpoint | None:
    """The endpoint published in STATE_DIR, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads((state_dir / ENDPOINT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        return None
    token_file = data.get("token_file")
    pid = data.get("pid")
    return Endpoint(url=data["url"], token_file=token_file if isinstance(token_file, str) else "",
                    pid=pid if isinstance(pid, int) else 0)


def ensure_token(state_dir: Path) -> Path:
    """``<state_dir>/api-token``: made with a new random token (mode 0600) when missing; an
    existing one readable by group or others is narrowed to 0600 first."""
    path = state_dir / TOKEN_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        try:
            mode = path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                path.chmod(0o600)
        except OSError as exc:
            raise GitopsdError(f"cannot use the API token file {path}: "
                               f"{exc.strerror or exc}") from None
        return path
    except OSError as exc:
        raise GitopsdError(f"cannot create the API token file {path}: "
                           f"{exc.strerror or exc}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(secrets.token_urlsafe(32) + "\n")
    return path
