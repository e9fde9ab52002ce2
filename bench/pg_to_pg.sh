#!/usr/bin/env bash
# PostgreSQL -> PostgreSQL benchmark, one run, same table for every tool:
#   psql-binary-pipe   psql COPY ... TO STDOUT (FORMAT binary) | psql COPY ... FROM STDIN: the physical limit here
#   sling              Sling CLI full-refresh (pip install sling-linux-amd64)
#   sluice-standalone  sluice run: coordinator + 2 workers in one process, embedded metadata store
#   sluice-standalone-pages  the same, split by ctid page ranges (no split_pk): sequential TID
#                      range scans instead of primary-key index range scans; for tables that are
#                      not written while they are copied
#   sluice-2w          etcd + sluice coordinator + 2 sluice worker processes
# Prints one RESULT line per tool and the ratios; appends them to bench/RESULTS.md.
# ROWS (default 5,000,000) sets the table size; targets are plain tables without indexes.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
ROWS="${ROWS:-5000000}"
DB="${BENCH_DB:-sluice_bench}"
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres)
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

cargo build -p sluice-cli --quiet
sluice="$SLUICE_BIN_DIR/sluice"
if ! python3 -c "import sling_linux_amd64" >/dev/null 2>&1; then
  python3 -m pip install -q sling-linux-amd64
fi
sling_bin=$(python3 -c 'import os, sling_linux_amd64 as s; print(os.path.join(os.path.dirname(s.__file__), "bin", "sling-linux-amd64"))')

echo "==> preparing $ROWS rows in $DB.bench_src"
"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
"${PSQL[@]}" -d "$DB" -v rows="$ROWS" -f bench/sql/pg_bench_src.sql
bytes=$("${PSQL[@]}" -d "$DB" -At -c "SELECT sum(length(bench_src::text)) FROM bench_src")
echo "    COPY text size: $((bytes / ROWS)) bytes per row, $((bytes / 1048576)) MiB in all"
mib=$(python3 -c "print($bytes / 1048576)")

results=()
record() { # tool seconds peak_rss_kib table
  local tool=$1 seconds=$2 rss_kib=$3 table=$4
  local copied
  copied=$("${PSQL[@]}" -d "$DB" -At -c "SELECT count(*) FROM $table")
  if [ "$copied" != "$ROWS" ]; then echo "!! $tool copied $copied rows, expected $ROWS" >&2; exit 1; fi
  local line
  line=$(python3 -c "print(f'RESULT scenario=pg_to_pg tool=$tool rows=$ROWS seconds={$seconds:.2f} rows_per_s={$ROWS/$seconds:.0f} mib_per_s={$mib/$seconds:.1f} peak_rss_mib={$rss_kib/1024:.0f}')")
  echo "$line"
  results+=("$line")
}
now() { date +%s.%N; }
# Every tool starts from a checkpointed server, so none pays for flushing the previous one's writes.
settle() { "${PSQL[@]}" -d "$DB" -c "CHECKPOINT"; }
fresh_target() { "${PSQL[@]}" -d "$DB" -c "DROP TABLE IF EXISTS $1" -c "CREATE TABLE $1 (LIKE bench_src)"; settle; }

echo "==> psql binary COPY pipe"
fresh_target bench_psql
start=$(now)
/usr/bin/time -f "%M" -o "$work/psql_out.rss" "${PSQL[@]}" -d "$DB" -c "COPY bench_src TO STDOUT (FORMAT binary)" \
  | /usr/bin/time -f "%M" -o "$work/psql_in.rss" "${PSQL[@]}" -d "$DB" -c "COPY bench_psql FROM STDIN (FORMAT binary)"
seconds=$(python3 -c "print($(now) - $start)")
rss=$(( $(cat "$work/psql_out.rss") > $(cat "$work/psql_in.rss") ? $(cat "$work/psql_out.rss") : $(cat "$work/psql_in.rss") ))
record psql-binary-pipe "$seconds" "$rss" bench_psql

echo "==> sling $("$sling_bin" --version 2>/dev/null | head -1)"
"${PSQL[@]}" -d "$DB" -c "DROP TABLE IF EXISTS bench_sling"
settle
export SLING_DISABLE_TELEMETRY=true SLING_HOME_DIR="$work/sling"
export BENCH_PG="postgresql://postgres@127.0.0.1:5432/$DB?sslmode=disable"
start=$(now)
/usr/bin/time -f "%M" -o "$work/sling.rss" "$sling_bin" run --src-conn BENCH_PG --src-stream public.bench_src \
  --tgt-conn BENCH_PG --tgt-object public.bench_sling --mode full-refresh >"$work/sling.log" 2>&1 || { cat "$work/sling.log"; exit 1; }
seconds=$(python3 -c "print($(now) - $start)")
record sling "$seconds" "$(cat "$work/sling.rss")" bench_sling

spec() { # target table [split key clause]
  local split="${2-, split_pk: id}"
  cat <<YAML
source: {connection: {type: postgresql, host: 127.0.0.1, port: 5432, database: $DB, user: postgres}, table: bench_src$split}
sink: {connection: {type: postgresql, host: 127.0.0.1, port: 5432, database: $DB, user: postgres}, table: $1}
settings: {parallelism: 4, shard_rows: 250000, batch_rows: 8192}
YAML
}

