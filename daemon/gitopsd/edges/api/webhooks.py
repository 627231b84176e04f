"""Push webhooks from GitHub, GitLab and generic senders: verify, parse, trigger a poll.

A webhook only shortens the wait for the next poll; the poller stays the source
of truth, so a lost or refused webhook costs time, never correctness.

Secrets come from one mapping whose keys are a provider name (``github``,
``gitlab``, ``generic``) or a repository name from the fleet file:

- a provider's secret authenticates any push of that provider; the repository
  is found from the payload's URLs (GitHub ``clone_url``, ``ssh_url``,
  ``html_url``; GitLab ``git_http_url``, ``git_ssh_url``, ``web_url``; the
  generic ``repo`` field, a URL or a repository name);
- a repository's secret authenticates a push for that repository only: it
  triggers the repository by name, whatever the payload says.

Signatures are checked on the raw body before it is parsed. A missing or wrong
signature answers 401, no configured secret for the provider answers 403; the
rejection is logged with the provider and the peer address only, never with
the body, the signature or the secret. A verified push answers 202 with
``{"triggered": [repository names]}``. A push for a repository this fleet does
not know also answers 202 with an empty list: the sender proved it holds a
secret, and a non-2xx answer would only mark its delivery as failed.
Non-push events (GitHub ``ping``, issue events...) answer 202 with an
``ignored`` field naming the event.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import structlog
from aiohttp import web

from .auth import secret_equals, signature_matches
from .backend import ApiBackend, resolve

PROVIDERS = frozenset({"github", "gitlab", "generic"})

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Push:
    """A verified push: repository URLs or a name, tried in order until one matches, and the ref."""

    targets: tuple[str, ...]
    ref: str | None


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking a request against the configured secrets."""

    configured: bool
    accepted: bool
    repository: str | None = None  # set when a repository's own secret matched


class PayloadError(ValueError):
    """A verified webhook body is not the JSON shape its provider sends."""


def authenticate(provider: str, secrets: Mapping[str, str], matches: Callable[[str], bool]) -> Verdict:
    """Check the request with MATCHES against the provider's secret and every repository's secret.

    Every configured secret is tried (no early exit), the provider's secret first.
    """
    candidates: list[tuple[str | None, str]] = []
    if secrets.get(provider):
        candidates.append((None, secrets[provider]))
    candidates.extend((name, secret) for name, secret in sorted(secrets.items())
                      if name not in PROVIDERS and secret)
    if not candidates:
        return Verdict(configured=False, accepted=False)
    accepted: list[str | None] = [scope for scope, secret in candidates if matches(secret)]
    if not accepted:
        return Verdict(configured=True, accepted=False)
    return Verdict(configured=True, accepted=True, repository=accepted[0])


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PayloadError(f"{what} is not a JSON object")
    return value


def _strings(obj: Mapping[str, Any], keys: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str) and value and value not in out:
            out.append(value)
    return tuple(out)


def _ref(payload: Mapping[str, Any]) -> str | None:
    ref = payload.get("ref")
    return ref if isinstance(ref, str) and ref else None


def decode_json(body: bytes, content_type: str = "application/json") -> Mapping[str, Any]:
    """The JSON object in BODY; a form body's ``payload`` field is read the way GitHub sends it."""
    try:
        if content_type == "application/x-www-form-urlencoded":
            fields = parse_qs(body.decode("utf-8"), strict_parsing=False)
            payload = fields.get("payload")
            if not payload:
                raise PayloadError("form body has no payload field")
            value = json.loads(payload[0])
        else:
            value = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise PayloadError("body is not valid JSON") from None
    return _object(value, "body")


def github_push(event: str, payload: Mapping[str, Any]) -> Push | None:
    """The push in a GitHub delivery, or None for any other event."""
    if event != "push":
        return None
    repo = _object(payload.get("repository"), "repository")
    targets = _strings(repo, ("clone_url", "ssh_url", "html_url", "git_url"))
    if not targets:
        raise PayloadError("repository has no URL")
    return Push(targets, _ref(payload))


def gitlab_push(event: str, payload: Mapping[str, Any]) -> Push | None:
    """The push (branch or tag) in a GitLab delivery, or None for any other event."""
    kind = payload.get("object_kind") or payload.get("event_name")
    if kind not in ("push", "tag_push") and event not in ("Push Hook", "Tag Push Hook"):
        return None
    targets: tuple[str, ...] = ()
    for key in ("project", "repository"):
        if isinstance(payload.get(key), Mapping):
            targets += _strings(payload[key], ("git_http_url", "git_ssh_url", "web_url", "homepage", "url"))
    targets = tuple(dict.fromkeys(targets))
    if not targets:
        raise PayloadError("project has no URL")
    return Push(targets, _ref(payload))


