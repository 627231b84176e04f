"""Value rules of the fleet file: names, namespaces, paths, sync options, listen addresses.

Each check returns a one-line reason (or None when the value is fine), so the
callers decide where the issue is reported. No I/O here.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from gitopsd.config.yamlpos import suggest
from gitopsd.model.syncoptions import APP_OPTIONS

__all__ = [
    "check_cluster_name",
    "check_fleet_name",
    "check_kube_version",
    "check_label",
    "check_listen",
    "check_name",
    "check_namespace",
    "check_repo_path",
    "check_server_url",
    "check_sync_option",
]

_DNS_LABEL = re.compile(r"^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$")
_NAME = re.compile(r"^[a-z0-9](?:[-a-z0-9.]{0,61}[a-z0-9])?$")
_CLUSTER_NAME = re.compile(r"^[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")

def check_name(name: str, what: str) -> str | None:
    """Fleet, application and repository names: lowercase DNS-style, at most 63 characters."""
    if _NAME.match(name):
        return None
    return (f"invalid {what} name '{name}': use at most 63 lowercase letters, digits, '-' "
            "or '.', starting and ending with a letter or digit")


def check_fleet_name(name: str) -> str | None:
    """The fleet name becomes a label value and must be a DNS label."""
    if _DNS_LABEL.match(name):
        return None
    return (f"invalid fleet name '{name}': use at most 63 lowercase letters, digits or '-', "
            "starting and ending with a letter or digit")


def check_cluster_name(name: str) -> str | None:
    """Cluster names may also hold capitals and '_' (kubeconfig context style)."""
    if _CLUSTER_NAME.match(name):
        return None
    return (f"invalid cluster name '{name}': use at most 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit")


def check_namespace(namespace: str) -> str | None:
    if _DNS_LABEL.match(namespace):
        return None
    return (f"invalid namespace '{namespace}': a namespace is at most 63 lowercase letters, "
            "digits or '-', starting and ending with a letter or digit")


def check_repo_path(path: str) -> str | None:
    """A path inside a repository: relative and not escaping it."""
    if path.startswith("/"):
        return f"path '{path}' must be relative to the repository root"
    if ".." in path.split("/"):
        return f"path '{path}' must not leave the repository ('..')"
    return None


def check_sync_option(option: str) -> str | None:
    """Argo CD sync option ``Name=value``: a known name and an accepted value.

    The names and values are ``gitopsd.model.syncoptions``' (the ones the planner
    parses); the spelling must match exactly, as the fleet file's JSON Schema asks.
    """
    name, sep, value = option.partition("=")
    if name not in APP_OPTIONS:
        return f"unknown sync option '{name}'{suggest(name, APP_OPTIONS)}"
    if not sep:
        return f"sync option '{name}' needs a value ({name}={APP_OPTIONS[name][0]})"
    allowed = APP_OPTIONS[name]
    if value not in allowed:
        return f"sync option '{name}' accepts {', '.join(allowed)}, not '{value}'"
    return None


def check_server_url(url: str) -> str | None:
    """Why URL is not an API server URL (``https://host[:port][/path]``), or None."""
    try:
        parts = urlsplit(url.strip())
        _ = parts.port  # raises on a bad port
    except ValueError:
        return "not a URL with a valid port"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "must be an https:// (or http://) URL with a host"
    if parts.username or parts.password or parts.query or parts.fragment:
        return "must not carry user information, a query or a fragment"
    return None


def check_listen(listen: str) -> str | None:
    """``host:port``, ``:port`` or ``[v6]:port`` with a port in 1..65535."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        return f"listen address '{listen}' must be host:port (e.g. 127.0.0.1:8088)"
    if host.startswith("[") != host.endswith("]"):
        return f"listen address '{listen}' has an unbalanced IPv6 bracket"
    return None


_LABEL_NAME = re.compile(r"^[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?$")
_KUBE_VERSION = re.compile(r"^v?\d+\.\d+(?:\.\d+)?$")


def check_label(key: str, value: str) -> str | None:
    """A Kubernetes label: ``[prefix/]name`` key and a value of at most 63 characters."""
    prefix, _, name = key.rpartition("/")
    if (prefix and not _DNS_SUBDOMAIN.match(prefix)) or not _LABEL_NAME.match(name):
        return f"invalid label key '{key}'"
    if value and not _LABEL_NAME.match(value):
        return (f"invalid value for label '{key}': use at most 63 letters, digits, '-', '_' "
                "or '.', starting and ending with a letter or digit")
    return None


def check_kube_version(version: str) -> str | None:
    if _KUBE_VERSION.match(version):
        return None
    return f"invalid Kubernetes version '{version}' (expected e.g. 1.31 or v1.31.2)"