echo "==> sluice standalone (2 in-process workers x 2 slots)"
fresh_target bench_sluice_sa
spec bench_sluice_sa >"$work/standalone.yaml"
start=$(now)
/usr/bin/time -f "%M" -o "$work/standalone.rss" "$sluice" run "$work/standalone.yaml" --workers 2 --slots 2 >"$work/standalone.log"
seconds=$(python3 -c "print($(now) - $start)")
record sluice-standalone "$seconds" "$(cat "$work/standalone.rss")" bench_sluice_sa

echo "==> sluice standalone, split by ctid page ranges"
fresh_target bench_sluice_pages
spec bench_sluice_pages "" >"$work/pages.yaml"
start=$(now)
/usr/bin/time -f "%M" -o "$work/pages.rss" "$sluice" run "$work/pages.yaml" --workers 2 --slots 2 >"$work/pages.log"
seconds=$(python3 -c "print($(now) - $start)")
record sluice-standalone-pages "$seconds" "$(cat "$work/pages.rss")" bench_sluice_pages

echo "==> sluice cluster: etcd + coordinator + 2 worker processes x 2 slots"
fresh_target bench_sluice_2w
spec bench_sluice_2w >"$work/cluster.yaml"
ports=($(python3 -c 'import socket
s=[socket.socket() for _ in range(3)]
[x.bind(("127.0.0.1",0)) for x in s]
print(*[x.getsockname()[1] for x in s])'))
etcd --data-dir "$work/etcd" --listen-client-urls "http://127.0.0.1:${ports[0]}" --advertise-client-urls "http://127.0.0.1:${ports[0]}" \
  --listen-peer-urls "http://127.0.0.1:${ports[1]}" --initial-advertise-peer-urls "http://127.0.0.1:${ports[1]}" \
  --initial-cluster "default=http://127.0.0.1:${ports[1]}" >"$work/etcd.log" 2>&1 & pids+=($!)
sleep 2
"$sluice" coordinator keygen --out "$work/secret.key" >/dev/null
"$sluice" coordinator token-gen --out "$work/admin.token" >/dev/null
"$sluice" coordinator token-gen --out "$work/cluster.token" >/dev/null
export SLUICE_TOKEN; SLUICE_TOKEN=$(cat "$work/admin.token")
"$sluice" coordinator --etcd "http://127.0.0.1:${ports[0]}" --listen "127.0.0.1:${ports[2]}" \
  --secret-key-file "$work/secret.key" --admin-token-file "$work/admin.token" \
  --cluster-token-file "$work/cluster.token" >"$work/coordinator.log" 2>&1 & pids+=($!)
coordinator="http://127.0.0.1:${ports[2]}"
for index in 1 2; do
  /usr/bin/time -f "%M" -o "$work/worker$index.rss" "$sluice" worker --coordinator "$coordinator" --slots 2 --id "bench-$index" \
    --cluster-token-file "$work/cluster.token" >"$work/worker$index.log" 2>&1 & pids+=($!)
done
sleep 2
start=$(now)
"$sluice" --coordinator "$coordinator" job submit "$work/cluster.yaml" --wait >"$work/cluster.log"
seconds=$(python3 -c "print($(now) - $start)")
# Signal the workers themselves (children of /usr/bin/time), let them drain, then the rest.
for pid in "${pids[@]:2}"; do pkill -TERM -P "$pid" || true; done
for pid in "${pids[@]:2}"; do wait "$pid" || true; done
pkill -TERM -f "sluice coordinator --etcd http://127.0.0.1:${ports[0]}" || true
rss=$(( $(cat "$work/worker1.rss") > $(cat "$work/worker2.rss") ? $(cat "$work/worker1.rss") : $(cat "$work/worker2.rss") ))
record sluice-2w "$seconds" "$rss" bench_sluice_2w
cat "$work/cluster.log"

echo
echo "==> ratios (rows/s of Sluice over each peer)"
python3 - "${results[@]}" <<'PY'
import sys
rates = {}
for line in sys.argv[1:]:
    fields = dict(part.split("=", 1) for part in line.split()[1:])
    rates[fields["tool"]] = float(fields["rows_per_s"])
for ours in ("sluice-standalone", "sluice-standalone-pages", "sluice-2w"):
    for peer in ("psql-binary-pipe", "sling"):
        print(f"RATIO scenario=pg_to_pg {ours}/{peer}={rates[ours] / rates[peer]:.2f}")
PY

{
  echo
  echo "## pg_to_pg, $(date -u +%Y-%m-%dT%H:%MZ), $ROWS rows, $((bytes / ROWS)) bytes of COPY text per row"
  echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(psql --version); PostgreSQL server $("${PSQL[@]}" -d "$DB" -At -c 'SHOW server_version'); sling $("$sling_bin" --version 2>/dev/null | grep -o '[0-9.]\+' | head -1); sluice $(git rev-parse --short HEAD)"
  echo '```'
  printf '%s\n' "${results[@]}"
  echo '```'
} >>bench/RESULTS.md
"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
