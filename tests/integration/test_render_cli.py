"""``gitopsd check-config`` and ``gitopsd render`` as a user runs them.

The CLI runs as a subprocess against a fleet file written here, real Git over
SSH (and HTTPS with a token), and the real kustomize and helm binaries. One
fleet holds good and broken applications side by side, so every good render
also shows that the broken neighbours do not disturb it.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gitopsd.edges import binaries
from tests.testenv.git_fixtures import GitServerInfo, RepoFactory
from tests.testenv.gitserver import write_client_key

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "testdata" / "envrepo"
TOKEN = "glpat-Render7oken-do-not-print-0123456789"
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}
PROD_KUBE_VERSION = "1.32.3"


def fixture_tree(name: str) -> dict[str, str]:
    """Every file under testdata/envrepo/NAME as {relative path: text}."""
    base = FIXTURES / name
    return {p.relative_to(base).as_posix(): p.read_text() for p in sorted(base.rglob("*"))
            if p.is_file()}


def write_kubeconfig(path: Path, server: str) -> Path:
    """A kubeconfig naming SERVER (never contacted by check-config or render)."""
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": {"token": "unused"}}]}))
    return path


def run_cli(*args: str | Path, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m gitopsd ARGS`` with the test's environment plus ENV."""
    full = {k: v for k, v in os.environ.items() if k not in ("GITOPSD_CONFIG",
                                                           "GITOPSD_RENDER_TIMEOUT")}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "gitopsd", *map(str, args)], cwd=ROOT,
                          env=full, capture_output=True, text=True, timeout=timeout, check=False)


def documents(text: str) -> list[dict[str, Any]]:
    """The objects of a YAML stream (empty documents dropped)."""
    return [d for d in yaml.safe_load_all(text) if d]


def with_namespace(objs: list[dict[str, Any]], namespace: str) -> list[dict[str, Any]]:
    """OBJS with NAMESPACE set on namespaced objects that lack one, as gitopsd does."""
    for obj in objs:
        meta = obj.setdefault("metadata", {})
        if obj["kind"] not in CLUSTER_SCOPED and not meta.get("namespace"):
            meta["namespace"] = namespace
    return objs


def by_identity(objs: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    out = {}
    for obj in objs:
        meta = obj["metadata"]
        out[(obj["kind"], meta.get("namespace", ""), meta.get("name")
             or meta.get("generateName"))] = obj
    return out


def sections(stdout: str) -> dict[str, str]:
    """The render output split per instance, keyed by its header comment."""
    out: dict[str, str] = {}
    current = ""
    for line in stdout.splitlines(keepends=True):
        if line.startswith("# gitopsd render: "):
            current = line[len("# gitopsd render: "):].strip()
            out[current] = ""
        else:
            out[current] += line
    return out


def tool(name: str, *args: str | Path, home: Path) -> str:
    """Run the real kustomize or helm directly, for the expected output."""
    done = subprocess.run([binaries.find(name), *map(str, args)], capture_output=True, text=True,
                          env={"PATH": os.environ["PATH"], "HOME": str(home)}, check=True,
                          timeout=60)
    return done.stdout


class _Rejecting(BaseHTTPRequestHandler):
    """Answers every Git request with 401 and records the Authorization header."""

    seen: list[str]

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("Authorization") or "")
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="git"')
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"no\n")

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class TokenServer:
    url: str
    cert: Path
    seen: list[str] = field(default_factory=list)


@pytest.fixture
def token_server(tmp_path: Path) -> Iterator[TokenServer]:
    """An HTTPS Git endpoint (self-signed, trusted via SSL_CERT_FILE) that rejects tokens."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    seen: list[str] = []
    handler = type("Handler", (_Rejecting,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield TokenServer(f"https://127.0.0.1:{server.server_address[1]}/org/env.git",
                          cert_file, seen)
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class World:
    """A fleet file with its repositories, kubeconfigs and credentials on disk."""

    fleet: Path
    dir: Path
    apps_sha: str
    env_sha: str
    tls_cert: Path
    runs: int = 0

    def render(self, *args: str, env: dict[str, str] | None = None
               ) -> subprocess.CompletedProcess[str]:
        """``gitopsd render ARGS`` with this fleet and a fresh state directory."""
        self.runs += 1
        return run_cli("render", *args, "--config", self.fleet, "--state-dir",
                       self.dir / f"state-{self.runs}",
                       env={"SSL_CERT_FILE": str(self.tls_cert), **(env or {})})


FLEET = """\
fleet: renderfleet
clusters:
  - name: prod
    kubeconfig: prod.kubeconfig
    labels: {{env: prod}}
    kubeVersion: "{kube_version}"
  - name: staging
    kubeconfig: staging.kubeconfig
    labels: {{env: staging}}
