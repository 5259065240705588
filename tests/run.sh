#!/usr/bin/env bash
# Runs every test, against both real upstreams:
#   1. `cargo test --workspace --all-targets` with the in-process s3s-fs upstream (the default);
#   2. the integration tests again (`cargo test --test '*'`) against a Ceph RGW that this script
#      starts with tests/rgw.sh and always stops on exit.
# Extra arguments go to both cargo test runs, e.g. `tests/run.sh -- --nocapture`.
#
# If RGW cannot start, the script fails when CI=true; otherwise it prints a loud
# "RGW TESTS SKIPPED" banner and exits 0 after the s3s run.
set -euo pipefail

cd "$(dirname "$0")/.."

export CEPH_DIR=${CEPH_DIR:-/tmp/bucketgate-ceph}
export RGW_PORT=${RGW_PORT:-7480}
export RGW_ENDPOINT=127.0.0.1:$RGW_PORT
export RGW_ACCESS_KEY=${RGW_ACCESS_KEY:-0555b35654ad1656d804}
export RGW_SECRET_KEY=${RGW_SECRET_KEY:-h7GhxuBLTrlhVUyxSPUKUV8r/2EI4ngqJxD7iBdBYLhwluN30JaT3Q==}

banner() {
  echo
  echo "################################################################################"
  echo "## $*"
  echo "################################################################################"
  echo
}

banner "cargo test --workspace --all-targets (upstream: s3s-fs, in-process)"
BUCKETGATE_TEST_UPSTREAM=s3s cargo test --workspace --all-targets "$@"

rgw_started=0
cleanup() {
  if [ "$rgw_started" = 1 ]; then
    bash tests/rgw.sh stop || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

banner "starting Ceph RGW (tests/rgw.sh start)"
rgw_log=$(mktemp)
rgw_started=1 # from here on, stop whatever start may have left
if ! bash tests/rgw.sh start 2>&1 | tee "$rgw_log"; then
  why=$(grep -m1 -E 'ERROR' "$rgw_log" | sed 's/^rgw.sh: ERROR: //' || true)
  why=${why:-tests/rgw.sh start failed (see output above)}
  rm -f "$rgw_log"
  if [ "${CI:-}" = true ]; then
    banner "RGW FAILED TO START (CI=true, so this is a failure): $why"
    exit 1
  fi
  banner "RGW TESTS SKIPPED: $why"
  exit 0
fi
rm -f "$rgw_log"

banner "cargo test --test '*' (upstream: Ceph RGW on $RGW_ENDPOINT)"
BUCKETGATE_TEST_UPSTREAM=rgw cargo test --test '*' "$@"

banner "all tests passed against s3s-fs and Ceph RGW"
