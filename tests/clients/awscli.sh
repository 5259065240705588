#!/usr/bin/env bash
# Real-client check: the AWS CLI (v1, botocore) against an S3 endpoint, normally bucketgate's
# `frontend: s3` route (run by tests/s3_clients.rs), but it works against any S3 server.
#
# What it proves, byte for byte, with the CLI's own defaults (SigV4 headers, path-style):
#   - `aws s3 cp` of a 20 MB file up goes multipart (default threshold 8 MB: Create, 3 x
#     UploadPart, Complete) and down comes back identical;
#   - `aws s3 ls` lists the key with its exact size;
#   - `aws s3api get-object --range bytes=1000-1999` returns exactly those 1000 bytes;
#   - `aws s3 presign` (SigV4 query string, forced with `signature_version = s3v4`) gives a URL
#     plain curl can download, identical bytes; the same URL with the key changed is refused
#     with 403 (the signature covers the path);
#   - `aws s3 rm` deletes it and `aws s3 ls` no longer shows it.
#
# Environment:
#   BG_ENDPOINT    http://127.0.0.1:PORT (plain HTTP)
#   BG_BUCKET      the bucket as the client sees it
#   BG_PREFIX      key prefix for everything this script writes (default `awscli/`)
#   BG_WORK        work directory (default: a new temp dir, removed on exit)
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
# Exit status 0 when every check passed; otherwise the first failure is printed as `FAILED: ...`.
set -euo pipefail

: "${BG_ENDPOINT:?set BG_ENDPOINT=http://127.0.0.1:PORT}"
: "${BG_BUCKET:?set BG_BUCKET}"
: "${AWS_ACCESS_KEY_ID:?set AWS_ACCESS_KEY_ID}"
: "${AWS_SECRET_ACCESS_KEY:?set AWS_SECRET_ACCESS_KEY}"
PREFIX=${BG_PREFIX-awscli/}

# WORK, fail, pass, run.
# shellcheck source=tests/clients/lib.sh
. "$(dirname "$0")/lib.sh"

# A hermetic CLI setup: only the env keys, region us-east-1, path-style, SigV4 everywhere
# (awscli v1 presigns with SigV2 unless the config says s3v4).
unset AWS_CA_BUNDLE AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN
export AWS_CONFIG_FILE="$WORK/aws-config"
export AWS_SHARED_CREDENTIALS_FILE="$WORK/aws-credentials-none"
export AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
export AWS_PAGER=""
cat >"$AWS_CONFIG_FILE" <<'EOF'
[default]
region = us-east-1
s3 =
  signature_version = s3v4
  addressing_style = path
EOF

aws_() { aws --endpoint-url "$BG_ENDPOINT" --region us-east-1 "$@"; }

KEY="${PREFIX}big-20mb.bin"
URI="s3://$BG_BUCKET/$KEY"
SRC="$WORK/src.bin"
SIZE=$((20 * 1024 * 1024))
head -c "$SIZE" /dev/urandom >"$SRC"

# 1. multipart upload (20 MB > the CLI's default 8 MB multipart_threshold) and download.
run "upload (multipart)" aws_ s3 cp "$SRC" "$URI" --only-show-errors >/dev/null
pass "aws s3 cp up ($SIZE bytes, multipart)"
run "download" aws_ s3 cp "$URI" "$WORK/down.bin" --only-show-errors >/dev/null
cmp "$SRC" "$WORK/down.bin" || fail "downloaded bytes differ from the uploaded file"
pass "aws s3 cp down, bytes identical"

# The multipart upload leaves an ETag of the form "<md5 of part md5s>-<part count>".
head_json=$(run "head-object" aws_ s3api head-object --bucket "$BG_BUCKET" --key "$KEY")
etag=$(printf '%s' "$head_json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ETag"])')
case "$etag" in
*-3\") pass "head-object ETag $etag (3 parts)" ;;
*) fail "expected a 3-part multipart ETag (\"...-3\"), head-object said: $head_json" ;;
esac

# 2. listing shows the key with its size.
listing=$(run "ls" aws_ s3 ls "s3://$BG_BUCKET/$PREFIX")
line=$(printf '%s\n' "$listing" | awk -v k="big-20mb.bin" '$4 == k' || true)
[ -n "$line" ] || fail "aws s3 ls s3://$BG_BUCKET/$PREFIX does not list big-20mb.bin; it printed:
$listing"
got_size=$(printf '%s\n' "$line" | awk '{print $3}')
[ "$got_size" = "$SIZE" ] || fail "aws s3 ls shows size $got_size, want $SIZE: $line"
pass "aws s3 ls lists the key with size $SIZE"

# 3. a byte range.
rm -f "$WORK/range.bin"
run "ranged get-object" aws_ s3api get-object --bucket "$BG_BUCKET" --key "$KEY" \
  --range bytes=1000-1999 "$WORK/range.bin" >/dev/null
got=$(stat -c %s "$WORK/range.bin")
[ "$got" = 1000 ] || fail "get-object --range bytes=1000-1999 returned $got bytes, want 1000"
dd if="$SRC" of="$WORK/range.want" bs=1000 skip=1 count=1 status=none
cmp "$WORK/range.want" "$WORK/range.bin" || fail "get-object --range bytes=1000-1999: bytes differ from the source's 1000..1999"
pass "get-object --range bytes=1000-1999, bytes identical"

# 4. a presigned URL, downloaded by plain curl; a tampered one is refused.
url=$(run "presign" aws_ s3 presign "$URI" --expires-in 600)
case "$url" in
*X-Amz-Signature=*) ;;
*) fail "aws s3 presign did not make a SigV4 URL (no X-Amz-Signature): $url" ;;
esac
case "$url" in
"$BG_ENDPOINT/$BG_BUCKET/"*) ;;
*) fail "aws s3 presign did not make a path-style URL on $BG_ENDPOINT: $url" ;;
esac
status=$(curl -sS -o "$WORK/presigned.bin" -w '%{http_code}' "$url") || fail "curl of the presigned URL failed"
[ "$status" = 200 ] || fail "curl of the presigned URL: status $status, want 200; body: $(head -c 2000 "$WORK/presigned.bin")"
cmp "$SRC" "$WORK/presigned.bin" || fail "presigned download: bytes differ"
pass "presigned URL downloads with curl, bytes identical"

tampered=${url/big-20mb.bin/big-20mb.bix}
[ "$tampered" != "$url" ] || fail "could not tamper with the presigned URL: $url"
status=$(curl -sS -o "$WORK/tampered.out" -w '%{http_code}' "$tampered") || fail "curl of the tampered URL failed"
[ "$status" = 403 ] || fail "presigned URL with the key changed: status $status, want 403; body: $(head -c 2000 "$WORK/tampered.out")"
pass "presigned URL with the key changed is refused with 403 ($(grep -o '<Code>[^<]*</Code>' "$WORK/tampered.out" || echo 'no S3 error code'))"

# 5. delete, and it is gone from the listing.
run "rm" aws_ s3 rm "$URI" --only-show-errors >/dev/null
# `aws s3 ls` exits 1 when nothing matches: that is the expected outcome here.
listing=$(aws_ s3 ls "s3://$BG_BUCKET/$PREFIX" 2>&1 || true)
if printf '%s\n' "$listing" | grep -q 'big-20mb.bin'; then
  fail "after aws s3 rm, aws s3 ls still lists the key:
$listing"
fi
case "$listing" in
*rror*) fail "aws s3 ls after rm failed: $listing" ;;
esac
pass "aws s3 rm, and aws s3 ls no longer shows the key"

echo "awscli: all checks passed"
