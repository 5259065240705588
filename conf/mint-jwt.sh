#!/usr/bin/env bash
# Prints an HS256 JWT, for trying out conf/jwt.yaml (or any route with an HS256 `secret`).
#
#   conf/mint-jwt.sh SECRET SUBJECT [TTL_SECONDS] [EXTRA_JSON_CLAIMS]
#
#   SECRET             the route's HMAC secret (the `secret:` of its HS256 key)
#   SUBJECT            the `sub` claim: the caller's name, `{sub}` in grant templates
#   TTL_SECONDS        `exp` is now + TTL_SECONDS (default 3600; negative gives an expired token)
#   EXTRA_JSON_CLAIMS  a JSON object merged into the claims, e.g.
#                      '{"storage":[{"bucket":"data","prefix":"shared/","operations":["read"]}]}'
#   JWT_ISS, JWT_AUD   environment variables: when set, the `iss` and `aud` claims
#
# Example:
#   TOKEN=$(JWT_ISS=https://login.example.org/ JWT_AUD=bucketgate conf/mint-jwt.sh "$JWT_SECRET" alice)
#   curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/files/users/alice/notes.txt
#
# Needs only bash, openssl, base64 and date. The secret is passed to openssl on its command
# line, where other local users can see it (ps): a tool for tests and demos, not for production
# token issuing.
set -euo pipefail

usage() {
    echo "usage: $0 SECRET SUBJECT [TTL_SECONDS] [EXTRA_JSON_CLAIMS]" >&2
    exit 2
}

[ $# -ge 2 ] && [ $# -le 4 ] || usage
secret=$1
subject=$2
ttl=${3:-3600}
extra=${4:-}

[ -n "$secret" ] || { echo "$0: SECRET is empty" >&2; exit 2; }
[ -n "$subject" ] || { echo "$0: SUBJECT is empty" >&2; exit 2; }
[[ $ttl =~ ^-?[0-9]+$ ]] || { echo "$0: TTL_SECONDS must be an integer, not '$ttl'" >&2; exit 2; }

# A JSON string literal (quotes and backslashes escaped; control characters refused).
json_string() {
    local s=$1
    if [[ $s =~ [[:cntrl:]] ]]; then
        echo "$0: control characters are not allowed in claims" >&2
        exit 2
    fi
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    printf '"%s"' "$s"
}

# base64url without padding, of stdin.
b64url() {
    local s
    s=$(base64 -w0)
    s=${s//+/-}
    s=${s//\//_}
    printf '%s' "${s//=/}"
}

now=$(date +%s)
exp=$((now + ttl))

payload="{\"sub\":$(json_string "$subject"),\"iat\":$now,\"exp\":$exp"
if [ -n "${JWT_ISS:-}" ]; then
    payload+=",\"iss\":$(json_string "$JWT_ISS")"
fi
if [ -n "${JWT_AUD:-}" ]; then
    payload+=",\"aud\":$(json_string "$JWT_AUD")"
fi
if [ -n "$extra" ]; then
    # Strip surrounding whitespace, then the object's braces, and append its members.
    trimmed=${extra#"${extra%%[![:space:]]*}"}
    trimmed=${trimmed%"${trimmed##*[![:space:]]}"}
    if [[ $trimmed != \{*\} ]]; then
        echo "$0: EXTRA_JSON_CLAIMS must be a JSON object, like '{\"role\":\"reader\"}'" >&2
        exit 2
    fi
    members=${trimmed:1:${#trimmed}-2}
    if [[ $members =~ [^[:space:]] ]]; then
        payload+=",$members"
    fi
fi
payload+="}"

header='{"alg":"HS256","typ":"JWT"}'
signing_input="$(printf '%s' "$header" | b64url).$(printf '%s' "$payload" | b64url)"
signature=$(printf '%s' "$signing_input" | openssl dgst -sha256 -hmac "$secret" -binary | b64url)
printf '%s.%s\n' "$signing_input" "$signature"
