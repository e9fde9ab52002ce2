#!/usr/bin/env bash
# PostgreSQL -> PostgreSQL benchmark, one run, same table for every tool:
#   psql-binary-pipe   psql COPY ... TO STDOUT (FORMAT binary) | psql COPY ... FROM STDIN: the physical limit here
#   sling              Sling CLI full-refresh (pip install sling-linux-amd64)
#   sluice-standalone  sluice run: coordinator + 2 workers in one process, embedded metadata store,
#                      split by ranges of the primary key (`split_pk: id`)
#   sluice-standalone-pages  the same, split by ctid page ranges (`split_pk: ctid`): sequential TID
#                      range scans instead of primary-key index range scans; for tables that are
#                      not written while they are copied
#   sluice-2w          etcd + sluice coordinator + 2 sluice worker processes, split by id ranges
#   sluice-2w-pages    the same cluster, split by ctid page ranges
# The copies go in RUNS rounds (default 3): each round copies once with every tool, in the order
# above, each into a fresh target after a CHECKPOINT, with one RUN line per copy. Then one RESULT
# line per tool (its median copy), the RATIO lines (rows/s of Sluice over each peer, from the
# medians) and the PAIRED lines (the median over the rounds of each round's ratio, which a
# machine whose speed drifts between rounds does not tilt); the RESULT and PAIRED lines are
# appended to bench/RESULTS.md. ROWS (default 5,000,000) sets the table size; targets are plain
# tables without indexes.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source bench/lib.sh
ROWS="${ROWS:-5000000}"
RUNS="${RUNS:-3}"
SCENARIO=pg_to_pg
DB="${BENCH_DB:-sluice_bench}"
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres)
work=$(mktemp -d)
pids=()
results=()
cleanup() {
  for pid in "${pids[@]}"; do pkill -TERM -P "$pid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" || true
  rm -rf "$work"
}
trap cleanup EXIT

cargo build -p sluice-cli --quiet
sluice="$SLUICE_BIN_DIR/sluice"
find_sling

echo "==> preparing $ROWS rows in $DB.bench_src"
"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
"${PSQL[@]}" -d "$DB" -v rows="$ROWS" -f bench/sql/pg_bench_src.sql
bytes=$("${PSQL[@]}" -d "$DB" -At -c "SELECT sum(length(bench_src::text)) FROM bench_src")
echo "    COPY text size: $((bytes / ROWS)) bytes per row, $((bytes / 1048576)) MiB in all"
mib=$(python3 -c "print($bytes / 1048576)")

check_rows() { # tool table
  local copied
  copied=$("${PSQL[@]}" -d "$DB" -At -c "SELECT count(*) FROM $2")
  if [ "$copied" != "$ROWS" ]; then echo "!! $1 copied $copied rows, expected $ROWS" >&2; exit 1; fi
}

# copy_once TOOL TABLE create|drop BODY RUN: creates TABLE (or leaves it to the tool), checkpoints,
# times `BODY TABLE RUN`, checks the row count, drops TABLE and prints the copy's RUN line; the
# seconds are kept in the associative array `times` under TOOL.
declare -A times
copy_once() {
  local tool=$1 table=$2 mode=$3 body=$4 run=$5 start seconds
  "${PSQL[@]}" -d "$DB" -c "DROP TABLE IF EXISTS $table"
  if [ "$mode" = create ]; then "${PSQL[@]}" -d "$DB" -c "CREATE TABLE $table (LIKE bench_src)"; fi
  # Every copy starts from a checkpointed server: none pays for flushing an earlier one's writes.
  "${PSQL[@]}" -d "$DB" -c "CHECKPOINT"
  start=$(now)
  "$body" "$table" "$run"
  seconds=$(since "$start")
  check_rows "$tool" "$table"
  # Dropped at once: every copy runs beside the same database, holding no earlier copy.
  "${PSQL[@]}" -d "$DB" -c "DROP TABLE $table"
  times[$tool]="${times[$tool]:-} $seconds"
  run_line "$tool" "$run" "$seconds"
}

psql_pipe() {
  /usr/bin/time -f "%M" -o "$work/psql-binary-pipe.out.$2.rss" "${PSQL[@]}" -d "$DB" -c "COPY bench_src TO STDOUT (FORMAT binary)" \
    | /usr/bin/time -f "%M" -o "$work/psql-binary-pipe.in.$2.rss" "${PSQL[@]}" -d "$DB" -c "COPY $1 FROM STDIN (FORMAT binary)"
}

export BENCH_PG="postgresql://postgres@127.0.0.1:5432/$DB?sslmode=disable"
sling_copy() {
  /usr/bin/time -f "%M" -o "$work/sling.$2.rss" "$sling_bin" run --src-conn BENCH_PG --src-stream public.bench_src \
    --tgt-conn BENCH_PG --tgt-object "public.$1" --mode full-refresh >"$work/sling.log" 2>&1 || { cat "$work/sling.log"; exit 1; }
}

