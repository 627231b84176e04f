"""Webhook verification and payload parsing, and the API's credential helpers, as pure functions."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

import pytest

from gitopsd.edges.api.auth import bearer_token, hmac_sha256, secret_equals, signature_matches
from gitopsd.edges.api.webhooks import (
    PayloadError,
    Push,
    Verdict,
    authenticate,
    decode_json,
    generic_push,
    github_push,
    gitlab_push,
)

BODY = b'{"repo": "deploy"}'
SECRET = "s3cret"
GOOD = "sha256=" + hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()


def test_hmac_sha256_matches_the_standard_library() -> None:
    """hmac_sha256 is the sha256= prefix plus the hex HMAC-SHA256 of the body."""
    assert hmac_sha256(SECRET, BODY) == GOOD


@pytest.mark.parametrize(("header", "secret", "body", "expected"), [
    (GOOD, SECRET, BODY, True),
    (GOOD.upper().replace("SHA256=", "sha256="), SECRET, BODY, True),
    (" " + GOOD + " ", SECRET, BODY, True),
    (GOOD, SECRET, BODY + b" ", False),
    (GOOD, "other", BODY, False),
    (GOOD, "", BODY, False),
    (GOOD[len("sha256="):], SECRET, BODY, False),
    ("sha1=" + GOOD[len("sha256="):], SECRET, BODY, False),
    ("sha256=", SECRET, BODY, False),
    ("sha256=zz\u00e9", SECRET, BODY, False),
    (None, SECRET, BODY, False),
    ("", SECRET, BODY, False),
])
def test_signature_matches(header: str | None, secret: str, body: bytes, expected: bool) -> None:
    """Only sha256=<hex HMAC of exactly this body under this non-empty secret> is accepted."""
    assert signature_matches(header, secret, body) is expected


@pytest.mark.parametrize(("header", "expected"), [
    ("Bearer abc", "abc"),
    ("bearer  abc ", "abc"),
    ("BEARER abc", "abc"),
    ("Bearer", None),
    ("Bearer ", None),
    ("Basic abc", None),
    ("abc", None),
    ("", None),
    (None, None),
])
def test_bearer_token(header: str | None, expected: str | None) -> None:
    """The token is the credentials of a Bearer Authorization header, any scheme case."""
    assert bearer_token(header) == expected


@pytest.mark.parametrize(("given", "expected", "result"), [
    ("abc", "abc", True),
    ("abc", "abd", False),
    ("ab", "abc", False),
    ("", "", False),
    ("x", "", False),
    ("é", "é", True),
])
def test_secret_equals(given: str, expected: str, result: bool) -> None:
    """Secrets compare equal only when identical and non-empty."""
    assert secret_equals(given, expected) is result


SECRETS = {"github": "gh", "generic": "gen", "deploy": "repo-a", "infra": "repo-b"}


@pytest.mark.parametrize(("provider", "secrets", "valid", "verdict"), [
    ("github", SECRETS, "gh", Verdict(True, True, None)),
    ("github", SECRETS, "repo-b", Verdict(True, True, "infra")),
    ("github", SECRETS, "gen", Verdict(True, False)),
    ("gitlab", SECRETS, "gh", Verdict(True, False)),
    ("gitlab", SECRETS, "repo-a", Verdict(True, True, "deploy")),
    ("gitlab", {"github": "gh"}, "gh", Verdict(False, False)),
    ("github", {"github": ""}, "", Verdict(False, False)),
    ("generic", {}, "x", Verdict(False, False)),
])
def test_authenticate(provider: str, secrets: Mapping[str, str], valid: str, verdict: Verdict) -> None:
    """The provider's secret authorizes any repository; a repository's secret scopes to it; others fail."""
    assert authenticate(provider, secrets, lambda s: s == valid) == verdict


def test_authenticate_tries_every_secret() -> None:
    """Every configured secret is checked, so timing does not reveal which one matched."""
    seen: list[str] = []

    def matches(secret: str) -> bool:
        seen.append(secret)
        return secret == "gh"

    authenticate("github", SECRETS, matches)
    assert sorted(seen) == ["gh", "repo-a", "repo-b"]


GITHUB = {"ref": "refs/heads/main",
          "repository": {"clone_url": "https://h/o/r.git", "ssh_url": "git@h:o/r.git",
                         "html_url": "https://h/o/r", "git_url": "git://h/o/r.git"}}


@pytest.mark.parametrize(("event", "payload", "push"), [
    ("push", GITHUB, Push(("https://h/o/r.git", "git@h:o/r.git", "https://h/o/r", "git://h/o/r.git"),
                          "refs/heads/main")),
    ("push", {"repository": {"clone_url": "https://h/o/r.git", "ssh_url": "https://h/o/r.git"}},
     Push(("https://h/o/r.git",), None)),
    ("ping", GITHUB, None),
    ("pull_request", GITHUB, None),
])
def test_github_push(event: str, payload: dict[str, Any], push: Push | None) -> None:
    """GitHub push events yield the repository URLs (deduplicated, clone URL first) and the ref."""
    assert github_push(event, payload) == push


GITLAB = {"object_kind": "push", "ref": "refs/heads/dev",
          "project": {"git_http_url": "https://gl/o/r.git", "git_ssh_url": "git@gl:o/r.git",
                      "web_url": "https://gl/o/r"},
          "repository": {"git_http_url": "https://gl/o/r.git", "homepage": "https://gl/o/r"}}


@pytest.mark.parametrize(("event", "payload", "push"), [
    ("Push Hook", GITLAB, Push(("https://gl/o/r.git", "git@gl:o/r.git", "https://gl/o/r"), "refs/heads/dev")),
    ("Tag Push Hook", {**GITLAB, "object_kind": "tag_push", "ref": "refs/tags/v1"},
     Push(("https://gl/o/r.git", "git@gl:o/r.git", "https://gl/o/r"), "refs/tags/v1")),
    ("", {"object_kind": "push", "repository": {"url": "git@gl:o/r.git"}}, Push(("git@gl:o/r.git",), None)),
    ("Merge Request Hook", {**GITLAB, "object_kind": "merge_request"}, None),
])
def test_gitlab_push(event: str, payload: dict[str, Any], push: Push | None) -> None:
    """GitLab push and tag push events yield the project URLs and the ref; other events yield None."""
    assert gitlab_push(event, payload) == push


@pytest.mark.parametrize(("payload", "push"), [
    ({"repo": "deploy", "ref": "main"}, Push(("deploy",), "main")),
    ({"repo": "https://h/o/r.git"}, Push(("https://h/o/r.git",), None)),
    ({"repo": "deploy", "ref": 7}, Push(("deploy",), None)),
])
def test_generic_push(payload: dict[str, Any], push: Push) -> None:
    """A generic push names one repository (name or URL) and optionally a ref."""
    assert generic_push(payload) == push


@pytest.mark.parametrize(("parse", "payload"), [
    (lambda p: github_push("push", p), {"ref": "x"}),
    (lambda p: github_push("push", p), {"repository": "r"}),
    (lambda p: github_push("push", p), {"repository": {"clone_url": ""}}),
    (lambda p: gitlab_push("Push Hook", p), {"object_kind": "push", "project": {}}),
    (generic_push, {"repo": ""}),
    (generic_push, {"repo": ["a"]}),
])
def test_malformed_payloads_raise(parse: Any, payload: dict[str, Any]) -> None:
    """A verified push without a usable repository is a PayloadError, not a crash."""
    with pytest.raises(PayloadError):
        parse(payload)


@pytest.mark.parametrize(("body", "content_type", "expected"), [
    (b'{"a": 1}', "application/json", {"a": 1}),
    (b'{"a": 1}', "application/octet-stream", {"a": 1}),
    (b"payload=%7B%22a%22%3A+2%7D", "application/x-www-form-urlencoded", {"a": 2}),
])
def test_decode_json(body: bytes, content_type: str, expected: dict[str, Any]) -> None:
    """JSON bodies and GitHub's form-encoded payload field decode to the same object."""
    assert decode_json(body, content_type) == expected


@pytest.mark.parametrize(("body", "content_type"), [
    (b"not json", "application/json"),
    (b"[1, 2]", "application/json"),
    (b"\xff\xfe", "application/json"),
    (b"other=1", "application/x-www-form-urlencoded"),
    (json.dumps("text").encode(), "application/json"),
])
def test_decode_json_rejects(body: bytes, content_type: str) -> None:
    """Bodies that are not a JSON object raise PayloadError."""
    with pytest.raises(PayloadError):
        decode_json(body, content_type)
