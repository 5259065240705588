"""Compares the two junit files of run.sh (RGW direct, through bucketgate) and prints results.md.

Each test gets an outcome per run (pass, fail, error, skip, missing) and, when it fails only
through bucketgate, a one-line reason: a known cause from KNOWN / the patterns below, else the
S3 error or assertion the failure shows.
"""

import argparse
import datetime
import json
import re
import subprocess
import xml.etree.ElementTree as ET

# Operations bucketgate answers 501 NotImplemented by design (README, "The `s3` frontend").
BY_DESIGN_OPS = re.compile(
    r"Acl|Versioning|Versions|Policy|Lifecycle|Cors|Tagging|Encryption|ObjectLock|Retention|"
    r"LegalHold|Ownership|PublicAccessBlock|Logging|Website|RequestPayment|Notification|"
    r"DeleteBucket$|CreateBucket$|Torrent|SelectObjectContent|GetObjectAttributes|RestoreObject|"
    r"PostObject"
)

# Causes already understood, by test name (shown only while the test fails through bucketgate):
# (category, reason). Categories: "gap" (bucketgate differs from S3/RGW: fix or document),
# "design" (refused by design, README "The `s3` frontend"), "rgw" (RGW-only behaviour).
ITEM15 = "issue 17 item 15"
NEXT_MARKER = ("gap", "`NextMarker` is sealed (`markers.rs`), where S3 and RGW return the plain "
               "next key, which the test compares; item 15's fix (seal only `Next*`) keeps this")
KNOWN = {
    "test_bucket_list_marker_unreadable": ("gap", f"`Marker` echoes a sealed value, not the client's `\\n` ({ITEM15})"),
    "test_bucket_list_marker_not_in_list": ("gap", f"`Marker` echoes a sealed value, not the client's `blah` ({ITEM15})"),
    "test_bucket_list_marker_after_list": ("gap", f"`Marker` echoes a sealed value, not the client's `zzz` ({ITEM15})"),
    "test_bucket_listv2_continuationtoken": ("gap", f"`ContinuationToken` echoed re-sealed, not as sent ({ITEM15})"),
    "test_bucket_listv2_both_continuationtoken_startafter": ("gap", f"`ContinuationToken` echoed re-sealed, not as sent ({ITEM15})"),
    "test_bucket_list_delimiter_prefix": NEXT_MARKER,
    "test_bucket_list_delimiter_prefix_underscore": NEXT_MARKER,
    "test_bucket_list_prefix_unreadable": ("gap", "ListObjects (V1) echoes `Prefix` URL-encoded (`%0A`) under "
                                           "`encoding-type=url`; RGW echoes it as sent (botocore decodes "
                                           "`Prefix` only for V2)"),
    "test_bucket_listv2_continuationtoken_empty": ("gap", "an empty `continuation-token=` is not echoed "
                                                   "(no `<ContinuationToken>`); RGW echoes it empty"),
    "test_buckets_list_ctime": ("gap", "ListBuckets `CreationDate` is a fixed `2024-01-01T00:00:00.000Z` "
                                "(`src/frontend/s3/plan.rs`), not the bucket's creation time"),
    "test_object_raw_get_x_amz_expires_out_range_zero": ("gap", "presigned URL with `X-Amz-Expires=0`: "
                                                        "400 AuthorizationQueryParametersError, RGW 403 AccessDenied"),
    "test_object_raw_get_x_amz_expires_out_max_range": ("gap", "presigned URL with `X-Amz-Expires` over 7 days: "
                                                       "400 AuthorizationQueryParametersError (as AWS), RGW 403"),
    "test_object_raw_get_x_amz_expires_out_positive_range": ("gap", "presigned URL with `X-Amz-Expires=-7`: "
                                                            "400 AuthorizationQueryParametersError (as AWS), RGW 403"),
    "test_cors_presigned_get_object": ("gap", "OPTIONS without `Origin` on a presigned URL: 403 "
                                       "SignatureDoesNotMatch, RGW 400 (issue 17 item 16); the test then "
                                       "needs PutBucketCors (501 by design)"),
    "test_cors_presigned_get_object_tenant": ("gap", "OPTIONS without `Origin` on a presigned URL: 403 "
                                              "SignatureDoesNotMatch, RGW 400 (issue 17 item 16); the test "
                                              "then needs PutBucketCors (501 by design)"),
    "test_post_object_missing_conditions_list": ("design", "POST Object (HTML form upload signed by a policy "
                                                 "document) is not supported: 403 as an unsigned request, RGW 400"),
    "test_bucket_list_unordered": ("rgw", "RGW extension `allow-unordered=true` answered 501 NotImplemented"),
    "test_bucket_listv2_unordered": ("rgw", "RGW extension `allow-unordered=true` answered 501 NotImplemented"),
    "test_bucket_head_extended": ("rgw", "RGW extension `read-stats=true` on HeadBucket answered 501 NotImplemented"),
}


