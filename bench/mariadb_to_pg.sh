#!/usr/bin/env bash
# MariaDB -> PostgreSQL benchmark, one run, the same generated table for every tool:
#   pgloader           pgloader 3.6 (Debian package, installed with apt-get when missing):
#                      tables created without indexes, default workers and batches
#   sling              Sling CLI full-refresh (pip install sling-linux-amd64, installed when missing)
#   sluice-standalone  sluice run: coordinator + 2 workers in one process, embedded metadata store
#   sluice-2w          etcd + sluice coordinator + 2 sluice worker processes
# Every tool creates its own target table (no indexes). Prints one RESULT line per tool and the
# ratios of Sluice to each peer (goals: >= 2x pgloader, >= 1.5x Sling); appends the lines to
# bench/RESULTS.md; drops both databases at the end, also on failure.
# ROWS (default 5,000,000) sets the table size.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source bench/lib.sh
ROWS="${ROWS:-5000000}"
SCENARIO=mariadb_to_pg
MYDB="${BENCH_MYSQL_DB:-sluice_bench_my}"
PGDB="${BENCH_DB:-sluice_bench_my2pg}"
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres)
MYSQL=(mariadb -h 127.0.0.1 -P 3306 -u root --batch --skip-column-names)
work=$(mktemp -d)
pids=()
results=()
cleanup() {
  for pid in "${pids[@]}"; do pkill -TERM -P "$pid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "${MYSQL[@]}" -e "DROP DATABASE IF EXISTS $MYDB" || true
  "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" || true
  rm -rf "$work"
}
trap cleanup EXIT

cargo build -p sluice-cli --quiet
sluice="$SLUICE_BIN_DIR/sluice"
find_sling
if ! command -v pgloader >/dev/null; then
  echo "==> installing pgloader (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgloader >/dev/null
fi

echo "==> preparing $ROWS rows in MariaDB $MYDB.bench_src"
"${MYSQL[@]}" -e "DROP DATABASE IF EXISTS $MYDB; CREATE DATABASE $MYDB CHARACTER SET utf8mb4"
"${MYSQL[@]}" "$MYDB" -e "CREATE TABLE bench_src (
  id BIGINT NOT NULL PRIMARY KEY, account INT UNSIGNED NOT NULL, amount DECIMAL(12,2), price DOUBLE,
  ratio FLOAT, active TINYINT(1), name VARCHAR(64), note TEXT, code SMALLINT UNSIGNED,
  created_at DATETIME(6), day DATE, at_time TIME, doc JSON) ENGINE=InnoDB"
chunk=1000000
for ((low = 1; low <= ROWS; low += chunk)); do
  high=$((low + chunk - 1 < ROWS ? low + chunk - 1 : ROWS))
  "${MYSQL[@]}" "$MYDB" -e "INSERT INTO bench_src
    SELECT seq, (seq * 7919) % 100000, ((seq * 31) % 1000000) / 100, seq * 0.37, (seq % 1000) / 8, seq % 3 = 0,
      CONCAT('customer-', LPAD(seq % 99991, 8, '0')), CONCAT(MD5(seq), ' ', seq % 1000), seq % 65536,
      '2024-01-01 00:00:00' + INTERVAL seq SECOND, '2020-01-01' + INTERVAL (seq % 2000) DAY,
      SEC_TO_TIME(seq % 86400), JSON_OBJECT('k', seq % 100)
    FROM seq_${low}_to_${high}"
done
"${MYSQL[@]}" "$MYDB" -e "ANALYZE TABLE bench_src" >/dev/null
bytes=$("${MYSQL[@]}" "$MYDB" -e "SELECT SUM(LENGTH(CONCAT_WS('\t', id, account, amount, price, ratio, active, name, note,
  code, created_at, day, at_time, doc)) + 1) FROM bench_src")
echo "    text size: $((bytes / ROWS)) bytes per row (tab-separated), $((bytes / 1048576)) MiB in all"
mib=$(python3 -c "print($bytes / 1048576)")
"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" -c "CREATE DATABASE $PGDB"

check_rows() { # tool table
  local copied
  copied=$("${PSQL[@]}" -d "$PGDB" -At -c "SELECT count(*) FROM $2")
  if [ "$copied" != "$ROWS" ]; then echo "!! $1 copied $copied rows, expected $ROWS" >&2; exit 1; fi
}