repositories:
  - name: apps
    url: {apps_url}
    sshKeyFile: {key}
    knownHostsFile: {known_hosts}
  - name: env
    url: {env_url}
    sshKeyFile: {key}
    knownHostsFile: {known_hosts}
  - name: unreachable
    url: ssh://git@127.0.0.1:{closed}/org/apps.git
    sshKeyFile: {key}
    knownHostsFile: {known_hosts}
  - name: strangerkey
    url: {other_url}
    sshKeyFile: {stranger}
    knownHostsFile: {known_hosts}
  - name: unknownhost
    url: {other_url}
    sshKeyFile: {key}
    knownHostsFile: other_known_hosts
  - name: tokenrepo
    url: {token_url}
    username: deploy
    tokenFile: token
defaults:
  source: {{repo: apps, targetRevision: main}}
applications:
  - name: plain
    source: {{path: apps/plain, directory: {{recurse: true}}}}
    destination: {{clusters: {{names: [prod]}}, namespace: plain-ns}}
    syncPolicy: {{syncOptions: [CreateNamespace=true]}}
  - name: web
    source: {{path: "apps/web/overlays/{{{{cluster.labels.env}}}}"}}
    destination: {{clusters: {{names: [prod, staging]}}, namespace: web}}
  - name: chart
    source:
      path: charts/demo
      helm:
        releaseName: demo
        valueFiles: [values-prod.yaml]
        values: {{image: {{tag: "3.0.1"}}, settings: {{features: [fast]}}}}
    destination: {{clusters: {{names: [prod]}}, namespace: charts}}
  - name: env-prod
    argocd: {{repo: env, targetRevision: main, path: clusters/prod/apps}}
  - {{name: no-branch, source: {{targetRevision: no-such-branch, path: apps/plain}},
     destination: {{clusters: {{names: [prod]}}, namespace: x}}}}
  - {{name: no-path, source: {{path: apps/missing}},
     destination: {{clusters: {{names: [prod]}}, namespace: x}}}}
  - {{name: bad-yaml, source: {{path: apps/broken-yaml}},
     destination: {{clusters: {{names: [prod]}}, namespace: x}}}}
  - {{name: helm-error, source: {{path: charts/broken}},
     destination: {{clusters: {{names: [prod]}}, namespace: x}}}}
  - {{name: unreachable, source: {{repo: unreachable, path: apps/plain}},
     destination: {{clusters: {{names: [prod]}}, namespace: x}}}}
  - {{name: wrong-key, source: {{repo: strangerkey, path: apps/plain}},
     destination: {{clusters: {{names: [prod]}}, namespace: x}}}}
  - {{name: unknown-host, source: {{repo: unknownhost, path: apps/plain}},
     destination: {{clusters: {{names: [prod]}}, namespace: x}}}}
  - {{name: token-app, source: {{repo: tokenrepo, path: apps/plain}},
     destination: {{clusters: {{names: [prod]}}, namespace: x}}}}
