#!/usr/bin/env bash
# Ingestion benchmark: starts its own PostgreSQL (fsync on, as in production), the service in
# Release on loopback, and the load program, which also measures the raw-COPY and plain-Marten
# baselines in the same run. Settings: BENCH_SECONDS (30), BENCH_CLIENTS (8), BENCH_CUSTOMERS (1000).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/postgres.sh
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

work=$(mktemp -d /tmp/ledger-bench.XXXXXX)
chmod 755 "$work"
cleanup() {
  trap - EXIT INT TERM
  [ -n "${service_pid:-}" ] && kill "$service_pid" 2>/dev/null && wait "$service_pid" 2>/dev/null
  [ -n "${broker_pid:-}" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
  stop_postgres "$work/pg"
  cp "$work/pg/pg.log" /tmp/ledger-bench-pg.log 2>/dev/null || true
  cp "$work/service.log" /tmp/ledger-bench-service.log 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

ensure_postgres_installed
pg_port=$(free_port)
# shellcheck disable=SC2086
start_postgres "$work/pg" "$pg_port" -c shared_buffers=512MB -c max_wal_size=4GB ${BENCH_PG_OPTS:-}
database="Host=127.0.0.1;Port=$pg_port;Database=ledger;Username=postgres"
if [ "${BENCH_PGSS:-}" = 1 ]; then as_pg_user "$(find_pg_bin)/psql" -h "$work/pg" -p "$pg_port" -U postgres -d ledger -qc "create extension if not exists pg_stat_statements" >/dev/null; fi

dotnet publish src/Ledger/Ledger.csproj -c Release -o "$work/service" -v quiet -nologo -clp:ErrorsOnly
dotnet build benchmarks/Ledger.Benchmarks/Ledger.Benchmarks.csproj -c Release -v quiet -nologo -clp:ErrorsOnly

if [ "${BENCH_MODE:-ingest}" = kafka ]; then
  # Kafka mode: the development broker (librdkafka's mock cluster), the service consuming from it
  # with BENCH_CONSUMERS consumers (default 1), and BENCH_EVENTS records (default 500,000).
  dotnet build tools/Ledger.KafkaBroker -c Release -v quiet -nologo -clp:ErrorsOnly
  dotnet tools/Ledger.KafkaBroker/bin/Release/net10.0/Ledger.KafkaBroker.dll "$work/kafka-bootstrap" >"$work/kafka.log" 2>&1 &
  broker_pid=$!
  for _ in $(seq 1 100); do [ -s "$work/kafka-bootstrap" ] && break; sleep 0.1; done
  export BENCH_KAFKA="$(cat "$work/kafka-bootstrap")" Ledger__Kafka__BootstrapServers="$(cat "$work/kafka-bootstrap")"
  export Ledger__Kafka__Consumers="${BENCH_CONSUMERS:-1}"
fi

service_port=$(free_port)
export LEDGER_CONNECTION="$database" Ledger__Auth__SigningKey="bench-signing-key-0123456789abcdef-0123456789"
export ASPNETCORE_URLS="http://127.0.0.1:$service_port" Ledger__Daemon="${BENCH_DAEMON:-Solo}" Ledger__Durability=Solo
export Logging__LogLevel__Default=Warning
dotnet "$work/service/Ledger.dll" > "$work/service.log" 2>&1 &
service_pid=$!
for _ in $(seq 1 120); do curl -fsS "http://127.0.0.1:$service_port/health/ready" >/dev/null 2>&1 && break; sleep 0.5; done

status=0
BENCH_TOKEN=$(dotnet "$work/service/Ledger.dll" token --scope admin --sub bench) \
BENCH_URL="http://127.0.0.1:$service_port" BENCH_DATABASE="$database" BENCH_SERVICE_PID=$service_pid \
  dotnet benchmarks/Ledger.Benchmarks/bin/Release/net10.0/Ledger.Benchmarks.dll || status=$?

if [ "${BENCH_MODE:-ingest}" = ingest ] && [ "${BENCH_REBUILD:-}" = 1 ]; then
  # Rebuild the set-based read models from every event recorded above with the ledger's own
  # rebuild (the one the admin API runs), and check the tables come back identical.
  kill "$service_pid"; wait "$service_pid" 2>/dev/null || true; service_pid=""
  psql_ledger() { as_pg_user "$(find_pg_bin)/psql" -h "$work/pg" -p "$pg_port" -U postgres -d ledger -Atc "$1"; }
  events=$(psql_ledger "select count(*) from ledger.mt_events")
  for projection in Wallets:wallets UsageRollups:usage_rollups; do
    name=${projection%%:*}; table=${projection##*:}
    before=$(psql_ledger "select md5(string_agg(t::text, '|' order by t::text)) from ledger.$table t")
    started=$(date +%s.%N)
    dotnet "$work/service/Ledger.dll" rebuild "$name" > "$work/rebuild-$name.log" 2>&1
    seconds=$(echo "$(date +%s.%N) - $started" | bc)
    after=$(psql_ledger "select md5(string_agg(t::text, '|' order by t::text)) from ledger.$table t")
    same=$([ "$before" = "$after" ] && echo identical || echo DIFFERENT)
    printf '| rebuild %s from %s events (command line, incl. start-up) | %.1f s (%.0f events/s); table %s |\n' \
      "$name" "$events" "$seconds" "$(echo "$events / $seconds" | bc)" "$same"
    [ "$same" = identical ] || status=1
  done
fi
exit "$status"
