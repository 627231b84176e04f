"""Which daemon ``gitopsd status`` and ``gitopsd sync`` talk to, and with which token.

The server is ``--server`` (or ``$GITOPSD_SERVER``); else the address the
daemon published in its state directory (``--state-dir``, else the one
``gitopsd run`` would choose: ``$GITOPSD_STATE_DIR``, the fleet file's
``settings.stateDir``, ``$STATE_DIRECTORY``, ``~/.local/state/gitopsd``); else
the fleet file's ``settings.listen``; else 127.0.0.1:8088. The token file is
``--api-token-file`` (or ``$GITOPSD_API_TOKEN_FILE``, or the systemd
credential ``api-token``), else the one the daemon published. A call goes
without a token when none can be read (the daemon lets reads from its own
host through, and refuses writes). Choosing only: no request is made here.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

from gitopsd.errors import ConfigError

DEFAULT_SERVER = "http://127.0.0.1:8088"

__all__ = ["DEFAULT_SERVER", "Target", "find_daemon", "token_file_option"]


@dataclass(frozen=True)
class Target:
    """A daemon to call: its URL, how it was found, and its token file ("" when none)."""

    server: str
    found_by: str
    token_file: str = ""

    def token(self) -> str:
        """The token; "" when there is none or it cannot be read (a read from the daemon's own
        host goes without; a write is refused by the daemon, and ``missing_token`` says why)."""
        if not self.token_file:
            return ""
        try:
            return Path(self.token_file).read_text(encoding="utf-8").strip()
        except OSError:
            return ""

    def missing_token(self) -> str:
        """Why no token was sent, and what to do about it."""
        if not self.token_file:
            why = f"no API token was found for the daemon ({self.found_by})"
        else:
            why = f"the API token file {self.token_file} cannot be read"
        return f"{why}: pass --api-token-file or run as the daemon's user"


def token_file_option(args: argparse.Namespace) -> str | None:
    """The token file named on the command line, in the environment or as a systemd credential."""
    if getattr(args, "api_token_file", None):
        return str(args.api_token_file)
    env = os.environ.get("GITOPSD_API_TOKEN_FILE")
    if env:
        return env
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    if creds and Path(creds, "api-token").is_file():
        return str(Path(creds, "api-token"))
    return None


def find_daemon(args: argparse.Namespace) -> Target:
    """The daemon ARGS point at (see the module docstring for the order)."""
    from gitopsd.app import default_state_dir
    from gitopsd.config import default_config_path, load_fleet
    from gitopsd.edges.api.endpoint import read_endpoint

    explicit = token_file_option(args) or ""
    if getattr(args, "server", None):
        return Target(str(args.server), "--server", explicit)
    fleet = None
    config = getattr(args, "config", None) or default_config_path()
    if config:
        try:
            fleet = load_fleet(config, check_files=False)
        except ConfigError:
            fleet = None  # a fleet file being edited must not hide the running daemon
    state_dir = Path(args.state_dir) if getattr(args, "state_dir", None) \
        else default_state_dir(fleet)
    published = read_endpoint(state_dir)
    if published is not None:
        return Target(published.url, f"published in {state_dir}",
                      explicit or published.token_file)
    if fleet is not None:
        host, _, port = fleet.settings.listen.rpartition(":")
        return Target(f"http://{host or '127.0.0.1'}:{port}", f"settings.listen of {config}",
                      explicit)
    return Target(DEFAULT_SERVER, f"the default; nothing published in {state_dir}", explicit)