echo "==> pgloader $(pgloader --version 2>/dev/null | head -1 | grep -o '[0-9][0-9.]*' | head -1)"
cat >"$work/pgloader.load" <<LOAD
LOAD DATABASE
  FROM mysql://root@127.0.0.1:3306/$MYDB
  INTO postgresql://postgres@127.0.0.1:5432/$PGDB
WITH include drop, create tables, create no indexes, no foreign keys, reset no sequences
INCLUDING ONLY TABLE NAMES MATCHING 'bench_src'
ALTER SCHEMA '$MYDB' RENAME TO 'pgloader';
LOAD
start=$(now)
/usr/bin/time -f "%M" -o "$work/pgloader.rss" pgloader --no-ssl-cert-verification "$work/pgloader.load" \
  >"$work/pgloader.log" 2>&1 || { cat "$work/pgloader.log"; exit 1; }
seconds=$(since "$start")
check_rows pgloader pgloader.bench_src
record pgloader "$seconds" "$(cat "$work/pgloader.rss")" "$mib"

echo "==> sling $(sling_version)"
export BENCH_MY="mysql://root@127.0.0.1:3306/$MYDB" BENCH_PG="postgresql://postgres@127.0.0.1:5432/$PGDB?sslmode=disable"
start=$(now)
/usr/bin/time -f "%M" -o "$work/sling.rss" "$sling_bin" run --src-conn BENCH_MY --src-stream "$MYDB.bench_src" \
  --tgt-conn BENCH_PG --tgt-object public.bench_sling --mode full-refresh >"$work/sling.log" 2>&1 || { cat "$work/sling.log"; exit 1; }
seconds=$(since "$start")
check_rows sling bench_sling
record sling "$seconds" "$(cat "$work/sling.rss")" "$mib"

spec() { # target table
  cat <<YAML
source: {connection: {type: mariadb, host: 127.0.0.1, port: 3306, database: $MYDB, user: root}, table: bench_src, split_pk: id}
sink: {connection: {type: postgresql, host: 127.0.0.1, port: 5432, database: $PGDB, user: postgres}, table: $1, create_table: true}
settings: {parallelism: 4, shard_rows: 250000, batch_rows: 8192}
YAML
}

echo "==> sluice standalone (2 in-process workers x 2 slots)"
spec bench_sluice_sa >"$work/standalone.yaml"
start=$(now)
/usr/bin/time -f "%M" -o "$work/standalone.rss" "$sluice" run "$work/standalone.yaml" --workers 2 --slots 2 >"$work/standalone.log" \
  || { cat "$work/standalone.log"; exit 1; }
seconds=$(since "$start")
check_rows sluice-standalone bench_sluice_sa
record sluice-standalone "$seconds" "$(cat "$work/standalone.rss")" "$mib"

echo "==> sluice cluster: etcd + coordinator + 2 worker processes x 2 slots"
spec bench_sluice_2w >"$work/cluster.yaml"
start_cluster
start=$(now)
"$sluice" --coordinator "$coordinator" job submit "$work/cluster.yaml" --wait >"$work/cluster.log" || { cat "$work/cluster.log"; exit 1; }
seconds=$(since "$start")
stop_cluster
check_rows sluice-2w bench_sluice_2w
record sluice-2w "$seconds" "$(max_rss "$work/worker1.rss" "$work/worker2.rss")" "$mib"
cat "$work/cluster.log"

# The copies hold the same rows: Sluice's against the source, by checksum of every column.
"$sluice" compare "$work/standalone.yaml"

echo
echo "==> ratios (rows/s of Sluice over each peer)"
print_ratios sluice-standalone sluice-2w :: pgloader@2 sling@1.5

append_results "mariadb_to_pg, $(date -u +%Y-%m-%dT%H:%MZ), $ROWS rows, $((bytes / ROWS)) bytes of text per row" \
  "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; MariaDB server $("${MYSQL[@]}" -e 'SELECT VERSION()'); PostgreSQL server $("${PSQL[@]}" -d "$PGDB" -At -c 'SHOW server_version'); pgloader $(pgloader --version 2>/dev/null | head -1 | grep -o '[0-9][0-9.]*' | head -1); sling $(sling_version); sluice $(git rev-parse --short HEAD)"
