"""Fetches packaged Helm charts from chart repositories and OCI registries, through a cache.

A chart is pulled with the real ``helm`` binary (``helm repo update`` then
``helm pull`` for an HTTP(S) repository, ``helm pull oci://...`` for a
registry, with ``--plain-http`` for one marked ``plain_http``), so version
ranges resolve exactly as Helm resolves them. Each pull runs through the
guarded runner (timeout, scrubbed environment) in a private Helm home under
the state directory whose credential files exist only for that run. Pulled
packages are kept in ``<state>/helm/charts/<repository
digest>/<chart>-<version>.tgz``: per chart name and version, never per commit,
and never with a credential in the path or the file. This module must not
render charts or read a chart's content beyond its file name.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import re
import shutil
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import yaml

from gitopsd.edges.render.runner import Limits, run_tool
from gitopsd.errors import RenderError
from gitopsd.model.helmrepos import OCI_SCHEME, HelmRepository, normalized_chart_url

LABEL = "helm pull"
_EXACT = re.compile(r"^v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
_REPO_NAME = "source"


@dataclass(frozen=True)
class PulledChart:
    """A packaged chart in the cache: its path, resolved version and sha256 digest."""

    path: Path
    name: str
    version: str
    digest: str


def is_exact_version(version: str) -> bool:
    """Whether VERSION names one version rather than a range."""
    return bool(_EXACT.match(version.strip()))


def describe(repo: HelmRepository) -> str:
    """How messages name REPO: its fleet-file name and URL, or the URL alone."""
    return f"Helm repository '{repo.name}' ({repo.url})" if repo.name else \
        f"Helm repository {repo.url}"


def _read_secret(path: str, what: str, repo: HelmRepository) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise RenderError(f"{describe(repo)}: cannot read {what} {path!r}: {reason}") from None


class ChartFetcher:
    """Pulls charts into ``<state_dir>/helm/charts``; one pull per chart version at a time."""

    def __init__(self, state_dir: Path, *, helm: str | None = None,
                 limits: Limits | None = None) -> None:
        self.root = state_dir / "helm"
        self.helm = helm
        self.limits = limits or Limits()
        self._locks: dict[tuple[str, str, str], asyncio.Lock] = {}

    def cache_dir(self, repo: HelmRepository) -> Path:
        digest = hashlib.sha256(normalized_chart_url(repo.url).encode()).hexdigest()[:20]
        return self.root / "charts" / digest

    def cached(self, repo: HelmRepository, chart: str, version: str) -> PulledChart | None:
        """The cached package of CHART at the exact VERSION, or None."""
        if not is_exact_version(version):
            return None
        path = self.cache_dir(repo) / f"{chart}-{version.strip().lstrip('v')}.tgz"
        if not path.is_file():
            return None
        return PulledChart(path, chart, version.strip().lstrip("v"), _sha256(path))

    async def pull(self, binary: str, repo: HelmRepository, chart: str, version: str
                   ) -> PulledChart:
        """CHART at VERSION (an exact version, a range, or "" for the newest) from REPO."""
        found = self.cached(repo, chart, version)
        if found is not None:
            return found
        lock = self._locks.setdefault((repo.url, chart, version), asyncio.Lock())
        async with lock:
            found = self.cached(repo, chart, version)
            if found is not None:
                return found
            return await self._pull(binary, repo, chart, version)

    async def _pull(self, binary: str, repo: HelmRepository, chart: str, version: str
                    ) -> PulledChart:
        work = self.root / "work"
        work.mkdir(parents=True, exist_ok=True, mode=0o700)
        home = Path(tempfile.mkdtemp(prefix="pull-", dir=work))
        try:
            secrets = write_credentials(home, repo)
            env = _env(home)
            hide = {secrets[1]: "***"} if secrets[1] else {}
            hide.update({f"{home}/": "", str(home): "."})
            subject = f"chart {chart} version {version}" if version else \
                f"chart {chart} (newest version)"
            flags = _tls_flags(repo)
            if repo.oci:
                ref = f"{repo.url.rstrip('/')}/{chart}"
                argv = [binary, "pull", ref, "--destination", str(home / "out"), *flags]
            else:
                try:
                    await self._run([binary, "repo", "update", _REPO_NAME,
                                     "--fail-on-repo-update-fail"], "helm repo update", home, env,
                                    subject, hide)
                except RenderError as exc:
                    reason = await index_problem(repo, *secrets) or str(exc)
                    raise RenderError(f"{describe(repo)}: cannot read its index.yaml: "
                                      f"{reason}") from None
                argv = [binary, "pull", f"{_REPO_NAME}/{chart}", "--destination",
                        str(home / "out")]
            if version:
                argv += ["--version", version]
            (home / "out").mkdir()
            try:
                await self._run(argv, LABEL, home, env, subject, hide)
            except RenderError as exc:
                raise RenderError(f"{describe(repo)}: {exc}") from None
            packages = sorted((home / "out").glob("*.tgz"))
            if len(packages) != 1:
                raise RenderError(f"{describe(repo)}: pulling {subject} gave no chart package")
            got = packages[0]
            resolved = got.name[len(chart) + 1:-len(".tgz")] \
                if got.name.startswith(chart + "-") else ""
            if not resolved:
                raise RenderError(f"{describe(repo)}: pulling {subject} gave {got.name!r}, "
                                  f"not a package of {chart!r}")
            target = self.cache_dir(repo) / got.name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(got, target)
            return PulledChart(target, chart, resolved, _sha256(target))
        finally:
            shutil.rmtree(home, ignore_errors=True)

    async def _run(self, argv: list[str], label: str, home: Path, env: dict[str, str],
                   subject: str, hide: dict[str, str]) -> None:
        """Run ARGV; a failure's message has every secret of HIDE masked."""
        try:
            await run_tool(argv, label=label, subject=subject, home=home, env=env,
                           limits=self.limits, replacements=hide)
        except RenderError as exc:
            text = str(exc)
            for secret, mask in hide.items():
                if secret and not secret.startswith("/"):
                    text = text.replace(secret, mask)
            raise RenderError(text) from None


