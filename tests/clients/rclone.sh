#!/usr/bin/env bash
# Real-client check: rclone (the S3 backend, provider Other, path style) against an S3
# endpoint, normally bucketgate's `frontend: s3` route (run by tests/real_clients.rs); it works
# against any S3 server.
#
# What it proves, byte for byte, with rclone's own SigV4 signing, configured only through the
# environment (no user config file):
#   - `rclone copy` of a directory tree up (an empty file, a key with spaces, unicode and `+`,
#     and a 12 MiB file that goes multipart with a 5 MiB upload cutoff) and back down into
#     another directory gives identical files (`cmp` of each);
#   - `rclone ls` lists exactly the tree's paths with their sizes;
#   - `rclone cat --offset N --count M` prints exactly those bytes of the big file, and
#     `--offset` alone the rest of it;
#   - `rclone purge` removes it all and `rclone ls` then shows nothing.
#
# Environment:
#   BG_ENDPOINT    http://127.0.0.1:PORT (plain HTTP)
#   BG_BUCKET      the bucket as the client sees it
#   BG_PREFIX      key prefix for everything this script writes (default `rclone/`)
#   BG_WORK        work directory (default: a new temp dir, removed on exit)
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
# Exit status 0 when every check passed; otherwise the first failure is printed as `FAILED: ...`.
set -euo pipefail

: "${BG_ENDPOINT:?set BG_ENDPOINT=http://127.0.0.1:PORT}"
: "${BG_BUCKET:?set BG_BUCKET}"
: "${AWS_ACCESS_KEY_ID:?set AWS_ACCESS_KEY_ID}"
: "${AWS_SECRET_ACCESS_KEY:?set AWS_SECRET_ACCESS_KEY}"
PREFIX=${BG_PREFIX-rclone/}
# shellcheck source=tests/clients/lib.sh
. "$(dirname "$0")/lib.sh"

# rclone 1.60 refuses to start when AWS_CA_BUNDLE is set (this machine exports one), and
# must not pick up a user's remotes or flags.
unset AWS_CA_BUNDLE
for v in $(env | sed -n 's/^\(RCLONE_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
export RCLONE_CONFIG="$WORK/rclone.conf"
: >"$RCLONE_CONFIG"
# The remote `bg:`, defined by environment variables alone.
export RCLONE_CONFIG_BG_TYPE=s3
export RCLONE_CONFIG_BG_PROVIDER=Other
export RCLONE_CONFIG_BG_ENDPOINT=$BG_ENDPOINT
export RCLONE_CONFIG_BG_REGION=us-east-1
export RCLONE_CONFIG_BG_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID
export RCLONE_CONFIG_BG_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
export RCLONE_CONFIG_BG_FORCE_PATH_STYLE=true
# Multipart above 5 MiB (rclone's default cutoff is 200 MiB), in 5 MiB parts.
export RCLONE_CONFIG_BG_UPLOAD_CUTOFF=5M
export RCLONE_CONFIG_BG_CHUNK_SIZE=5M

# rclone's recursive listing (ListR) sends an empty `delimiter=`. bucketgate drops it (S3 reads
# it as no delimiter; s3s-fs 0.14.1 would split keys on "" and answer one-character
# CommonPrefixes), so ListR works on every upstream and is used here.
rc() { rclone --retries 1 --low-level-retries 1 "$@"; }

REMOTE="bg:$BG_BUCKET/${PREFIX}tree"
SRC="$WORK/src"
DOWN="$WORK/down"
rm -rf "$SRC" "$DOWN"
mkdir -p "$SRC/docs" "$SRC/dir with space"
printf 'hello from rclone\n' >"$SRC/docs/small.txt"
: >"$SRC/docs/empty.txt"
random_file "$SRC/dir with space/ünïcode+plus (1).bin" 100000
BIG_SIZE=$((12 * 1024 * 1024 + 4321))
random_file "$SRC/big.bin" "$BIG_SIZE"

# 1. copy up and back down.
run "copy up" rc copy "$SRC" "$REMOTE" >/dev/null
pass "rclone copy up (4 files, the 12 MiB one multipart)"
run "copy down" rc copy "$REMOTE" "$DOWN" >/dev/null
(cd "$SRC" && find . -type f | sort) >"$WORK/src.files"
(cd "$DOWN" && find . -type f | sort) >"$WORK/down.files"
cmp -s "$WORK/src.files" "$WORK/down.files" ||
  fail "copy down: the files differ from the source tree: $(diff "$WORK/src.files" "$WORK/down.files" | tr '\n' ' ')"
while IFS= read -r f; do
  same_bytes "copy down: $f" "$SRC/$f" "$DOWN/$f"
done <"$WORK/src.files"
pass "rclone copy down, every file byte-identical"

# 2. ls: paths and sizes.
listing=$(run "ls" rc ls "$REMOTE")
printf '%s\n' "$listing" | sed -E 's/^ *//' | sort >"$WORK/ls.got"
(cd "$SRC" && find . -type f -printf '%s %P\n' | sort) >"$WORK/ls.want"
cmp -s "$WORK/ls.want" "$WORK/ls.got" || fail "rclone ls: want
$(cat "$WORK/ls.want")
got
$(cat "$WORK/ls.got")"
pass "rclone ls lists every path with its size"

# 3. cat --offset --count, and --offset to the end.
OFF=5242000
COUNT=300000
run_to "$WORK/cat.got" "cat --offset --count" rc cat --offset "$OFF" --count "$COUNT" "$REMOTE/big.bin"
slice "$SRC/big.bin" "$OFF" "$COUNT" >"$WORK/cat.want"
same_bytes "rclone cat --offset $OFF --count $COUNT" "$WORK/cat.want" "$WORK/cat.got"
pass "rclone cat --offset $OFF --count $COUNT, bytes identical"
TAIL_OFF=$((BIG_SIZE - 1000))
run_to "$WORK/tail.got" "cat --offset" rc cat --offset "$TAIL_OFF" "$REMOTE/big.bin"
slice "$SRC/big.bin" "$TAIL_OFF" 1000 >"$WORK/tail.want"
same_bytes "rclone cat --offset $TAIL_OFF" "$WORK/tail.want" "$WORK/tail.got"
pass "rclone cat --offset $TAIL_OFF (to the end), bytes identical"

# 4. purge (a recursive listing with the empty delimiter, then deletes), and nothing is left.
run "purge" rc purge "$REMOTE" >/dev/null
left=$(run "ls after delete" rc ls "$REMOTE")
[ -z "$left" ] || fail "after rclone purge, rclone ls still lists:
$left"
pass "rclone purge, and rclone ls shows nothing"

echo "rclone: all checks passed"
