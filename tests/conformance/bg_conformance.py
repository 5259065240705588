"""pytest plugin for running ceph/s3-tests through bucketgate (loaded with `-p bg_conformance`).

It changes nothing in the suite's source. It is loaded in both runs (RGW direct and through
bucketgate) so the two runs make the same calls with the same bucket names:

* Bucket names are predictable: the config's `bucket prefix` has no `{random}`, and the
  suite's bucket counter restarts at 1 for every test (the suite's own setup removes every
  bucket with the prefix before each test). bucketgate serves only the bucket aliases listed in
  its config, so `run.sh` lists `<prefix>1` .. `<prefix>N` there.
* BG_CONFORMANCE_CALLS=FILE: every S3 call of a test body that got an error answer is appended
  to FILE, one JSON line per test (operation, status, S3 code, how the client signed, the names
  of the x-amz-* headers sent and of the call's parameters; never values), so compare.py can say
  which call failed (e.g. a 501 on PutBucketAcl).

Only in the bucketgate run (env BG_CONFORMANCE_DIRECT is the RGW endpoint, BG_CONFORMANCE_GATEWAY
bucketgate's):

* The suite's per-test setup and teardown (delete every test bucket of the main, alt and tenant
  users) talk to RGW directly: they need ListObjectVersions and DeleteBucket, which bucketgate
  refuses by design.
* CreateBucket calls a test makes on a client pointed at bucketgate are sent to RGW directly,
  as the *main* user (bucketgate's upstream credentials), so the bucket is reachable through
  bucketgate whichever key the test used. Every other call goes through bucketgate.
* BG_CONFORMANCE_REROUTE=admin also sends the bucket and object configuration calls that
  bucketgate refuses by design (ACLs, versioning, policy, lifecycle, tagging, ...) to RGW, to
  see whether the listing/read part of such tests passes through bucketgate.
"""

import itertools
import json
import os
import sys
import threading

import boto3
import pytest
import botocore.client
from botocore import UNSIGNED
from botocore.client import Config
from botocore.exceptions import ClientError

DIRECT = os.environ.get("BG_CONFORMANCE_DIRECT", "").rstrip("/")
GATEWAY = os.environ.get("BG_CONFORMANCE_GATEWAY", "").rstrip("/")
MODE = os.environ.get("BG_CONFORMANCE_REROUTE", "create")
MAIN_KEY = os.environ.get("BG_CONFORMANCE_MAIN_KEY", "")
MAIN_SECRET = os.environ.get("BG_CONFORMANCE_MAIN_SECRET", "")
CALLS = os.environ.get("BG_CONFORMANCE_CALLS", "")

# Error answers of the running test: [operation, status, code, signing, endpoint, headers,
# parameters] (the names of the request's x-amz-* headers, such as x-amz-acl, and of the call's
# parameters, such as VersionId; never their values).
_calls = []
_sent = threading.local()


def _remember_headers(request, **kwargs):
    _sent.headers = sorted(
        k.lower() for k in request.headers.keys()
        if k.lower().startswith("x-amz-")
        and k.lower() not in ("x-amz-date", "x-amz-content-sha256", "x-amz-security-token")
    )

