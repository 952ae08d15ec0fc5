#!/usr/bin/env bash
# Builds and runs Ledger on http://127.0.0.1:5080 (or ASPNETCORE_URLS).
# Database: LEDGER_CONNECTION when set; otherwise a local PostgreSQL started from this machine's
# binaries (installed from Debian when missing and running as root), data kept in .data/;
# otherwise `docker compose` where a Docker engine runs. Ctrl-C stops everything it started.
# --kafka: Kafka bridging on, against Ledger__Kafka__BootstrapServers when set, otherwise a
# development broker (librdkafka's mock cluster, tools/Ledger.KafkaBroker) started here.
set -euo pipefail
kafka=""
for arg in "$@"; do
  case "$arg" in
    --kafka) kafka=1 ;;
    *) echo "Unknown option: $arg (supported: --kafka)" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
root=$PWD
source scripts/lib/postgres.sh

data="$root/.data"
mkdir -p "$data"
export ASPNETCORE_URLS="${ASPNETCORE_URLS:-http://127.0.0.1:5080}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

if [ -z "${Ledger__Auth__SigningKey:-}" ]; then
  if [ ! -s "$data/signing-key" ]; then
    head -c 48 /dev/urandom | base64 | tr -d '\n/+=' > "$data/signing-key"
    chmod 600 "$data/signing-key"
  fi
  Ledger__Auth__SigningKey="$(cat "$data/signing-key")"
  export Ledger__Auth__SigningKey
fi

pg_dir=""
compose_started=""
cleanup() {
  trap - EXIT INT TERM
  if [ -n "${app_pid:-}" ]; then kill "$app_pid" 2>/dev/null || true; wait "$app_pid" 2>/dev/null || true; fi
  if [ -n "${broker_pid:-}" ]; then kill "$broker_pid" 2>/dev/null || true; wait "$broker_pid" 2>/dev/null || true; fi
  if [ -n "$pg_dir" ]; then echo "Stopping PostgreSQL..."; stop_postgres "$pg_dir"; fi
  if [ -n "$compose_started" ]; then docker compose stop postgres >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT INT TERM

if [ -n "${LEDGER_CONNECTION:-}" ]; then
  echo "Using LEDGER_CONNECTION."
elif ensure_postgres_installed; then
  pg_port="${LEDGER_PG_PORT:-55432}"
  pg_dir="$data/postgres"
  if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$data" 2>/dev/null; then
    # The postgres user cannot reach a folder under this checkout (e.g. a private home): keep data beside /var/tmp.
    pg_dir="/var/tmp/ledger-$(echo "$root" | md5sum | cut -c1-8)/postgres"
    echo "Note: PostgreSQL data kept in $pg_dir (the checkout is not readable by the postgres user)."
  fi
  bin=$(find_pg_bin)
  if [ -f "$pg_dir/data/postmaster.pid" ] && as_pg_user "$bin/pg_ctl" -D "$pg_dir/data" status >/dev/null 2>&1; then
    echo "PostgreSQL already running from $pg_dir; reusing it."
    pg_port=$(sed -n 4p "$pg_dir/data/postmaster.pid")
    pg_dir=""   # not ours to stop
  else
    if (exec 3<>"/dev/tcp/127.0.0.1/$pg_port") 2>/dev/null; then
      pg_port=$(free_port)   # the usual port is taken by something else: use a free one
    fi
    echo "Starting PostgreSQL on 127.0.0.1:$pg_port (data in ${pg_dir#"$root"/})..."
    # A port found free can be taken before PostgreSQL binds it: then try another free port.
    for attempt in 1 2 3; do
      if start_postgres "$pg_dir" "$pg_port" 2>"$data/postgres-start.log"; then break; fi
      if [ "$attempt" -eq 3 ]; then cat "$data/postgres-start.log" >&2; exit 1; fi
      pg_port=$(free_port)
      echo "PostgreSQL could not start on that port; trying 127.0.0.1:$pg_port..."
    done
  fi
  export LEDGER_CONNECTION="Host=127.0.0.1;Port=$pg_port;Database=ledger;Username=postgres"
elif docker compose version >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  echo "Starting PostgreSQL with docker compose..."
  docker compose up -d postgres
  compose_started=1
  export LEDGER_CONNECTION="Host=127.0.0.1;Port=5432;Database=ledger;Username=ledger;Password=ledger"
else
  echo "No PostgreSQL: set LEDGER_CONNECTION, run as root to install Debian's postgresql, or install Docker." >&2
  exit 1
fi

echo "Building..."
dotnet build src/Ledger/Ledger.csproj -c Release -v quiet -nologo -clp:ErrorsOnly

kafka_line=""
if [ -n "$kafka" ]; then
  if [ -n "${Ledger__Kafka__BootstrapServers:-}" ]; then
    echo "Kafka: using $Ledger__Kafka__BootstrapServers."
  else
    echo "Starting a development Kafka broker (librdkafka's mock cluster; in memory, gone when this stops)..."
    dotnet build tools/Ledger.KafkaBroker -c Release -v quiet -nologo -clp:ErrorsOnly
    rm -f "$data/kafka-bootstrap"
    dotnet tools/Ledger.KafkaBroker/bin/Release/net10.0/Ledger.KafkaBroker.dll "$data/kafka-bootstrap" >"$data/kafka.log" 2>&1 &
    broker_pid=$!
    for _ in $(seq 1 100); do [ -s "$data/kafka-bootstrap" ] && break; sleep 0.1; done
    [ -s "$data/kafka-bootstrap" ] || { echo "The development Kafka broker did not start:" >&2; cat "$data/kafka.log" >&2; exit 1; }
    export Ledger__Kafka__BootstrapServers="$(cat "$data/kafka-bootstrap")"
  fi
  kafka_line="  Kafka:         $Ledger__Kafka__BootstrapServers (usage in: ledger.usage.v1, events out: ledger.events.v1; see docs/kafka.md)"
fi
app=src/Ledger/bin/Release/net10.0/Ledger.dll
# The build output holds appsettings.json (log levels, roles): make it the content root.
export ASPNETCORE_CONTENTROOT="$root/src/Ledger/bin/Release/net10.0"
token=$(dotnet "$app" token --scope admin --sub developer --hours 12)

dotnet "$app" &
app_pid=$!

base="${ASPNETCORE_URLS%%;*}"
base="${base/+/127.0.0.1}"
base="${base/\*/127.0.0.1}"
base="${base/0.0.0.0/127.0.0.1}"
for _ in $(seq 1 120); do
  if curl -fsS "$base/health/ready" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$app_pid" 2>/dev/null; then echo "Ledger exited during start-up." >&2; exit 1; fi
  sleep 0.5
done

cat <<MSG

  Ledger is running on $base
  API docs:      $base/docs
  OpenAPI:       $base/openapi/v1.json
  Health:        $base/health/ready     Metrics: $base/metrics
$kafka_line

  Development token (scope admin, 12 hours):
  $token

  Try (the README's "First calls" go on from here):
    export TOKEN=$token
    curl -X PUT $base/v1/plans/basic -H "Authorization: Bearer \$TOKEN" -H "Content-Type: application/json" \\
      -d '{ "currency": "INR", "meters": { "otp.sms": { "model": "flat", "unitPrice": "0.20" } } }'
  Other scopes: export Ledger__Auth__SigningKey="\$(cat .data/signing-key)"   (the key this run uses)
                dotnet $app token --scope "wallets:read wallets:write" --sub alice
  Ctrl-C stops the service and what it started (PostgreSQL, the development Kafka broker).

MSG
wait "$app_pid"
