#!/usr/bin/env bash
# Runs every test against a PostgreSQL (and, for the Kafka tests, a Kafka-protocol broker) that
# this script starts and stops itself. Prints "N passed, N failed[, N skipped]" and exits non-zero
# on any failure.
set -euo pipefail
# --coverage: run the tests under coverlet (Microsoft.Testing.Platform) and write coverage/.
coverage=0
for arg in "$@"; do
  case "$arg" in
    --coverage) coverage=1 ;;
    *) echo "usage: $0 [--coverage]" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
root=$PWD
source scripts/lib/postgres.sh
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

work=$(mktemp -d /tmp/ledger-test.XXXXXX)
chmod 755 "$work"
pg_dir="$work/pg"
cleanup() {
  trap - EXIT INT TERM
  # CONT first: a test may have frozen the broker (SIGSTOP) when the run was interrupted.
  [ -n "${broker_pid:-}" ] && kill -CONT "$broker_pid" 2>/dev/null; [ -n "${broker_pid:-}" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
  stop_postgres "$pg_dir"
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

ensure_postgres_installed
echo "Starting PostgreSQL for the tests..."
for attempt in 1 2 3; do
  pg_port=$(free_port)   # a free port can be taken before PostgreSQL binds it: then another one
  if start_postgres "$pg_dir" "$pg_port" -c fsync=off -c synchronous_commit=off -c full_page_writes=off; then break; fi
  [ "$attempt" -lt 3 ] || exit 1
done
echo "PostgreSQL on 127.0.0.1:$pg_port"
export LEDGER_TEST_CONNECTION="Host=127.0.0.1;Port=$pg_port;Database=ledger;Username=postgres;Maximum Pool Size=50"

# promtool (MetricsTests lints a live scrape with it) and redocly (OpenApiDocumentTests lints the OpenAPI document),
# fetched into a cache when the machine lacks them.
source scripts/lib/tools.sh
ensure_promtool || echo "promtool is unavailable: MetricsTests will fail"
ensure_redocly || echo "redocly is unavailable: OpenApiDocumentTests will fail"

echo "Building..."
dotnet build Ledger.sln -c Release -v quiet -nologo -clp:ErrorsOnly

# A Kafka-protocol broker for the Kafka tests: librdkafka's mock cluster (tools/Ledger.KafkaBroker).
echo "Starting the Kafka mock broker..."
dotnet tools/Ledger.KafkaBroker/bin/Release/net10.0/Ledger.KafkaBroker.dll "$work/kafka-bootstrap" >"$work/kafka.log" 2>&1 &
broker_pid=$!
for _ in $(seq 1 100); do [ -s "$work/kafka-bootstrap" ] && break; sleep 0.1; done
[ -s "$work/kafka-bootstrap" ] || { echo "The Kafka mock broker did not start:"; cat "$work/kafka.log"; exit 1; }
export LEDGER_TEST_KAFKA="$(cat "$work/kafka-bootstrap")" LEDGER_TEST_KAFKA_PID="$broker_pid"

passed=0; failed=0; skipped=0
results="$work/results"
mkdir -p "$results"

for project in tests/*/; do
  name=$(basename "$project")
  exe="$project/bin/Release/net10.0/$name"
  [ -x "$exe" ] || continue
  set +e
  if [ "$coverage" = 1 ]; then
    # Coverage runs the same tests under Microsoft.Testing.Platform (coverlet.MTP instruments
    # the service's assembly): the project is built once more with the MTP command line.
    echo "Running $name with coverage..."
    # Built inside the repository: the tests find the repository's scripts and docs from their binaries.
    dotnet build "$project" -c Release -p:UseMicrosoftTestingPlatformRunner=true -o "$project/bin/Release/mtp" -v quiet -nologo -clp:ErrorsOnly
    "$project/bin/Release/mtp/$name" --coverlet --coverlet-output-format cobertura --coverlet-include "[Ledger]*" \
      --results-directory "$results" --report-xunit-xml --report-xunit-xml-filename "$name.xml" --no-progress 2>&1 | tee "$work/$name.log" \
      | grep -E "\[FAIL\]|failed |^\s+(Assert|Shouldly|Expected|System\.|at Ledger|should |but was|Additional Info)|Line:|Branch:" || true
  else
    echo "Running $name..."
    "$exe" -noColor -parallel collections -xml "$results/$name.xml" 2>&1 | tee "$work/$name.log" \
      | grep -E "\[FAIL\]|^\s+(Assert|Shouldly|Expected|System\.|at Ledger|should |but was|Additional Info)|Total:|Errors:" || true
  fi
  set -e
  report="$results/$name.xml"
  if [ -f "$report" ]; then
    read -r p f s < <(python3 - "$report" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
p = f = s = 0
for a in root.iter("assembly"):
    p += int(a.get("passed", 0)); f += int(a.get("failed", 0)) + int(a.get("errors", 0) or 0); s += int(a.get("skipped", 0))
print(p, f, s)
PY
)
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  else
    echo "No results from $name (the test process failed to run):"; tail -40 "$work/$name.log"
    failed=$((failed + 1))
  fi
done

echo "Running the fault harness (short mode)..."
if FAULTS_SKIP_BUILD=1 bash scripts/faults.sh >"$work/faults.log" 2>&1; then
  grep -E "^round" "$work/faults.log"
  passed=$((passed + 1))
else
  echo "[FAIL] scripts/faults.sh (short mode):"
  grep -E "^round|^\| .*FAIL" "$work/faults.log" || tail -40 "$work/faults.log"
  failed=$((failed + 1))
fi

echo "Checking that the pre-generated handler code is current..."
if (cd src/Ledger && LEDGER_CONNECTION="$LEDGER_TEST_CONNECTION" Ledger__Auth__SigningKey="codegen-check-signing-key-0123456789abcdef" \
      Ledger__Schema=codegen_check dotnet bin/Release/net10.0/Ledger.dll codegen write >"$work/codegen.log" 2>&1) \
   && git diff --quiet -- src/Ledger/Internal/Generated \
   && [ -z "$(git ls-files --others --exclude-standard -- src/Ledger/Internal/Generated)" ]; then
  passed=$((passed + 1))
else
  echo "[FAIL] src/Ledger/Internal/Generated is stale: run the codegen write command (see docs/operating.md) and commit it"
  git status --short -- src/Ledger/Internal/Generated | head -5
  tail -5 "$work/codegen.log"
  failed=$((failed + 1))
fi

echo "Checking deployment files..."
if bash scripts/check-deploy.sh; then passed=$((passed + 1)); else echo "[FAIL] deployment files"; failed=$((failed + 1)); fi

if [ "$coverage" = 1 ]; then
  rm -rf coverage && mkdir -p coverage
  cp "$results"/coverage.cobertura.*.xml coverage/cobertura.xml 2>/dev/null || true
  if [ -f coverage/cobertura.xml ]; then
    python3 - coverage/cobertura.xml > coverage/summary.txt <<'PY'
import sys, collections, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
per = collections.defaultdict(lambda: [0, 0])
for cls in root.iter("class"):
    parts = cls.get("filename").replace("\\", "/").split("/")   # relative to src/Ledger/
    area = parts[0] if len(parts) > 1 else "(root)"
    for line in cls.iter("line"):
        per[area][1] += 1
        per[area][0] += int(line.get("hits", "0")) > 0
covered = sum(c for c, _ in per.values()); valid = sum(v for _, v in per.values())
print(f"Line coverage of src/Ledger: {100 * covered / max(valid, 1):.1f}% ({covered} of {valid} lines)")
print()
print(f"{'folder':<14} {'lines':>7} {'covered':>8}")
for area, (c, v) in sorted(per.items()):
    print(f"{area:<14} {v:>7} {100 * c / max(v, 1):>7.1f}%")
PY
    cat coverage/summary.txt
    echo "Coverage report: coverage/cobertura.xml (Cobertura), coverage/summary.txt"
  else
    echo "[FAIL] no coverage report was written"; failed=$((failed + 1))
  fi
fi

echo
if [ "$skipped" -gt 0 ]; then echo "$passed passed, $failed failed, $skipped skipped"; else echo "$passed passed, $failed failed"; fi
[ "$failed" -eq 0 ]
