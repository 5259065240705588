#!/usr/bin/env bash
# Real-client check: s3cmd (SigV4, path style, no config file) against an S3 endpoint, normally
# bucketgate's `frontend: s3` route (run by tests/real_clients.rs); it works against any S3
# server.
#
# What it proves, byte for byte, with s3cmd's own signing (it signs the payload's SHA-256):
#   - `s3cmd put` of a small file whose key has spaces and `+`, and of a 12 MiB file that goes
#     multipart (5 MiB parts; tests/real_clients.rs checks the access log for it);
#   - `s3cmd get` of each gives identical bytes (`cmp`);
#   - `s3cmd ls` lists both keys with their exact sizes;
#   - `s3cmd get` of a key that does not exist fails (404), and `s3cmd del` removes both keys
#     so `s3cmd ls` no longer shows them.
#
# Environment:
#   BG_ENDPOINT    http://127.0.0.1:PORT (plain HTTP)
#   BG_BUCKET      the bucket as the client sees it
#   BG_PREFIX      key prefix for everything this script writes (default `s3cmd/`)
#   BG_WORK        work directory (default: a new temp dir, removed on exit)
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
# Exit status 0 when every check passed; otherwise the first failure is printed as `FAILED: ...`.
set -euo pipefail

: "${BG_ENDPOINT:?set BG_ENDPOINT=http://127.0.0.1:PORT}"
: "${BG_BUCKET:?set BG_BUCKET}"
: "${AWS_ACCESS_KEY_ID:?set AWS_ACCESS_KEY_ID}"
: "${AWS_SECRET_ACCESS_KEY:?set AWS_SECRET_ACCESS_KEY}"
PREFIX=${BG_PREFIX-s3cmd/}
# shellcheck source=tests/clients/lib.sh
. "$(dirname "$0")/lib.sh"

HOSTPORT=${BG_ENDPOINT#http://}
HOSTPORT=${HOSTPORT%/}
# No config file (-c /dev/null): everything on the command line, as in the README.
s3() {
  s3cmd -c /dev/null --host="$HOSTPORT" --host-bucket="$HOSTPORT" --no-ssl \
    --access_key="$AWS_ACCESS_KEY_ID" --secret_key="$AWS_SECRET_ACCESS_KEY" \
    --multipart-chunk-size-mb=5 --no-progress "$@"
}

BASE="s3://$BG_BUCKET/$PREFIX"
SMALL_KEY="notes with space+plus.txt"
BIG_KEY="big.bin"
BIG_SIZE=$((12 * 1024 * 1024 + 77))
printf 'hello from s3cmd\n%.0s' $(seq 1 50) >"$WORK/small.txt"
random_file "$WORK/big.bin" "$BIG_SIZE"
SMALL_SIZE=$(stat -c %s "$WORK/small.txt")

# 1. put (single and multipart).
run "put small" s3 put "$WORK/small.txt" "$BASE$SMALL_KEY" >/dev/null
pass "s3cmd put ($SMALL_SIZE bytes, key with spaces and +)"
run "put big" s3 put "$WORK/big.bin" "$BASE$BIG_KEY" >/dev/null
pass "s3cmd put ($BIG_SIZE bytes, multipart in 5 MiB parts)"

# 2. get, byte for byte.
rm -f "$WORK/small.got" "$WORK/big.got"
run "get small" s3 get "$BASE$SMALL_KEY" "$WORK/small.got" >/dev/null
same_bytes "s3cmd get $SMALL_KEY" "$WORK/small.txt" "$WORK/small.got"
run "get big" s3 get "$BASE$BIG_KEY" "$WORK/big.got" >/dev/null
same_bytes "s3cmd get $BIG_KEY" "$WORK/big.bin" "$WORK/big.got"
pass "s3cmd get of both, bytes identical"

# 3. ls: both keys with their sizes ("DATE TIME SIZE s3://bucket/key").
listing=$(run "ls" s3 ls "$BASE")
size_of() {
  printf '%s\n' "$listing" | awk -v u="$BASE$1" '{ s = $3; $1 = $2 = $3 = ""; sub(/^ +/, ""); if ($0 == u) print s }'
}
[ "$(size_of "$SMALL_KEY")" = "$SMALL_SIZE" ] ||
  fail "s3cmd ls: want $BASE$SMALL_KEY with size $SMALL_SIZE; it printed:
$listing"
[ "$(size_of "$BIG_KEY")" = "$BIG_SIZE" ] ||
  fail "s3cmd ls: want $BASE$BIG_KEY with size $BIG_SIZE; it printed:
$listing"
[ "$(printf '%s\n' "$listing" | grep -c 's3://')" = 2 ] || fail "s3cmd ls: want exactly 2 keys; it printed:
$listing"
pass "s3cmd ls lists both keys with their sizes"

# 4. a missing key is an error, not an empty file.
if out=$(s3 get "${BASE}missing.bin" "$WORK/missing.got" 2>&1); then
  fail "s3cmd get of a missing key succeeded: $out"
fi
case "$out" in
*404* | *"does not exist"*) ;;
*) fail "s3cmd get of a missing key: expected a 404 (does not exist) error, got: $out" ;;
esac
[ ! -s "$WORK/missing.got" ] || fail "s3cmd get of a missing key wrote $(stat -c %s "$WORK/missing.got") bytes"
pass "s3cmd get of a missing key fails: does not exist"

# 5. del, and ls no longer shows them.
run "del" s3 del "$BASE$SMALL_KEY" "$BASE$BIG_KEY" >/dev/null
listing=$(run "ls after del" s3 ls "$BASE")
[ -z "$listing" ] || fail "after s3cmd del, s3cmd ls still lists:
$listing"
pass "s3cmd del, and s3cmd ls shows nothing"

echo "s3cmd: all checks passed"
