#!/usr/bin/env bash
# ceph/s3-tests, run (1) directly against a one-node Ceph RGW and (2) through a bucketgate
# `frontend: s3` route in front of that same RGW; writes a per-test comparison table.
# Run by hand only (it needs a checkout of an external repository); see tests/conformance/README.md.
#
#   git clone https://github.com/ceph/s3-tests /tmp/s3-tests      # or from the search tool's fetch
#   bash tests/conformance/run.sh /tmp/s3-tests                     # listing + read subset
#   SELECT=all bash tests/conformance/run.sh /tmp/s3-tests          # every test in test_s3.py
#
# Environment (all optional):
#   S3TESTS_DIR        the s3-tests checkout (or the first argument)
#   SELECT             `read` (default: test_s3.py tests whose names match READ_RE), `all`
#                      (all of test_s3.py), or a Python regex on test names
#   READ_RE            default list|get_obj|head_obj|range|read|object_head|bucket_head|response_headers|set_get_metadata
#   REROUTE            `create` (default: only CreateBucket goes to RGW directly) or `admin`
#                      (also ACL/versioning/policy/lifecycle/tagging... calls; see bg_conformance.py)
#   OUT                results file (default tests/conformance/results.md)
#   WORK               scratch dir: configs, logs, junit files (default /tmp/bucketgate-conformance)
#   VENV               Python venv, created if missing (default /tmp/bucketgate-conformance-venv)
#   CEPH_DIR RGW_PORT MON_PORT_V2 MON_PORT_V1   passed to tests/rgw.sh
#                      (defaults /tmp/bucketgate-conformance-ceph, 7490, 3391, 6791)
#   BG_PORT            bucketgate's port (default 7491)
#   BUCKETGATE_BIN     use this binary instead of `cargo build --bin bucketgate`
#   ALIASES            bucket aliases <prefix>1..<prefix>N in bucketgate's config (default 200)
#   TEST_TIMEOUT       seconds per test (pytest-timeout; default 300)
#   KEEP=1             leave RGW and bucketgate running at the end
#   SKIP_DIRECT=1      reuse $WORK/direct.xml from an earlier run instead of running it again
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
S3TESTS_DIR=${1:-${S3TESTS_DIR:-}}
SELECT=${SELECT:-read}
READ_RE=${READ_RE:-'list|get_obj|head_obj|range|read|object_head|bucket_head|response_headers|set_get_metadata'}
REROUTE=${REROUTE:-create}
OUT=${OUT:-$HERE/results.md}
WORK=${WORK:-/tmp/bucketgate-conformance}
VENV=${VENV:-/tmp/bucketgate-conformance-venv}
export CEPH_DIR=${CEPH_DIR:-/tmp/bucketgate-conformance-ceph}
export RGW_PORT=${RGW_PORT:-7490}
export MON_PORT_V2=${MON_PORT_V2:-3391}
export MON_PORT_V1=${MON_PORT_V1:-6791}
BG_PORT=${BG_PORT:-7491}
ALIASES=${ALIASES:-200}
TEST_TIMEOUT=${TEST_TIMEOUT:-300}
PREFIX=bgconf-

# The s3-tests users, with the keys of ceph's vstart.sh and the suite's sample config. The main
# user is tests/rgw.sh's test user; bucketgate gets the same three key pairs as static keys.
MAIN_KEY=0555b35654ad1656d804
MAIN_SECRET='h7GhxuBLTrlhVUyxSPUKUV8r/2EI4ngqJxD7iBdBYLhwluN30JaT3Q=='
ALT_UID=56789abcdef0123456789abcdef0123456789abcdef0123456789abcdef01234
ALT_KEY=NOPQRSTUVWXYZABCDEFG
ALT_SECRET=nopqrstuvwxyzabcdefghijklmnabcdefghijklm
TENANT=testx
TENANT_UID=9876543210abcdef0123456789abcdef0123456789abcdef0123456789abcdef
TENANT_KEY=HIJKLMNOPQRSTUVWXYZA
TENANT_SECRET=opqrstuvwxyzabcdefghijklmnopqrstuvwxyzab

say() { echo "conformance: $*" >&2; }
die() {
  say "ERROR: $*"
  exit 1
}

if [ -z "$S3TESTS_DIR" ]; then
  cat >&2 <<EOF
usage: bash tests/conformance/run.sh /path/to/s3-tests

Needs a checkout of https://github.com/ceph/s3-tests (not vendored here, and CI cannot fetch it):
  git clone https://github.com/ceph/s3-tests /tmp/s3-tests
or, in a session with the search tool, fetch github:ceph/s3-tests and clone the bare git
directory it returns: git clone /work/.mirror/ceph+s3-tests/repo /tmp/s3-tests
EOF
  exit 2
fi
S3TESTS_DIR=$(cd "$S3TESTS_DIR" && pwd)
if [ -f "$S3TESTS_DIR/s3tests/functional/test_s3.py" ]; then
  SUITE=s3tests/functional/test_s3.py