spec() { # target table [split key clause]
  local split="${2-, split_pk: id}"
  cat <<YAML
source: {connection: {type: postgresql, host: 127.0.0.1, port: 5432, database: $DB, user: postgres}, table: bench_src$split}
sink: {connection: {type: postgresql, host: 127.0.0.1, port: 5432, database: $DB, user: postgres}, table: $1}
settings: {parallelism: 4, shard_rows: 250000, batch_rows: 8192}
YAML
}
spec bench_sluice_sa >"$work/standalone.yaml"
spec bench_sluice_pages ", split_pk: ctid" >"$work/pages.yaml"
spec bench_sluice_2w >"$work/cluster.yaml"
spec bench_sluice_2w_pages ", split_pk: ctid" >"$work/cluster-pages.yaml"

sluice_standalone() {
  /usr/bin/time -f "%M" -o "$work/sluice-standalone.$2.rss" "$sluice" run "$work/standalone.yaml" --workers 2 --slots 2 \
    >"$work/standalone.log" || { cat "$work/standalone.log"; exit 1; }
}
sluice_pages() {
  /usr/bin/time -f "%M" -o "$work/sluice-standalone-pages.$2.rss" "$sluice" run "$work/pages.yaml" --workers 2 --slots 2 \
    >"$work/pages.log" || { cat "$work/pages.log"; exit 1; }
}
sluice_cluster() {
  "$sluice" --coordinator "$coordinator" job submit "$work/cluster.yaml" --wait >"$work/cluster.log" || { cat "$work/cluster.log"; exit 1; }
}

start_cluster
sluice_cluster_pages() {
  "$sluice" --coordinator "$coordinator" job submit "$work/cluster-pages.yaml" --wait >"$work/cluster-pages.log" || { cat "$work/cluster-pages.log"; exit 1; }
}
# The tools take turns: each round copies once with every tool, so a machine that speeds up or
# slows down between rounds (seen here: the pipe took 5.9 s and, ten minutes later, 7.9 s) moves
# every tool's figures of that round alike, and the per-round ratios compare like with like.
echo "==> $RUNS rounds; each: psql binary COPY pipe, sling $(sling_version), sluice standalone (2 in-process workers x 2 slots) split by id ranges and by ctid page ranges, sluice cluster (etcd + coordinator + 2 worker processes x 2 slots) split both ways"
for run in $(seq 1 "$RUNS"); do
  copy_once psql-binary-pipe bench_psql create psql_pipe "$run"
  copy_once sling bench_sling drop sling_copy "$run"
  copy_once sluice-standalone bench_sluice_sa create sluice_standalone "$run"
  copy_once sluice-standalone-pages bench_sluice_pages create sluice_pages "$run"
  copy_once sluice-2w bench_sluice_2w create sluice_cluster "$run"
  copy_once sluice-2w-pages bench_sluice_2w_pages create sluice_cluster_pages "$run"
done
stop_cluster
cat "$work/cluster.log"

echo
echo "==> medians"
# shellcheck disable=SC2086 # the seconds are a space-separated list
{
  record_median psql-binary-pipe "$(max_rss "$work"/psql-binary-pipe.*.rss)" "$mib" ${times[psql-binary-pipe]}
  record_median sling "$(max_rss "$work"/sling.*.rss)" "$mib" ${times[sling]}
  record_median sluice-standalone "$(max_rss "$work"/sluice-standalone.*.rss)" "$mib" ${times[sluice-standalone]}
  record_median sluice-standalone-pages "$(max_rss "$work"/sluice-standalone-pages.*.rss)" "$mib" ${times[sluice-standalone-pages]}
  # Both cluster lines share the two worker processes: their peak RSS is over every cluster copy.
  record_median sluice-2w "$(max_rss "$work/worker1.rss" "$work/worker2.rss")" "$mib" ${times[sluice-2w]}
  record_median sluice-2w-pages "$(max_rss "$work/worker1.rss" "$work/worker2.rss")" "$mib" ${times[sluice-2w-pages]}
}

echo
echo "==> ratios (rows/s of Sluice over each peer): of the medians, then round by round"
print_ratios sluice-standalone sluice-standalone-pages sluice-2w sluice-2w-pages :: psql-binary-pipe@0.9 sling@2
paired=$(print_paired_ratios sluice-standalone sluice-standalone-pages sluice-2w sluice-2w-pages :: psql-binary-pipe@0.9 sling@2)
echo "$paired"
# RESULTS.md keeps the round-by-round ratios below the RESULT lines.
results+=("$paired")

append_results "pg_to_pg, $(date -u +%Y-%m-%dT%H:%MZ), $ROWS rows, $((bytes / ROWS)) bytes of COPY text per row, median of $RUNS runs" \
  "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(psql --version); PostgreSQL server $("${PSQL[@]}" -d "$DB" -At -c 'SHOW server_version'); sling $(sling_version); sluice $(git rev-parse --short HEAD)"
