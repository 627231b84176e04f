#!/usr/bin/env bash
# Builds the control-plane binaries and tools gitopsd's tests and demo need,
# from the Go module proxy only, into a versioned cache outside the work tree
# (KUBEBUILDER_ASSETS layout). A stamp file makes a second run a no-op.
#
# Usage: tests/testenv/build.sh        prints the asset directory on stdout
# Env:   GITOPSD_TESTENV_CACHE         cache root (default ~/.cache/gitopsd/testenv)
#        KUBEBUILDER_ASSETS            when it holds kube-apiserver, etcd and kubectl,
#                                      those three are not built
set -euo pipefail

K8S_VERSION=v1.34.4
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.8.0
HELM_VERSION=v3.21.4
KUSTOMIZE_VERSION=v5.8.1
SOPS_VERSION=v3.13.2
AGE_VERSION=v1.3.2
REGISTRY_VERSION=v3.1.2
JAEGER_VERSION=v1.75.0

STAMP="k8s=$K8S_VERSION etcd=$ETCD_VERSION kwok=$KWOK_VERSION helm=$HELM_VERSION kustomize=$KUSTOMIZE_VERSION sops=$SOPS_VERSION age=$AGE_VERSION registry=$REGISTRY_VERSION jaeger=$JAEGER_VERSION"
ROOT=${GITOPSD_TESTENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gitopsd/testenv}
DEST="$ROOT/k8s-${K8S_VERSION#v}-linux-amd64"
WORK="$ROOT/work"
LOG="$ROOT/build.log"

if [[ -f "$DEST/.stamp" && "$(cat "$DEST/.stamp")" == "$STAMP" ]]; then
  echo "$DEST"
  exit 0
fi

mkdir -p "$DEST" "$WORK"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false
: >"$LOG"
say() { echo "testenv: $*" >&2; }
step() {
  local name=$1; shift
  local t0=$SECONDS
  say "building $name"
  if ! "$@" >>"$LOG" 2>&1; then
    say "building $name failed; the last lines of $LOG:"
    tail -n 30 "$LOG" >&2
    exit 2
  fi
  say "built $name in $((SECONDS - t0))s"
}

have_assets() {
  [[ -n "${KUBEBUILDER_ASSETS:-}" ]] || return 1
  local b
  for b in kube-apiserver etcd kubectl; do [[ -x "$KUBEBUILDER_ASSETS/$b" ]] || return 1; done
}

build_kubernetes() {
  local dir="$WORK/kubernetes" minor gomod name
  rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
  go mod init local/kubebins
  gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  # Every staging module required at v0.0.0 is published as v0.<minor>.<patch>.
  for name in $(sed -n 's#^\s*k8s.io/\([a-z0-9-]*\) v0.0.0$#\1#p' "$gomod"); do
    go mod edit -replace="k8s.io/$name=k8s.io/$name@v0.${K8S_VERSION#v1.}"
  done
  go mod edit -go="$(sed -n 's/^go //p' "$gomod")" -require="k8s.io/kubernetes@$K8S_VERSION"
  local cmds="k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl"
  # shellcheck disable=SC2086
  go get $(for c in $cmds; do echo "$c@$K8S_VERSION"; done)
  local now pkg ld=""
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ld+=" -X $pkg.gitCommit=0000000000000000000000000000000000000000 -X $pkg.gitTreeState=clean -X $pkg.buildDate=$now"
  done
  # shellcheck disable=SC2086
  go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "-s -w$ld" -o "$DEST/" $cmds
}

build_etcd() {
  local dir="$WORK/etcd"
  rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
  go mod init local/etcdbin
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  go build -trimpath -ldflags "-s -w" -o "$DEST/etcd" go.etcd.io/etcd/server/v3
}

# Jaeger's collector-based binary (OTLP in, in-memory storage, query API): the
# trace tests look a sync's trace up through it. Its web UI assets are not in
# the module, so only the HTTP API is served.
build_jaeger() {
  local dir="$WORK/jaeger"
  rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
  go mod init local/jaegerbin
  go get "github.com/jaegertracing/jaeger/cmd/jaeger@$JAEGER_VERSION"
  go build -trimpath -ldflags "-s -w" -o "$DEST/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger
}

goinstall() { GOBIN="$DEST" go install -trimpath -ldflags "-s -w ${2:-}" "$1"; }

t_all=$SECONDS
if have_assets; then
  say "using kube-apiserver, etcd and kubectl from KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
  for b in kube-apiserver etcd kubectl kube-controller-manager kube-scheduler; do
    [[ -x "$KUBEBUILDER_ASSETS/$b" ]] && ln -sf "$KUBEBUILDER_ASSETS/$b" "$DEST/$b"
  done
fi
[[ -x "$DEST/etcd" ]] || step "etcd $ETCD_VERSION" build_etcd
[[ -x "$DEST/kube-apiserver" && -x "$DEST/kube-controller-manager" && -x "$DEST/kube-scheduler" && -x "$DEST/kubectl" ]] \
  || step "kubernetes $K8S_VERSION" build_kubernetes
[[ -x "$DEST/kwok" ]] || step "kwok $KWOK_VERSION" goinstall "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
[[ -x "$DEST/helm" ]] || step "helm $HELM_VERSION" goinstall "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" \
  "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
[[ -x "$DEST/kustomize" ]] || step "kustomize $KUSTOMIZE_VERSION" goinstall "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
[[ -x "$DEST/sops" ]] || step "sops $SOPS_VERSION" goinstall "github.com/getsops/sops/v3/cmd/sops@$SOPS_VERSION"
[[ -x "$DEST/age" && -x "$DEST/age-keygen" ]] || step "age $AGE_VERSION" goinstall "filippo.io/age/cmd/...@$AGE_VERSION"
# The CNCF distribution registry: the local OCI registry the Helm OCI tests push charts to.
[[ -x "$DEST/registry" ]] || step "registry $REGISTRY_VERSION" \
  goinstall "github.com/distribution/distribution/v3/cmd/registry@$REGISTRY_VERSION"
[[ -x "$DEST/jaeger" ]] || step "jaeger $JAEGER_VERSION" build_jaeger
echo "$STAMP" >"$DEST/.stamp"
say "all binaries ready in $DEST after $((SECONDS - t_all))s"
echo "$DEST"
