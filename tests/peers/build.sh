#!/usr/bin/env bash
# Builds the peers gitopsd is benchmarked against (Flux's source-controller and
# kustomize-controller, Argo CD's multi-call binary) from the Go module proxy
# only, into a versioned cache outside the work tree. Each peer gets its own
# wrapper Go module, because the peers' go.mod files carry replace directives
# that `go install pkg@version` refuses. A stamp per peer makes a second run a
# no-op; the cold build time of each peer is kept beside its binaries.
#
# Usage: tests/peers/build.sh [flux|argocd]...   prints the peer directory on stdout
#        (no argument: every peer; "dir": only print it). Run each peer under the shared build lock:
#        flock /tmp/gitopsd-heavy.lock tests/peers/build.sh flux
# Env:   GITOPSD_PEERS_CACHE   cache root (default ~/.cache/gitopsd/peers)
set -euo pipefail

# flux2 v2.9.5 (its latest release) pairs source-controller and
# kustomize-controller v1.9.5.
FLUX_VERSION=v1.9.5
ARGOCD_VERSION=v3.5.8

ROOT=${GITOPSD_PEERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gitopsd/peers}
DEST="$ROOT/flux-${FLUX_VERSION#v}-argocd-${ARGOCD_VERSION#v}-linux-amd64"
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
  local c
  for c in source-controller kustomize-controller; do
    wrapper "$c" "github.com/fluxcd/$c@$FLUX_VERSION"
    go get "github.com/fluxcd/$c@$FLUX_VERSION"
    go build -trimpath -tags netgo,osusergo,static_build -ldflags "-s -w" -o "$DEST/$c" "github.com/fluxcd/$c"
  done
}

build_argocd() {
  local mod=github.com/argoproj/argo-cd/v3 hash engine
  wrapper argocd "$mod@$ARGOCD_VERSION"
  # The gitops-engine version argo-cd requires resolves to an old standalone
  # repository; its nested module at the release commit is what the release
  # was built with (argoproj/argo-cd#27725).
  hash=$(go mod download -json "$mod@$ARGOCD_VERSION" | jq -r .Origin.Hash)
  engine=$(go list -m -json "github.com/argoproj/argo-cd/gitops-engine@${hash:0:12}" | jq -r .Version)
  say "argocd $ARGOCD_VERSION is commit $hash; gitops-engine $engine"
  go mod edit -replace="github.com/argoproj/argo-cd/gitops-engine=github.com/argoproj/argo-cd/gitops-engine@$engine"
  go get "$mod/cmd@$ARGOCD_VERSION"
  go build -trimpath -ldflags "-s -w -X $mod/common.version=${ARGOCD_VERSION#v}" -o "$DEST/argocd" "$mod/cmd"
  ln -sf argocd "$DEST/argocd-application-controller"
  ln -sf argocd "$DEST/argocd-repo-server"
}

build() {
  local peer=$1 want stamp="$DEST/.stamp-$1" log="$ROOT/build-$1.log" t0=$SECONDS
  case $peer in
    flux) want="source-controller=$FLUX_VERSION kustomize-controller=$FLUX_VERSION" ;;
    argocd) want="argo-cd=$ARGOCD_VERSION" ;;
    *) say "unknown peer $peer (flux or argocd)"; exit 64 ;;
  esac
  [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && return 0
  mkdir -p "$DEST" "$WORK"
  say "building $peer ($want); log in $log"
  if ! ( "build_$peer" ) >"$log" 2>&1; then
    say "building $peer failed; the last lines of $log:"
    tail -n 30 "$log" >&2
    exit 2
  fi
  echo "$((SECONDS - t0))" >"$DEST/.buildtime-$peer"
  echo "$want" >"$stamp"
  say "built $peer in $((SECONDS - t0))s"
}

# "dir" only prints where the peers are (or would be) built.
[[ "${1:-}" == dir ]] && { echo "$DEST"; exit 0; }
peers=("$@")
[[ ${#peers[@]} -gt 0 ]] || peers=(flux argocd)
for p in "${peers[@]}"; do build "$p"; done
echo "$DEST"
