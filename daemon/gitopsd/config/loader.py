"""Fleet file → validated ``Fleet``: the top level, settings, clusters and repositories.

Applications are read by ``gitopsd.config.applications``. Every problem in the
file is collected and raised once as ``ConfigError`` with file, line and field
path. Besides the fleet file, this module only opens the files it names:
kubeconfigs (to learn each cluster's API URL) and, when ``check_files`` is
set, credential files to see that they can be opened; the ``health`` section's
files are read by ``gitopsd.config.health``. It never reads a
credential's content and never puts one in a message.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from yaml.nodes import MappingNode, Node, ScalarNode

from gitopsd.config.applications import AppContext, read_applications
from gitopsd.config.argoclaims import read_aliases, read_servers
from gitopsd.config.coordination import check_coordination_cluster, parse_coordination
from gitopsd.config.health import read_health
from gitopsd.config.helmrepos import read_helm_repositories
from gitopsd.config.kubeconfig import KubeconfigProblem, server_of
from gitopsd.config.notifications import read_notifications
from gitopsd.config.projects import project_names, read_projects
from gitopsd.config.reader import Reader
from gitopsd.config.rules import (
    check_cluster_name,
    check_fleet_name,
    check_kube_version,
    check_label,
    check_listen,
    check_name,
    check_namespace,
)
from gitopsd.config.verify import read_verify
from gitopsd.config.yamlpos import IssueLog, aliases_of, compose_documents, is_null
from gitopsd.errors import ConfigError, ConfigIssue
from gitopsd.model.fleet import Bastion, Cluster, Fleet, Repository, Settings
from gitopsd.model.giturls import parse_git_url

__all__ = [
    "BASTION_FIELDS",
    "CLUSTER_FIELDS",
    "FLEET_FIELDS",
    "RATE_LIMIT_FIELDS",
    "REPOSITORY_FIELDS",
    "SETTINGS_FIELDS",
    "default_config_path",
    "load_fleet",
    "parse_fleet",
]

FLEET_FIELDS = ("fleet", "defaults", "settings", "clusters", "repositories", "helmRepositories",
                "projects", "applications", "health", "notifications")
SETTINGS_FIELDS = ("listen", "inventoryNamespace", "syncTimeout", "otlpEndpoint",
                   "maxManifestFileSize", "maxRenderOutputSize", "stateDir", "ui", "tracesUrl",
                   "coordination")
CLUSTER_FIELDS = ("name", "kubeconfig", "context", "labels", "bastion", "rateLimit",
                  "kubeVersion", "servers")
BASTION_FIELDS = ("host", "port", "user", "keyFile", "knownHostsFile")
RATE_LIMIT_FIELDS = ("qps", "burst")
REPOSITORY_FIELDS = ("name", "url", "sshKeyFile", "knownHostsFile", "tokenFile", "username",
                     "pollInterval", "verify", "aliases")

CONFIG_ENV = "GITOPSD_CONFIG"


def default_config_path(environ: Mapping[str, str] | None = None) -> str | None:
    """The fleet file named by ``$GITOPSD_CONFIG``, or None when it is unset or empty."""
    env = os.environ if environ is None else environ
    return env.get(CONFIG_ENV) or None


def load_fleet(path: str | Path, *, check_files: bool = True) -> Fleet:
    """Read and validate the fleet file at ``path``; raises ``ConfigError``.

    Relative file names inside it are taken relative to its directory.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigIssue(str(path), 0, "",
                                       f"cannot read fleet file: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError:
        raise ConfigError([ConfigIssue(str(path), 0, "", "fleet file is not UTF-8 text")]) from None
    return parse_fleet(text, str(path), check_files=check_files)


class _Files:
    """Resolves file names against the fleet file's directory and checks that they open."""

    def __init__(self, r: Reader, base: Path, check: bool) -> None:
        self.r = r
        self.base = base
        self.check = check

    def resolve(self, name: str) -> str:
        path = Path(name).expanduser()
        if not path.is_absolute():
            path = self.base / path
        return os.path.normpath(path)

    def credential(self, node: Node, path: str, what: str) -> str:
        """Resolved name of a credential file, reported if ``check`` and it cannot be opened."""
        name = self.r.string(node, path)
        if name is None:
            return ""
        resolved = self.resolve(name)
        if self.check:
            reason = _unreadable(resolved)
            if reason:
                self.r.issue(node, path, f"cannot read {what} '{resolved}': {reason}")
        return resolved


def _unreadable(path: str) -> str | None:
    try:
        with open(path, "rb"):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def parse_fleet(text: str, filename: str, *, check_files: bool = True) -> Fleet:
    """Validate fleet-file ``text`` read from ``filename``; raises ``ConfigError``.

    ``check_files`` also reports credential files and kubeconfigs that cannot
    be opened (a readable kubeconfig is always read for the cluster's server).
    """
    log = IssueLog()
    docs = compose_documents(text, filename, log)
    if not docs:
        if not len(log):
            log.add(ConfigIssue(filename, 0, "", "the fleet file is empty"))
        raise log.error()
    if len(docs) > 1:
        log.add(ConfigIssue(filename, docs[1].start_mark.line + 1, "",
                            "a fleet file holds one YAML document; found more"))
    root = docs[0]
    defaults = _top_level(root, "defaults")
    r = Reader(filename, log, aliases_of(defaults, "defaults") if defaults is not None else None)
    top = r.mapping(root, "", FLEET_FIELDS, required=("fleet",))
    if top is None:
        raise log.error()
    name = ""
    if "fleet" in top:
        name = r.string(top["fleet"], "fleet") or ""
        if name and (reason := check_fleet_name(name)):
            r.issue(top["fleet"], "fleet", reason)
    files = _Files(r, Path(filename).parent, check_files)
    settings = _settings(r, top.get("settings"), files)
    clusters = _clusters(r, top.get("clusters"), files)
    check_coordination_cluster(r, top.get("settings"), settings.coordination, {c.name for c in clusters})
    repositories = _repositories(r, top.get("repositories"), files)
    helm_repositories = read_helm_repositories(r, top.get("helmRepositories"), files.credential,
                                               [repo.name for repo in repositories])
    projects = read_projects(r, top.get("projects"))
    ctx = AppContext(fleet=name, clusters=clusters,
                     repositories=tuple(repo.name for repo in repositories),
                     helm_repositories=tuple(repo.name for repo in helm_repositories),
                     sync_timeout=settings.sync_timeout, projects=project_names(projects))
    apps, argocd_sources, instances = read_applications(r, top.get("applications"), defaults, ctx)
    health = read_health(r, top.get("health"), Path(filename).parent)
    notifications = read_notifications(r, top.get("notifications"), files.credential)
    log.raise_if_any()
    return Fleet(name=name, clusters=clusters, repositories=repositories, applications=apps,
                 instances=instances, source_file=filename, settings=settings,
                 argocd_sources=argocd_sources, health_checks=health, projects=projects,
                 notifications=notifications, helm_repositories=helm_repositories)


def _top_level(root: Node, name: str) -> Node | None:
    if not isinstance(root, MappingNode):
        return None
    found = [v for k, v in root.value if isinstance(k, ScalarNode) and k.value == name]
    return found[-1] if found and not is_null(found[-1]) else None


def _settings(r: Reader, node: Node | None, files: _Files) -> Settings:
    base = Settings()
    if node is None:
        return base
    f = r.mapping(node, "settings", SETTINGS_FIELDS) or {}
    listen, namespace, timeout, otlp = (base.listen, base.inventory_namespace, base.sync_timeout,
                                        base.otlp_endpoint)
    if "listen" in f:
        listen = r.string(f["listen"], "settings.listen") or listen
        if reason := check_listen(listen):
            r.issue(f["listen"], "settings.listen", reason)
    if "inventoryNamespace" in f:
        namespace = r.string(f["inventoryNamespace"], "settings.inventoryNamespace") or namespace
        if reason := check_namespace(namespace):
            r.issue(f["inventoryNamespace"], "settings.inventoryNamespace", reason)
    if "syncTimeout" in f:
        got = r.duration(f["syncTimeout"], "settings.syncTimeout")
        timeout = timeout if got is None else got
    if "otlpEndpoint" in f:
        otlp = r.string(f["otlpEndpoint"], "settings.otlpEndpoint", empty=True) or ""
        if otlp and not otlp.startswith(("http://", "https://")):
            r.issue(f["otlpEndpoint"], "settings.otlpEndpoint",
                    "must be an http:// or https:// URL (OTLP over HTTP)")
    state_dir = ""
    if "stateDir" in f:
        given = r.string(f["stateDir"], "settings.stateDir")
        state_dir = files.resolve(given) if given else ""
    ui = base.ui
    if "ui" in f:
        got_ui = r.boolean(f["ui"], "settings.ui")
        ui = ui if got_ui is None else got_ui
    traces_url = ""
    if "tracesUrl" in f:
        traces_url = r.string(f["tracesUrl"], "settings.tracesUrl", empty=True) or ""
        if traces_url and (not traces_url.startswith(("http://", "https://"))
                           or "{traceId}" not in traces_url):
            r.issue(f["tracesUrl"], "settings.tracesUrl",
                    "must be an http:// or https:// URL containing {traceId}")
    sizes = {name: r.size(f[name], f"settings.{name}")
             for name in ("maxManifestFileSize", "maxRenderOutputSize") if name in f}
    coordination = parse_coordination(r, f["coordination"]) if "coordination" in f else None
    return Settings(listen=listen, inventory_namespace=namespace, sync_timeout=timeout,
                    otlp_endpoint=otlp, state_dir=state_dir, ui=ui, traces_url=traces_url,
                    coordination=coordination,
                    max_manifest_file_size=sizes.get("maxManifestFileSize")
                    or base.max_manifest_file_size,
                    max_render_output_size=sizes.get("maxRenderOutputSize")
                    or base.max_render_output_size)



def _clusters(r: Reader, node: Node | None, files: _Files) -> tuple[Cluster, ...]:
    if node is None:
        return ()
    out: list[Cluster] = []
    names: list[tuple[Node, str, str]] = []
    for i, item in enumerate(r.sequence(node, "clusters") or []):
        p = f"clusters[{i}]"
        f = r.mapping(item, p, CLUSTER_FIELDS, required=("name", "kubeconfig"))
        if f is None:
            continue
        name = r.string(f["name"], f"{p}.name") if "name" in f else None
        if name is not None:
            if reason := check_cluster_name(name):
                r.issue(f["name"], f"{p}.name", reason)
            names.append((f["name"], f"{p}.name", name))
        context = r.string(f["context"], f"{p}.context") or "" if "context" in f else ""
        kubeconfig, server = "", ""
        if "kubeconfig" in f:
            kubeconfig, server = _kubeconfig(r, f, p, context, files)
        labels = r.string_map(f["labels"], f"{p}.labels") or {} if "labels" in f else {}
        for key, value in labels.items():
            if reason := check_label(key, value):
                r.issue(f["labels"], f"{p}.labels.{key}", reason)
        bastion = _bastion(r, f["bastion"], f"{p}.bastion", files) if "bastion" in f else None
        qps, burst = Cluster.qps, Cluster.burst
        if "rateLimit" in f:
            rl = r.mapping(f["rateLimit"], f"{p}.rateLimit", RATE_LIMIT_FIELDS) or {}
            if "qps" in rl:
                got = r.number(rl["qps"], f"{p}.rateLimit.qps", minimum=0.001)
                qps = qps if got is None else got
            if "burst" in rl:
                burst = r.integer(rl["burst"], f"{p}.rateLimit.burst", minimum=1) or burst
        kube_version = ""
        if "kubeVersion" in f:
            kube_version = r.string(f["kubeVersion"], f"{p}.kubeVersion") or ""
            if kube_version and (reason := check_kube_version(kube_version)):
                r.issue(f["kubeVersion"], f"{p}.kubeVersion", reason)
        servers = read_servers(r, f["servers"], f"{p}.servers") if "servers" in f else ()
        out.append(Cluster(name=name or "", kubeconfig=kubeconfig, context=context,
                           labels=labels, server=server, bastion=bastion, qps=qps, burst=burst,
                           kube_version=kube_version, servers=servers))
    _report_duplicates(r, names, "cluster")
    return tuple(out)


def _report_duplicates(r: Reader, names: list[tuple[Node, str, str]], what: str) -> None:
    """Report every repeated name at its later occurrence."""
    first: dict[str, Node] = {}
    for node, path, name in names:
        if name in first:
            r.issue(node, path, f"duplicate {what} name '{name}' (first on line "
                                f"{first[name].start_mark.line + 1})")
        else:
            first[name] = node


def _kubeconfig(r: Reader, f: dict[str, Node], p: str, context: str, files: _Files
                ) -> tuple[str, str]:
    name = r.string(f["kubeconfig"], f"{p}.kubeconfig")
    if name is None:
        return "", ""
    path = files.resolve(name)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        if files.check:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            r.issue(f["kubeconfig"], f"{p}.kubeconfig", f"cannot read kubeconfig '{path}': {reason}")
        return path, ""
    try:
        return path, server_of(text, context)
    except KubeconfigProblem as exc:
        at, field = (f["context"], f"{p}.context") if "context" in f else (
            f["kubeconfig"], f"{p}.kubeconfig")
        r.issue(at, field, f"kubeconfig '{path}' {exc}")
        return path, ""


def _bastion(r: Reader, node: Node, p: str, files: _Files) -> Bastion | None:
    f = r.mapping(node, p, BASTION_FIELDS, required=("host", "user", "keyFile", "knownHostsFile"))
    if f is None:
        return None
    host = r.string(f["host"], f"{p}.host") or "" if "host" in f else ""
    user = r.string(f["user"], f"{p}.user") or "" if "user" in f else ""
    port = 22
    if "port" in f:
        got = r.integer(f["port"], f"{p}.port", minimum=1)
        if got is not None and got > 65535:
            r.issue(f["port"], f"{p}.port", "must be at most 65535")
        port = got or port
    key = files.credential(f["keyFile"], f"{p}.keyFile", "ssh key file") if "keyFile" in f else ""
    known = files.credential(f["knownHostsFile"], f"{p}.knownHostsFile", "known hosts file") \
        if "knownHostsFile" in f else ""
    return Bastion(host=host, user=user, key_file=key, known_hosts_file=known, port=port)


def _repositories(r: Reader, node: Node | None, files: _Files) -> tuple[Repository, ...]:
    if node is None:
        return ()
    out: list[Repository] = []
    names: list[tuple[Node, str, str]] = []
    for i, item in enumerate(r.sequence(node, "repositories") or []):
        p = f"repositories[{i}]"
        f = r.mapping(item, p, REPOSITORY_FIELDS, required=("name", "url"))
        if f is None:
            continue
        name = r.string(f["name"], f"{p}.name") if "name" in f else None
        if name is not None:
            if reason := check_name(name, "repository"):
                r.issue(f["name"], f"{p}.name", reason)
            names.append((f["name"], f"{p}.name", name))
        url = r.string(f["url"], f"{p}.url") or "" if "url" in f else ""
        transport = ""
        if url:
            try:
                parsed = parse_git_url(url)
                transport = parsed.transport
                if parsed.has_password:
                    r.issue(f["url"], f"{p}.url",
                            "the URL contains a password; put the token in tokenFile instead")
            except ValueError as exc:
                r.issue(f["url"], f"{p}.url", str(exc))
        creds = {key: files.credential(f[key], f"{p}.{key}", what) for key, what in (
            ("sshKeyFile", "ssh key file"), ("knownHostsFile", "known hosts file"),
            ("tokenFile", "token file")) if key in f}
        _transport_rules(r, f, p, transport)
        username = Repository.username
        if "username" in f:
            username = r.string(f["username"], f"{p}.username") or username
        poll = Repository.poll_interval
        if "pollInterval" in f:
            got = r.duration(f["pollInterval"], f"{p}.pollInterval")
            poll = poll if got is None else got
        verify = read_verify(r, f["verify"], f"{p}.verify", files.base,
                                                  check=files.check) if "verify" in f else None
        aliases = read_aliases(r, f["aliases"], f"{p}.aliases") if "aliases" in f else ()
        out.append(Repository(name=name or "", url=url, ssh_key_file=creds.get("sshKeyFile", ""),
                              known_hosts_file=creds.get("knownHostsFile", ""),
                              token_file=creds.get("tokenFile", ""), username=username,
                              poll_interval=poll, verify=verify, aliases=aliases))
    _report_duplicates(r, names, "repository")
    return tuple(out)


def _transport_rules(r: Reader, f: dict[str, Node], p: str, transport: str) -> None:
    """Credentials must fit the URL's transport; ssh always verifies host keys."""
    if transport == "ssh":
        if "knownHostsFile" not in f:
            r.issue(f["url"], f"{p}.knownHostsFile", "ssh repositories need knownHostsFile: "
                    "host keys are always verified")
        if "sshKeyFile" not in f:
            r.issue(f["url"], f"{p}.sshKeyFile", "ssh repositories need sshKeyFile")
        if "tokenFile" in f:
            r.issue(f["tokenFile"], f"{p}.tokenFile", "tokenFile applies to https URLs, "
                    "not ssh; use sshKeyFile")
    elif transport in ("https", "http", "file"):
        for key in ("sshKeyFile", "knownHostsFile"):
            if key in f:
                r.issue(f[key], f"{p}.{key}", f"{key} applies to ssh URLs only")
        if "tokenFile" in f and transport == "http":
            r.issue(f["tokenFile"], f"{p}.tokenFile",
                    "a token would travel in clear text over http://; use https://")
        if "tokenFile" in f and transport == "file":
            r.issue(f["tokenFile"], f"{p}.tokenFile", "tokenFile applies to https URLs only")
