# Helpers shared by the benchmark scripts (sourced; expects `set -euo pipefail`, $work, $ROWS,
# $SCENARIO, $sluice and the arrays results=() and pids=()).

now() { date +%s.%N; }
since() { python3 -c "print($(now) - $1)"; }

# Finds Sling's binary, installing the pip package when missing; sets $sling_bin.
find_sling() {
  if ! python3 -c "import sling_linux_amd64" >/dev/null 2>&1; then
    python3 -m pip install -q sling-linux-amd64
  fi
  sling_bin=$(python3 -c 'import os, sling_linux_amd64 as s; print(os.path.join(os.path.dirname(s.__file__), "bin", "sling-linux-amd64"))')
  export SLING_DISABLE_TELEMETRY=true SLING_HOME_DIR="$work/sling-home"
}

# Sling writes Parquet through the DuckDB CLI, which it would download (with its extensions) from
# the internet; find_sling_duckdb gives it the CLI and the extensions it loads (json, httpfs, icu)
# from their PyPI packages instead, installed when missing, in a private HOME ($sling_home) that
# holds DuckDB's extension directory. Run Sling as `HOME=$sling_home "$sling_bin" ...`.
DUCKDB_PIP_VERSION="${DUCKDB_PIP_VERSION:-1.5.5}"
find_sling_duckdb() {
  local packages=(duckdb-cli duckdb-extension-json duckdb-extension-httpfs duckdb-extension-icu) package missing=()
  for package in "${packages[@]}"; do
    python3 -m pip show "$package" 2>/dev/null | grep -qx "Version: $DUCKDB_PIP_VERSION" || missing+=("$package==$DUCKDB_PIP_VERSION")
  done
  if [ "${#missing[@]}" -gt 0 ]; then python3 -m pip install -q "${missing[@]}"; fi
  export DUCKDB_VERSION=$DUCKDB_PIP_VERSION
  # duckdb-cli 1.5 ships the binary inside its package, 1.4 in the scripts directory
  DUCKDB_PATH=$(python3 -c 'import os, sysconfig, duckdb_cli
inside = os.path.join(os.path.dirname(duckdb_cli.__file__), "duckdb")
print(inside if os.path.exists(inside) else os.path.join(sysconfig.get_path("scripts"), "duckdb"))')
  [ -x "$DUCKDB_PATH" ] || chmod +x "$DUCKDB_PATH" # the 1.4 wheel installs it without the execute bit
  export DUCKDB_PATH
  sling_home="$work/home"
  local extensions="$sling_home/.duckdb/extensions/v$DUCKDB_PIP_VERSION/linux_amd64" name
  mkdir -p "$extensions"
  for name in json httpfs icu; do
    ln -sf "$(python3 -c "import os, duckdb_extension_$name as m; print(os.path.join(os.path.dirname(m.__file__), 'extensions', 'v$DUCKDB_PIP_VERSION', '$name.duckdb_extension'))")" "$extensions/"
  done
}

sling_version() { "$sling_bin" --version 2>/dev/null | grep -o '[0-9][0-9.]*' | head -1; }

# record TOOL SECONDS PEAK_RSS_KIB MIB: prints and keeps one RESULT line.
record() {
  local line
  line=$(python3 -c "print(f'RESULT scenario=$SCENARIO tool=$1 rows=$ROWS seconds={$2:.2f} rows_per_s={$ROWS/$2:.0f} mib_per_s={$4/$2:.1f} peak_rss_mib={$3/1024:.0f}')")
  echo "$line"
  results+=("$line")
}

# run_line TOOL RUN SECONDS: prints the RUN line of one copy.
run_line() {
  python3 -c "print(f'RUN scenario=$SCENARIO tool=$1 run=$2 seconds={$3:.2f} rows_per_s={$ROWS/$3:.0f}')"
}

# record_median TOOL PEAK_RSS_KIB MIB SECONDS...: prints and keeps the RESULT line of the median
# copy.
record_median() {
  local tool=$1 rss=$2 mib=$3
  shift 3
  record "$tool" "$(python3 -c 'import statistics, sys; print(statistics.median(map(float, sys.argv[1:])))' "$@")" "$rss" "$mib"
}

# print_paired_ratios OURS... :: PEER@GOAL...: for tools that took turns round by round (the
# associative array `times` holds each tool's seconds, round by round), the median over the
# rounds of each round's ratio (the peer's seconds over ours, i.e. our rows/s over the peer's),
# with the lowest and highest round, and whether the goal is met by the median.
print_paired_ratios() {
  local args=() tool
  for tool in "${!times[@]}"; do args+=("$tool=${times[$tool]}"); done
  python3 - "$SCENARIO" "$@" -- "${args[@]}" <<'PY'
import statistics, sys
args = sys.argv[2:]
split = args.index("--")
tools, entries = args[:split], args[split + 1:]
seconds = {}
for entry in entries:
    name, _, values = entry.partition("=")
    seconds[name] = [float(value) for value in values.split()]
split = tools.index("::")
ours, peers = tools[:split], tools[split + 1:]
for mine in ours:
    for peer in peers:
        name, _, goal = peer.partition("@")
        ratios = [theirs / own for theirs, own in zip(seconds[name], seconds[mine])]
        median = statistics.median(ratios)
        verdict = f" (goal >= {goal}: {'met' if median >= float(goal) else 'NOT met'})" if goal else ""
        print(f"PAIRED scenario={sys.argv[1]} {mine}/{name}={median:.2f} rounds={len(ratios)} "
              f"lowest={min(ratios):.2f} highest={max(ratios):.2f}{verdict}")
PY
}

# max_rss FILE...: the largest peak RSS (KiB) written by `/usr/bin/time -f %M -o FILE`.
max_rss() { cat "$@" | sort -n | tail -1; }

free_ports() { # N: prints N free loopback ports
  python3 -c "import socket,sys
s=[socket.socket() for _ in range(int(sys.argv[1]))]
[x.bind(('127.0.0.1',0)) for x in s]
print(*[x.getsockname()[1] for x in s])" "$1"
}

# start_cluster: etcd + a coordinator + 2 workers x 2 slots (each worker under /usr/bin/time,
# peak RSS in $work/worker{1,2}.rss); sets $coordinator and waits until both workers registered.
start_cluster() {
  local ports
  read -r -a ports < <(free_ports 4)
  etcd --data-dir "$work/etcd" --listen-client-urls "http://127.0.0.1:${ports[0]}" --advertise-client-urls "http://127.0.0.1:${ports[0]}" \
    --listen-peer-urls "http://127.0.0.1:${ports[1]}" --initial-advertise-peer-urls "http://127.0.0.1:${ports[1]}" \
    --initial-cluster "default=http://127.0.0.1:${ports[1]}" >"$work/etcd.log" 2>&1 & pids+=($!)
  etcd_pid=$!
  for _ in $(seq 1 100); do
    ETCDCTL_API=3 etcdctl --endpoints "http://127.0.0.1:${ports[0]}" endpoint health >/dev/null 2>&1 && break
    sleep 0.2
  done
  [ -f "$work/secret.key" ] || "$sluice" coordinator keygen --out "$work/secret.key" >/dev/null
  [ -f "$work/admin.token" ] || "$sluice" coordinator token-gen --out "$work/admin.token" >/dev/null
  [ -f "$work/cluster.token" ] || "$sluice" coordinator token-gen --out "$work/cluster.token" >/dev/null
  export SLUICE_TOKEN; SLUICE_TOKEN=$(cat "$work/admin.token")
  "$sluice" coordinator --etcd "http://127.0.0.1:${ports[0]}" --listen "127.0.0.1:${ports[2]}" \
    --metrics "127.0.0.1:${ports[3]}" --secret-key-file "$work/secret.key" \
    --admin-token-file "$work/admin.token" --cluster-token-file "$work/cluster.token" >"$work/coordinator.log" 2>&1 & pids+=($!)
  coordinator_pid=$!
  coordinator="http://127.0.0.1:${ports[2]}"
  worker_pids=()
  for index in 1 2; do
    /usr/bin/time -f "%M" -o "$work/worker$index.rss" "$sluice" worker --coordinator "$coordinator" --slots 2 --id "bench-$index" \
      --cluster-token-file "$work/cluster.token" >"$work/worker$index.log" 2>&1 & pids+=($!)
    worker_pids+=($!)
  done
  for _ in $(seq 1 150); do
    curl -fs "http://127.0.0.1:${ports[3]}/metrics" 2>/dev/null | grep -qx 'sluice_workers 2' && return 0
    sleep 0.2
  done
  echo "!! the cluster did not come up with 2 workers; logs in $work" >&2
  cat "$work/coordinator.log" >&2
  exit 1
}

# stop_cluster: drains the workers (SIGTERM to the sluice processes under /usr/bin/time), then
# stops the coordinator and etcd.
stop_cluster() {
  local pid
  for pid in "${worker_pids[@]}"; do pkill -TERM -P "$pid" || true; done
  for pid in "${worker_pids[@]}"; do wait "$pid" || true; done
  kill -TERM "$coordinator_pid" 2>/dev/null || true
  wait "$coordinator_pid" 2>/dev/null || true
  kill -TERM "$etcd_pid" 2>/dev/null || true
  wait "$etcd_pid" 2>/dev/null || true
}

# print_ratios OURS... -- PEERS...: rows/s of each of ours over each peer.
print_ratios() {
  python3 - "$SCENARIO" "$@" -- "${results[@]}" <<'PY'
import sys
args = sys.argv[2:]
split = args.index("--")
tools, lines = args[:split], args[split + 1:]
split = tools.index("::")
ours, peers = tools[:split], tools[split + 1:]
rates = {}
for line in lines:
    fields = dict(part.split("=", 1) for part in line.split()[1:])
    rates[fields["tool"]] = float(fields["rows_per_s"])
for mine in ours:
    for peer in peers:
        name, _, goal = peer.partition("@")
        ratio = rates[mine] / rates[name]
        verdict = f" (goal >= {goal}: {'met' if ratio >= float(goal) else 'NOT met'})" if goal else ""
        print(f"RATIO scenario={sys.argv[1]} {mine}/{name}={ratio:.2f}{verdict}")
PY
}

# append_results HEADING MACHINE_LINE: appends the RESULT lines to bench/RESULTS.md.
append_results() {
  {
    echo
    echo "## $1"
    echo "$2"
    echo '```'
    printf '%s\n' "${results[@]}"
    echo '```'
  } >>bench/RESULTS.md
}
