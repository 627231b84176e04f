"""Repository URL rules shared by config, the Git edge and the engine (model/giturls)."""

from __future__ import annotations

import re

import pytest

from gitopsd.model.giturls import (
    SCP_URL,
    parse_git_url,
    repository_identity,
    safe_url,
    same_repository,
    url_secret,
)


@pytest.mark.parametrize(("url", "transport", "identity"), [
    ("ssh://git@git.example.com/org/env.git", "ssh", "git.example.com/org/env"),
    ("ssh://git@git.example.com:2222/org/env", "ssh", "git.example.com/org/env"),
    ("git@git.example.com:org/env.git", "ssh", "git.example.com/org/env"),
    ("https://Git.Example.com/org/env/", "https", "git.example.com/org/env"),
    ("file:///srv/git/env.git", "file", "/srv/git/env"),
    ("/srv/git/env", "file", "/srv/git/env"),
])
def test_git_urls_parse(url: str, transport: str, identity: str) -> None:
    """Every accepted URL form parses, and spellings of one repository share an identity."""
    parsed = parse_git_url(url)
    assert (parsed.transport, parsed.identity) == (transport, identity)


@pytest.mark.parametrize(("url", "reason"), [
    ("", "must not be empty"),
    ("ftp://h/x", "unsupported URL scheme 'ftp'"),
    ("relative/path", "not a repository URL"),
    ("https://host", "no repository path"),
    ("file://h/x", "absolute local path"),
])
def test_git_urls_rejected(url: str, reason: str) -> None:
    """Unsupported schemes, relative paths and URLs without a path are refused."""
    with pytest.raises(ValueError, match=re.escape(reason)):
        parse_git_url(url)


@pytest.mark.parametrize(("url", "safe", "secret"), [
    ("https://github.com/org/env.git", "https://github.com/org/env.git", ""),
    ("https://user:tok3n@github.com/org/env.git", "https://user@github.com/org/env.git", "tok3n"),
    ("https://tok3n@github.com/org/env.git", "https://github.com/org/env.git", "tok3n"),
    ("ssh://git@host:2222/env.git", "ssh://git@host:2222/env.git", ""),
    ("ssh://git:pw@host/env.git", "ssh://git@host/env.git", "pw"),
    ("git@github.com:org/env.git", "git@github.com:org/env.git", ""),
    ("/srv/git/env.git", "/srv/git/env.git", ""),
])
def test_safe_url_removes_secrets(url: str, safe: str, secret: str) -> None:
    """safe_url drops passwords and lone HTTP tokens; url_secret finds exactly that part."""
    assert safe_url(url) == safe
    assert url_secret(url) == secret


@pytest.mark.parametrize("url", [
    "https://bot:s3cr3t@h.example/o/r",
    "https://s3cr3t@h.example/o/r",
    "http://bot:s3cr3t@h.example:8080/o/r.git",
    "ssh://git:s3cr3t@h.example/o/r.git",
])
def test_credentials_never_survive_safe_url(url: str) -> None:
    """No password or lone HTTP token is left in a URL made safe; host and path are kept."""
    safe = safe_url(url)
    assert "s3cr3t" not in safe
    assert "h.example" in safe
    assert safe.endswith(("/o/r", "/o/r.git"))


@pytest.mark.parametrize(("a", "b"), [
    ("git@h.example:o/r.git", "https://h.example/o/r"),
    ("ssh://git@h.example/o/r.git", "https://h.example/o/r/"),
    ("ssh://git@h.example:2222/o/r", "git@h.example:o/r"),
    ("https://bot:s3cr3t@h.example/o/r.git", "https://h.example/o/r"),
    ("https://H.Example/O/R", "git@h.example:o/r.git"),
    ("git://h.example/o/r.git", "https://h.example/o/r"),
    ("git+ssh://git@h.example/o/r", "git@h.example:o/r.git"),
    ("file:///srv/git/r.git", "/srv/git/r"),
])
def test_spellings_of_one_repository_are_the_same(a: str, b: str) -> None:
    """ssh, scp-like and https spellings (with or without user, port, .git, case) match."""
    assert same_repository(a, b)
    assert same_repository(b, a)


@pytest.mark.parametrize(("a", "b"), [
    ("git@h.example:o/r.git", "https://h.example/o/other"),
    ("git@h.example:o/r.git", "git@other.example:o/r.git"),
    ("https://h.example/o/r", "https://h.example/other/r"),
    ("/srv/git/R", "/srv/git/r"),
    ("not a url", "not a url"),
    ("", ""),
])
def test_different_repositories_are_not_the_same(a: str, b: str) -> None:
    """Another host, path or local path (case matters there), or no URL at all, never match."""
    assert not same_repository(a, b)


def test_identity_of_unparseable_url_is_none() -> None:
    """A string that names no repository has no identity."""
    assert repository_identity("ftp://h/x") is None
    assert repository_identity("relative/path") is None


def test_scp_pattern() -> None:
    """The scp-like form needs a host and a path, and is not a URL with a scheme."""
    match = SCP_URL.match("git@github.com:org/env.git")
    assert match is not None
    assert (match["user"], match["host"], match["path"]) == ("git", "github.com", "org/env.git")
    assert SCP_URL.match("github.com:org/env") is not None
    assert SCP_URL.match("https://github.com/org/env") is None
    assert SCP_URL.match("/srv/git/env") is None
