"""Pure helpers of the Git edge: transports, cache names, ref resolution, known_hosts lookup."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from gitopsd.edges.git.cache import candidates, fold_peeled, refspec, resolve
from gitopsd.edges.git.failures import scrub
from gitopsd.edges.git.known_hosts import lists_host
from gitopsd.edges.git.urls import cache_name, endpoint, is_full_sha


@pytest.mark.parametrize(("url", "transport", "host_port", "shallow"), [
    ("ssh://git@127.0.0.1:2222/env.git", "ssh", "127.0.0.1:2222", True),
    ("ssh://git@example.com/env.git", "ssh", "example.com:22", True),
    ("git@example.com:org/env.git", "ssh", "example.com:22", True),
    ("https://example.com/org/env.git", "https", "example.com:22", True),
    ("file:///srv/env.git", "local", ":22", False),
    ("/srv/env.git", "local", ":22", False),
])
def test_endpoint_classifies_urls(url: str, transport: str, host_port: str,
                                  shallow: bool) -> None:
    """Transports are recognised, and only network ones may fetch shallow."""
    ep = endpoint(url)
    assert (ep.transport, ep.host_port, ep.is_shallow_capable) == (transport, host_port, shallow)


def test_cache_names_are_readable_distinct_and_secret_free() -> None:
    """Cache names keep a readable stem, differ per URL and never contain a token."""
    a = cache_name("https://tok3n@example.com/org/env.git")
    b = cache_name("https://example.com/other/env.git")
    assert a.startswith("env-")
    assert b.startswith("env-")
    assert a != b
    assert "tok3n" not in a
    assert cache_name("/").startswith("repo-")


def test_full_sha_detection() -> None:
    """Only 40 hex digits count as a full SHA."""
    assert is_full_sha("a" * 40)
    assert is_full_sha("ABCDEF0123" * 4)
    assert not is_full_sha("a" * 39)
    assert not is_full_sha("main")


def test_refs_resolve_branch_before_tag() -> None:
    """Short names try the branch, then the tag; full names and HEAD are exact."""
    heads = {"refs/heads/x": "1" * 40, "refs/tags/x": "2" * 40, "HEAD": "3" * 40}
    assert candidates("x") == ["refs/heads/x", "refs/tags/x"]
    assert resolve(heads, "x") == ("refs/heads/x", "1" * 40)
    assert resolve(heads, "refs/tags/x") == ("refs/tags/x", "2" * 40)
    assert resolve(heads, "HEAD") == ("HEAD", "3" * 40)
    assert resolve(heads, "y") is None
    assert refspec("HEAD") == "+HEAD:refs/gitopsd/HEAD"
    assert refspec("refs/heads/x") == "+refs/heads/x:refs/heads/x"


def test_fold_peeled_replaces_annotated_tags_by_their_commit() -> None:
    """A listing's ``^{}`` entries replace the tag object id and disappear."""
    folded = fold_peeled([("refs/tags/v1", "a" * 40), ("refs/tags/v1^{}", "b" * 40),
                          ("refs/tags/v2", "c" * 40)])
    assert folded == {"refs/tags/v1": "b" * 40, "refs/tags/v2": "c" * 40}


def _hashed(name: str) -> str:
    salt = b"0123456789abcdef0123"
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


@pytest.mark.parametrize(("line", "host", "port", "listed"), [
    ("[127.0.0.1]:2222 ssh-ed25519 AAAA", "127.0.0.1", 2222, True),
    ("[127.0.0.1]:2222 ssh-ed25519 AAAA", "127.0.0.1", 2223, False),
    ("127.0.0.1 ssh-ed25519 AAAA", "127.0.0.1", 22, True),
    ("127.0.0.1 ssh-ed25519 AAAA", "127.0.0.1", 2222, False),
    ("a.example,b.example ssh-ed25519 AAAA", "b.example", 22, True),
    ("*.example,!bad.example ssh-ed25519 AAAA", "bad.example", 22, False),
    ("*.example ssh-ed25519 AAAA", "git.example", 22, True),
    ("@revoked git.example ssh-ed25519 AAAA", "git.example", 22, False),
    ("@cert-authority git.example ssh-ed25519 AAAA", "git.example", 22, True),
    ("# [127.0.0.1]:2222 ssh-ed25519 AAAA", "127.0.0.1", 2222, False),
    (f"{_hashed('[10.0.0.1]:2222')} ssh-ed25519 AAAA", "10.0.0.1", 2222, True),
    (f"{_hashed('[10.0.0.1]:2222')} ssh-ed25519 AAAA", "10.0.0.2", 2222, False),
])
def test_known_hosts_lookup(line: str, host: str, port: int, listed: bool) -> None:
    """lists_host tells an unknown host from a listed one (plain, patterned, hashed)."""
    assert lists_host(line + "\n", host, port) is listed


def test_scrub_masks_url_secrets_and_tokens() -> None:
    """scrub puts a message on one line with the URL's password and known secrets masked."""
    url = "https://u:pw@h/r.git"
    text = scrub(f"failed for {url}\nwith token ghp_x", url, ["ghp_x"])
    assert text == "failed for https://u@h/r.git with token ***"
