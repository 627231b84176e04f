"""The fleet file's ``helmRepositories``: chart repositories and OCI registries with credentials.

Each entry has a ``name`` (how ``chart:`` sources name it), a ``url``
(``https://``/``http://`` for a chart repository with an ``index.yaml``,
``oci://host/path`` for a registry), and optional ``usernameFile``,
``passwordFile``, ``caFile``, ``insecureSkipTLSVerify`` and, for a registry
that speaks HTTP without TLS, ``plainHTTP``. This module checks
the entries and names the credential files; it never reads a credential and
never puts one in a message.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from urllib.parse import urlsplit

from yaml.nodes import Node

from gitopsd.config.reader import Reader
from gitopsd.config.rules import check_name
from gitopsd.model.helmrepos import OCI_SCHEME, HelmRepository

HELM_REPOSITORY_FIELDS = ("name", "url", "usernameFile", "passwordFile", "caFile",
                          "insecureSkipTLSVerify", "plainHTTP")
_SCHEMES = ("https", "http", "oci")

Credential = Callable[[Node, str, str], str]
"""Resolves a credential file name at (node, field path, what it is) and reports it if unreadable."""


def check_chart_url(url: str) -> str | None:
    """Why URL cannot name a Helm repository, or None."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return f"not a URL: {exc}"
    if parts.scheme not in _SCHEMES:
        return "a Helm repository URL starts with https://, http:// or oci://"
    if not parts.hostname:
        return "the URL names no host"
    if parts.username or parts.password:
        return "the URL contains credentials; put them in usernameFile and passwordFile"
    if parts.query or parts.fragment:
        return "the URL must not have a query or fragment"
    return None


def read_helm_repositories(r: Reader, node: Node | None, credential: Credential,
                           git_names: Collection[str] = ()) -> tuple[HelmRepository, ...]:
    """The ``helmRepositories`` list at NODE, every problem reported on R; a name may not be
    one of GIT_NAMES (the Git repositories'), so that a name always says which kind it is."""
    if node is None:
        return ()
    out: list[HelmRepository] = []
    seen: dict[str, str] = {}
    for i, item in enumerate(r.sequence(node, "helmRepositories") or []):
        p = f"helmRepositories[{i}]"
        f = r.mapping(item, p, HELM_REPOSITORY_FIELDS, required=("name", "url"))
        if f is None:
            continue
        name = (r.string(f["name"], f"{p}.name") or "") if "name" in f else ""
        if name:
            if reason := check_name(name, "Helm repository"):
                r.issue(f["name"], f"{p}.name", reason)
            elif name in git_names:
                r.issue(f["name"], f"{p}.name", f"'{name}' is already the name of a Git "
                        "repository (repositories)")
            elif name in seen:
                r.issue(f["name"], f"{p}.name", f"'{name}' is already the name of {seen[name]}")
            seen.setdefault(name, p)
        url = (r.string(f["url"], f"{p}.url") or "") if "url" in f else ""
        if url and (reason := check_chart_url(url)):
            r.issue(f["url"], f"{p}.url", reason)
        files = {key: credential(f[key], f"{p}.{key}", what) for key, what in (
            ("usernameFile", "username file"), ("passwordFile", "password file"),
            ("caFile", "CA file")) if key in f}
        if ("usernameFile" in files) != ("passwordFile" in files):
            given = "usernameFile" if "usernameFile" in files else "passwordFile"
            r.issue(f[given], f"{p}.{given}", "usernameFile and passwordFile go together")
        if "passwordFile" in files and url.startswith("http://"):
            r.issue(f["passwordFile"], f"{p}.passwordFile",
                    "a password would travel in clear text over http://; use https://")
        insecure = False
        if "insecureSkipTLSVerify" in f:
            insecure = bool(r.boolean(f["insecureSkipTLSVerify"], f"{p}.insecureSkipTLSVerify"))
        plain = False
        if "plainHTTP" in f:
            plain = bool(r.boolean(f["plainHTTP"], f"{p}.plainHTTP"))
            if plain and (reason := _plain_http_problem(url, f)):
                r.issue(f["plainHTTP"], f"{p}.plainHTTP", reason)
        out.append(HelmRepository(
            name=name, url=url.rstrip("/"), username_file=files.get("usernameFile", ""),
            password_file=files.get("passwordFile", ""), ca_file=files.get("caFile", ""),
            insecure_skip_tls_verify=insecure, plain_http=plain))
    return tuple(out)


def _plain_http_problem(url: str, fields: Collection[str]) -> str | None:
    """Why ``plainHTTP: true`` cannot go with URL and the entry's other FIELDS, or None."""
    if url and not url.startswith(OCI_SCHEME):
        return ("plainHTTP is for oci:// registries; a chart repository's URL says http:// "
                "or https:// itself")
    if "passwordFile" in fields:
        return "a password would travel in clear text over plain HTTP; serve the registry " \
               "over https"
    tls = [key for key in ("caFile", "insecureSkipTLSVerify") if key in fields]
    if tls:
        return f"plain HTTP uses no TLS, so {' and '.join(tls)} would not apply"
    return None