def suite_markers(path):
    """{test function name: set of pytest marker names} from the suite's source."""
    import ast
    out = {}
    try:
        tree = ast.parse(open(path).read())
    except (OSError, SyntaxError):
        return out
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            marks = set()
            for dec in node.decorator_list:
                d = dec.func if isinstance(dec, ast.Call) else dec
                if isinstance(d, ast.Attribute):
                    marks.add(d.attr)
            out[node.name] = marks
    return out


def outcomes(path):
    """{test name: (outcome, message text)} from a junit xml file."""
    res = {}
    if not path:
        return res
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return res
    for tc in root.iter("testcase"):
        name = tc.get("name")
        outcome, text = "pass", ""
        for tag in ("failure", "error", "skipped"):
            el = tc.find(tag)
            if el is not None:
                outcome = {"failure": "fail", "error": "error", "skipped": "skip"}[tag]
                text = (el.get("message") or "") + "\n" + (el.text or "")
                break
        res[name] = (outcome, text)
    return res


def calls_of(path):
    """{test name: [[operation, status, code, signing, endpoint, x-amz-* header names], ...]}."""
    res = {}
    if not path:
        return res
    try:
        for line in open(path):
            rec = json.loads(line)
            res[rec["test"]] = rec["calls"]
    except (OSError, ValueError):
        pass
    return res


def short(s, n=110):
    s = " ".join(s.split())
    s = s.replace("|", "\\|")
    return s if len(s) <= n else s[: n - 1] + "…"


def reason(name, text, calls, marks, reroute="create"):
    """(category, one line): why the test failed through bucketgate, as far as it shows."""
    if name in KNOWN:
        return KNOWN[name]
    base = name.split("[")[0]
    for op, status, code, signing, _, *params in calls:
        if status == 501 and BY_DESIGN_OPS.search(op):
            return "design", f"501 NotImplemented on {op} (refused by design)"
        if status == 501 and len(params) > 1 and "VersionId" in params[1]:
            return "design", f"501 NotImplemented on {op} with a `versionId` (versioning is not supported, by design)"
        acl = [h for h in (params[0] if params else []) if h == "x-amz-acl" or h.startswith("x-amz-grant-")]
        if status == 501 and acl:
            return "design", (f"501 NotImplemented on {op} with `{'`, `'.join(acl)}` "
                              "(ACL headers refused by design, issue 17 item 14)")
        sent = [h for h in (params[0] if params else [])
                if not h.startswith(("x-amz-meta-", "x-amz-checksum-", "x-amz-sdk-"))]
        if status == 501 and sent:
            return "design", (f"501 NotImplemented on {op} with `{'`, `'.join(sent)}` "
                              "(header refused, issue 17 item 14)")
    for op, status, code, signing, _, *params in calls:
        if signing == "anonymous" and status in (401, 403):
            return "design", f"anonymous {op} refused ({status} {code}; by design), the test expected RGW's answer"
        if signing == "sigv2" and status in (400, 403):
            return "design", f"SigV2-signed {op} refused ({status} {code}; by design)"
    for code, op in re.findall(r"An error occurred \(([^)]*)\) when calling the (\w+) operation", text):
        if code in ("NotImplemented", "501") and BY_DESIGN_OPS.search(op):
            return "design", f"501 NotImplemented on {op} (refused by design)"
    if reroute == "admin" and "ClientError not raised" in text and re.search(r"acl|policy|access", name):
        return "design", ("expected a refusal from an RGW ACL or policy; through bucketgate the key's "
                          "grants decide (`*` here) and every upstream call is made as the main user")
    cat = "rgw" if "fails_on_aws" in marks.get(base, ()) else "gap"
    if "bgm1." in text:
        return cat, "a sealed marker or token where the test expected the plain value (issue 17 item 15)"
    m = re.search(r"^E\s+(.*)$", text, re.M)
    line = short(m.group(1), 100) if m else short(text.strip().splitlines()[0] if text.strip() else "(no message)")
    if calls:
        op, status, code = calls[-1][:3]
        line += f" (last error answer: {status} {code} on {op})"
    if cat == "rgw":
        line += " (the suite marks it fails_on_aws: RGW-specific)"
    return cat, line


