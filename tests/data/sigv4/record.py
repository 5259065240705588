#!/usr/bin/env python3
"""Records raw SigV4-signed requests from real awscli and boto3 for bucketgate's verifier tests.

Why: the verifier in src/s3/verify/ must accept exactly what real clients send, byte for byte
(path encoding, query encoding, header folding, payload modes), so its tests replay requests
captured from the clients themselves instead of requests we built ourselves.

Usage (needs awscli, boto3 and openssl; run from anywhere):

    python3 -m venv /tmp/sigv4venv && /tmp/sigv4venv/bin/pip install awscli boto3
    PATH=/tmp/sigv4venv/bin:$PATH python3 tests/data/sigv4/record.py

It starts a raw TCP listener on 127.0.0.1 (plain HTTP, and HTTPS with a throwaway self-signed
certificate), points each client at it, saves every request exactly as received (request line,
headers and body) to NN-name.http, answers a plausible S3 response, and writes manifest.json
with the clock time each request arrived at. Re-running replaces all recordings.
"""

import datetime
import glob
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
BUCKET = "test-bucket"

# Test keys. The verifier's tests hold the same values.
KEYS = {
    "AKIDTESTBUCKETGATE01": {
        "secret": "bgTest/Secret+Key/0123456789abcdefEXAMPLE",
        "token": None,
    },
    "ASIATESTBUCKETGATE02": {
        "secret": "bgTemp/Secret+Key/9876543210ZYXWVUexample",
        "token": "FwoGZXIvYXdzEBgaDEXAMPLE+session/token==",
    },
}
LONG = "AKIDTESTBUCKETGATE01"
TEMP = "ASIATESTBUCKETGATE02"

OBJECT_BODY = b"hello, bucketgate\n"


