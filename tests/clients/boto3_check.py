#!/usr/bin/env python3
"""Real-client check: boto3 against an S3 endpoint, normally bucketgate's `frontend: s3` route
(run by tests/s3_clients.rs), but it also runs against any S3 server (see BG_DIRECT_UPSTREAM).

What it proves, with boto3's own SigV4 signing and path-style addressing, every body compared
byte for byte:
  - objects: put_object/get_object, head_object, get_object with Range, copy_object,
    delete_objects of several keys (then each one is gone);
  - transfers: upload_file of 20 MB goes multipart (TransferConfig threshold 8 MB) and
    download_file gives the same bytes;
  - listings: list_objects_v2 with Prefix/Delimiter (CommonPrefixes right) and pagination
    (MaxKeys=2 over 5 keys: 3 pages, every key once), list_objects (V1) with Marker paging;
  - multipart by hand: create_multipart_upload, upload_part x2, list_parts,
    list_multipart_uploads, abort_multipart_upload (then it is no longer listed);
  - presigned GET URL (generate_presigned_url) downloaded with urllib;
  - buckets: head_bucket, get_bucket_location, list_buckets (exactly BG_VISIBLE_BUCKETS);
  - errors as S3 codes: wrong secret -> SignatureDoesNotMatch, unknown key id ->
    InvalidAccessKeyId, a key the grants do not cover (BG_DENIED_KEY) -> AccessDenied,
    get_bucket_acl -> NotImplemented.

Environment:
  BG_ENDPOINT          http://127.0.0.1:PORT (plain HTTP)
  BG_BUCKET            the bucket as the client sees it
  BG_PREFIX            key prefix for everything written (default `boto3/`); the caller's grants
                       must cover it with read, write, delete and list
  BG_VISIBLE_BUCKETS   comma-separated: exactly the buckets list_buckets must return
  BG_DENIED_KEY        a key in BG_BUCKET the caller has no grant for
  BG_WORK              work directory (default: a new temp dir)
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
  BG_UPSTREAM_KIND     `s3s` when s3s-fs is the server behind: its NotImplemented for
                       list_multipart_uploads is expected then
  BG_DIRECT_UPSTREAM=1 running against a plain S3 server, not bucketgate: skips the checks of
                       bucketgate's own behaviour (AccessDenied by grant, NotImplemented, the
                       exact bucket list)

Prints `ok: <check>` for each check that passed; exits 1 at the first failure with
`FAILED: <check>: <why>`.
"""

import hashlib
import os
import sys
import tempfile
import traceback
import urllib.error
import urllib.request

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

# The machine may export a CA bundle for HTTPS; this is plain HTTP and must not depend on it.
for var in ("AWS_CA_BUNDLE", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
    os.environ.pop(var, None)
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


def env(name, default=None):
    v = os.environ.get(name, default)
    if v is None:
        print(f"FAILED: setup: set {name}", file=sys.stderr)
        sys.exit(2)
    return v


ENDPOINT = env("BG_ENDPOINT")
BUCKET = env("BG_BUCKET")
PREFIX = os.environ.get("BG_PREFIX", "boto3/")
ACCESS_KEY = env("AWS_ACCESS_KEY_ID")
SECRET_KEY = env("AWS_SECRET_ACCESS_KEY")
DIRECT = os.environ.get("BG_DIRECT_UPSTREAM", "") not in ("", "0")
# The S3 server behind bucketgate (or in front of us, when DIRECT): `s3s` (s3s-fs, which lacks
# ListMultipartUploads), `rgw`, or anything else for a full S3.
UPSTREAM_KIND = os.environ.get("BG_UPSTREAM_KIND", "")
WORK = os.environ.get("BG_WORK") or tempfile.mkdtemp(prefix="boto3-check-")
os.makedirs(WORK, exist_ok=True)

CONFIG = Config(
    signature_version="s3v4",
    s3={"addressing_style": "path"},
    retries={"max_attempts": 1, "mode": "standard"},
    connect_timeout=10,
    read_timeout=60,
)


def client(access_key=ACCESS_KEY, secret_key=SECRET_KEY):
    return boto3.session.Session().client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=CONFIG,
    )


s3 = client()
current = "setup"


class CheckFailed(Exception):
    pass


def check(name):
    """Decorator: runs the function now as one named check."""

    def run(fn):
        global current
        current = name
        fn()
        print(f"ok: {name}", flush=True)
        return fn

    return run


def expect(cond, why):
    if not cond:
        raise CheckFailed(why)