def generic_push(payload: Mapping[str, Any]) -> Push:
    """The push in a generic delivery: ``{"repo": <name or URL>, "ref": <optional>}``."""
    repo = payload.get("repo")
    if not isinstance(repo, str) or not repo:
        raise PayloadError("repo is missing")
    return Push((repo,), _ref(payload))


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class WebhookHandlers:
    """The three webhook endpoints, bound to a backend and the configured secrets."""

    def __init__(self, backend: ApiBackend, secrets: Mapping[str, str]) -> None:
        self._backend = backend
        self._secrets = dict(secrets)

    def routes(self) -> list[web.RouteDef]:
        """Route definitions for ``/webhooks/github``, ``/webhooks/gitlab``, ``/webhooks/generic``."""
        return [
            web.post("/webhooks/github", self.github, name="webhooks.github"),
            web.post("/webhooks/gitlab", self.gitlab, name="webhooks.gitlab"),
            web.post("/webhooks/generic", self.generic, name="webhooks.generic"),
        ]

    async def github(self, request: web.Request) -> web.Response:
        """GitHub: ``X-Hub-Signature-256: sha256=<HMAC of the body>``; push events trigger a poll."""
        body = await request.read()
        header = request.headers.get("X-Hub-Signature-256")
        verdict = authenticate("github", self._secrets, lambda s: signature_matches(header, s, body))
        if refused := self._refusal("github", request, verdict, missing=header is None):
            return refused
        event = request.headers.get("X-GitHub-Event", "")
        try:
            push = github_push(event, decode_json(body, request.content_type))
        except PayloadError as exc:
            return _error(400, str(exc))
        return await self._answer("github", event, push, verdict)

    async def gitlab(self, request: web.Request) -> web.Response:
        """GitLab: ``X-Gitlab-Token`` equal to the secret; push and tag push events trigger a poll."""
        body = await request.read()
        header = request.headers.get("X-Gitlab-Token")
        verdict = authenticate("gitlab", self._secrets,
                               lambda s: header is not None and secret_equals(header, s))
        if refused := self._refusal("gitlab", request, verdict, missing=header is None):
            return refused
        event = request.headers.get("X-Gitlab-Event", "")
        try:
            push = gitlab_push(event, decode_json(body))
        except PayloadError as exc:
            return _error(400, str(exc))
        return await self._answer("gitlab", event, push, verdict)

    async def generic(self, request: web.Request) -> web.Response:
        """Generic: ``X-Gitopsd-Signature: sha256=<HMAC of the body>``, body ``{repo, ref}``."""
        body = await request.read()
        header = request.headers.get("X-Gitopsd-Signature")
        verdict = authenticate("generic", self._secrets, lambda s: signature_matches(header, s, body))
        if refused := self._refusal("generic", request, verdict, missing=header is None):
            return refused
        try:
            push = generic_push(decode_json(body))
        except PayloadError as exc:
            return _error(400, str(exc))
        return await self._answer("generic", "push", push, verdict)

    def _refusal(self, provider: str, request: web.Request, verdict: Verdict,
                 *, missing: bool) -> web.Response | None:
        if verdict.accepted:
            return None
        if not verdict.configured:
            log.warning("webhook refused", provider=provider, peer=request.remote,
                        reason="no secret configured")
            return _error(403, f"no webhook secret configured for {provider}")
        reason = "signature missing" if missing else "signature mismatch"
        log.warning("webhook refused", provider=provider, peer=request.remote, reason=reason)
        return _error(401, "invalid webhook signature")

    async def _answer(self, provider: str, event: str, push: Push | None, verdict: Verdict) -> web.Response:
        if push is None:
            log.debug("webhook ignored", provider=provider, provider_event=event)
            return web.json_response({"triggered": [], "ignored": event or "unknown"}, status=202)
        targets: Sequence[str] = (verdict.repository,) if verdict.repository else push.targets
        triggered: list[str] = []
        for target in targets:
            names = await resolve(self._backend.repo_push(target, push.ref))
            if names:
                triggered = list(dict.fromkeys(names))
                break
        log.info("webhook push", provider=provider, ref=push.ref, triggered=triggered)
        return web.json_response({"triggered": triggered}, status=202)