async def index_problem(repo: HelmRepository, username: str, password: str) -> str:
    """Why REPO's index.yaml cannot be read with these credentials, as HTTP says it;
    "" when the reason is not an HTTP status."""
    headers = {}
    if username or password:
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    context: ssl.SSLContext | bool = True
    if repo.insecure_skip_tls_verify:
        context = False
    elif repo.ca_file:
        context = ssl.create_default_context(cafile=repo.ca_file)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session, \
                session.get(f"{repo.url}/index.yaml", headers=headers, ssl=context,
                            allow_redirects=False) as response:
            if response.status in (401, 403):
                refused = "were refused" if headers else "are required"
                return f"HTTP {response.status} {response.reason}: the credentials {refused}"
            if response.status >= 400:
                return f"HTTP {response.status} {response.reason}"
    except (aiohttp.ClientError, TimeoutError, OSError, ssl.SSLError) as exc:
        return type(exc).__name__
    return ""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def _env(home: Path) -> dict[str, str]:
    return {
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
        "HELM_REPOSITORY_CONFIG": str(home / "repositories.yaml"),
        "HELM_REPOSITORY_CACHE": str(home / "cache" / "repository"),
        "HELM_REGISTRY_CONFIG": str(home / "registry.json"),
        "HELM_NO_PLUGINS": "1",
    }


def _tls_flags(repo: HelmRepository) -> list[str]:
    """Helm's transport flags for an OCI pull from REPO."""
    flags = ["--plain-http"] if repo.plain_http else []
    if repo.ca_file:
        flags += ["--ca-file", repo.ca_file]
    if repo.insecure_skip_tls_verify:
        flags.append("--insecure-skip-tls-verify")
    return flags


def write_credentials(home: Path, repo: HelmRepository) -> tuple[str, str]:
    """The repository (or registry) configuration Helm reads, written 0600 into HOME;
    returns the user name and password written, so that messages can mask them."""
    username = _read_secret(repo.username_file, "usernameFile", repo) \
        if repo.username_file else ""
    password = _read_secret(repo.password_file, "passwordFile", repo) \
        if repo.password_file else ""
    if repo.oci:
        auths = {}
        if username or password:
            host = urlsplit("https://" + repo.url[len(OCI_SCHEME):]).netloc
            token = base64.b64encode(f"{username}:{password}".encode()).decode()
            auths[host] = {"auth": token}
        _private(home / "registry.json", json.dumps({"auths": auths}))
    else:
        entry: dict[str, object] = {"name": _REPO_NAME, "url": repo.url}
        if username or password:
            entry.update(username=username, password=password, pass_credentials_all=False)
        if repo.ca_file:
            entry["caFile"] = repo.ca_file
        if repo.insecure_skip_tls_verify:
            entry["insecure_skip_tls_verify"] = True
        _private(home / "repositories.yaml",
                 yaml.safe_dump({"apiVersion": "", "repositories": [entry]}))
    return username, password


def _private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
