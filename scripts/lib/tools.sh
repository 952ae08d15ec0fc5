# Tools the checks need that a fresh machine may lack, fetched from Debian's and npm's
# repositories into a cache (binaries only: no daemon is installed or started).
#   ensure_promtool — Prometheus's promtool (Debian package `prometheus`, unpacked)
#   ensure_redocly  — @redocly/cli (npm)
# Each puts the tool on PATH, or returns non-zero saying why.
tools_cache="${LEDGER_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ledger-tools}"

ensure_promtool() {
  command -v promtool >/dev/null 2>&1 && return 0
  local dir="$tools_cache/prometheus"
  if [ ! -x "$dir/usr/bin/promtool" ]; then
    mkdir -p "$tools_cache/deb"
    if ! (cd "$tools_cache/deb" && apt-get download prometheus >/dev/null 2>&1); then
      [ "$(id -u)" -eq 0 ] && DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1
      (cd "$tools_cache/deb" && apt-get download prometheus >/dev/null 2>&1) || { echo "promtool: could not download Debian's prometheus package" >&2; return 1; }
    fi
    dpkg -x "$(ls "$tools_cache"/deb/prometheus_*.deb | head -1)" "$dir"
  fi
  export PATH="$dir/usr/bin:$PATH"
}

ensure_redocly() {
  command -v redocly >/dev/null 2>&1 && return 0
  local dir="$tools_cache/redocly"
  if [ ! -x "$dir/node_modules/.bin/redocly" ]; then
    command -v npm >/dev/null 2>&1 || { echo "redocly: npm is not installed" >&2; return 1; }
    npm install --prefix "$dir" --no-audit --no-fund --loglevel=error @redocly/cli@2.77.0 >/dev/null 2>&1 \
      || { echo "redocly: npm install @redocly/cli@2.77.0 failed" >&2; return 1; }
  fi
  export PATH="$dir/node_modules/.bin:$PATH"
}