def expect_eq(got, want, what):
    if got != want:
        raise CheckFailed(f"{what}: got {got!r}, want {want!r}")


def expect_bytes(got, want, what):
    if got != want:
        raise CheckFailed(
            f"{what}: bytes differ (got {len(got)} bytes sha256 {hashlib.sha256(got).hexdigest()}, "
            f"want {len(want)} bytes sha256 {hashlib.sha256(want).hexdigest()})"
        )


def expect_error(fn, code, status=None, what=""):
    """fn() must raise a ClientError with this S3 error code (and HTTP status)."""
    try:
        r = fn()
    except ClientError as e:
        got = e.response.get("Error", {}).get("Code")
        got_status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        codes = code if isinstance(code, tuple) else (code,)
        if got not in codes or (status is not None and got_status != status):
            raise CheckFailed(
                f"{what}: expected {code} ({status}), got {got} ({got_status}): {e.response}"
            )
        return e
    raise CheckFailed(f"{what}: expected ClientError {code}, but the call succeeded: {r!r}")


def key(name):
    return PREFIX + name


def main():
    small = os.urandom(64 * 1024 + 17)
    big = os.urandom(20 * 1024 * 1024)

    @check("put_object / get_object (bytes compared)")
    def _():
        r = s3.put_object(Bucket=BUCKET, Key=key("small.bin"), Body=small, ContentType="application/x-test")
        expect("ETag" in r, f"put_object returned no ETag: {r}")
        got = s3.get_object(Bucket=BUCKET, Key=key("small.bin"))
        expect_bytes(got["Body"].read(), small, "get_object body")
        expect_eq(got["ContentLength"], len(small), "get_object ContentLength")
        expect_eq(got["ETag"], r["ETag"], "get_object ETag vs put_object's")

    @check("head_object")
    def _():
        h = s3.head_object(Bucket=BUCKET, Key=key("small.bin"))
        expect_eq(h["ContentLength"], len(small), "head_object ContentLength")
        expect_eq(h["ContentType"], "application/x-test", "head_object ContentType")
        expect_error(
            lambda: s3.head_object(Bucket=BUCKET, Key=key("no-such-key")),
            "404",
            404,
            "head_object of a missing key",
        )
        expect_error(
            lambda: s3.get_object(Bucket=BUCKET, Key=key("no-such-key")),
            "NoSuchKey",
            404,
            "get_object of a missing key",
        )

    @check("get_object with Range (bytes compared)")
    def _():
        got = s3.get_object(Bucket=BUCKET, Key=key("small.bin"), Range="bytes=1000-1999")
        expect_eq(got["ResponseMetadata"]["HTTPStatusCode"], 206, "ranged get status")
        expect_eq(got["ContentRange"], f"bytes 1000-1999/{len(small)}", "Content-Range")
        expect_bytes(got["Body"].read(), small[1000:2000], "ranged get body")
        got = s3.get_object(Bucket=BUCKET, Key=key("small.bin"), Range="bytes=-100")
        expect_bytes(got["Body"].read(), small[-100:], "suffix range body")

    @check("upload_file 20 MB multipart (TransferConfig) / download_file (bytes compared)")
    def _():
        src = os.path.join(WORK, "big.bin")
        with open(src, "wb") as f:
            f.write(big)
        tc = TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024)
        s3.upload_file(src, BUCKET, key("big.bin"), Config=tc)
        h = s3.head_object(Bucket=BUCKET, Key=key("big.bin"))
        expect_eq(h["ContentLength"], len(big), "head_object of the multipart upload")
        expect(h["ETag"].endswith('-3"'), f"expected a 3-part multipart ETag, got {h['ETag']}")
        dst = os.path.join(WORK, "big.down")
        s3.download_file(BUCKET, key("big.bin"), dst, Config=tc)
        with open(dst, "rb") as f:
            expect_bytes(f.read(), big, "download_file")

    list_keys = [key("list/a.txt"), key("list/b.txt"), key("list/d1/x.txt"), key("list/d1/y.txt"), key("list/d2/z.txt")]

    @check("list_objects_v2 with Prefix/Delimiter and MaxKeys=2 pagination")
    def _():
        for k in list_keys:
            s3.put_object(Bucket=BUCKET, Key=k, Body=k.encode())
        # Paginated by hand: MaxKeys=2 over 5 keys is 3 pages.
        seen, token, pages = [], None, 0
        while True:
            kw = dict(Bucket=BUCKET, Prefix=key("list/"), MaxKeys=2)
            if token:
                kw["ContinuationToken"] = token
            r = s3.list_objects_v2(**kw)
            pages += 1
            expect(pages <= 5, f"list_objects_v2 keeps paging: {r}")
            contents = [o["Key"] for o in r.get("Contents", [])]
            expect(len(contents) <= 2, f"MaxKeys=2 but a page has {len(contents)} keys: {contents}")
            seen += contents
            if not r["IsTruncated"]:
                break
            token = r.get("NextContinuationToken")
            expect(token, f"IsTruncated without NextContinuationToken: {r}")
        expect_eq(seen, sorted(list_keys), "keys across the pages")
        expect_eq(pages, 3, "pages for 5 keys at MaxKeys=2")
        # The paginator sees the same.
        pag = s3.get_paginator("list_objects_v2")
        via_pag = [o["Key"] for p in pag.paginate(Bucket=BUCKET, Prefix=key("list/"), PaginationConfig={"PageSize": 2}) for o in p.get("Contents", [])]
        expect_eq(via_pag, sorted(list_keys), "keys via the list_objects_v2 paginator")
        # Delimiter: two files and two common prefixes.
        r = s3.list_objects_v2(Bucket=BUCKET, Prefix=key("list/"), Delimiter="/")
        expect_eq([o["Key"] for o in r.get("Contents", [])], [key("list/a.txt"), key("list/b.txt")], "Contents with Delimiter=/")
        expect_eq([p["Prefix"] for p in r.get("CommonPrefixes", [])], [key("list/d1/"), key("list/d2/")], "CommonPrefixes with Delimiter=/")
        expect_eq(r["KeyCount"], 4, "KeyCount (2 keys + 2 prefixes)")
        # Delimiter with MaxKeys=1: prefixes count toward the page size; all entries still seen.
        entries, token = [], None
        for _ in range(10):
            kw = dict(Bucket=BUCKET, Prefix=key("list/"), Delimiter="/", MaxKeys=1)
            if token:
                kw["ContinuationToken"] = token
            r = s3.list_objects_v2(**kw)
            entries += [o["Key"] for o in r.get("Contents", [])] + [p["Prefix"] for p in r.get("CommonPrefixes", [])]
            if not r["IsTruncated"]:
                break
            token = r["NextContinuationToken"]
        expect_eq(sorted(entries), sorted([key("list/a.txt"), key("list/b.txt"), key("list/d1/"), key("list/d2/")]), "entries with Delimiter=/ MaxKeys=1")
        # StartAfter.
        r = s3.list_objects_v2(Bucket=BUCKET, Prefix=key("list/"), StartAfter=key("list/d1/x.txt"))
        expect_eq([o["Key"] for o in r.get("Contents", [])], [key("list/d1/y.txt"), key("list/d2/z.txt")], "StartAfter")
        # Sizes are right.
        r = s3.list_objects_v2(Bucket=BUCKET, Prefix=key("list/a.txt"))
        expect_eq([(o["Key"], o["Size"]) for o in r.get("Contents", [])], [(key("list/a.txt"), len(key("list/a.txt")))], "Size in the listing")

    @check("list_objects (V1) with Prefix/Delimiter and Marker pagination")
    def _():
        seen, marker = [], ""
        for _ in range(5):
            r = s3.list_objects(Bucket=BUCKET, Prefix=key("list/"), MaxKeys=2, Marker=marker)
            page = [o["Key"] for o in r.get("Contents", [])]
            seen += page
            if not r["IsTruncated"]:
                break
            marker = r.get("NextMarker") or page[-1]
        expect_eq(seen, sorted(list_keys), "V1 keys across the pages")
        r = s3.list_objects(Bucket=BUCKET, Prefix=key("list/"), Delimiter="/")
        expect_eq([o["Key"] for o in r.get("Contents", [])], [key("list/a.txt"), key("list/b.txt")], "V1 Contents with Delimiter=/")
        expect_eq([p["Prefix"] for p in r.get("CommonPrefixes", [])], [key("list/d1/"), key("list/d2/")], "V1 CommonPrefixes")

    @check("copy_object")
    def _():
        r = s3.copy_object(Bucket=BUCKET, Key=key("copy.bin"), CopySource={"Bucket": BUCKET, "Key": key("small.bin")})
        expect("CopyObjectResult" in r, f"copy_object result: {r}")
        got = s3.get_object(Bucket=BUCKET, Key=key("copy.bin"))
        expect_bytes(got["Body"].read(), small, "copied object")

    @check("delete_objects (several keys), then they are gone")
    def _():
        doomed = list_keys + [key("copy.bin")]
        r = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in doomed]})
        expect(not r.get("Errors"), f"delete_objects reported errors: {r.get('Errors')}")
        expect_eq(sorted(d["Key"] for d in r.get("Deleted", [])), sorted(doomed), "Deleted keys")
        r = s3.list_objects_v2(Bucket=BUCKET, Prefix=key("list/"))
        expect_eq(r.get("Contents", []), [], "listing after delete_objects")
        for k in doomed:
            expect_error(lambda k=k: s3.head_object(Bucket=BUCKET, Key=k), "404", 404, f"head_object of deleted {k}")
        s3.delete_object(Bucket=BUCKET, Key=key("small.bin"))
        expect_error(lambda: s3.get_object(Bucket=BUCKET, Key=key("small.bin")), "NoSuchKey", 404, "get after delete_object")

    @check("create_multipart_upload / upload_part / list_parts / list_multipart_uploads / abort_multipart_upload")
    def _():
        k = key("mpu-aborted.bin")
        up = s3.create_multipart_upload(Bucket=BUCKET, Key=k)
        uid = up["UploadId"]
        expect_eq(up["Key"], k, "create_multipart_upload Key")
        part1 = os.urandom(5 * 1024 * 1024)
        part2 = os.urandom(1234)
        e1 = s3.upload_part(Bucket=BUCKET, Key=k, UploadId=uid, PartNumber=1, Body=part1)["ETag"]
        e2 = s3.upload_part(Bucket=BUCKET, Key=k, UploadId=uid, PartNumber=2, Body=part2)["ETag"]
        expect_eq(e1.strip('"'), hashlib.md5(part1).hexdigest(), "part 1 ETag")
        lp = s3.list_parts(Bucket=BUCKET, Key=k, UploadId=uid)
        # S3 lists parts in ascending order; s3s-fs in directory order: sort before comparing.
        parts = sorted(lp.get("Parts", []), key=lambda p: p["PartNumber"])
        expect_eq([(p["PartNumber"], p["Size"]) for p in parts], [(1, len(part1)), (2, len(part2))], "list_parts numbers and sizes")
        # s3s-fs leaves ETag out of ListParts; when it is there it must be the part's.
        for p, want in zip(parts, (e1, e2)):
            if "ETag" in p:
                expect_eq(p["ETag"], want, f"list_parts ETag of part {p['PartNumber']}")
        if UPSTREAM_KIND == "s3s":
            # s3s-fs answers ListMultipartUploads with NotImplemented; bucketgate passes that on.
            expect_error(lambda: s3.list_multipart_uploads(Bucket=BUCKET, Prefix=key("mpu-")), "NotImplemented", 501, "list_multipart_uploads on s3s-fs")
            print("note: list_multipart_uploads not checked: s3s-fs does not implement it", flush=True)
        else:
            mu = s3.list_multipart_uploads(Bucket=BUCKET, Prefix=key("mpu-"))
            expect(any(u["Key"] == k and u["UploadId"] == uid for u in mu.get("Uploads", [])), f"list_multipart_uploads does not show the upload: {mu.get('Uploads')}")
        s3.abort_multipart_upload(Bucket=BUCKET, Key=k, UploadId=uid)
        if UPSTREAM_KIND != "s3s":  # s3s-fs also answers ListParts of an aborted upload with 200
            mu = s3.list_multipart_uploads(Bucket=BUCKET, Prefix=key("mpu-"))
            expect(not any(u["UploadId"] == uid for u in mu.get("Uploads", [])), f"aborted upload still listed: {mu.get('Uploads')}")
            # AWS says NoSuchUpload, RGW 16 NoSuchKey.
            expect_error(lambda: s3.list_parts(Bucket=BUCKET, Key=k, UploadId=uid), ("NoSuchUpload", "NoSuchKey"), 404, "list_parts of the aborted upload")
        expect_error(lambda: s3.head_object(Bucket=BUCKET, Key=k), "404", 404, "head_object of the aborted upload's key")

    @check("create_multipart_upload / upload_part / complete_multipart_upload (bytes compared)")
    def _():
        k = key("mpu-done.bin")
        uid = s3.create_multipart_upload(Bucket=BUCKET, Key=k)["UploadId"]
        parts_data = [os.urandom(5 * 1024 * 1024), os.urandom(777)]
        parts = []
        for i, data in enumerate(parts_data, 1):
            etag = s3.upload_part(Bucket=BUCKET, Key=k, UploadId=uid, PartNumber=i, Body=data)["ETag"]
            parts.append({"PartNumber": i, "ETag": etag})
        s3.complete_multipart_upload(Bucket=BUCKET, Key=k, UploadId=uid, MultipartUpload={"Parts": parts})
        got = s3.get_object(Bucket=BUCKET, Key=k)["Body"].read()
        expect_bytes(got, b"".join(parts_data), "completed multipart object")

    @check("generate_presigned_url + urllib download (bytes compared)")
    def _():
        url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key("big.bin")}, ExpiresIn=600)
        expect("X-Amz-Signature=" in url, f"not a SigV4 presigned URL: {url}")
        with urllib.request.urlopen(url, timeout=60) as r:
            expect_eq(r.status, 200, "presigned GET status")
            expect_bytes(r.read(), big, "presigned GET body")
        bad = url.replace("big.bin", "big.bix", 1)
        try:
            urllib.request.urlopen(bad, timeout=60)
            raise CheckFailed("presigned URL with the key changed was accepted")
        except urllib.error.HTTPError as e:
            expect_eq(e.code, 403, "presigned URL with the key changed")

    @check("head_bucket / get_bucket_location")
    def _():
        r = s3.head_bucket(Bucket=BUCKET)
        expect_eq(r["ResponseMetadata"]["HTTPStatusCode"], 200, "head_bucket status")
        loc = s3.get_bucket_location(Bucket=BUCKET)
        expect_eq(loc["ResponseMetadata"]["HTTPStatusCode"], 200, "get_bucket_location status")
        # AWS says None for us-east-1; RGW names its zonegroup ("default"). Any region name will do.
        lc = loc.get("LocationConstraint")
        expect(lc is None or isinstance(lc, str), f"get_bucket_location: {loc}")

    @check("list_buckets")
    def _():
        names = sorted(b["Name"] for b in s3.list_buckets()["Buckets"])
        if DIRECT:
            expect(BUCKET in names, f"list_buckets {names} lacks {BUCKET}")
        else:
            want = sorted(b for b in env("BG_VISIBLE_BUCKETS").split(",") if b)
            expect_eq(names, want, "list_buckets names")

    @check("wrong secret -> SignatureDoesNotMatch")
    def _():
        bad = client(secret_key=SECRET_KEY + "x")
        expect_error(lambda: bad.get_object(Bucket=BUCKET, Key=key("big.bin")), "SignatureDoesNotMatch", 403, "get_object with a wrong secret")
        expect_error(lambda: bad.list_objects_v2(Bucket=BUCKET), "SignatureDoesNotMatch", 403, "list_objects_v2 with a wrong secret")

    @check("unknown access key id -> InvalidAccessKeyId")
    def _():
        bad = client(access_key="AKIAUNKNOWN0000000000", secret_key="whatever-secret-123")
        # s3s-fs itself says NotSignedUp; bucketgate (which checks the key) must say InvalidAccessKeyId.
        want = ("InvalidAccessKeyId", "NotSignedUp") if DIRECT and UPSTREAM_KIND == "s3s" else "InvalidAccessKeyId"
        expect_error(lambda: bad.get_object(Bucket=BUCKET, Key=key("big.bin")), want, 403, "get_object with an unknown key id")

    if not DIRECT:

        @check("key outside the grants -> AccessDenied")
        def _():
            denied = env("BG_DENIED_KEY")
            expect_error(lambda: s3.get_object(Bucket=BUCKET, Key=denied), "AccessDenied", 403, f"get_object {denied}")
            expect_error(lambda: s3.put_object(Bucket=BUCKET, Key=denied, Body=b"nope"), "AccessDenied", 403, f"put_object {denied}")
            expect_error(lambda: s3.delete_object(Bucket=BUCKET, Key=denied), "AccessDenied", 403, f"delete_object {denied}")

        @check("get_bucket_acl -> NotImplemented")
        def _():
            expect_error(lambda: s3.get_bucket_acl(Bucket=BUCKET), "NotImplemented", 501, "get_bucket_acl")

    @check("cleanup")
    def _():
        s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": key("big.bin")}, {"Key": key("mpu-done.bin")}]})
        left = s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX).get("Contents", [])
        expect_eq([o["Key"] for o in left], [], "keys left under the prefix")


if __name__ == "__main__":
    try:
        main()
    except CheckFailed as e:
        print(f"FAILED: {current}: {e}", file=sys.stderr)
        sys.exit(1)
    except Exception as e:  # an unexpected error from boto3 or the server
        traceback.print_exc()
        print(f"FAILED: {current}: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    print("boto3: all checks passed")