def now_utc(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


class Listener:
    """A raw TCP listener that records each request and answers like S3 would."""

    def __init__(self, tls_context=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.tls = tls_context
        self.captured = []
        self.lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def take(self):
        with self.lock:
            out, self.captured = self.captured, []
        return out

    def _serve(self):
        while True:
            conn, _ = self.sock.accept()
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            while True:
                raw = self._read_request(conn)
                if raw is None:
                    return
                with self.lock:
                    self.captured.append((time.time(), raw))
                conn.sendall(respond(raw))
        except (ConnectionError, ssl.SSLError, OSError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    @staticmethod
    def _read_request(conn):
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        headers = {}
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if headers.get(b"expect", b"").lower() == b"100-continue":
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = rest
        if b"content-length" in headers:
            want = int(headers[b"content-length"])
            while len(body) < want:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                body += chunk
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            while not chunked_complete(body):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                body += chunk
        return head + b"\r\n\r\n" + body


def chunked_complete(body):
    """Whether `body` holds a whole HTTP/1.1 chunked body (up to the empty line after trailers)."""
    pos = 0
    while True:
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            return False
        size = int(body[pos:eol].split(b";")[0], 16)
        pos = eol + 2
        if size == 0:
            # Trailer fields, then an empty line.
            while True:
                eol = body.find(b"\r\n", pos)
                if eol < 0:
                    return False
                if eol == pos:
                    return True
                pos = eol + 2
        pos += size + 2
        if pos > len(body):
            return False


def respond(raw):
    """A plausible S3 answer for the recorded request."""
    line = raw.split(b"\r\n", 1)[0].decode("latin-1")
    method, target, _ = line.split(" ", 2)
    path, _, query = target.partition("?")
    params = urllib.parse.parse_qs(query, keep_blank_values=True)
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
    common = (
        f"Date: {date}\r\nServer: AmazonS3\r\nx-amz-request-id: 0123456789ABCDEF\r\n"
        "x-amz-id-2: recorded/for/bucketgate=\r\nConnection: close\r\n"
    )
    etag = '"d41d8cd98f00b204e9800998ecf8427e"'
    if method == "GET" and "list-type" in params:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Name>{BUCKET}</Name><Prefix></Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys>"
            "<IsTruncated>false</IsTruncated><Contents><Key>a+b c/one.txt</Key>"
            "<LastModified>2024-01-01T00:00:00.000Z</LastModified>"
            f"<ETag>{etag.replace(chr(34), '&quot;')}</ETag><Size>18</Size>"
            "<StorageClass>STANDARD</StorageClass></Contents></ListBucketResult>"
        ).encode()
        return (
            f"HTTP/1.1 200 OK\r\n{common}Content-Type: application/xml\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
    if method == "POST" and "uploads" in params:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Bucket>{BUCKET}</Bucket><Key>big.bin</Key><UploadId>upload-1</UploadId>"
            "</InitiateMultipartUploadResult>"
        ).encode()
        return (
            f"HTTP/1.1 200 OK\r\n{common}Content-Type: application/xml\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
    if method == "PUT" and "x-amz-copy-source" in raw.decode("latin-1").lower():
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            "<CopyObjectResult><LastModified>2024-01-01T00:00:00.000Z</LastModified>"
            f"<ETag>{etag.replace(chr(34), '&quot;')}</ETag></CopyObjectResult>"
        ).encode()
        return (
            f"HTTP/1.1 200 OK\r\n{common}Content-Type: application/xml\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
    if method == "PUT":
        return f"HTTP/1.1 200 OK\r\n{common}ETag: {etag}\r\nContent-Length: 0\r\n\r\n".encode()
    if method == "DELETE":
        return f"HTTP/1.1 204 No Content\r\n{common}\r\n".encode()
    meta = (
        f"ETag: {etag}\r\nLast-Modified: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
        "Content-Type: text/plain\r\nAccept-Ranges: bytes\r\n"
    )
    if method == "HEAD":
        return (
            f"HTTP/1.1 200 OK\r\n{common}{meta}Content-Length: {len(OBJECT_BODY)}\r\n\r\n"
        ).encode()
    return (
        f"HTTP/1.1 200 OK\r\n{common}{meta}Content-Length: {len(OBJECT_BODY)}\r\n\r\n"
    ).encode() + OBJECT_BODY


class Session:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="sigv4-record-")
        cert = os.path.join(self.tmp, "cert.pem")
        key = os.path.join(self.tmp, "key.pem")
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert,
            ],
            check=True,
            capture_output=True,
        )
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.http = Listener()
        self.https = Listener(ctx)
        self.config = os.path.join(self.tmp, "config")
        with open(self.config, "w") as f:
            f.write(
                "[default]\nregion = us-east-1\ns3 =\n"
                "    signature_version = s3v4\n    addressing_style = path\n"
            )
        self.upload = os.path.join(self.tmp, "upload.txt")
        with open(self.upload, "wb") as f:
            f.write(b"uploaded by awscli\n")
        self.entries = []
        self.counter = 0

    def endpoint(self, tls):
        return f"https://127.0.0.1:{self.https.port}" if tls else f"http://127.0.0.1:{self.http.port}"

    def env(self, akid):
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("AWS_"):
                del env[k]
        env.update(
            AWS_ACCESS_KEY_ID=akid,
            AWS_SECRET_ACCESS_KEY=KEYS[akid]["secret"],
            AWS_CONFIG_FILE=self.config,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            AWS_EC2_METADATA_DISABLED="true",
            PYTHONWARNINGS="ignore",
        )
        if KEYS[akid]["token"]:
            env["AWS_SESSION_TOKEN"] = KEYS[akid]["token"]
        return env

    def save(self, name, tool, operation, akid, auth, tls, listener, notes=""):
        captured = listener.take()
        if len(captured) != 1:
            sys.exit(f"{name}: expected exactly one request, got {len(captured)}")
        at, raw = captured[0]
        self.counter += 1
        fname = f"{self.counter:02d}-{name}.http"
        with open(os.path.join(HERE, fname), "wb") as f:
            f.write(raw)
        self.entries.append(
            {
                "file": fname,
                "tool": tool,
                "operation": operation,
                "access_key_id": akid,
                "auth": auth,
                "scheme": "https" if tls else "http",
                "recorded_at": int(at),
                "recorded_at_utc": now_utc(int(at)),
                "notes": notes,
            }
        )
        print(f"recorded {fname}")

    def aws(self, akid, tls, *args):
        cmd = ["aws", "--endpoint-url", self.endpoint(tls)]
        if tls:
            cmd.append("--no-verify-ssl")
        cmd += list(args)
        out = subprocess.run(cmd, env=self.env(akid), capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed: {out.stderr}")
        return out.stdout

    def send_url(self, url, method="GET", body=None, headers=None):
        """Sends a presigned URL's request exactly as the URL spells it."""
        parts = urllib.parse.urlsplit(url)
        target = parts.path + ("?" + parts.query if parts.query else "")
        conn = http.client.HTTPConnection(parts.hostname, parts.port)
        conn.putrequest(method, target, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        conn.getresponse().read()
        conn.close()


def boto3_client(s, akid, tls, s3_extra=None, **config):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=s.endpoint(tls),
        region_name="us-east-1",
        aws_access_key_id=akid,
        aws_secret_access_key=KEYS[akid]["secret"],
        aws_session_token=KEYS[akid]["token"],
        verify=False,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path", **(s3_extra or {})},
            **config,
        ),
    )


