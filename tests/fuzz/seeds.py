#!/usr/bin/env python3
"""Writes the initial seeds of every fuzz target into tests/fuzz/seeds/<target>/ from real
inputs of the repository: the recorded SigV4 requests (tests/data/sigv4), the hostile paths
(tests/data/hostile_paths.txt), the XML bodies of the S3 XML tests (src/frontend/s3/xml,
src/s3/results.rs), AWS's chunked-upload example, and hand-made tokens and Basic headers.

run.sh merges these seeds into the committed corpora (tests/fuzz/corpus/<target>/) once, with
libFuzzer's -merge=1, which keeps only the inputs that add coverage. Run it again after the
inputs it reads from change, then `bash tests/fuzz/run.sh --merge-seeds`.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import struct
import sys
import zlib

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "fuzz", "seeds")


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(path):
    with open(os.path.join(ROOT, path), "rb") as f:
        return f.read()


# --- sigv4_verify: the recorded requests, byte for byte -------------------------------------
sigv4 = os.path.join(ROOT, "tests", "data", "sigv4")
for f in sorted(os.listdir(sigv4)):
    if f.endswith(".http"):
        write("sigv4_verify", f, read(os.path.join("tests", "data", "sigv4", f)))

# --- s3_key: hostile paths and a few good keys ------------------------------------------------
lines = read("tests/data/hostile_paths.txt").decode().splitlines()
hostile = [l for l in lines if l and not l.startswith("#")]
good = ["a", "photos/2024/cat.jpg", "a%20b%2Bc/%C3%BCn%C3%AF%20%E2%82%AC.txt", "dir//x", "x%2Fy",
        "caf%C3%A9", "%2e%2e%2fetc", "a\\b", "~user/.profile", "..a/b..", "%25", "+plus"]
for i, k in enumerate(hostile + good):
    write("s3_key", f"{i:03}", k)

# --- XML: string literals of the S3 XML tests -------------------------------------------------
LITERAL = re.compile(r'b?r#"(.*?)"#|b?"((?:[^"\\]|\\.)*)"', re.S)


def rust_str(m):
    if m.group(1) is not None:
        return m.group(1)
    s = m.group(2)
    s = re.sub(r"\\\n\s*", "", s)
    return (s.replace("\\n", "\n").replace("\\r", "\r").replace("\\t", "\t")
            .replace('\\"', '"').replace("\\\\", "\\"))


def xml_literals(path):
    """Every `concat!(...)` of literals and every lone literal that holds markup."""
    text = read(path).decode()
    out = []
    for block in re.finditer(r"concat!\((.*?)\);", text, re.S):
        out.append("".join(rust_str(m) for m in LITERAL.finditer(block.group(1))))
    for m in LITERAL.finditer(text):
        s = rust_str(m)
        if s.lstrip().startswith("<") and s.rstrip().endswith(">") and len(s) > 12:
            out.append(s)
    return out


def roots(docs, names):
    return [d for d in docs if any(("<" + n) in d or (":" + n) in d for n in names)]


xml_files = ["src/frontend/s3/xml/listing_tests.rs", "src/frontend/s3/xml/delete_objects.rs",
             "src/frontend/s3/xml/delete_result.rs", "src/frontend/s3/xml/responses.rs",
             "src/s3/results.rs"]
docs = []
for f in xml_files:
    try:
        docs += xml_literals(f)
    except OSError:
        pass
docs = list(dict.fromkeys(docs))

listings = roots(docs, ["ListBucketResult", "ListMultipartUploadsResult", "ListPartsResult"])
for i, d in enumerate(listings):
    for p in range(3):  # the config byte picks the alias's key prefix
        write("xml_listing", f"{i:03}-{p}", bytes([p]) + d.encode())
deletes = roots(docs, ["Delete "]) + roots(docs, ["Delete>"])
deletes += [
    '<Delete><Object><Key>a</Key></Object></Delete>',
    '<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    '<Quiet>true</Quiet><Object><Key>photos/a &amp; b.jpg</Key><VersionId>v1</VersionId></Object>'
    '<Object><Key>x&#13;y</Key></Object><Object><Key><![CDATA[c<d]]></Key><ETag>"e"</ETag></Object>'
    '</Delete>',
]
for i, d in enumerate(dict.fromkeys(deletes)):
    write("xml_delete", f"{i:03}", d)
results = roots(docs, ["Error", "DeleteResult", "InitiateMultipartUploadResult",
                       "CompleteMultipartUploadResult", "CopyObjectResult", "CopyPartResult",
                       "ListBucketResult"])
results += [
    '<InitiateMultipartUploadResult><Bucket>data</Bucket><Key>photos/k</Key>'
    '<UploadId>2~abc</UploadId></InitiateMultipartUploadResult>',
    '<CopyObjectResult><ETag>"e1"</ETag><LastModified>2024-01-01T00:00:00Z</LastModified>'
    '</CopyObjectResult>',
    '<CopyPartResult><ETag>&quot;e2&quot;</ETag></CopyPartResult>',
]
for i, d in enumerate(dict.fromkeys(results)):
    for p in range(3):
        write("xml_results", f"{i:03}-{p}", bytes([p]) + d.encode())

# --- chunked: AWS's example chain, bodies signed the same way -------------------------------
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
EMPTY = hashlib.sha256(b"").hexdigest()


def hm(key, msg):
    return hmac.new(key, msg.encode() if isinstance(msg, str) else msg, hashlib.sha256).digest()


KEY = hm(hm(hm(hm(("AWS4" + SECRET).encode(), "20130524"), "us-east-1"), "s3"), "aws4_request")
SCOPE = "20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


CHECKSUMS = [  # in the order of chunked_ref::ALGS
    ("x-amz-checksum-crc32", lambda d: struct.pack(">I", zlib.crc32(d))),
    ("x-amz-checksum-crc32c", lambda d: struct.pack(">I", crc32c(d))),
    None,  # CRC64/NVME: left to the fuzzer
    ("x-amz-checksum-sha1", lambda d: hashlib.sha1(d).digest()),
    ("x-amz-checksum-sha256", lambda d: hashlib.sha256(d).digest()),
]


def body(payload, sizes, kind, alg):
    """kind 0: unsigned trailer, 1: signed, 2: signed trailer."""
    out, prev, at = b"", SEED, 0
    for size in sizes + [0]:
        data = payload[at:at + size]
        at += size
        line = "%x" % size
        if kind:
            sig = hm(KEY, "AWS4-HMAC-SHA256-PAYLOAD\n" + SCOPE + prev + "\n" + EMPTY + "\n"
                     + hashlib.sha256(data).hexdigest()).hex()
            prev = sig
            line += ";chunk-signature=" + sig
        out += line.encode() + b"\r\n"
        if size:
            out += data + b"\r\n"
    if kind == 1:
        return out + b"\r\n"
    name, fn = CHECKSUMS[alg]
    value = base64.b64encode(fn(payload)).decode()
    out += ("%s:%s\r\n" % (name, value)).encode()
    if kind == 2:
        canonical = "%s:%s\n" % (name, value)
        sig = hm(KEY, "AWS4-HMAC-SHA256-TRAILER\n" + SCOPE + prev + "\n"
                 + hashlib.sha256(canonical.encode()).hexdigest()).hex()
        out += ("x-amz-trailer-signature:%s\r\n" % sig).encode()
    return out + b"\r\n"


n = 0
for kind in range(3):
    for alg in (0, 1, 3, 4):
        for payload, sizes in [(b"", []), (b"hello world", [5, 6]), (b"abc" * 40, [64, 56]),
                               (bytes(range(200)), [200])]:
            config = kind + (alg << 2)
            raw = bytes([config, len(payload), 0]) + body(payload, sizes, kind, alg)
            write("chunked_raw", f"{n:03}", raw)
            n += 1
for i in range(24):
    # config, payload length (u16 via below(4097)), payload seed, chunk sizes, styles.
    write("chunked_generated", f"{i:03}",
          bytes([i % 3 + ((i // 3) % 5 << 2), (i * 37) % 256, i % 16]) + os.urandom(48))

# --- basic_auth -------------------------------------------------------------------------------
PASSWORD = "pa:ss wörd-fuzz"
b64 = lambda s: base64.b64encode(s.encode()).decode()
for i, v in enumerate([
    b"\x01igv:" + PASSWORD.encode(),
    b"\x03igv:wrong",
    ("\x00Basic " + b64("igv:" + PASSWORD)).encode(),
    ("\x00bAsIc   " + b64("igv:" + PASSWORD).rstrip("=") + "  ").encode(),
    ("\x00Basic " + b64("igv:" + PASSWORD) + "\nBasic " + b64("igv:x")).encode(),
    b"\x00Bearer abc.def.ghi\nBasic",
    ("\x00Basic " + b64("nobody:pw")).encode(),
    ("\x00Basic " + base64.b64encode(b"igv:\xff\xfe").decode()).encode(),
    b"\x00Basic !!!notbase64",
    ("\x00Basic " + b64("no-colon")).encode(),
]):
    write("basic_auth", f"{i:03}", v)

# --- jwt_token ----------------------------------------------------------------------------------
JWT_SECRET = b"bucketgate-fuzz-hs256-secret-0123456789"
u = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
claims = {"sub": "alice", "iss": "https://issuer.example", "aud": "bucketgate", "exp": 4102444800,
          "grants": [{"bucket": "data", "prefix": "alice/", "operations": ["read", "list"]}]}


def token(header, claims, key=JWT_SECRET):
    signing = u(json.dumps(header).encode()) + "." + u(json.dumps(claims).encode())
    return signing + "." + u(hmac.new(key, signing.encode(), hashlib.sha256).digest())


hs = {"alg": "HS256", "typ": "JWT"}
for i, v in enumerate([
    b"\x01" + json.dumps(hs).encode() + b"\xff" + json.dumps(claims).encode(),
    b"\x01" + json.dumps({"alg": "HS256", "kid": "k1"}).encode() + b"\xff"
    + json.dumps(dict(claims, aud=["x", "bucketgate"], nbf=0)).encode(),
    b"\x01" + json.dumps(hs).encode() + b"\xff" + json.dumps(dict(claims, exp=1)).encode(),
    b"\x02" + json.dumps(hs).encode() + b"\xff" + json.dumps(claims).encode(),
    b"\x01" + json.dumps({"alg": "none"}).encode() + b"\xff" + json.dumps(claims).encode(),
    b"\x01" + json.dumps({"alg": "RS256", "kid": "rsa1"}).encode() + b"\xff" + json.dumps(claims).encode(),
    b"\x01" + json.dumps({"alg": "HS256", "crit": ["x"]}).encode() + b"\xff" + json.dumps(claims).encode(),
    ("\x00Bearer " + token(hs, claims)).encode(),
    ("\x04token=" + token(hs, claims)).encode(),
    ("\x08jwt=\"" + token(hs, claims) + "\"; other=1").encode(),
    ("\x00Bearer " + token({"alg": "ES256", "kid": "ec1"}, claims)).encode(),
    ("\x00Bearer " + token({"alg": "EdDSA"}, claims)).encode(),
    b"\x00Bearer a.b",
    b"\x00Bearer ....",
]):
    write("jwt_token", f"{i:03}", v)

print("seeds written to", OUT, file=sys.stderr)
