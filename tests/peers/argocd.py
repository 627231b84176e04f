"""Argo CD as one of the tools of the peer benchmark: the headless "core" set of processes.

argocd-application-controller, argocd-repo-server (one multi-call binary,
dispatched on its file name) and Redis from Debian's ``redis-server``, all on
127.0.0.1, the controller in fake in-cluster mode with the admin kubeconfig.
The objects Argo CD's API server would have made (the default AppProject,
``argocd-secret``, a labelled ``argocd-cm``) are created here; the CRDs are read
at run time from the Go module cache the build filled.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil

from gitopsd.localcluster.processes import free_port
from tests.bench.kube import Kube
from tests.peers import workload
from tests.peers.tool import (
    BuiltPeer,
    Settings,
    annotate,
    apply_files,
    apply_object,
    wait_established,
    wait_http,
)

SYSTEM = "argocd"
PART_OF = {"app.kubernetes.io/part-of": "argocd"}
APPLICATION = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
               "metadata": {"name": "app", "namespace": SYSTEM}}


class ArgoCD(BuiltPeer):
    name = "argocd"
    namespace = "peer-argocd"

    def knobs(self, settings: Settings) -> dict[str, str]:
        p = f"{settings.poll:g}s"
        out = {"--app-resync": f"{p} (default 120s)", "--app-resync-jitter": "0 (default 60s)",
               "--revision-cache-expiration (repo-server)": "1s (default 3m), so each resync reads the ref",
               "syncOptions": "ServerSideApply=true (as Flux and gitopsd apply)"}
        if settings.fast:
            out["--self-heal-timeout-seconds"] = "0 (default 5)"
            out["--self-heal-backoff-timeout-seconds"] = "0 (default 2, x3, cap 300)"
        return out

    async def install(self, kube: Kube, repo_url: str, settings: Settings) -> None:
        crds = self.modcache / f"github.com/argoproj/argo-cd/v3@{self.version}/manifests/crds"
        files = [crds / "application-crd.yaml", crds / "appproject-crd.yaml"]
        if not all(f.exists() for f in files):
            raise FileNotFoundError(f"Argo CD CRDs not found under {crds}; run tests/peers/build.sh argocd")
        await apply_files(kube, files)
        await wait_established(kube, ["applications.argoproj.io", "appprojects.argoproj.io"])
        await kube.ensure_namespace(SYSTEM)
        await apply_object(kube, {"apiVersion": "v1", "kind": "ConfigMap",
                                  "metadata": {"name": "argocd-cm", "namespace": SYSTEM,
                                               "labels": PART_OF}})
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        await apply_object(kube, {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                                  "metadata": {"name": "argocd-secret", "namespace": SYSTEM,
                                               "labels": PART_OF},
                                  "data": {"server.secretkey": base64.b64encode(key.encode()).decode()}})
        await apply_object(kube, {"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
                                  "metadata": {"name": "default", "namespace": SYSTEM}, "spec": {
                                      "sourceRepos": ["*"],
                                      "destinations": [{"server": "*", "namespace": "*"}],
                                      "clusterResourceWhitelist": [{"group": "*", "kind": "*"}]}})
        await apply_object(kube, {**APPLICATION, "spec": {
            "project": "default",
            "source": {"repoURL": repo_url, "targetRevision": "main", "path": workload.PATH},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": self.namespace},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True},
                           "syncOptions": ["ServerSideApply=true", "CreateNamespace=true"]}}})

    async def start(self, settings: Settings) -> None:
        redis = shutil.which("redis-server")
        if redis is None:
            raise FileNotFoundError("redis-server is not installed; run 'make redis'")
        scratch = {d: self.root / d for d in ("tls", "ssh", "gnupg", "tmp")}
        for d in scratch.values():
            d.mkdir(parents=True, exist_ok=True)
        r_port, repo_port, repo_metrics, ctl_metrics = free_port(), free_port(), free_port(), free_port()
        # The repo-server runs the signature wrapper its image ships; module zips drop the
        # executable bit, so a one-line launcher runs the module cache's copy with sh.
        wrapper = self.modcache / f"github.com/argoproj/argo-cd/v3@{self.version}/hack/git-verify-wrapper.sh"
        launcher = scratch["tmp"].parent / "bin" / "git-verify-wrapper.sh"
        launcher.parent.mkdir(parents=True, exist_ok=True)
        launcher.write_text(f'#!/bin/sh\nexec sh {wrapper} "$@"\n')
        launcher.chmod(0o755)
        env = {**os.environ, "PATH": f"{self.bin_dir}:{launcher.parent}:{os.environ.get('PATH', '')}",
               "ARGOCD_TLS_DATA_PATH": str(scratch["tls"]), "ARGOCD_SSH_DATA_PATH": str(scratch["ssh"]),
               "ARGOCD_GNUPGHOME": str(scratch["gnupg"]), "ARGOCD_GPG_ENABLED": "false",
               "TMPDIR": str(scratch["tmp"])}
        self.procs.spawn("redis", [redis, "--bind", "127.0.0.1", "--port", str(r_port), "--save", "",
                                   "--appendonly", "no"], env)
        self.procs.spawn("argocd-repo-server", [
            str(self.bin_dir / "argocd-repo-server"), "--address", "127.0.0.1", "--port", str(repo_port),
            "--metrics-address", "127.0.0.1", "--metrics-port", str(repo_metrics),
            "--redis", f"127.0.0.1:{r_port}", "--revision-cache-expiration", "1s"],
            {**env, "ARGOCD_BINARY_NAME": "argocd-repo-server"})
        heal = (["--self-heal-timeout-seconds", "0", "--self-heal-backoff-timeout-seconds", "0"]
                if settings.fast else [])
        self.procs.spawn("argocd-application-controller", [
            str(self.bin_dir / "argocd-application-controller"), "--kubeconfig", str(self.kubeconfig),
            "--namespace", SYSTEM, "--redis", f"127.0.0.1:{r_port}",
            "--repo-server", f"127.0.0.1:{repo_port}",
            "--metrics-port", str(ctl_metrics),
            "--app-resync", str(int(settings.poll)), "--app-resync-jitter", "0", *heal],
            {**env, "ARGOCD_BINARY_NAME": "argocd-application-controller", "ARGOCD_FAKE_IN_CLUSTER": "true",
             "KUBECONFIG": str(self.kubeconfig)})
        await wait_http(f"http://127.0.0.1:{repo_metrics}/metrics", self.procs)
        await wait_http(f"http://127.0.0.1:{ctl_metrics}/metrics", self.procs)

    async def after_commit(self, kube: Kube) -> None:
        await annotate(kube, APPLICATION, {"argocd.argoproj.io/refresh": "normal"})

    async def after_drift(self, kube: Kube, settings: Settings) -> None:
        """Self-heal is watch-driven; the setting lies in the controller's flags."""
