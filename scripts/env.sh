# Sourced by the scripts: the cargo target directory outlives any one clone, so CI and fresh
# checkouts reuse compiled dependencies instead of rebuilding the world.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sluice/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
SLUICE_BIN_DIR="$CARGO_TARGET_DIR/debug"
export SLUICE_BIN_DIR