elif [ -f "$S3TESTS_DIR/s3tests_boto3/functional/test_s3.py" ]; then
  SUITE=s3tests_boto3/functional/test_s3.py
else
  die "$S3TESTS_DIR has no s3tests/functional/test_s3.py (nor s3tests_boto3/...): not an s3-tests checkout"
fi
[ -f "$S3TESTS_DIR/pytest.ini" ] ||
  die "$S3TESTS_DIR is a nose-era branch (no pytest.ini); use master or ceph-reef and later"

mkdir -p "$WORK"
BG_PID=
cleanup() {
  if [ "${KEEP:-0}" = 1 ]; then
    say "KEEP=1: leaving RGW ($CEPH_DIR) and bucketgate (pid ${BG_PID:-none}) running"
    return
  fi
  if [ -n "$BG_PID" ] && kill -0 "$BG_PID" 2>/dev/null; then
    kill -TERM "$BG_PID" 2>/dev/null || true
    wait "$BG_PID" 2>/dev/null || true
  fi
  bash "$REPO/tests/rgw.sh" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

# --- Python ------------------------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV"
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import boto3, munch, pytest, pytest_timeout, gevent, isodate, lxml' 2>/dev/null; then
  say "installing the suite's requirements into $VENV"
  "$VENV/bin/pip" install -q -r "$S3TESTS_DIR/requirements.txt" pytest-timeout
fi

# --- bucketgate binary ----------------------------------------------------------------------------
if [ -z "${BUCKETGATE_BIN:-}" ]; then
  # The working tree may be mid-edit by someone else: retry a failed build twice, a minute apart.
  for try in 1 2 3; do
    say "cargo build --bin bucketgate"
    (cd "$REPO" && cargo build --bin bucketgate) >"$WORK/build.log" 2>&1 && break
    [ "$try" = 3 ] && die "cargo build failed three times; see $WORK/build.log"
    say "cargo build failed (see $WORK/build.log); retrying in 60 s"
    sleep 60
  done
  BUCKETGATE_BIN=$(cd "$REPO" && cargo metadata --format-version 1 --no-deps 2>/dev/null |
    "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/bucketgate
fi
[ -x "$BUCKETGATE_BIN" ] || die "no bucketgate binary at $BUCKETGATE_BIN"

# --- RGW and its three users ----------------------------------------------------------------------
bash "$REPO/tests/rgw.sh" start >"$WORK/rgw-start.log" 2>&1 ||
  die "tests/rgw.sh start failed; see $WORK/rgw-start.log"
CONF="$CEPH_DIR/ceph.conf"
radosgw-admin -c "$CONF" user create --uid="$ALT_UID" --display-name=john.doe \
  --email=john.doe@example.com --access-key="$ALT_KEY" --secret="$ALT_SECRET" \
  >/dev/null 2>"$WORK/user-alt.err" || die "creating the alt user failed; see $WORK/user-alt.err"
radosgw-admin -c "$CONF" user create --tenant="$TENANT" --uid="$TENANT_UID" \
  --display-name=tenanteduser --email=tenanteduser@example.com \
  --access-key="$TENANT_KEY" --secret="$TENANT_SECRET" \
  >/dev/null 2>"$WORK/user-tenant.err" || die "creating the tenant user failed; see $WORK/user-tenant.err"
say "RGW on 127.0.0.1:$RGW_PORT with users main, alt and tenant"

# --- bucketgate ------------------------------------------------------------------------------------
"$VENV/bin/python" "$HERE/make_config.py" --rgw "127.0.0.1:$RGW_PORT" --port "$BG_PORT" \
  --prefix "$PREFIX" --aliases "$ALIASES" \
  --main "$MAIN_KEY:$MAIN_SECRET" --alt "$ALT_KEY:$ALT_SECRET" \
  --tenant "$TENANT_KEY:$TENANT_SECRET" >"$WORK/bucketgate.yaml"
"$BUCKETGATE_BIN" check -c "$WORK/bucketgate.yaml" >"$WORK/bucketgate-check.log" 2>&1 ||
  die "bucketgate check failed; see $WORK/bucketgate-check.log"
RUST_LOG=info "$BUCKETGATE_BIN" run -c "$WORK/bucketgate.yaml" >"$WORK/bucketgate.log" 2>&1 &
BG_PID=$!
for _ in $(seq 1 100); do
  curl -sf --max-time 2 "http://127.0.0.1:$BG_PORT/healthz" >/dev/null 2>&1 && break
  kill -0 "$BG_PID" 2>/dev/null || die "bucketgate exited; see $WORK/bucketgate.log"
  sleep 0.2
done
curl -sf --max-time 2 "http://127.0.0.1:$BG_PORT/healthz" >/dev/null ||
  die "bucketgate did not answer /healthz; see $WORK/bucketgate.log"
say "bucketgate (pid $BG_PID) on 127.0.0.1:$BG_PORT"

# --- the suite's configs ------------------------------------------------------------------------------
write_s3tests_conf() { # port file
  cat >"$2" <<EOF
[DEFAULT]
host = 127.0.0.1
port = $1
is_secure = False
ssl_verify = False

[fixtures]
# No {random}: bucketgate serves only the aliases in its config, ${PREFIX}1..${PREFIX}$ALIASES.
bucket prefix = $PREFIX

[s3 main]
display_name = M. Tester
user_id = testid
email = tester@ceph.com
api_name = default
access_key = $MAIN_KEY
secret_key = $MAIN_SECRET

[s3 alt]
display_name = john.doe
email = john.doe@example.com
user_id = $ALT_UID
access_key = $ALT_KEY
secret_key = $ALT_SECRET

[s3 tenant]
display_name = tenanteduser
user_id = $TENANT\$$TENANT_UID
access_key = $TENANT_KEY
secret_key = $TENANT_SECRET
email = tenanteduser@example.com
tenant = $TENANT

# Not created (no IAM tests are selected); the suite's config loader needs the sections.
[iam]
email = s3@example.com
user_id = 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
access_key = ABCDEFGHIJKLMNOPQRST
secret_key = abcdefghijklmnopqrstuvwxyzabcdefghijklmn
display_name = youruseridhere

[iam root]
access_key = AAAAAAAAAAAAAAAAAAaa
secret_key = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
user_id = RGW11111111111111111
email = account1@ceph.com

[iam alt root]
access_key = BBBBBBBBBBBBBBBBBBbb
secret_key = bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
user_id = RGW22222222222222222
email = account2@ceph.com
EOF
}
write_s3tests_conf "$RGW_PORT" "$WORK/s3tests-direct.conf"
write_s3tests_conf "$BG_PORT" "$WORK/s3tests-bucketgate.conf"

# --- which tests ------------------------------------------------------------------------------------
cd "$S3TESTS_DIR"
S3TEST_CONF="$WORK/s3tests-direct.conf" "$VENV/bin/python" -m pytest --collect-only -q "$SUITE" \
  2>/dev/null | grep '::' >"$WORK/all-tests.txt" || die "collecting $SUITE failed"
case "$SELECT" in
read) RE=$READ_RE ;;
all) RE=. ;;
*) RE=$SELECT ;;
esac
"$VENV/bin/python" -c '
import re, sys
rx = re.compile(sys.argv[1])
for line in open(sys.argv[2]):
    node = line.strip()
    if rx.search(node.split("::")[-1]):
        print(node)