def rgw_reason(text):
    m = re.search(r"^E\s+(.*)$", text, re.M)
    if m:
        return short(m.group(1), 100)
    return short(text.strip().splitlines()[0]) if text.strip() else ""


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--direct", required=True)
    p.add_argument("--bucketgate", required=True)
    p.add_argument("--calls", default="")
    p.add_argument("--selected", required=True)
    p.add_argument("--suite-dir", required=True)
    p.add_argument("--repo", required=True)
    p.add_argument("--select", default="read")
    p.add_argument("--reroute", default="create")
    p.add_argument("--rgw-version", default="")
    a = p.parse_args()

    def git(*args, cwd):
        try:
            return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                                  check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "?"

    commit = git("rev-parse", "--short", "HEAD", cwd=a.repo)
    dirty = git("status", "--porcelain", "--untracked-files=no", cwd=a.repo)
    suite_commit = git("log", "-1", "--format=%h %cs", cwd=a.suite_dir)
    suite_branch = git("rev-parse", "--abbrev-ref", "HEAD", cwd=a.suite_dir)
    selected = [line.strip() for line in open(a.selected) if line.strip()]
    suite_file = selected[0].split("::")[0] if selected else "s3tests/functional/test_s3.py"
    marks = suite_markers(f"{a.suite_dir}/{suite_file}")

    names = [node.split("::")[-1] for node in selected]
    d = outcomes(a.direct)
    b = outcomes(a.bucketgate)
    calls = calls_of(a.calls)

    rows, only_bg = [], []
    counts = {}
    for n in names:
        do, dt = d.get(n, ("missing", ""))
        bo, bt = b.get(n, ("missing", ""))
        note = ""
        if do == "pass" and bo != "pass":
            cat, note = reason(n, bt, calls.get(n, []), marks, a.reroute)
            only_bg.append((n, bo, cat, note))
        elif do != "pass" and bo == "pass":
            note = "passes only through bucketgate; directly: " + rgw_reason(dt)
        elif do != "pass":
            note = ("RGW itself: " if do != "skip" else "skipped: ") + rgw_reason(dt)
        key = (do == "pass", bo == "pass")
        counts[key] = counts.get(key, 0) + 1
        rows.append((n, do, bo, note))

    sections = [
        ("gap", "Fails only through bucketgate: differences to fix or to document"),
        ("rgw", "Fails only through bucketgate: RGW-specific behaviour (not S3)"),
        ("design", "Fails only through bucketgate: refused by design"),
    ]
    per = {c: [r for r in only_bg if r[2] == c] for c, _ in sections}

    today = datetime.date.today().isoformat()
    out = []
    w = out.append
    w("# ceph/s3-tests: RGW direct vs through bucketgate")
    w("")
    w(f"- Date: {today}")
    changed = [line[3:] for line in dirty.splitlines() if line[3:].startswith(("src/", "plugins/"))]
    w(f"- bucketgate: `{commit}`" + (f", plus uncommitted work of others in the working tree "
                                     f"when it was built ({len(changed)} files under src/ and "
                                     f"plugins/ differed from `{commit}`)" if changed else ""))
    w(f"- s3-tests: `{suite_branch}` at `{suite_commit}`, `{suite_file}`")
    w(f"- RGW: {a.rgw_version or '?'} (one node, `tests/rgw.sh`)")
    w(f"- Selection: `SELECT={a.select}`, {len(names)} tests; `REROUTE={a.reroute}`")
    w("- Command: `bash tests/conformance/run.sh /path/to/s3-tests` (see "
      "[README.md](README.md) for how the bucketgate run is set up)")
    w("")
    w("## Summary")
    w("")
    w("| RGW direct | through bucketgate | tests |\n|---|---|---|")
    w(f"| pass | pass | {counts.get((True, True), 0)} |")
    w(f"| pass | fail | {counts.get((True, False), 0)} |")
    w(f"| fail or skip | fail or skip | {counts.get((False, False), 0)} |")
    w(f"| fail or skip | pass | {counts.get((False, True), 0)} |")
    w("")
    w(f"**passes directly but fails through bucketgate: {len(only_bg)}** ("
      + ", ".join(f"{len(per[c])} {label}" for c, label in
                  (("gap", "to fix or document"), ("rgw", "RGW-specific"),
                   ("design", "refused by design"))) + ")")
    w("")
    for c, title in sections:
        if not per[c]:
            continue
        w(f"### {title}")
        w("")
        w("| test | bucketgate | reason |\n|---|---|---|")
        for n, bo, _, note in per[c]:
            w(f"| `{n}` | {bo} | {note} |")
        w("")
    w("## Every selected test")
    w("")
    w("| test | RGW direct | bucketgate | note |\n|---|---|---|---|")
    for n, do, bo, note in rows:
        w(f"| `{n}` | {do} | {bo} | {note} |")
    print("\n".join(out))


if __name__ == "__main__":
    main()