def main():
    import boto3
    import botocore
    import urllib3

    urllib3.disable_warnings()
    for old in glob.glob(os.path.join(HERE, "*.http")):
        os.remove(old)
    s = Session()
    awscli_version = subprocess.run(
        ["aws", "--version"], capture_output=True, text=True
    ).stdout.strip() or "unknown"
    cli = f"awscli ({awscli_version})"
    b3 = f"boto3 {boto3.__version__} / botocore {botocore.__version__}"

    # --- awscli ---
    s.aws(LONG, False, "s3api", "get-object", "--bucket", BUCKET,
          "--key", "dir/a b+c/ünï €.txt", "--range", "bytes=0-9", os.path.join(s.tmp, "out"))
    s.save("awscli-get-object-range", cli, "s3api get-object --key 'dir/a b+c/ünï €.txt' --range bytes=0-9",
           LONG, "header", False, s.http)

    s.aws(LONG, False, "s3api", "put-object", "--bucket", BUCKET, "--key", "up/hello world+1.txt",
          "--body", s.upload, "--content-type", "text/plain", "--metadata", "author=Jane  Doe")
    s.save("awscli-put-object", cli,
           "s3api put-object --key 'up/hello world+1.txt' --content-type text/plain --metadata 'author=Jane  Doe'",
           LONG, "header", False, s.http, "plain HTTP: botocore signs the body's SHA-256")

    s.aws(LONG, False, "s3api", "list-objects-v2", "--bucket", BUCKET, "--prefix", "a+b c/",
          "--delimiter", "/", "--max-keys", "5")
    s.save("awscli-list-objects-v2", cli,
           "s3api list-objects-v2 --prefix 'a+b c/' --delimiter / --max-keys 5",
           LONG, "header", False, s.http)

    s.aws(LONG, False, "s3api", "head-object", "--bucket", BUCKET, "--key", "héllo (1)!*'.txt")
    s.save("awscli-head-object", cli, "s3api head-object --key \"héllo (1)!*'.txt\"",
           LONG, "header", False, s.http)

    s.aws(LONG, True, "s3api", "put-object", "--bucket", BUCKET, "--key", "tls/über+put.txt",
          "--body", s.upload)
    s.save("awscli-put-object-https", cli, "s3api put-object --key 'tls/über+put.txt' over HTTPS",
           LONG, "header", True, s.https, "HTTPS: aws-chunked body with a checksum trailer")

    url = s.aws(LONG, False, "s3", "presign", f"s3://{BUCKET}/shared/report 2024+final.pdf",
                "--expires-in", "600").strip()
    s.send_url(url)
    s.save("awscli-presign-get", cli, "s3 presign 's3://test-bucket/shared/report 2024+final.pdf' --expires-in 600",
           LONG, "presigned", False, s.http)

    # --- boto3 ---
    c = boto3_client(s, LONG, False)
    c.get_object(Bucket=BUCKET, Key="naïve/日本語 キー+plus.txt", Range="bytes=5-")
    s.save("boto3-get-object", b3, "get_object(Key='naïve/日本語 キー+plus.txt', Range='bytes=5-')",
           LONG, "header", False, s.http)

    c.list_objects_v2(Bucket=BUCKET, Prefix="a+b", Delimiter="/", StartAfter="a b/x=y&z")
    s.save("boto3-list-objects-v2", b3,
           "list_objects_v2(Prefix='a+b', Delimiter='/', StartAfter='a b/x=y&z')",
           LONG, "header", False, s.http)

    t = boto3_client(s, TEMP, False)
    t.put_object(Bucket=BUCKET, Key="temp/with token.json", Body=b'{"a": 1}\n',
                 ContentType="application/json", Metadata={"note": "  spaced   out  "})
    s.save("boto3-put-object-session-token", b3,
           "put_object(Key='temp/with token.json', Metadata={'note': '  spaced   out  '}) with a session token",
           TEMP, "header", False, s.http)

    c.copy_object(Bucket=BUCKET, Key="copy/dst é.txt", CopySource={"Bucket": BUCKET, "Key": "src/a b+c.txt"},
                  MetadataDirective="REPLACE", ContentType="text/plain")
    s.save("boto3-copy-object", b3, "copy_object(Key='copy/dst é.txt', CopySource='src/a b+c.txt')",
           LONG, "header", False, s.http)

    c.create_multipart_upload(Bucket=BUCKET, Key="big.bin")
    s.save("boto3-create-multipart-upload", b3, "create_multipart_upload(Key='big.bin') (POST ?uploads)",
           LONG, "header", False, s.http)

    ct = boto3_client(s, LONG, True)
    ct.get_object(Bucket=BUCKET, Key="tls/get me.txt")
    s.save("boto3-get-object-https", b3, "get_object(Key='tls/get me.txt') over HTTPS",
           LONG, "header", True, s.https, "HTTPS; a GET without a body still signs the empty SHA-256")

    cu = boto3_client(s, LONG, True, s3_extra={"payload_signing_enabled": False},
                      request_checksum_calculation="when_required")
    cu.put_object(Bucket=BUCKET, Key="tls/unsigned payload.bin", Body=b"not hashed\n")
    s.save("boto3-put-object-unsigned-payload", b3,
           "put_object(Key='tls/unsigned payload.bin') over HTTPS, payload_signing_enabled=False, request_checksum_calculation=when_required",
           LONG, "header", True, s.https, "HTTPS without flexible checksums: UNSIGNED-PAYLOAD")

    url = c.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "dir/a b+c/ünï €.txt",
                                                          "ResponseContentDisposition": 'attachment; filename="a b.txt"'},
                                   ExpiresIn=3600)
    s.send_url(url)
    s.save("boto3-presigned-get", b3,
           "generate_presigned_url('get_object', Key='dir/a b+c/ünï €.txt', ResponseContentDisposition=..., ExpiresIn=3600)",
           LONG, "presigned", False, s.http)

    url = t.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": "drop/upload+1 2.bin"},
                                   ExpiresIn=900)
    s.send_url(url, method="PUT", body=b"presigned upload\n")
    s.save("boto3-presigned-put-session-token", b3,
           "generate_presigned_url('put_object', Key='drop/upload+1 2.bin', ExpiresIn=900) with a session token",
           TEMP, "presigned", False, s.http)

    # --- curl --aws-sigv4: sends and signs the path exactly as written, unencoded characters
    # included (S3's canonical form would percent-encode them). curl 7.88 also signs the query
    # as written instead of sorting it, as SigV4 requires: the query here is already sorted. ---
    curl_version = subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    subprocess.run(
        ["curl", "-sS", "-o", os.devnull, "--aws-sigv4", "aws:amz:us-east-1:s3",
         "--user", f"{LONG}:{KEYS[LONG]['secret']}", "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
         f"{s.endpoint(False)}/{BUCKET}/raw=chars(1)!$,;:@.txt?list-type=2&max-keys=5"],
        check=True,
    )
    s.save("curl-get-raw-path", curl_version.split(" (")[0],
           "curl --aws-sigv4 aws:amz:us-east-1:s3 -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "
           "'/test-bucket/raw=chars(1)!$,;:@.txt?list-type=2&max-keys=5'",
           LONG, "header", False, s.http, "path sent and signed unencoded")

    with open(os.path.join(HERE, "manifest.json"), "w") as f:
        json.dump(
            {
                "generator": "record.py",
                "awscli": awscli_version,
                "boto3": boto3.__version__,
                "botocore": botocore.__version__,
                "python": sys.version.split()[0],
                "curl": curl_version,
                "recordings": s.entries,
            },
            f,
            indent=2,
            ensure_ascii=False,
        )
        f.write("\n")
    shutil.rmtree(s.tmp, ignore_errors=True)
    print(f"wrote {len(s.entries)} recordings and manifest.json")


if __name__ == "__main__":
    main()
