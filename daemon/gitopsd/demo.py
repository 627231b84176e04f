"""``gitopsd demo``: a whole fleet on this machine in one command.

Starts two local control planes (with fake nodes, so workloads become
healthy), writes a Git repository of sample applications (plain YAML with sync
waves, Kustomize overlays chosen per cluster label, a Helm chart), runs the
daemon against them, prints the status table and where to look, and shows a
drift being reverted. Ctrl-C (or --exit-after) stops everything it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from gitopsd import localcluster
from gitopsd.config import load_fleet
from gitopsd.core.marks import SYNC_WAVE_ANNOTATION
from gitopsd.edges.telemetry.logging import configure_logging
from gitopsd.runtime import RunOptions, Runtime

CLUSTERS = (("staging", "staging"), ("prod", "prod"))

FILES: dict[str, object] = {
    "apps/platform/namespace.yaml": {"apiVersion": "v1", "kind": "Namespace",
                                     "metadata": {"name": "platform"}},
    "apps/platform/settings.yaml": {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "platform",
                     "annotations": {SYNC_WAVE_ANNOTATION: "-1"}},
        "data": {"log-level": "info", "feature-x": "on"}},
    "apps/platform/api.yaml": {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "platform",
                     "annotations": {SYNC_WAVE_ANNOTATION: "1"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "api"}},
                 "template": {"metadata": {"labels": {"app": "api"}},
                              "spec": {"containers": [{"name": "api",
                                                       "image": "registry.example/api:1.4.2"}]}}}},
    "apps/web/base/kustomization.yaml": {"resources": ["deployment.yaml", "service.yaml"]},
    "apps/web/base/deployment.yaml": {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web",
                                                       "image": "registry.example/web:2.0.1"}]}}}},
    "apps/web/base/service.yaml": {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}},
    "apps/web/overlays/staging/kustomization.yaml": {
        "resources": ["../../base"], "namePrefix": "staging-",
        "labels": [{"pairs": {"env": "staging"}}]},
    "apps/web/overlays/prod/kustomization.yaml": {
        "resources": ["../../base"], "labels": [{"pairs": {"env": "prod"}}],
        "replicas": [{"name": "web", "count": 3}]},
    "charts/cache/Chart.yaml": {"apiVersion": "v2", "name": "cache", "version": "0.1.0"},
    "charts/cache/values.yaml": {"replicas": 1, "image": "registry.example/cache:7.2"},
}
CACHE_TEMPLATE = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: {{ .Release.Name }}}}
  template:
    metadata: {labels: {app: {{ .Release.Name }}}}
    spec:
      containers: [{name: cache, image: {{ .Values.image | quote }}}]
"""


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=gitopsd demo", "-c", "user.email=demo@gitopsd.invalid",
                    *args], cwd=cwd, check=True, capture_output=True)


def write_repo(root: Path) -> Path:
    bare, work = root / "env.git", root / "env-work"
    _git(root, "init", "-q", "--bare", "-b", "main", str(bare))
    _git(root, "init", "-q", "-b", "main", str(work))
    for rel, doc in FILES.items():
        path = work / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
    (work / "charts/cache/templates").mkdir(parents=True, exist_ok=True)
    (work / "charts/cache/templates/deployment.yaml").write_text(CACHE_TEMPLATE)
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "-m", "Demo applications")
    _git(work, "push", "-q", str(bare), "main")
    return bare


def write_fleet(root: Path, repo: Path, clusters: dict[str, localcluster.LocalCluster],
                listen: str) -> Path:
    fleet = {
        "fleet": "demo",
        "settings": {"listen": listen},
        "clusters": [{"name": name, "kubeconfig": str(clusters[name].kubeconfig),
                      "labels": {"env": env}} for name, env in CLUSTERS],
        "repositories": [{"name": "env", "url": str(repo), "pollInterval": "5s"}],
        "defaults": {"syncPolicy": {"automated": {"prune": True, "selfHeal": True},
                                    "syncOptions": ["CreateNamespace=true"]}},
        "applications": [
            {"name": "platform", "source": {"repo": "env", "targetRevision": "main",
                                            "path": "apps/platform"},
             "destination": {"clusters": {"matchLabels": {}}, "namespace": "platform"}},
            {"name": "web", "source": {"repo": "env", "targetRevision": "main",
                                       "path": "apps/web/overlays/{{cluster.labels.env}}"},
             "destination": {"clusters": {"matchLabels": {}}, "namespace": "web"}},
            {"name": "cache", "source": {"repo": "env", "targetRevision": "main", "path": "charts/cache",
                                         "helm": {"values": {"replicas": 2}}},
             "destination": {"clusters": {"names": ["prod"]}, "namespace": "cache"}},
        ],
    }
    path = root / "fleet.yaml"
    path.write_text(yaml.safe_dump(fleet, sort_keys=False))
    return path


