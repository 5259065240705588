#!/usr/bin/env bash
# Real-client check: curl against a bucketgate `files` route that wants a JWT (run by
# tests/real_clients.rs): byte ranges, conditional requests and HEAD, each compared with the
# object's bytes or with what the upstream itself answers to the same request.
#
# What it proves:
#   - the object is uploaded with curl PUT through the route and read back whole (same bytes);
#   - `Range: bytes=a-b`, a suffix `bytes=-n` and an open `bytes=a-` each give 206, the right
#     `Content-Range` and exactly those bytes; a range past the end gives the upstream's status;
#   - the ETag is the upstream's; `If-None-Match` with it and `If-Match` with another one give
#     the status the upstream gives (304 and 412 on servers that honour them, such as RGW;
#     s3s-fs ignores them and answers 200), a 304 has no body, and `If-None-Match` with another
#     ETag gives 200 with the bytes;
#   - HEAD gives 200, the object's `Content-Length` and no body: a ranged GET sent next on the
#     same connection still gets exactly its bytes;
#   - without the token: 401 and none of the object's bytes.
#
# Environment:
#   BG_URL         http://127.0.0.1:PORT/<files route>/<key>: where the object is PUT and read
#   BG_TOKEN       a JWT the route accepts, allowed to write and read that key
#   BG_DIRECT_URL  a presigned GET URL of the same object, straight to the upstream
#   BG_WORK        work directory (default: a new temp dir, removed on exit)
# Exit status 0 when every check passed; otherwise the first failure is printed as `FAILED: ...`.
set -euo pipefail

: "${BG_URL:?set BG_URL=http://127.0.0.1:PORT/files/object.bin}"
: "${BG_TOKEN:?set BG_TOKEN to a JWT the route accepts}"
: "${BG_DIRECT_URL:?set BG_DIRECT_URL to a presigned GET URL of the object at the upstream}"
# shellcheck source=tests/clients/lib.sh
. "$(dirname "$0")/lib.sh"

AUTH="Authorization: Bearer $BG_TOKEN"
SRC="$WORK/object.bin"
SIZE=$((1024 * 1024 + 17))
random_file "$SRC" "$SIZE"

# req NAME URL [curl options...]: GET (or what the options say) into $WORK/NAME.body and
# $WORK/NAME.headers (names lower-cased, CR removed); prints the status.
req() {
  local name=$1 url=$2
  shift 2
  curl -sS -o "$WORK/$name.body" -D "$WORK/$name.raw" -w '%{http_code}' "$@" "$url" ||
    fail "$name: curl failed"
  tr -d '\r' <"$WORK/$name.raw" | sed -E 's/^([^:]*):/\L\1:/' >"$WORK/$name.headers"
}
# header NAME FIELD: that response header's value (last one if several).
header() {
  sed -n "s/^$2: *//p" "$WORK/$1.headers" | tail -n 1
}
want_status() {
  [ "$2" = "$3" ] || fail "$1: status $2, want $3; headers: $(tr '\n' ' ' <"$WORK/$1.headers") body: $(head -c 300 "$WORK/$1.body")"
}

# 1. upload, then read it whole.
status=$(req put "$BG_URL" -T "$SRC" -H "$AUTH")
want_status put "$status" 200
status=$(req full "$BG_URL" -H "$AUTH")
want_status full "$status" 200
same_bytes "GET of the whole object" "$SRC" "$WORK/full.body"
[ "$(header full content-length)" = "$SIZE" ] || fail "GET: Content-Length $(header full content-length), want $SIZE"
pass "PUT, then GET gives the same $SIZE bytes"

# 2. ranges.
# range NAME SPEC FIRST LAST: `Range: bytes=SPEC` must give 206 with bytes FIRST..LAST.
range() {
  local name=$1 spec=$2 first=$3 last=$4 status
  status=$(req "$name" "$BG_URL" -H "$AUTH" -H "Range: bytes=$spec")
  want_status "$name" "$status" 206
  local cr
  cr=$(header "$name" content-range)
  [ "$cr" = "bytes $first-$last/$SIZE" ] || fail "Range: bytes=$spec: Content-Range '$cr', want 'bytes $first-$last/$SIZE'"
  slice "$SRC" "$first" $((last - first + 1)) >"$WORK/$name.want"
  same_bytes "Range: bytes=$spec" "$WORK/$name.want" "$WORK/$name.body"
  pass "Range: bytes=$spec gives 206, Content-Range $cr and exactly those bytes"
}
range mid 1000-70999 1000 70999
range suffix -4096 $((SIZE - 4096)) $((SIZE - 1))
range open 1048000- 1048000 $((SIZE - 1))
range one 0-0 0 0
# Past the end: whatever the upstream says (416 on S3 and RGW), bucketgate says too.
status=$(req past "$BG_URL" -H "$AUTH" -H "Range: bytes=$SIZE-")
direct=$(req past-direct "$BG_DIRECT_URL" -H "Range: bytes=$SIZE-")
want_status past "$status" "$direct"
[ "$status" != 206 ] && [ "$status" != 200 ] || fail "Range: bytes=$SIZE- (past the end) gave $status"
pass "Range past the end gives $status, as the upstream does"

