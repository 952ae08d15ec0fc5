# Starts a throw-away or persistent PostgreSQL from the machine's binaries, without systemd.
# Source this file, then: start_postgres DIR PORT [extra server options...]; stop_postgres DIR.
# Installs Debian's postgresql when no server binaries are found and we run as root.

find_pg_bin() {
  local candidate
  for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$candidate/initdb" ] && [ -x "$candidate/pg_ctl" ]; then echo "$candidate"; return 0; fi
  done
  return 1
}

ensure_postgres_installed() {
  if find_pg_bin >/dev/null; then return 0; fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "PostgreSQL server binaries not found; install Debian's 'postgresql' package (needs root)." >&2
    return 1
  fi
  echo "Installing PostgreSQL (apt-get install postgresql)..." >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  find_pg_bin >/dev/null
}

# Runs a PostgreSQL binary as the 'postgres' OS user when we are root (initdb refuses root).
as_pg_user() {
  # From / so that a checkout the postgres user cannot enter does not produce warnings.
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

free_port() {
  python3 - <<'PY' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

# start_postgres DIR PORT [server options]: initializes DIR/data once, starts the server on
# 127.0.0.1:PORT with its socket in DIR, and creates the database 'ledger'.
start_postgres() {
  local dir="$1" port="$2"; shift 2
  local bin; bin=$(find_pg_bin) || { echo "No PostgreSQL binaries." >&2; return 1; }
  if [ "$(id -u)" -eq 0 ]; then
    install -d -o postgres -g postgres "$dir"
  else
    mkdir -p "$dir"
  fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    if [ "$(id -u)" -eq 0 ]; then install -d -o postgres -g postgres -m 700 "$dir/data"; else mkdir -p -m 700 "$dir/data"; fi
    as_pg_user "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; return 1; }
  fi
  local opts="-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200"
  local extra
  for extra in "$@"; do opts="$opts $extra"; done
  as_pg_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/pg.log" -w -t 60 -o "$opts" start >/dev/null \
    || { tail -20 "$dir/pg.log" >&2; return 1; }
  if ! as_pg_user "$bin/psql" -h "$dir" -p "$port" -U postgres -tAc "select 1 from pg_database where datname='ledger'" | grep -q 1; then
    as_pg_user "$bin/psql" -h "$dir" -p "$port" -U postgres -qc "create database ledger" >/dev/null
  fi
}

stop_postgres() {
  local dir="$1"
  local bin; bin=$(find_pg_bin) || return 0
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_pg_user "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
}
