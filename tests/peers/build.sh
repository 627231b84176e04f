#!/usr/bin/env bash
# Builds the peers gitopsd is benchmarked against (Flux's source-controller and
# kustomize-controller, Argo CD's multi-call binary) from the Go module proxy
# only, into a versioned cache outside the work tree. Each peer gets its own
# wrapper Go module, because the peers' go.mod files carry replace directives
# that `go install pkg@version` refuses. A stamp per peer makes a second run a
# no-op; the cold build time of each peer is kept beside its binaries.
#
# Usage: tests/peers/build.sh [flux|argocd]...   prints each peer's directory on stdout
#        (no argument: every peer); tests/peers/build.sh dir PEER only prints it.
#        Run each peer under the shared build lock:
#        flock /tmp/gitopsd-heavy.lock tests/peers/build.sh flux
# Env:   GITOPSD_PEERS_CACHE   cache root (default ~/.cache/gitopsd/peers)
set -euo pipefail

# flux2 v2.9.5 (its latest release) pairs source-controller and
# kustomize-controller v1.9.5.
FLUX_VERSION=v1.9.5
# The v3.5 line cannot be resolved from the proxy here: its in-tree gitops-engine
# (github.com/argoproj/argo-cd/gitops-engine) is required at an unresolvable
# version, and the proxy refuses every pseudo-version of that path (403).
ARGOCD_VERSION=v3.6.2
ARGOCD_GO=go1.27.3

# A served version for each requirement the proxy refuses here (403).
FLUX_REFUSED=(github.com/fluxcd/pkg/artifact=github.com/fluxcd/pkg/artifact@v0.18.0)

ROOT=${GITOPSD_PEERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gitopsd/peers}
WORK="$ROOT/work"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false
say() { echo "peers: $*" >&2; }

gomod_of() { go mod download -json "$1" | jq -r .GoMod; }

# Copies the replace directives of a peer's go.mod that point at published
# modules (the ones to local directories are dropped: module zips omit them).
copy_replaces() {
  local r
  while IFS= read -r r; do
    [[ -n "$r" ]] && go mod edit -replace="$r"
  done < <(go mod edit -json "$1" \
    | jq -r '.Replace[]? | select(.New.Version != null)
             | "\(.Old.Path)\(if .Old.Version then "@"+.Old.Version else "" end)=\(.New.Path)@\(.New.Version)"')
}

# wrapper NAME MODULE@VERSION: a fresh module in $WORK/NAME with the peer's
# go line and published replaces, requiring the peer.
wrapper() {
  local dir="$WORK/$1" gomod
  rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
  go mod init "local/peer-$1"
  gomod=$(gomod_of "$2")
  go mod edit -go="$(sed -n 's/^go //p' "$gomod")"
  copy_replaces "$gomod"
}

build_flux() {
  local c r
  for c in source-controller kustomize-controller; do
    wrapper "$c" "github.com/fluxcd/$c@$FLUX_VERSION"
    for r in "${FLUX_REFUSED[@]}"; do go mod edit -replace="$r"; done
    go get "github.com/fluxcd/$c@$FLUX_VERSION"
    go build -trimpath -tags netgo,osusergo,static_build -ldflags "-s -w" -o "$DEST/$c" "github.com/fluxcd/$c"
  done
}

build_argocd() {
  local mod=github.com/argoproj/argo-cd/v3
  # From v3.6 the nested gitops-engine module is tagged (gitops-engine/vX.Y.Z) and
  # served by the proxy; argo-cd's go line (1.27) needs the proxy's newer toolchain.
  export GOTOOLCHAIN=$ARGOCD_GO
  wrapper argocd "$mod@$ARGOCD_VERSION"
  go get "$mod/cmd@$ARGOCD_VERSION"
  go build -trimpath -ldflags "-s -w -X $mod/common.version=${ARGOCD_VERSION#v}" -o "$DEST/argocd" "$mod/cmd"
  ln -sf argocd "$DEST/argocd-application-controller"
  ln -sf argocd "$DEST/argocd-repo-server"
}

dest() {
  case $1 in
    flux) echo "$ROOT/flux-${FLUX_VERSION#v}-linux-amd64" ;;
    argocd) echo "$ROOT/argocd-${ARGOCD_VERSION#v}-linux-amd64" ;;
    *) say "unknown peer $1 (flux or argocd)"; exit 64 ;;
  esac
}

build() {
  local peer=$1 want log="$ROOT/build-$1.log" t0=$SECONDS rc=0
  DEST=$(dest "$peer")
  case $peer in
    flux) want="source-controller=$FLUX_VERSION kustomize-controller=$FLUX_VERSION ${FLUX_REFUSED[*]}" ;;
    argocd) want="argo-cd=$ARGOCD_VERSION go=$ARGOCD_GO" ;;
  esac
  [[ -f "$DEST/.stamp" && "$(cat "$DEST/.stamp")" == "$want" ]] && return 0
  mkdir -p "$DEST" "$WORK"
  say "building $peer ($want); log in $log"
  # In the background so that errexit holds inside the build functions.
  "build_$peer" >"$log" 2>&1 &
  wait $! || rc=$?
  if [[ $rc != 0 ]]; then
    say "building $peer failed; the last lines of $log:"
    tail -n 30 "$log" >&2
    exit 2
  fi
  echo "$((SECONDS - t0))" >"$DEST/.buildtime"
  echo "$want" >"$DEST/.stamp"
  say "built $peer in $((SECONDS - t0))s into $DEST"
}

# "dir PEER" only prints where PEER is (or would be) built.
if [[ "${1:-}" == dir ]]; then dest "${2:?dir needs a peer}"; exit 0; fi
peers=("$@")
[[ ${#peers[@]} -gt 0 ]] || peers=(flux argocd)
for p in "${peers[@]}"; do build "$p"; echo "$DEST"; done