"""


@pytest.fixture
def world(tmp_path: Path, git_repos: RepoFactory, git_server: GitServerInfo,
          token_server: TokenServer) -> World:
    """The fleet of this module: good and broken applications over real repositories."""
    apps = git_repos.new("apps")
    apps_sha = apps.commit(fixture_tree("manifests"))
    env = git_repos.new("env")
    env_sha = env.commit({p: t.replace("APPS_REPO_URL", apps.ssh_url)
                          for p, t in fixture_tree("argocd").items()})
    other = git_repos.new("other")
    other.commit(fixture_tree("manifests"))
    stranger = write_client_key(tmp_path, "stranger")
    (tmp_path / "other_known_hosts").write_text(
        "git.example.com ssh-ed25519 "
        "AAAAC3NzaC1lZDI1NTE5AAAAIKyIvXDmb1SLyaVJwNAl3NSXrvkqUWx7zvrVkKjFZRbN\n")
    (tmp_path / "token").write_text(TOKEN + "\n")
    write_kubeconfig(tmp_path / "prod.kubeconfig", "https://prod.example.invalid:6443")
    write_kubeconfig(tmp_path / "staging.kubeconfig", "https://staging.example.invalid:6443")
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(FLEET.format(
        kube_version=PROD_KUBE_VERSION, apps_url=apps.ssh_url, env_url=env.ssh_url,
        other_url=other.ssh_url, key=git_server.client_key_file,
        known_hosts=git_server.known_hosts_file, closed=closed_port(), stranger=stranger,
        token_url=token_server.url))
    return World(fleet, tmp_path, apps_sha, env_sha, token_server.cert)


def header(app: str, cluster: str, repo: str, sha: str, path: str) -> str:
    return f"app={app} cluster={cluster} repo={repo} revision={sha} path={path}"


# -- check-config --------------------------------------------------------------------


def test_check_config_lists_instances(world: World) -> None:
    """A valid fleet prints one row per instance, templates resolved, and exits 0."""
    state = world.dir / "check-config-state"
    done = run_cli("check-config", "--config", world.fleet, env={"GITOPSD_STATE_DIR": str(state)})
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()]
    assert ["web", "prod", "apps@main", "apps/web/overlays/prod", "web"] in rows
    assert ["web", "staging", "apps@main", "apps/web/overlays/staging", "web"] in rows
    assert "argocd env-prod: Applications from env@main:clusters/prod/apps" in done.stdout
    assert not state.exists(), "check-config must not touch Git"


def test_check_config_reports_typos_with_file_line_field(world: World) -> None:
    """A misspelt field and an unknown cluster are both reported as file:line: field: message."""
    text = world.fleet.read_text()
    broken = text.replace("    syncPolicy: {syncOptions: [CreateNamespace=true]}",
                          "    syncPolicy: {syncOptoins: [CreateNamespace=true]}")
    broken = broken.replace("{names: [prod, staging]}", "{names: [prod, stagin]}")
    world.fleet.write_text(broken)
    lines = broken.splitlines()
    typo_line = next(i for i, line in enumerate(lines, 1) if "syncOptoins" in line)
    cluster_line = next(i for i, line in enumerate(lines, 1) if "stagin]" in line)
    done = run_cli("check-config", "--config", world.fleet)
    assert done.returncode == 2
    assert done.stdout == ""
    errors = done.stderr.splitlines()
    assert any(e.startswith(f"{world.fleet}:{typo_line}: applications[0].syncPolicy.syncOptoins: ")
               for e in errors), done.stderr
    assert any(e.startswith(f"{world.fleet}:{cluster_line}: applications[1].destination.clusters"
                            ".names[1]: unknown cluster 'stagin'") for e in errors), done.stderr


def test_check_config_finds_the_fleet_file_through_the_environment(world: World) -> None:
    """--config defaults to $GITOPSD_CONFIG; with neither, the verb says so and exits 2."""
    assert run_cli("check-config", env={"GITOPSD_CONFIG": str(world.fleet)}).returncode == 0
    done = run_cli("check-config")
    assert done.returncode == 2
    assert done.stderr.strip() == "gitopsd: no fleet file: pass --config or set GITOPSD_CONFIG"


# -- render: good sources ------------------------------------------------------------


def test_render_plain_directory(world: World) -> None:
    """A plain directory renders every manifest file, in sync order, exactly as in Git."""
    done = world.render("plain")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        f"# gitopsd render: {header('plain', 'prod', 'apps', world.apps_sha, 'apps/plain')}\n")
    got = documents(done.stdout)
    tree = fixture_tree("manifests/apps/plain")
    expected = [d for name, text in tree.items() if name.endswith(".yaml")
                for d in documents(text)]
    expected.append(json.loads(tree["deployment.json"]))
    expected = with_namespace(expected, "plain-ns")
    created = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "plain-ns"}}
    assert by_identity(got) == by_identity([*expected, created])
    order = [(d["kind"], d["metadata"].get("name") or d["metadata"]["generateName"]) for d in got]
    assert order == [("Namespace", "plain-ns"), ("Job", "plain-migrate-"),
                     ("Secret", "plain-credentials"), ("ConfigMap", "plain-settings"),
                     ("Service", "plain"), ("Deployment", "plain")]
    assert "# not in Git: created by syncOptions CreateNamespace=true" in done.stdout
    assert "cGxhaW4tZ2l0LXNlY3JldA==" in done.stdout
    assert "gitopsd.io/" not in done.stdout


def test_render_stamped_adds_ownership_marks(world: World) -> None:
    """--stamped shows the fleet label and tracking id every applied object carries."""
    done = world.render("plain", "--stamped")
    assert done.returncode == 0, done.stderr
    for obj in documents(done.stdout):
        meta = obj["metadata"]
        if obj["kind"] == "Namespace":
            continue
        assert meta["labels"]["gitopsd.io/fleet"] == "renderfleet"
        name = meta.get("name") or meta["generateName"]
        assert meta["annotations"]["gitopsd.io/tracking-id"].startswith("plain:")
        assert meta["annotations"]["gitopsd.io/tracking-id"].endswith(f"/{name}")


def test_render_needs_no_cluster_credentials(world: World) -> None:
    """Render works on a host that has no kubeconfig for the cluster, which check-config flags."""
    (world.dir / "staging.kubeconfig").unlink()
    done = world.render("web", "--cluster", "staging")
    assert done.returncode == 0, done.stderr
    assert {o["metadata"]["name"] for o in documents(done.stdout)} >= {"staging-web"}
    checked = run_cli("check-config", "--config", world.fleet)
    assert checked.returncode == 2
    assert "clusters[1].kubeconfig: cannot read kubeconfig" in checked.stderr


def test_render_kustomize_overlay_per_cluster_label(world: World, tmp_path: Path) -> None:
    """One application renders the prod overlay on prod and the staging one on staging,
    each equal to ``kustomize build`` of that overlay."""
    done = world.render("web")
    assert done.returncode == 0, done.stderr
    got = sections(done.stdout)
    base = FIXTURES / "manifests"
    for env in ("prod", "staging"):
        key = header("web", env, "apps", world.apps_sha, f"apps/web/overlays/{env}")
        want = with_namespace(documents(tool("kustomize", "build", base / "apps/web/overlays" / env,
                                             home=tmp_path)), "web")
        assert by_identity(documents(got[key])) == by_identity(want)
    only = world.render("web", "--cluster", "staging")
    assert only.returncode == 0, only.stderr
    assert list(sections(only.stdout)) == [
        header("web", "staging", "apps", world.apps_sha, "apps/web/overlays/staging")]


def test_render_helm_chart_with_value_files(world: World, tmp_path: Path) -> None:
    """A chart renders as ``helm template`` with the same release, namespace, value files,
    inline values and the cluster's configured kube version."""
    done = world.render("chart")
    assert done.returncode == 0, done.stderr
    chart = FIXTURES / "manifests/charts/demo"
    inline = tmp_path / "inline.yaml"
    inline.write_text(yaml.safe_dump({"image": {"tag": "3.0.1"},
                                      "settings": {"features": ["fast"]}}))
    want = documents(tool("helm", "template", "demo", chart, "--namespace", "charts",
                          "--include-crds", "--kube-version", PROD_KUBE_VERSION,
                          "--values", chart / "values-prod.yaml", "--values", inline,
                          home=tmp_path))
    got = documents(done.stdout)
    assert by_identity(got) == by_identity(with_namespace(want, "charts"))
    config = next(o for o in got if o["kind"] == "ConfigMap")
    assert config["data"] == {"mode": "production", "features": "fast",
                              "kubeVersion": f"v{PROD_KUBE_VERSION}"}
    assert [o["kind"] for o in got] == ["ConfigMap", "Deployment"]


