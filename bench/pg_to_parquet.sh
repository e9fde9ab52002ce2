#!/usr/bin/env bash
# PostgreSQL -> Parquet on local disk benchmark, one run, the same table (pg_to_pg.sh's, from
# bench/sql/pg_bench_src.sql) for every tool:
#   psql-copy-csv      psql \copy ... TO a CSV file: the physical reference (no Parquet encoding)
#   sling              Sling CLI to a local directory of Parquet parts of 1,000,000 rows (pip install
#                      sling-linux-amd64, installed when missing; Sling writes Parquet through the DuckDB CLI:
#                      pip duckdb-cli and its extensions, see lib.sh). Not a single .parquet file: Sling 1.4.11
#                      writes a single-file target in several DuckDB COPY statements that each overwrite the
#                      file, so only the rows of the last one survive (221,444 of 1,000,000 and 384,876 of
#                      5,000,000 here) while it reports every row written; parts avoid that.
#   sluice-standalone  sluice run: coordinator + 2 workers in one process, one Parquet part per shard (snappy)
# Prints one RESULT line per tool and the ratios; appends them to bench/RESULTS.md. Every output
# is read back: the CSV by lines, the Parquet files through `sluice compare` against the table
# (row count, and for Sluice the checksum of every column). Drops the database and removes the
# files at the end, also on failure. ROWS (default 5,000,000) sets the table size.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source bench/lib.sh
ROWS="${ROWS:-5000000}"
SCENARIO=pg_to_parquet
DB="${BENCH_DB:-sluice_bench_parquet}"
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres)
work=$(mktemp -d)
pids=()
results=()
cleanup() {
  "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" || true
  rm -rf "$work"
}
trap cleanup EXIT

cargo build -p sluice-cli --quiet
sluice="$SLUICE_BIN_DIR/sluice"
find_sling
find_sling_duckdb

echo "==> preparing $ROWS rows in $DB.bench_src"
"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
"${PSQL[@]}" -d "$DB" -v rows="$ROWS" -f bench/sql/pg_bench_src.sql
bytes=$("${PSQL[@]}" -d "$DB" -At -c "SELECT sum(length(bench_src::text)) FROM bench_src")
echo "    COPY text size: $((bytes / ROWS)) bytes per row, $((bytes / 1048576)) MiB in all"
mib=$(python3 -c "print($bytes / 1048576)")
pg_connection="{type: postgresql, host: 127.0.0.1, port: 5432, database: $DB, user: postgres}"

# parquet_rows TOOL PATH: reads the Parquet file(s) at PATH back with `sluice compare` against the
# table; prints the row count and whether every column's checksum matches.
parquet_rows() {
  local parent name
  parent=$(dirname "$2"); name=$(basename "$2")
  cat >"$work/compare-$1.yaml" <<YAML
source: {connection: {type: file, path: "$parent", format: parquet}, table: "$name"}
sink: {connection: $pg_connection, table: bench_src}
YAML
  "$sluice" --output json compare "$work/compare-$1.yaml" >"$work/compare-$1.json" || true
  python3 - "$work/compare-$1.json" "$1" "$ROWS" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
rows = report["source"]["rows"]
print(f"    {sys.argv[2]}: {rows} rows read back from Parquet; checksum of every column "
      f"{'matches the table' if report['match'] else 'differs from the table (other type mapping)'}")
if rows != int(sys.argv[3]):
    sys.exit(f"!! {sys.argv[2]} wrote {rows} rows, expected {sys.argv[3]}")
PY
}

echo "==> psql \\copy to CSV (physical reference)"
start=$(now)
/usr/bin/time -f "%M" -o "$work/psql.rss" "${PSQL[@]}" -d "$DB" -c "\\copy bench_src TO '$work/psql.csv' (FORMAT csv, HEADER)"
seconds=$(since "$start")
lines=$(wc -l <"$work/psql.csv")
if [ "$lines" != "$((ROWS + 1))" ]; then echo "!! psql wrote $lines lines, expected $((ROWS + 1))" >&2; exit 1; fi
echo "    CSV: $(du -m "$work/psql.csv" | cut -f1) MiB"
record psql-copy-csv "$seconds" "$(cat "$work/psql.rss")" "$mib"
rm -f "$work/psql.csv"

echo "==> sling $(sling_version)"
export BENCH_PG="postgresql://postgres@127.0.0.1:5432/$DB?sslmode=disable"
mkdir -p "$work/sling"
start=$(now)
HOME="$sling_home" /usr/bin/time -f "%M" -o "$work/sling.rss" "$sling_bin" run --src-conn BENCH_PG --src-stream public.bench_src \
  --tgt-object "file://$work/sling/bench_src/" --tgt-options '{"format": "parquet", "file_max_rows": 1000000}' \
  --mode full-refresh >"$work/sling.log" 2>&1 || { cat "$work/sling.log"; exit 1; }
seconds=$(since "$start")
echo "    Parquet: $(du -sm "$work/sling/bench_src" | cut -f1) MiB in $(ls "$work/sling/bench_src" | grep -c '\.parquet$') parts"
parquet_rows sling "$work/sling/bench_src"
record sling "$seconds" "$(cat "$work/sling.rss")" "$mib"
rm -rf "$work/sling"

echo "==> sluice standalone (2 in-process workers x 2 slots)"
cat >"$work/standalone.yaml" <<YAML
source: {connection: $pg_connection, table: bench_src, split_pk: id}
sink: {connection: {type: file, path: "$work/sluice", format: parquet}, table: bench_src}
settings: {parallelism: 4, shard_rows: 250000, batch_rows: 8192}
YAML
start=$(now)
/usr/bin/time -f "%M" -o "$work/standalone.rss" "$sluice" run "$work/standalone.yaml" --workers 2 --slots 2 >"$work/standalone.log" \
  || { cat "$work/standalone.log"; exit 1; }
seconds=$(since "$start")
echo "    Parquet: $(du -sm "$work/sluice/bench_src" | cut -f1) MiB in $(ls "$work/sluice/bench_src" | grep -c '\.parquet$') parts"
parquet_rows sluice-standalone "$work/sluice/bench_src"
if ! grep -q '"match": *true' "$work/compare-sluice-standalone.json"; then
  echo "!! Sluice's Parquet differs from the table: $(cat "$work/compare-sluice-standalone.json")" >&2; exit 1
fi
record sluice-standalone "$seconds" "$(cat "$work/standalone.rss")" "$mib"
cat "$work/standalone.log"

echo
echo "==> ratios (rows/s of Sluice over each)"
print_ratios sluice-standalone :: psql-copy-csv sling

append_results "pg_to_parquet, $(date -u +%Y-%m-%dT%H:%MZ), $ROWS rows, $((bytes / ROWS)) bytes of COPY text per row" \
  "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(psql --version); PostgreSQL server $("${PSQL[@]}" -d "$DB" -At -c 'SHOW server_version'); sling $(sling_version); sluice $(git rev-parse --short HEAD); Parquet: snappy for both; Sling through DuckDB CLI $DUCKDB_PIP_VERSION"
