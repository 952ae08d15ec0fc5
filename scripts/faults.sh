#!/usr/bin/env bash
# Fault harness (tools/Ledger.Faults): real processes, real signals, its own PostgreSQL and the
# development Kafka broker. SIGKILL during HTTP ingestion and during Kafka consumption, the broker
# frozen while the outbox holds integration events, PostgreSQL restarted and stopped for 8 s under
# mixed load, slow and idle clients; after each, counts in PostgreSQL and verify.
#   ./scripts/faults.sh          short mode (one round of each, about a minute; run by test.sh)
#   ./scripts/faults.sh --long   three rounds at four times the load; prints the table for docs/reliability.md
# FAULTS_SKIP_BUILD=1 uses the existing Release build (test.sh has just built it).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
source scripts/lib/postgres.sh
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

work=$(mktemp -d /tmp/ledger-faults.XXXXXX)
chmod 755 "$work"
cleanup() {
  trap - EXIT INT TERM
  [ -n "${broker_pid:-}" ] && kill -CONT "$broker_pid" 2>/dev/null; [ -n "${broker_pid:-}" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
  stop_postgres "$work/pg"
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

ensure_postgres_installed
for attempt in 1 2 3; do
  pg_port=$(free_port)
  if start_postgres "$work/pg" "$pg_port" -c fsync=off; then break; fi
  [ "$attempt" -lt 3 ] || exit 1
done

if [ "${FAULTS_SKIP_BUILD:-}" != 1 ]; then
  dotnet build Ledger.sln -c Release -v quiet -nologo -clp:ErrorsOnly
fi

dotnet tools/Ledger.KafkaBroker/bin/Release/net10.0/Ledger.KafkaBroker.dll "$work/kafka-bootstrap" >"$work/kafka.log" 2>&1 &
broker_pid=$!
for _ in $(seq 1 100); do [ -s "$work/kafka-bootstrap" ] && break; sleep 0.1; done
[ -s "$work/kafka-bootstrap" ] || { echo "The Kafka mock broker did not start:"; cat "$work/kafka.log"; exit 1; }

FAULTS_ROOT="$root" FAULTS_PG_DIR="$work/pg" FAULTS_PG_PORT="$pg_port" \
FAULTS_KAFKA="$(cat "$work/kafka-bootstrap")" FAULTS_KAFKA_PID="$broker_pid" \
FAULTS_SERVICE_DLL="$root/src/Ledger/bin/Release/net10.0/Ledger.dll" \
  dotnet tools/Ledger.Faults/bin/Release/net10.0/Ledger.Faults.dll "$@"
