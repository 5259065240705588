#!/usr/bin/env bash
# Real-client check: ffmpeg reads and seeks an MP4 over HTTP through a bucketgate `files` route
# that wants a JWT (run by tests/real_clients.rs, which also checks the gateway's access log:
# the reads arrived as Range requests answered 206, and ffmpeg's hang-ups mid-body were not
# logged as errors).
#
# What it proves:
#   - a 30 s test MP4 made with `-f lavfi testsrc` (H.264 + AAC, ffmpeg's default layout, so the
#     `moov` index sits at the END and a player must seek before it can decode anything) is
#     uploaded with curl PUT through the route, Bearer token in the header;
#   - without the token ffmpeg gets 401 and decodes nothing;
#   - with the token (`-headers 'Authorization: Bearer ...'`), seeking with `-ss` to 3 points
#     and decoding 0.4 s of video and audio gives exactly the frames (`-f framemd5`) that the
#     same seek gives on the local file, and the 3 points give 3 different sets of frames.
#
# Environment:
#   BG_URL     http://127.0.0.1:PORT/<files route>/<key>: where the video is PUT and read
#   BG_TOKEN   a JWT the route accepts, allowed to write and read that key
#   BG_WORK    work directory (default: a new temp dir, removed on exit); the video is left
#              there as video.mp4
# Exit status 0 when every check passed; otherwise the first failure is printed as `FAILED: ...`.
set -euo pipefail

: "${BG_URL:?set BG_URL=http://127.0.0.1:PORT/files/video.mp4}"
: "${BG_TOKEN:?set BG_TOKEN to a JWT the route accepts}"
# shellcheck source=tests/clients/lib.sh
. "$(dirname "$0")/lib.sh"

VIDEO="$WORK/video.mp4"
AUTH="Authorization: Bearer $BG_TOKEN"

# 1. the test video: 30 s, 480x270 at 25 fps with noise (so it has a realistic bitrate, ~6 MB),
# and a 440 Hz tone.
run "make the test video" ffmpeg -nostdin -hide_banner -loglevel error -y \
  -f lavfi -i testsrc=duration=30:size=480x270:rate=25 \
  -f lavfi -i sine=frequency=440:duration=30 \
  -vf noise=alls=12:allf=t -c:v libx264 -preset veryfast -b:v 1500k -pix_fmt yuv420p \
  -c:a aac -shortest "$VIDEO" >/dev/null
SIZE=$(stat -c %s "$VIDEO")
duration=$(run "ffprobe" ffprobe -v error -show_entries format=duration -of csv=p=0 "$VIDEO")
case "$duration" in
29.* | 30.*) ;;
*) fail "the test video lasts $duration s, want 30" ;;
esac
pass "made a ${duration} s MP4 of $SIZE bytes"

# 2. upload through the route.
status=$(curl -sS -o "$WORK/put.out" -w '%{http_code}' -T "$VIDEO" -H "$AUTH" \
  -H 'Content-Type: video/mp4' "$BG_URL") || fail "curl PUT failed"
[ "$status" = 200 ] || fail "PUT of the video: status $status, want 200; body: $(head -c 500 "$WORK/put.out")"
pass "curl PUT of the video through the route"

# 3. without the token: refused, nothing decoded.
if out=$(ffmpeg -nostdin -hide_banner -loglevel error -i "$BG_URL" -map 0:v:0 -frames:v 1 \
  -f framemd5 - 2>&1); then
  fail "ffmpeg without a token decoded the video: $out"
fi
case "$out" in
*401*) ;;
*) fail "ffmpeg without a token: expected a 401 error, got: $out" ;;
esac
pass "ffmpeg without a token gets 401"

# framemd5 INPUT SECONDS [ffmpeg input options...]: the decoded frames' checksums after an input
# seek to SECONDS (a fast seek to the keyframe before it, then decoding up to it), 0.4 s of
# video and audio.
framemd5() {
  local input=$1 at=$2
  shift 2
  ffmpeg -nostdin -hide_banner -loglevel error "$@" -ss "$at" -i "$input" \
    -map 0:v:0 -map 0:a:0 -t 0.4 -f framemd5 -
}

# 4. three seeks, remote equal to local.
prev=""
for at in 4.2 13.56 27.0; do
  want=$(run "local seek to $at s" framemd5 "$VIDEO" "$at")
  got=$(run "seek to $at s through bucketgate" framemd5 "$BG_URL" "$at" -headers "$AUTH"$'\r\n')
  frames=$(printf '%s\n' "$want" | grep -c '^0,' || true)
  [ "$frames" -ge 5 ] || fail "the local seek to $at s decoded $frames video frames, want at least 5:
$want"
  [ "$got" = "$want" ] || fail "seek to $at s: the frames through bucketgate differ from the local file's
--- local ---
$want
--- through bucketgate ---
$got"
  [ "$want" != "$prev" ] || fail "seeks to different points gave the same frames: the seek did nothing"
  prev=$want
  pass "ffmpeg -ss $at through bucketgate: $frames video frames and the audio identical to the local seek"
done

echo "ffmpeg: all checks passed"