# Operations bucketgate answers 501 by design (README, "The `s3` frontend").
ADMIN_OPS = {
    "DeleteBucket",
    "PutBucketAcl", "GetBucketAcl", "PutObjectAcl", "GetObjectAcl",
    "PutBucketVersioning", "GetBucketVersioning", "ListObjectVersions",
    "PutBucketPolicy", "GetBucketPolicy", "DeleteBucketPolicy", "GetBucketPolicyStatus",
    "PutBucketLifecycleConfiguration", "GetBucketLifecycleConfiguration",
    "PutBucketLifecycle", "GetBucketLifecycle", "DeleteBucketLifecycle",
    "PutBucketCors", "GetBucketCors", "DeleteBucketCors",
    "PutBucketTagging", "GetBucketTagging", "DeleteBucketTagging",
    "PutObjectTagging", "GetObjectTagging", "DeleteObjectTagging",
    "PutBucketEncryption", "GetBucketEncryption", "DeleteBucketEncryption",
    "PutObjectLockConfiguration", "GetObjectLockConfiguration",
    "PutObjectRetention", "GetObjectRetention", "PutObjectLegalHold", "GetObjectLegalHold",
    "PutBucketOwnershipControls", "GetBucketOwnershipControls",
    "PutPublicAccessBlock", "GetPublicAccessBlock", "DeletePublicAccessBlock",
    "PutBucketLogging", "GetBucketLogging", "PutBucketWebsite", "GetBucketWebsite",
    "DeleteBucketWebsite", "PutBucketRequestPayment", "GetBucketRequestPayment",
    "PutBucketNotificationConfiguration", "GetBucketNotificationConfiguration",
}
REROUTED = {"CreateBucket"} | (ADMIN_OPS if MODE == "admin" else set())

_direct_client = None
_lock = threading.Lock()
_orig_make_api_call = botocore.client.BaseClient._make_api_call


def _direct():
    global _direct_client
    with _lock:
        if _direct_client is None:
            _direct_client = boto3.client(
                "s3",
                endpoint_url=DIRECT,
                aws_access_key_id=MAIN_KEY,
                aws_secret_access_key=MAIN_SECRET,
                region_name="us-east-1",
                config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
            )
        return _direct_client


def _signing(client):
    v = client.meta.config.signature_version
    if v is UNSIGNED:
        return "anonymous"
    if v in ("s3", "s3v2"):
        return "sigv2"
    return "sigv4"


def _make_api_call(self, operation_name, api_params):
    if (
        DIRECT
        and GATEWAY
        and operation_name in REROUTED
        and self.meta.service_model.service_name == "s3"
        and self.meta.endpoint_url.rstrip("/") == GATEWAY
    ):
        return _orig_make_api_call(_direct(), operation_name, api_params)
    if not getattr(self, "_bg_conformance_hooked", False):
        self.meta.events.register("before-send", _remember_headers)
        self._bg_conformance_hooked = True
    _sent.headers = []
    try:
        return _orig_make_api_call(self, operation_name, api_params)
    except ClientError as e:
        meta = e.response.get("ResponseMetadata", {})
        code = e.response.get("Error", {}).get("Code", "")
        _calls.append([operation_name, meta.get("HTTPStatusCode"), code, _signing(self),
                       self.meta.endpoint_url, list(getattr(_sent, "headers", [])),
                       sorted(k for k in api_params if k not in ("Bucket", "Key", "Body"))])
        raise


botocore.client.BaseClient._make_api_call = _make_api_call


def _suite():
    for name in ("s3tests.functional", "s3tests_boto3.functional"):
        if name in sys.modules:
            return sys.modules[name]
    return None


def _directly(fn):
    """fn with the suite's endpoint switched to RGW for its duration (setup/teardown)."""

    def wrapped(*a, **kw):
        cfg = _suite().config
        saved = cfg.default_endpoint
        cfg.default_endpoint = DIRECT
        try:
            return fn(*a, **kw)
        finally:
            cfg.default_endpoint = saved

    return wrapped


def pytest_collection_finish(session):
    suite = _suite()
    if suite is None:
        return
    if DIRECT and GATEWAY:
        suite.setup = _directly(suite.setup)
        suite.teardown = _directly(suite.teardown)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    suite = _suite()
    if suite is not None:
        suite.bucket_counter = itertools.count(1)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    # The test body only: the suite's setup and teardown calls are not the test's.
    _calls.clear()
    yield
    if CALLS:
        with open(CALLS, "a") as f:
            f.write(json.dumps({"test": item.name, "calls": list(_calls)}) + "\n")
    _calls.clear()
