# Sourced by the peer build scripts: sets go_bin and go_version to a Go >= 1.26, or exits 2 (no usable
# Go: .ci/run then only warns and the suites that need the peers say they are skipped).
# Usage: find_go <script name> <what is built, for the message>
find_go() {
  go_bin="$(command -v go || true)"
  if [ -z "$go_bin" ] && [ -x /usr/local/go/bin/go ]; then go_bin=/usr/local/go/bin/go; fi
  if [ -z "$go_bin" ]; then
    echo "$1: Go is not installed (looked for 'go' on PATH and /usr/local/go/bin/go); $2 needs Go >= 1.26 and the Go module proxy. Skipped." >&2
    exit 2
  fi
  go_version="$("$go_bin" env GOVERSION)"
  local go_minor
  go_minor="$(sed -E 's/^go1\.([0-9]+).*/\1/' <<<"$go_version")"
  if ! [[ "$go_minor" =~ ^[0-9]+$ ]] || [ "$go_minor" -lt 26 ]; then
    echo "$1: $go_bin is $go_version; $2 needs Go >= 1.26. Skipped." >&2
    exit 2
  fi
}