def _table(runtime: Runtime) -> str:
    assert runtime.daemon is not None
    rows = [("APP", "CLUSTER", "SYNC", "HEALTH", "REVISION", "LAST SYNC")]
    for r in runtime.daemon.board.rows():
        rows.append((r.app, r.cluster, r.sync_status, r.health.status.value, r.revision[:12],
                     r.last_message[:50]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in rows)


async def _show(runtime: Runtime, clusters: dict[str, localcluster.LocalCluster], listen: str,
                token_file: Path, exit_after: float | None) -> None:
    assert runtime.daemon is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not runtime.daemon.ready()[0]:
        await asyncio.sleep(0.5)
    await asyncio.sleep(1)
    print("\n" + _table(runtime) + "\n")
    print(f"API:      curl -H \"Authorization: Bearer $(cat {token_file})\" http://{listen}/api/v1/instances")
    print(f"metrics:  curl http://{listen}/metrics")
    print(f"kubectl:  kubectl --kubeconfig {clusters['prod'].kubeconfig} get all -A\n")
    prod = clusters["prod"]
    path = "/api/v1/namespaces/platform/configmaps/settings"
    patch = {"data": {"log-level": "debug"}}
    print("drift:    someone runs `kubectl edit` on platform/settings in prod (log-level: debug) ...")
    changed_at = time.monotonic()
    await asyncio.to_thread(prod.request, "PATCH", path + "?fieldManager=kubectl-edit", patch,
                            content_type="application/merge-patch+json")
    while time.monotonic() - changed_at < 30:
        _, body = await asyncio.to_thread(prod.request, "GET", path)
        if isinstance(body, dict) and body.get("data", {}).get("log-level") == "info":
            print(f"          ... reverted to log-level: info after "
                  f"{time.monotonic() - changed_at:.2f}s\n")
            break
        await asyncio.sleep(0.05)
    else:
        print("          ... not reverted within 30s; see the logs\n")
    print("gitopsd demo is running; press Ctrl-C to stop it and remove the clusters.")
    print(f"status page: http://{listen}/ui/  (sign in with the token in {token_file} to sync)")
    if exit_after is not None:
        await asyncio.sleep(exit_after)
        runtime.stop_event.set()


def run_demo(directory: Path | None, *, listen: str = "127.0.0.1:8088",
             exit_after: float | None = None) -> int:
    configure_logging("warning")
    root = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="gitopsd-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    clusters: dict[str, localcluster.LocalCluster] = {}
    try:
        for name, _ in CLUSTERS:
            print(f"starting local cluster {name} ...", flush=True)
            clusters[name] = localcluster.up(name, root / f"cluster-{name}", workloads=True)
        repo = write_repo(root)
        fleet_path = write_fleet(root, repo, clusters, listen)
        token_file = root / "api-token"
        token_file.write_text(secrets.token_hex(16) + "\n")
        token_file.chmod(0o600)
        fleet = load_fleet(fleet_path)
        runtime = Runtime(RunOptions(config=str(fleet_path), state_dir=root / "state", listen=listen,
                                     api_token_file=str(token_file), resync=60))

        async def main() -> int:
            shower = asyncio.ensure_future(_show(runtime, clusters, listen, token_file, exit_after))
            try:
                return await runtime.run(fleet, "")
            finally:
                shower.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await shower

        print(f"fleet file {fleet_path}, Git repository {repo}")
        return asyncio.run(main())
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for cluster in clusters.values():
            with contextlib.suppress(Exception):
                localcluster.down(cluster.dir)
        if directory is None:
            shutil.rmtree(root, ignore_errors=True)
        print("demo stopped; clusters removed")