' "$RE" "$WORK/all-tests.txt" >"$WORK/selected.txt"
say "$(wc -l <"$WORK/selected.txt") of $(wc -l <"$WORK/all-tests.txt") tests selected (SELECT=$SELECT)"

run_suite() { # name conf [env...]
  local name=$1 conf=$2
  shift 2
  say "running the suite: $name"
  local t0=$SECONDS
  rm -f "$WORK/$name-calls.jsonl"
  env "$@" S3TEST_CONF="$conf" PYTHONPATH="$HERE" PYTHONDONTWRITEBYTECODE=1 BG_CONFORMANCE_CALLS="$WORK/$name-calls.jsonl" \
    "$VENV/bin/python" -m pytest -p bg_conformance -p no:cacheprovider -q -rN --tb=short \
    --timeout="$TEST_TIMEOUT" --junitxml="$WORK/$name.xml" -o junit_logging=no \
    $(cat "$WORK/selected.txt") >"$WORK/pytest-$name.log" 2>&1 || true
  say "$name: $(tail -n 1 "$WORK/pytest-$name.log") ($((SECONDS - t0)) s)"
}
if [ "${SKIP_DIRECT:-0}" = 1 ] && [ -f "$WORK/direct.xml" ]; then
  say "SKIP_DIRECT=1: reusing $WORK/direct.xml"
else
  run_suite direct "$WORK/s3tests-direct.conf"
fi
run_suite bucketgate "$WORK/s3tests-bucketgate.conf" \
  BG_CONFORMANCE_DIRECT="http://127.0.0.1:$RGW_PORT" \
  BG_CONFORMANCE_GATEWAY="http://127.0.0.1:$BG_PORT" \
  BG_CONFORMANCE_REROUTE="$REROUTE" \
  BG_CONFORMANCE_MAIN_KEY="$MAIN_KEY" BG_CONFORMANCE_MAIN_SECRET="$MAIN_SECRET"

# --- the table ----------------------------------------------------------------------------------------
"$VENV/bin/python" "$HERE/compare.py" --direct "$WORK/direct.xml" --bucketgate "$WORK/bucketgate.xml" \
  --calls "$WORK/bucketgate-calls.jsonl" \
  --selected "$WORK/selected.txt" --suite-dir "$S3TESTS_DIR" --repo "$REPO" \
  --select "$SELECT" --reroute "$REROUTE" --rgw-version "$(radosgw --version 2>/dev/null | head -n 1)" \
  >"$OUT"
say "wrote $OUT"
grep -E '^\*\*passes directly but fails through bucketgate' "$OUT" >&2 || true
