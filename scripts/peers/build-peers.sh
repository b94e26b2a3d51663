#!/usr/bin/env bash
# Builds the real xDS control planes the integration tests use as peers, from pinned Go modules,
# into a cache outside the repo (default ~/.cache/amesh-ts/peers, override with AMESH_PEERS_CACHE):
#
#   bin/istiod-kubeless          Istio's discovery server (istio.io/istio, pinned below) run with an
#                                in-memory fake Kubernetes; wrapper module scripts/peers/istiod/
#   bin/pilot-agent              Istio's own pilot-agent (istio.io/istio/pilot/cmd/pilot-agent, unchanged)
#                                from the same wrapper module and pin (a `tool` line in its go.mod)
#   bin/go-control-plane-test    github.com/envoyproxy/go-control-plane/pkg/test/main (v0.14.0);
#                                wrapper module scripts/peers/go-control-plane/
#
# Idempotent: a stamp file records what was built; when it matches (and the binaries exist) the
# script does nothing. Go's module and build caches live under the same directory, so a rebuild
# after a pin change is incremental. Needs Go >= 1.26 and the Go module proxy; nothing else.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${AMESH_PEERS_CACHE:-$HOME/.cache/amesh-ts/peers}"
bin="$cache/bin"
stamp="$cache/stamp"

# --- pins -------------------------------------------------------------------------------------
# Istio: the Go module proxy reachable here serves only a few pseudo-versions of istio.io/istio
# (master commits); release 1.29.6 (7019d6d) is refused ("This module version is not available").
# Upstream pilot-discovery of these versions panics without Kubernetes, hence the wrapper.
istio_version="v0.0.0-20260827124520-eed52ebb66ad" # istio/istio master, commit eed52ebb66ad
istio_reports="1.31-dev"                           # what `istiod-kubeless version` reports (VERSION file + -dev)
gcp_version="v0.14.0"                              # github.com/envoyproxy/go-control-plane
gcp_envoy_version="v1.36.0"                        # github.com/envoyproxy/go-control-plane/envoy (matches v0.14.0)
# ----------------------------------------------------------------------------------------------

# Exit status 2 = no usable Go (.ci/run then only warns; the peer tests say they are skipped).
# shellcheck source=find-go.sh
source "$here/find-go.sh"
find_go build-peers "istio.io/istio (the xDS peer tests)"

# Everything that decides the binaries' content goes into the stamp, including our wrapper sources.
wrapper_sum="$(cat "$here/build-peers.sh" "$here/istiod/go.mod" "$here/istiod/go.sum" "$here"/istiod/*.go \
  "$here/go-control-plane/go.mod" "$here/go-control-plane/go.sum" | sha256sum | cut -d' ' -f1)"
want="istio.io/istio=$istio_version go-control-plane=$gcp_version go-control-plane/envoy=$gcp_envoy_version go=$go_version wrappers=$wrapper_sum"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$bin/istiod-kubeless" ] && [ -x "$bin/pilot-agent" ] && [ -x "$bin/go-control-plane-test" ]; then
  echo "build-peers: up to date ($stamp)"
  echo "  istiod:           $bin/istiod-kubeless"
  echo "  pilot-agent:      $bin/pilot-agent"
  echo "  go-control-plane: $bin/go-control-plane-test"
  exit 0
fi

mkdir -p "$bin" "$cache/go"
export GOPATH="$cache/go" GOMODCACHE="$cache/go/pkg/mod" GOCACHE="$cache/go/cache"
export GOFLAGS="-mod=readonly -buildvcs=false" GOTOOLCHAIN=local CGO_ENABLED=0
# Both wrapper modules pin their own versions in go.mod; check them against the pins above.
grep -q "istio.io/istio $istio_version\$" "$here/istiod/go.mod" ||
  { echo "build-peers: scripts/peers/istiod/go.mod does not require istio.io/istio $istio_version" >&2; exit 1; }
grep -q "github.com/envoyproxy/go-control-plane $gcp_version" "$here/go-control-plane/go.mod" &&
  grep -q "github.com/envoyproxy/go-control-plane/envoy $gcp_envoy_version" "$here/go-control-plane/go.mod" ||
  { echo "build-peers: scripts/peers/go-control-plane/go.mod does not pin $gcp_version / envoy $gcp_envoy_version" >&2; exit 1; }

rm -f "$stamp"
start=$SECONDS
echo "build-peers: building into $cache with $go_version (the first build downloads ~0.7 GB of modules and takes minutes)"

v="istio.io/istio/pkg/version"
short="${istio_version##*-}"
(cd "$here/istiod" && "$go_bin" build -trimpath \
  -ldflags "-s -w -X $v.buildVersion=$istio_reports -X $v.buildGitRevision=$short -X $v.buildTag=$short -X $v.buildStatus=Clean" \
  -o "$bin/istiod-kubeless.tmp" .)
mv "$bin/istiod-kubeless.tmp" "$bin/istiod-kubeless"
echo "build-peers: istiod-kubeless built ($((SECONDS - start)) s)"

# pilot-agent as Istio ships it (same version stamp as istiod), for the pod tests: DISABLE_ENVOY=true,
# OUTPUT_CERTS, its XDS proxy socket (test/integration/pilot-agent-sidecar.test.ts).
(cd "$here/istiod" && "$go_bin" build -trimpath \
  -ldflags "-s -w -X $v.buildVersion=$istio_reports -X $v.buildGitRevision=$short -X $v.buildTag=$short -X $v.buildStatus=Clean" \
  -o "$bin/pilot-agent.tmp" istio.io/istio/pilot/cmd/pilot-agent)
mv "$bin/pilot-agent.tmp" "$bin/pilot-agent"
echo "build-peers: pilot-agent built ($((SECONDS - start)) s)"

(cd "$here/go-control-plane" && "$go_bin" build -trimpath -ldflags "-s -w" \
  -o "$bin/go-control-plane-test.tmp" github.com/envoyproxy/go-control-plane/pkg/test/main)
mv "$bin/go-control-plane-test.tmp" "$bin/go-control-plane-test"

echo "$want" >"$stamp"
echo "build-peers: done in $((SECONDS - start)) s"
echo "  istiod:           $bin/istiod-kubeless"
echo "  pilot-agent:      $bin/pilot-agent"
echo "  go-control-plane: $bin/go-control-plane-test"
