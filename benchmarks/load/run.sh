#!/usr/bin/env bash
# The load and throughput harness, in one command (benchmarks/README.md, "Load harness"):
#
#   bash benchmarks/load/run.sh            # full run, < 15 min on 2 cores: s3s-fs, nginx files, RGW
#   bash benchmarks/load/run.sh --quick    # ~2 min smoke run: small sizes, s3s-fs and nginx files
#   bash benchmarks/load/run.sh --upstreams s3s,origin   # a subset (s3s, origin, rgw)
#   bash benchmarks/load/run.sh --upstreams origin --baseline-bin /tmp/bg-before-target/release/bucketgate
#                                          # this build against another one (README: "Before and after")
#
# Builds bucketgate, the s3s-fs server and the load client in release mode, then hands over to
# bench.py, which starts every process, runs the scenarios and writes
# benchmarks/results/<date>[-quick].md (printed too) plus the raw rounds as .json.
# Needs: nginx, wrk, python3 with boto3; for RGW, what tests/rgw.sh needs.
set -euo pipefail
cd "$(dirname "$0")/../.."

missing=()
for tool in nginx wrk python3; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
python3 -c 'import boto3' 2>/dev/null || missing+=("python3-boto3 (pip install boto3)")
if [ ${#missing[@]} -gt 0 ]; then
  echo "run.sh: missing: ${missing[*]} (apt-get install -y nginx wrk)" >&2
  exit 1
fi

echo "run.sh: building (release)" >&2
cargo build --release --bin bucketgate --example s3s_server --example pingora_floor -p bucketgate -q
cargo build --release -p bucketgate-loadgen -q
exec python3 benchmarks/load/bench.py "$@"