def test_render_applications_from_argocd_env_repo(world: World, tmp_path: Path) -> None:
    """Argo CD Application files in the env repo become applications that render like
    kustomize and helm would; Applications of another directory are not read."""
    base = FIXTURES / "manifests"
    front = world.render("frontend")
    assert front.returncode == 0, front.stderr
    assert f"app=frontend cluster=prod repo=apps revision={world.apps_sha}" in front.stdout
    want = with_namespace(documents(tool("kustomize", "build", base / "apps/web/overlays/prod",
                                         home=tmp_path)), "frontend")
    want.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "frontend"}})
    assert by_identity(documents(front.stdout)) == by_identity(want)

    reports = world.render("reports")
    assert reports.returncode == 0, reports.stderr
    inline = tmp_path / "inline.yaml"
    inline.write_text(yaml.safe_dump({"image": {"tag": "2.2.0"}}))
    chart = base / "charts/demo"
    want = documents(tool("helm", "template", "reports", chart, "--namespace", "reports",
                          "--include-crds", "--kube-version", PROD_KUBE_VERSION,
                          "--values", chart / "values-prod.yaml", "--values", inline,
                          home=tmp_path))
    assert by_identity(documents(reports.stdout)) == by_identity(with_namespace(want, "reports"))

    staging = world.render("frontend-staging")
    assert staging.returncode == 2
    assert "unknown application 'frontend-staging'" in staging.stderr


