#!/usr/bin/env bash
# A plain-process cluster on one machine: etcd, one coordinator, two workers, all on loopback.
# Stop it with Ctrl-C (workers drain first).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
sluice="$SLUICE_BIN_DIR/sluice"
[ -x "$sluice" ] || cargo build -p sluice-cli --quiet
data=$(mktemp -d)
pids=()
cleanup() { kill -TERM "${pids[@]}" 2>/dev/null || true; wait || true; rm -rf "$data"; }
trap cleanup EXIT INT TERM
etcd --data-dir "$data/etcd" --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 >"$data/etcd.log" 2>&1 & pids+=($!)
sleep 1
# Secrets (passwords) are sealed under this key before they reach etcd; keep yours outside $data.
"$sluice" coordinator keygen --out "$data/secret.key" >/dev/null
# Every call carries a token: the cluster admin's, and the workers' cluster token.
"$sluice" coordinator token-gen --out "$data/admin.token" >/dev/null
"$sluice" coordinator token-gen --out "$data/cluster.token" >/dev/null
"$sluice" coordinator --etcd http://127.0.0.1:2379 --listen 127.0.0.1:7070 --metrics 127.0.0.1:9100 \
  --secret-key-file "$data/secret.key" --admin-token-file "$data/admin.token" \
  --cluster-token-file "$data/cluster.token" & pids+=($!)
sleep 1
"$sluice" worker --coordinator http://127.0.0.1:7070 --slots 2 --id worker-1 --metrics 127.0.0.1:9101 \
  --cluster-token-file "$data/cluster.token" & pids+=($!)
"$sluice" worker --coordinator http://127.0.0.1:7070 --slots 2 --id worker-2 --metrics 127.0.0.1:9102 \
  --cluster-token-file "$data/cluster.token" & pids+=($!)
echo "cluster up: SLUICE_TOKEN=\$(cat $data/admin.token) sluice job submit examples/quickstart-generate.yaml --wait"
wait
