#!/usr/bin/env bash
# The quick start: no external service needed. Builds sluice, generates 1,000,000 rows into a
# SQLite file, copies them to another SQLite file through an in-process cluster with 2 workers,
# and compares source and copy by row count and checksum.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh

echo "==> building sluice"
cargo build -p sluice-cli --quiet
sluice="$SLUICE_BIN_DIR/sluice"

mkdir -p /tmp/sluice-quickstart
echo
echo "==> sluice run examples/quickstart-generate.yaml   (generator -> /tmp/sluice-quickstart/source.db)"
"$sluice" run examples/quickstart-generate.yaml
echo
echo "==> sluice run examples/quickstart-copy.yaml       (source.db -> target.db, 2 workers)"
"$sluice" run examples/quickstart-copy.yaml
echo
echo "==> sluice compare examples/quickstart-copy.yaml"
"$sluice" compare examples/quickstart-copy.yaml