# -- render: bad input, one application at a time ------------------------------------


BAD = [
    ("no-branch", "apps", ["revision 'no-such-branch' not found in apps"]),
    ("no-path", "apps", ["apps/missing", "does not exist"]),
    ("bad-yaml", "apps", ["apps/broken-yaml/settings.yaml:7"]),
    ("helm-error", "apps", ["helm template failed for 'charts/broken'",
                            "settings.url must be set"]),
    ("unreachable", "unreachable", ["cannot reach unreachable (ssh://git@127.0.0.1:"]),
    ("wrong-key", "strangerkey", ["authentication failed for strangerkey"]),
    ("unknown-host", "unknownhost", ["is not in known_hosts", "refusing to connect"]),
    ("token-app", "tokenrepo", ["authentication failed for tokenrepo (https://127.0.0.1:"]),
]


@pytest.mark.parametrize(("app", "repo", "needles"), BAD, ids=[b[0] for b in BAD])
def test_render_bad_input_fails_that_application_only(world: World, app: str, repo: str,
                                                      needles: list[str]) -> None:
    """Each broken source gives exit 2 and a message naming the instance and the cause,
    while a good application of the same fleet still renders."""
    done = world.render(app)
    assert done.returncode == 2
    assert done.stdout == ""
    first = done.stderr.splitlines()[0]
    assert first.startswith(f"gitopsd: render app={app} cluster=prod repo={repo} revision=")
    for needle in needles:
        assert needle in done.stderr, done.stderr
    assert TOKEN not in done.stderr
    good = world.render("plain")
    assert good.returncode == 0, good.stderr


def test_malformed_yaml_names_file_line_and_revision(world: World) -> None:
    """Invalid YAML in the repository is reported with the revision, file and line."""
    done = world.render("bad-yaml")
    assert done.returncode == 2
    assert f"revision={world.apps_sha} path=apps/broken-yaml" in done.stderr
    assert f"apps@{world.apps_sha[:12]}:apps/broken-yaml/settings.yaml:7" in done.stderr


def test_hanging_renderer_is_killed_at_the_timeout(world: World, tmp_path: Path) -> None:
    """A renderer that never finishes is killed at the render timeout, from the flag or
    from $GITOPSD_RENDER_TIMEOUT, and leaves no process behind."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    pid_file = tmp_path / "helm.pid"
    fake = bin_dir / "helm"
    fake.write_text(f"#!/bin/sh\necho $$ >> {pid_file}\nexec sleep 300\n")
    fake.chmod(0o755)
    for args, env in ((["--render-timeout", "1s"], {}), ([], {"GITOPSD_RENDER_TIMEOUT": "1"})):
        start = time.monotonic()
        done = world.render("chart", *args, env={"GITOPSD_BIN_DIR": str(bin_dir), **env})
        took = time.monotonic() - start
        assert done.returncode == 2
        assert "helm template timed out after 1s for 'charts/demo'" in done.stderr
        assert took < 30
    pids = [int(p) for p in pid_file.read_text().split()]
    assert len(pids) == 2
    for pid in pids:
        deadline = time.monotonic() + 5
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not Path(f"/proc/{pid}").exists(), f"renderer process {pid} outlived its timeout"


def test_token_is_sent_but_never_printed(world: World, token_server: TokenServer) -> None:
    """The HTTPS token reaches the server yet appears in no output of any verb."""
    outputs = [run_cli("check-config", "--config", world.fleet),
               world.render("token-app"), world.render("plain")]
    sent = [base64.b64decode(h.split()[1]).decode() for h in token_server.seen if h]
    assert f"deploy:{TOKEN}" in sent
    for done in outputs:
        assert TOKEN not in done.stdout
        assert TOKEN not in done.stderr
