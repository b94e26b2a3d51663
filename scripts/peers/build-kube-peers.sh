#!/usr/bin/env bash
# Builds the Go peers of the Kubernetes integration tests into the peers cache (default
# ~/.cache/amesh-ts/peers, override with AMESH_PEERS_CACHE):
#
#   bin/kube-apiserver   from the pinned k8s.io/kubernetes module (test/support/kube.ts); wrapper
#                        module scripts/peers/kube-apiserver/, whose go.mod replaces every k8s.io
#                        staging module with the published v0.X.Y matching k8s.io/kubernetes v1.X.Y
#   bin/istio-inject     Istio's own injection renderer (pkg/kube/inject) at the istiod pin of
#                        build-peers.sh, built from scripts/peers/istiod/inject (same wrapper module),
#                        to check deploy/istio/amesh-injection-values.yaml
#
# Idempotent: a stamp file records what was built; when it matches and the binary exists nothing
# happens. Shares Go's module and build caches with build-peers.sh. Exit status 2 = no usable Go
# (.ci/run only warns; the Kubernetes suites say they are skipped). etcd comes from Debian's
# etcd-server package, installed by .ci/run.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${AMESH_PEERS_CACHE:-$HOME/.cache/amesh-ts/peers}"
bin="$cache/bin"
stamp="$cache/stamp-kube-peers"

kubernetes_version="v1.36.3" # k8s.io/kubernetes; staging modules at v0.36.3 (see kube-apiserver/go.mod)

# shellcheck source=find-go.sh
source "$here/find-go.sh"
find_go build-kube-peers "k8s.io/kubernetes $kubernetes_version"

wrapper_sum="$(cat "$here/build-kube-peers.sh" "$here/kube-apiserver/go.mod" "$here/kube-apiserver/go.sum" \
  "$here/istiod/go.mod" "$here/istiod/go.sum" "$here/istiod/inject/main.go" | sha256sum | cut -d' ' -f1)"
want="k8s.io/kubernetes=$kubernetes_version go=$go_version wrapper=$wrapper_sum"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$bin/kube-apiserver" ] && [ -x "$bin/istio-inject" ]; then
  echo "build-kube-peers: up to date ($bin/kube-apiserver, $bin/istio-inject)"
  exit 0
fi

grep -qE "k8s.io/kubernetes $kubernetes_version( // indirect)?\$" "$here/kube-apiserver/go.mod" ||
  { echo "build-kube-peers: scripts/peers/kube-apiserver/go.mod does not require k8s.io/kubernetes $kubernetes_version" >&2; exit 1; }

mkdir -p "$bin" "$cache/go"
export GOPATH="$cache/go" GOMODCACHE="$cache/go/pkg/mod" GOCACHE="$cache/go/cache"
export GOFLAGS="-mod=readonly -buildvcs=false" GOTOOLCHAIN=local CGO_ENABLED=0
rm -f "$stamp"
start=$SECONDS
echo "build-kube-peers: building k8s.io/kubernetes $kubernetes_version kube-apiserver with $go_version (first build: several minutes)"
v="k8s.io/component-base/version"
(cd "$here/kube-apiserver" && "$go_bin" build -trimpath \
  -ldflags "-s -w -X $v.gitVersion=$kubernetes_version -X $v.gitMajor=1 -X $v.gitMinor=$(cut -d. -f2 <<<"$kubernetes_version") -X $v.gitTreeState=clean" \
  -o "$bin/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver)
mv "$bin/kube-apiserver.tmp" "$bin/kube-apiserver"
echo "build-kube-peers: kube-apiserver built ($((SECONDS - start)) s)"
(cd "$here/istiod" && "$go_bin" build -trimpath -ldflags "-s -w" -o "$bin/istio-inject.tmp" ./inject)
mv "$bin/istio-inject.tmp" "$bin/istio-inject"
echo "$want" >"$stamp"
echo "build-kube-peers: done in $((SECONDS - start)) s: $bin/kube-apiserver, $bin/istio-inject"
