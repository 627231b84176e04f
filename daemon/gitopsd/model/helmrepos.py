"""Helm chart repositories of the fleet file and the rule that matches a chart URL to one.

A Helm repository is either an HTTP(S) chart repository (an ``index.yaml``
beside the packaged charts) or an OCI registry path (``oci://host/path``).
A registry without TLS (a loopback or lab registry) is marked ``plain_http``.
Chart dependencies and ``chart:`` sources name them by URL or by name; the
credentials are file names, never their contents. Nothing here reads files.
"""

from __future__ import annotations

from dataclasses import dataclass

OCI_SCHEME = "oci://"


@dataclass(frozen=True)
class HelmRepository:
    """One entry of the fleet file's ``helmRepositories``."""

    name: str
    url: str
    username_file: str = ""
    password_file: str = ""
    ca_file: str = ""
    insecure_skip_tls_verify: bool = False
    plain_http: bool = False

    @property
    def oci(self) -> bool:
        return self.url.startswith(OCI_SCHEME)


def normalized_chart_url(url: str) -> str:
    """URL without a trailing slash and with a lower-case scheme, for comparison."""
    scheme, sep, rest = url.strip().partition("://")
    if not sep:
        return url.strip().rstrip("/")
    return f"{scheme.lower()}://{rest.rstrip('/')}"


def find_helm_repository(repos: tuple[HelmRepository, ...], url: str) -> HelmRepository | None:
    """The repository whose URL is URL, or for an OCI chart reference, the longest URL it starts
    with; None when no entry matches."""
    want = normalized_chart_url(url)
    best: HelmRepository | None = None
    for repo in repos:
        have = normalized_chart_url(repo.url)
        if want == have:
            return repo
        if repo.oci and want.startswith(have + "/") and (
                best is None or len(have) > len(normalized_chart_url(best.url))):
            best = repo
    return best