# 3. ETag and conditionals, compared with the upstream's own answers.
status=$(req direct "$BG_DIRECT_URL")
want_status direct "$status" 200
etag=$(header direct etag)
[ -n "$etag" ] || fail "the upstream sent no ETag"
[ "$(header full etag)" = "$etag" ] || fail "ETag through bucketgate '$(header full etag)', the upstream's '$etag'"
pass "ETag $etag is the upstream's"

# cond NAME HEADER: the request with HEADER gets the upstream's status; prints it.
cond() {
  local name=$1 h=$2 got direct
  got=$(req "$name" "$BG_URL" -H "$AUTH" -H "$h")
  direct=$(req "$name-direct" "$BG_DIRECT_URL" -H "$h")
  want_status "$name ($h)" "$got" "$direct"
  case "$got" in
  200) same_bytes "$name ($h): 200" "$SRC" "$WORK/$name.body" ;;
  304) [ ! -s "$WORK/$name.body" ] || fail "$name ($h): a 304 with a body" ;;
  412) ;;
  *) fail "$name ($h): status $got" ;;
  esac
  printf '%s' "$got"
}
inm=$(cond inm "If-None-Match: $etag")
im=$(cond im 'If-Match: "0123456789abcdef0123456789abcdef"')
other=$(cond inm-other 'If-None-Match: "0123456789abcdef0123456789abcdef"')
[ "$other" = 200 ] || fail "If-None-Match with another ETag: $other, want 200"
if [ "${BG_UPSTREAM_KIND:-}" = rgw ]; then
  [ "$inm" = 304 ] || fail "If-None-Match with the ETag on RGW: $inm, want 304"
  [ "$im" = 412 ] || fail "If-Match with another ETag on RGW: $im, want 412"
fi
pass "If-None-Match: ETag -> $inm, If-Match: other -> $im, If-None-Match: other -> 200 with the bytes, as the upstream answers"

# 4. HEAD, then a ranged GET on the same connection: a body after the HEAD would corrupt it.
curl -sS -I -H "$AUTH" -o "$WORK/head.raw" -w '%{http_code} %{size_download}\n' "$BG_URL" \
  --next -sS -H "$AUTH" -H 'Range: bytes=10-19' -o "$WORK/after-head.body" \
  -w '%{http_code} %{num_connects}\n' "$BG_URL" >"$WORK/head.out" || fail "curl HEAD + GET failed"
read -r head_status head_size <<<"$(sed -n 1p "$WORK/head.out")"
read -r next_status next_connects <<<"$(sed -n 2p "$WORK/head.out")"
want_status head "$head_status" 200
[ "$head_size" = 0 ] || fail "HEAD: curl downloaded $head_size body bytes"
head_len=$(tr -d '\r' <"$WORK/head.raw" | sed -n 's/^[Cc]ontent-[Ll]ength: *//p')
[ "$head_len" = "$SIZE" ] || fail "HEAD: Content-Length '$head_len', want $SIZE"
[ "$next_status" = 206 ] || fail "GET after HEAD: status $next_status, want 206"
[ "$next_connects" = 0 ] || fail "GET after HEAD opened a new connection: the check of the HEAD's empty body did not run"
slice "$SRC" 10 10 >"$WORK/after-head.want"
same_bytes "GET bytes=10-19 after HEAD on the same connection" "$WORK/after-head.want" "$WORK/after-head.body"
pass "HEAD gives 200, Content-Length $SIZE and no body (the next request on the connection is intact)"

# 5. no token: 401, and none of the object.
status=$(req anon "$BG_URL")
want_status anon "$status" 401
case "$(header anon www-authenticate)" in
Bearer*) ;;
*) fail "401 without a Bearer challenge: $(tr '\n' ' ' <"$WORK/anon.headers")" ;;
esac
[ "$(stat -c %s "$WORK/anon.body")" -lt 200 ] || fail "the 401 carried $(stat -c %s "$WORK/anon.body") bytes"
pass "without the token: 401 with a Bearer challenge"

echo "curl: all checks passed"
