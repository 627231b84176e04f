"""The published API address and token file, and how the client commands choose a daemon."""

from __future__ import annotations

import argparse
import os
import stat
from pathlib import Path

import pytest

from gitopsd.cli.endpoint import DEFAULT_SERVER, find_daemon
from gitopsd.edges.api.endpoint import (
    Endpoint,
    client_url,
    ensure_token,
    publish,
    read_endpoint,
    withdraw,
)


def args(**given: str | None) -> argparse.Namespace:
    base: dict[str, str | None] = {"server": None, "api_token_file": None, "config": None,
                                   "state_dir": None}
    base.update(given)
    return argparse.Namespace(**base)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("GITOPSD_STATE_DIR", "STATE_DIRECTORY", "GITOPSD_CONFIG", "GITOPSD_API_TOKEN_FILE",
                "CREDENTIALS_DIRECTORY", "GITOPSD_SERVER"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.mark.parametrize(("host", "url"), [
    ("127.0.0.1", "http://127.0.0.1:9"), ("0.0.0.0", "http://127.0.0.1:9"),  # noqa: S104
    ("::", "http://[::1]:9"), ("::1", "http://[::1]:9"), ("10.1.2.3", "http://10.1.2.3:9")])
def test_client_url_reaches_a_bind_all_address_on_loopback(host: str, url: str) -> None:
    """A server bound to every address is called on loopback; IPv6 hosts get brackets."""
    assert client_url(host, 9) == url


def test_publish_read_withdraw(tmp_path: Path) -> None:
    """The endpoint round-trips with an absolute token path, and only its own process removes it."""
    publish(tmp_path, Endpoint("http://127.0.0.1:9", "relative-token", 4242))
    found = read_endpoint(tmp_path)
    assert found == Endpoint("http://127.0.0.1:9", os.path.abspath("relative-token"), 4242)
    assert stat.S_IMODE((tmp_path / "api.json").stat().st_mode) == 0o644
    withdraw(tmp_path, 1)
    assert read_endpoint(tmp_path) is not None
    withdraw(tmp_path, 4242)
    assert read_endpoint(tmp_path) is None


def test_ensure_token_is_private_and_kept(tmp_path: Path) -> None:
    """A new token file is 0600 and random; an existing one is kept and narrowed to 0600."""
    path = ensure_token(tmp_path)
    token = path.read_text().strip()
    assert len(token) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o644)
    assert ensure_token(tmp_path) == path
    assert path.read_text().strip() == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_find_daemon_order(tmp_path: Path) -> None:
    """--server wins; else the address published where the fleet's stateDir points; else its listen."""
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("fleet: t\nsettings: {stateDir: st, listen: '127.0.0.1:9191'}\n")
    assert find_daemon(args(server="http://h:1")).server == "http://h:1"
    by_listen = find_daemon(args(config=str(fleet)))
    assert (by_listen.server, by_listen.token_file) == ("http://127.0.0.1:9191", "")
    (tmp_path / "st").mkdir()
    publish(tmp_path / "st", Endpoint("http://127.0.0.1:7777", str(tmp_path / "st" / "tok"), 1))
    found = find_daemon(args(config=str(fleet)))
    assert (found.server, found.token_file) == ("http://127.0.0.1:7777",
                                                str(tmp_path / "st" / "tok"))
    explicit = find_daemon(args(config=str(fleet), api_token_file="/etc/tok"))
    assert explicit.token_file == "/etc/tok"
    assert find_daemon(args(state_dir=str(tmp_path / "st"))).server == "http://127.0.0.1:7777"
    assert find_daemon(args()).server == DEFAULT_SERVER


def test_a_broken_fleet_file_does_not_hide_the_daemon(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A fleet file being edited falls back to the default state directory's published address."""
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("fleet: [broken\n")
    state = tmp_path / "state"
    state.mkdir()
    monkeypatch.setenv("STATE_DIRECTORY", str(state))
    publish(state, Endpoint("http://127.0.0.1:6666", "", 1))
    assert find_daemon(args(config=str(fleet))).server == "http://127.0.0.1:6666"
    assert find_daemon(args()).token() == ""
