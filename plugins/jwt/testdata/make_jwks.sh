#!/bin/sh
# Writes jwks.json (public JWKs of rsa_public.pem, ec256_public.pem, ed25519_public.pem) with
# nothing but openssl and coreutils. Run from this directory after regenerating the keys.
set -eu
b64url() { basenc --base64url | tr -d '=\n'; }
n=$(openssl rsa -pubin -in rsa_public.pem -noout -modulus | cut -d= -f2 | xxd -r -p | b64url)
e=$(openssl rsa -pubin -in rsa_public.pem -noout -text | sed -n 's/^Exponent: [0-9]* (0x\([0-9a-f]*\))$/\1/p' \
    | awk '{ if (length($0) % 2) print "0" $0; else print $0 }' | xxd -r -p | b64url)
ecx=$(openssl pkey -pubin -in ec256_public.pem -outform DER | tail -c 64 | head -c 32 | b64url)
ecy=$(openssl pkey -pubin -in ec256_public.pem -outform DER | tail -c 32 | b64url)
edx=$(openssl pkey -pubin -in ed25519_public.pem -outform DER | tail -c 32 | b64url)
cat > jwks.json <<JSON
{
  "keys": [
    {"kty": "RSA", "kid": "rsa1", "alg": "RS256", "use": "sig", "n": "$n", "e": "$e"},
    {"kty": "EC", "kid": "ec1", "alg": "ES256", "use": "sig", "crv": "P-256", "x": "$ecx", "y": "$ecy"},
    {"kty": "OKP", "kid": "ed1", "alg": "EdDSA", "use": "sig", "crv": "Ed25519", "x": "$edx"}
  ]
}
JSON
