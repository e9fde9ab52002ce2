#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs the tools, starts etcd on loopback with a
# temporary data dir, checks PostgreSQL and MariaDB on 127.0.0.1, then runs format and lint
# gates, every unit, conformance and end-to-end test (cargo nextest) and the doctests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh
started=$(date +%s)

# etcd for the MetaStore conformance suite (end-to-end tests start their own).
etcd_dir=$(mktemp -d)
read -r etcd_client_port etcd_peer_port < <(python3 -c '
import socket
ports = []
sockets = []
for _ in range(2):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); ports.append(s.getsockname()[1]); sockets.append(s)
print(*ports)')
etcd --name sluice-test --data-dir "$etcd_dir/data" \
  --listen-client-urls "http://127.0.0.1:$etcd_client_port" --advertise-client-urls "http://127.0.0.1:$etcd_client_port" \
  --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
  --initial-cluster "sluice-test=http://127.0.0.1:$etcd_peer_port" >"$etcd_dir/etcd.log" 2>&1 &
etcd_pid=$!
trap 'kill $etcd_pid 2>/dev/null || true; wait $etcd_pid 2>/dev/null || true; rm -rf "$etcd_dir"' EXIT
export SLUICE_TEST_ETCD="http://127.0.0.1:$etcd_client_port"
for _ in $(seq 1 100); do
  ETCDCTL_API=3 etcdctl --endpoints "$SLUICE_TEST_ETCD" endpoint health >/dev/null 2>&1 && break
  sleep 0.2
done
ETCDCTL_API=3 etcdctl --endpoints "$SLUICE_TEST_ETCD" endpoint health || { cat "$etcd_dir/etcd.log"; exit 1; }

# The machine's PostgreSQL and MariaDB (started if they are installed but stopped).
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "test: PostgreSQL is not answering on 127.0.0.1:5432; trying to start it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
fi
pg_isready -h 127.0.0.1 -p 5432 || { echo "test: PostgreSQL is required on 127.0.0.1:5432 (trust auth)"; exit 1; }
if ! mysqladmin -h 127.0.0.1 -u root ping >/dev/null 2>&1; then
  echo "test: MariaDB is not answering on 127.0.0.1:3306; trying to start it"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
  sleep 3
fi

echo "==> cargo fmt --check"
cargo fmt --all --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "==> cargo build (binaries used by the end-to-end tests)"
cargo build --workspace --quiet
echo "==> doctests"
cargo test --workspace --doc --quiet
# nextest last, so the suite's closing line is its summary of every test.
echo "==> cargo nextest run"
cargo nextest run --workspace --no-fail-fast
echo "==> test suite finished in $(( $(date +%s) - started )) s"
