#!/usr/bin/env python3
"""The load harness's driver (run it through benchmarks/load/run.sh, which builds first).

Starts the upstreams (s3s-fs, nginx serving files, Ceph RGW), bucketgate and nginx as separate
processes on 127.0.0.1, creates the objects, runs every scenario against every target
(direct / bucketgate / nginx) interleaved over rounds, and writes the Markdown table of
benchmarks/README.md ("Load harness") to benchmarks/results/. Why each choice was made is there.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

import boto3
from botocore.config import Config

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# where cargo put the release build: $CARGO_TARGET_DIR (relative: to the repository, where run.sh
# builds) or target/
REL = os.path.join(REPO, os.environ.get("CARGO_TARGET_DIR") or "target", "release")
LOADGEN = os.path.join(REL, "loadgen")
BUCKETGATE = os.path.join(REL, "bucketgate")
S3S_SERVER = os.path.join(REL, "examples", "s3s_server")
PINGORA_FLOOR = os.path.join(REL, "examples", "pingora_floor")
HERE = os.path.dirname(os.path.abspath(__file__))
TICK = os.sysconf("SC_CLK_TCK")
BUCKET = "bench"
S3S_KEYS = ("benchaccesskey", "bench-secret-key-not-for-production")
RGW_KEYS = (
    os.environ.get("RGW_ACCESS_KEY", "0555b35654ad1656d804"),
    os.environ.get("RGW_SECRET_KEY", "h7GhxuBLTrlhVUyxSPUKUV8r/2EI4ngqJxD7iBdBYLhwluN30JaT3Q=="),
)
JWT_SECRET = "bench-hs256-secret-0123456789abcdef0123456789"
KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
# plus "pingora" with --pingora, "ops" with --ops, "baseline" with --baseline-bin
TARGETS = ["direct", "bucketgate", "nginx"]
# What --ops turns on in a second bucketgate: every operations feature on the request path, with
# limits far above what the machine can do, so every request is counted and none is refused.
OPS_SECTIONS = """limits:
  per_ip: {requests_per_second: 10000000, burst: 10000000, concurrent: 100000}
  per_identity: {requests_per_second: 10000000, burst: 10000000}
  per_route: {requests_per_second: 10000000, burst: 10000000}
  failed_auth_per_ip: {max_failures: 50, window_seconds: 60}
metrics: {address: "127.0.0.1:%d"}
"""


def log(*a):
    print("bench:", *a, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc=None, secs=30):
    deadline = time.time() + secs
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"bench: process {proc.args[0]} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"bench: nothing listens on {port} after {secs}s")


# ---------------------------------------------------------------- /proc: CPU and peak RSS


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    return out


def cpu_seconds(pids):
    """utime + stime of the processes, all their threads, in seconds."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat(5)
    return total / TICK


def reset_hwm(pids):
    for pid in pids:
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")  # resets VmHWM to the current RSS
        except OSError:
            pass


def hwm_mib(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
    return total / 1024


class Procs:
    """Every process we started, stopped in reverse order at exit."""

    def __init__(self, workdir, callgrind=False):
        self.workdir = workdir
        self.started = []
        self.callgrind = callgrind

    def start(self, name, args, **kw):
        if self.callgrind and name in ("bucketgate", "bucketgate_ops", "bucketgate_baseline", "pingora_floor"):
            # instrumentation off until the measured run (callgrind_control -i on)
            args = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                    f"--callgrind-out-file={self.workdir}/callgrind.{name}"] + args
        out = open(os.path.join(self.workdir, f"{name}.log"), "wb")
        p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, **kw)
        self.started.append((name, p))
        return p

    def stop(self):
        for name, p in reversed(self.started):
            if p.poll() is None:
                p.send_signal(signal.SIGINT if name == "bucketgate" else signal.SIGTERM)
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


# ---------------------------------------------------------------- upstreams and proxies


def presigner(endpoint, keys):
    return boto3.client(
        "s3",
        endpoint_url=f"http://{endpoint}",
        aws_access_key_id=keys[0],
        aws_secret_access_key=keys[1],
        region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


class Upstream:
    """One upstream and the three ways to reach an object on it."""

    def __init__(self, name, endpoint, s3=None, pid=None):
        self.name, self.endpoint, self.s3, self.pid = name, endpoint, s3, pid
        self.nginx_port = None  # set once the proxy nginx is written
        self.floor_port = None  # set when pingora_floor runs

    def url(self, target, key, method="GET", bg_ports=None):
        if target in (bg_ports or {}):  # a bucketgate (plain, ops or baseline) on its own port
            return f"http://127.0.0.1:{bg_ports[target]}/{self.name}/{key}"
        if self.s3 is None:  # the nginx file server needs no signature
            path = f"/{BUCKET}/{key}"
        else:
            op = "put_object" if method == "PUT" else "get_object"
            signed = self.s3.generate_presigned_url(op, Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=6 * 3600)
            path = signed.split(self.endpoint, 1)[1]
        port = {"direct": self.endpoint.rsplit(":", 1)[1], "nginx": self.nginx_port, "pingora": self.floor_port}[target]
        return f"http://127.0.0.1:{port}{path}"


def start_s3s(procs, root):
    port = free_port()
    p = procs.start("s3s_server", [S3S_SERVER, root, f"127.0.0.1:{port}", *S3S_KEYS])
    wait_port(port, p)
    up = Upstream("s3s", f"127.0.0.1:{port}", presigner(f"127.0.0.1:{port}", S3S_KEYS), p.pid)
    up.s3.create_bucket(Bucket=BUCKET)
    return up


def start_rgw():
    log("starting Ceph RGW (bash tests/rgw.sh start, ~15 s)")
    subprocess.run(["bash", os.path.join(REPO, "tests", "rgw.sh"), "start"], check=True, stdout=subprocess.DEVNULL)
    endpoint = os.environ.get("RGW_ENDPOINT", "127.0.0.1:7480")
    ceph_dir = os.environ.get("CEPH_DIR", "/tmp/bucketgate-ceph")
    with open(os.path.join(ceph_dir, "run", "rgw.fgpid")) as f:
        pid = int(f.read())
    up = Upstream("rgw", endpoint, presigner(endpoint, RGW_KEYS), pid)
    try:
        up.s3.create_bucket(Bucket=BUCKET)
    except up.s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    return up


# as root, nginx workers would run as nobody and could not read our 0700 work directory
NGINX_USER = "user root;\n" if os.geteuid() == 0 else ""

NGINX_COMMON = """
{user}worker_processes {workers};
daemon off;
pid {dir}/{name}.pid;
error_log {dir}/{name}.error.log warn;
events {{ worker_connections 4096; }}
http {{
    client_body_temp_path {dir}/{name}-body;
    proxy_temp_path {dir}/{name}-proxy;
    fastcgi_temp_path {dir}/{name}-fcgi;
    uwsgi_temp_path {dir}/{name}-uwsgi;
    scgi_temp_path {dir}/{name}-scgi;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    {body}
}}
"""


def start_origin(procs, workdir, root):
    """nginx serving the s3s-fs directory itself: the same bytes, as fast as this box serves files."""
    port = free_port()
    body = f"""access_log off;
    sendfile on;
    tcp_nopush on;
    server {{ listen 127.0.0.1:{port}; root {root}; location / {{ }} }}"""
    conf = os.path.join(workdir, "origin.conf")
    with open(conf, "w") as f:
        f.write(NGINX_COMMON.format(user=NGINX_USER, workers=1, dir=workdir, name="origin", body=body))
    p = procs.start("origin", ["nginx", "-c", conf, "-p", workdir])
    wait_port(port, p)
    return Upstream("origin", f"127.0.0.1:{port}", None, p.pid)


# Streams both ways like bucketgate does (nginx's defaults spool a 1 GiB PUT to disk before sending
# it on), through a 64 KiB buffer like Pingora's (nginx's default 4 KiB halves its large-GET speed);
# BENCH_NGINX_PROXY replaces these directives to try others.
NGINX_STREAMING = os.environ.get(
    "BENCH_NGINX_PROXY",
    "proxy_buffering off; proxy_request_buffering off; proxy_buffer_size 64k; proxy_buffers 4 64k;")


def start_nginx_proxy(procs, workdir, upstreams):
    """nginx as the comparison proxy: a plain proxy_pass of presigned URLs, one port per upstream."""
    servers = []
    for up in upstreams:
        up.nginx_port = free_port()
        servers.append(f"""
    upstream {up.name} {{ server {up.endpoint}; keepalive 64; keepalive_requests 1000000; }}
    server {{
        listen 127.0.0.1:{up.nginx_port};
        client_max_body_size 0;
        location / {{
            proxy_pass http://{up.name};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host {up.endpoint};
            {NGINX_STREAMING}
        }}
    }}""")
    body = f"access_log {workdir}/nginx.access.log;\n" + "".join(servers)
    conf = os.path.join(workdir, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_COMMON.format(user=NGINX_USER, workers="auto", dir=workdir, name="nginx", body=body))
    p = procs.start("nginx", ["nginx", "-c", conf, "-p", workdir])
    for up in upstreams:
        wait_port(up.nginx_port, p)
    return p


def start_pingora_floor(procs, upstreams):
    """examples/pingora_floor: Pingora passing presigned URLs through, nothing of ours."""
    pairs = []
    for up in upstreams:
        up.floor_port = free_port()
        pairs.append(f"127.0.0.1:{up.floor_port}={up.endpoint}")
    p = procs.start("pingora_floor", [PINGORA_FLOOR, str(os.cpu_count()), *pairs])
    for up in upstreams:
        wait_port(up.floor_port, p, secs=120 if procs.callgrind else 30)
    return p


def start_bucketgate(procs, workdir, upstreams, ops=False, binary=None):
    """bucketgate with a JWT route per upstream; `ops`: a second one (`bucketgate_ops`) with
    rate limits, the metrics listener, the JSON access log and the upstream log on; `binary`:
    another build (`bucketgate_baseline`, --baseline-bin) with the same config as the first."""
    port = free_port()
    ups, routes = [], []
    for up in upstreams:
        keys = RGW_KEYS if up.name == "rgw" else S3S_KEYS
        ups.append(f"""  {up.name}:
    endpoints: ["{up.endpoint}"]
    credentials: {{access_key_id: "{keys[0]}", secret_access_key: "{keys[1]}"}}""")
        routes.append(f"""  - name: {up.name}
    path_prefix: /{up.name}
    upstream: {up.name}
    bucket: {BUCKET}
    methods: [GET, HEAD, PUT]
    max_body: 2GiB
    auth:
      - jwt:
          keys: [{{algorithm: HS256, secret: "{JWT_SECRET}"}}]
          issuer: https://bench.example/
          audience: bucketgate
          grants: [{{bucket: {BUCKET}, prefix: "", operations: [read, write]}}]""")
    name = "bucketgate_ops" if ops else "bucketgate_baseline" if binary else "bucketgate"
    binary = binary or BUCKETGATE
    conf = os.path.join(workdir, f"{name}.yaml")
    with open(conf, "w") as f:
        # BENCH_BUCKETGATE_SERVER adds server settings, e.g. "threads: 1, access_log: false"
        extra = os.environ.get("BENCH_BUCKETGATE_SERVER", "").strip()
        if ops:
            upstream_log = os.path.join(workdir, "bucketgate_ops-s3.log")
            extra = ", ".join(x for x in (extra, "access_log_format: json",
                                          f"upstream_log: {upstream_log}") if x)
        if name != "bucketgate":  # a second instance: its own pid file and upgrade socket
            extra = ", ".join(x for x in (extra, f"pid_file: {workdir}/{name}.pid",
                                          f"upgrade_sock: {workdir}/{name}.sock") if x)
        f.write(f"server: {{grace_period_seconds: 0, graceful_shutdown_timeout_seconds: 1"
                f"{', ' + extra if extra else ''}}}\n"
                f"listeners: [{{address: 127.0.0.1:{port}}}]\nupstreams:\n" + "\n".join(ups) +
                "\nroutes:\n" + "\n".join(routes) + "\n" +
                (OPS_SECTIONS % free_port() if ops else ""))
    subprocess.run([binary, "check", "-c", conf], check=True, stdout=subprocess.DEVNULL)
    p = procs.start(name, [binary, "run", "-c", conf])
    wait_port(port, p, secs=120 if procs.callgrind else 30)
    return p, port


def mint_jwt():
    env = dict(os.environ, JWT_ISS="https://bench.example/", JWT_AUD="bucketgate")
    out = subprocess.run(["bash", os.path.join(REPO, "conf", "mint-jwt.sh"), JWT_SECRET, "bench", str(6 * 3600)],
                         check=True, capture_output=True, text=True, env=env)
    return out.stdout.strip()


# ---------------------------------------------------------------- load tools


def loadgen(method, url, *opts, headers=()):
    args = [LOADGEN, *map(str, opts)]
    for h in headers:
        args += ["-H", h]
    out = subprocess.run(args + [method, url], capture_output=True, text=True)
    if not out.stdout.strip():
        raise SystemExit(f"bench: loadgen failed: {out.stderr}")
    r = json.loads(out.stdout)
    if r["errors"]:
        log(f"  errors {r['errors']} status {r['status']} on {method} {url.split('?')[0]}")
    return r


WRK_LUA = os.path.join(HERE, "percentiles.lua")


def wrk(url, conns, secs, headers=()):
    args = ["wrk", "-t", str(min(2, conns)), "-c", str(conns), "-d", f"{int(secs)}s", "-s", WRK_LUA]
    for h in headers:
        args += ["-H", h]
    out = subprocess.run(args + [url], capture_output=True, text=True)
    line = [l for l in out.stdout.splitlines() if l.startswith("JSON ")]
    if not line:
        raise SystemExit(f"bench: wrk failed: {out.stdout}{out.stderr}")
    r = json.loads(line[0][5:])
    if r["errors"]:
        log(f"  wrk errors {r['errors']} on {url.split('?')[0]}")
    return r


# ---------------------------------------------------------------- scenarios


class Bench:
    def __init__(self, args, upstreams, bucketgate, bg_port, nginx, token, floor=None, ops=(None, None),
                 baseline=(None, None)):
        self.args, self.upstreams = args, upstreams
        self.bg, self.bg_port, self.nginx, self.token = bucketgate, bg_port, nginx, token
        self.floor = floor
        self.ops, self.ops_port = ops
        self.baseline, self.baseline_port = baseline
        self.rates, self.put_sizes = {}, {}
        self.results = []  # dicts: upstream, scenario, target, round, metrics

    def proxy_pids(self, target):
        if target == "bucketgate":
            return [self.bg.pid]
        if target == "nginx":
            return [self.nginx.pid] + children(self.nginx.pid)
        if target == "pingora":
            return [self.floor.pid]
        if target == "ops":
            return [self.ops.pid]
        if target == "baseline":
            return [self.baseline.pid]
        return []

    def headers(self, target):
        return [f"Authorization: Bearer {self.token}"] if target in ("bucketgate", "ops", "baseline") else []

    def measure(self, up, scenario, target, rnd, run, requests_of, gib_of):
        """Runs `run()` with the proxy's and upstream's CPU and the proxy's peak RSS around it."""
        pids = self.proxy_pids(target)
        up_pids = [up.pid] + (children(up.pid) if up.name == "origin" else [])
        reset_hwm(pids)
        c0, u0 = cpu_seconds(pids), cpu_seconds(up_pids)
        r = run()
        c1, u1 = cpu_seconds(pids), cpu_seconds(up_pids)
        reqs, gib = requests_of(r), gib_of(r)
        m = dict(r)
        m["proxy_cpu_s"] = c1 - c0 if pids else None
        m["upstream_cpu_s"] = u1 - u0
        m["proxy_hwm_mib"] = hwm_mib(pids) if pids else None
        m["proxy_us_per_req"] = (c1 - c0) / reqs * 1e6 if pids and reqs else None
        m["proxy_ms_per_gib"] = (c1 - c0) / gib * 1e3 if pids and gib else None
        self.results.append(dict(upstream=up.name, scenario=scenario, target=target, round=rnd, m=m))
        short = {k: m.get(k) for k in ("rps", "mib_s", "proxy_us_per_req", "proxy_ms_per_gib", "proxy_hwm_mib")}
        log(f"  {up.name:6} {scenario:16} {target:10} round {rnd}: " +
            " ".join(f"{k}={v:.1f}" for k, v in short.items() if isinstance(v, (int, float))))
        return m

    def interleaved(self, up, scenario, body, requests_of, gib_of):
        for rnd in range(self.args.rounds):
            order = TARGETS if rnd % 2 == 0 else tuple(reversed(TARGETS))
            for t in order:
                self.measure(up, scenario, t, rnd, lambda: body(t, rnd), requests_of, gib_of)

    def url(self, up, target, key, method="GET"):
        return up.url(target, key, method,
                      {"bucketgate": self.bg_port, "ops": self.ops_port, "baseline": self.baseline_port})

    def run_upstream(self, up, scenarios):
        a = self.args
        per_req = lambda r: r["requests"]
        per_gib = lambda r: (r["bytes_in"] + r["bytes_out"]) / GIB
        if "small" in scenarios:
            for c in a.small_conns:
                self.interleaved(up, f"small_get_c{c}",
                                 lambda t, _: wrk(self.url(up, t, "small.bin"), c, a.secs, self.headers(t)),
                                 per_req, per_gib)
            # the direct saturation rate: the best median req/s over the concurrency levels
            best = max(median_of(rows_of(self.results, up.name, f"small_get_c{c}", "direct"), "rps") or 0
                       for c in a.small_conns)
            rate = max(1, int(best / 2))
            self.rates[up.name] = rate
            self.interleaved(up, "small_get_half_rate",
                             lambda t, _: loadgen("GET", self.url(up, t, "small.bin"), "-c", 32, "-d", a.secs,
                                               "--rate", rate, headers=self.headers(t)),
                             per_req, per_gib)
        if "large" in scenarios:
            self.interleaved(up, "large_get",
                             lambda t, _: loadgen("GET", self.url(up, t, "large.bin"), "-n", 1, headers=self.headers(t)),
                             per_req, per_gib)
        if "put" in scenarios and up.name != "origin":
            # a new key every time: RGW frees an overwritten object only after its GC delay (2 h),
            # and the memstore OSD of tests/rgw.sh holds 4 GiB, so RGW gets 256 MiB PUTs
            size = min(a.large, 256 * MIB) if up.name == "rgw" else a.large
            self.put_sizes[up.name] = size
            self.interleaved(up, "large_put",
                             lambda t, rnd: loadgen("PUT", self.url(up, t, f"put-{t}-{rnd}.bin", "PUT"), "-n", 1,
                                                    "--put-size", size, headers=self.headers(t)),
                             per_req, per_gib)
        if "seek" in scenarios:
            self.interleaved(up, "seek_256k_c32",
                             lambda t, _: loadgen("GET", self.url(up, t, "large.bin"), "-c", 32, "-d", a.secs,
                                               "--range", f"{256 * KIB}/{a.large}", headers=self.headers(t)),
                             per_req, per_gib)
        if "streams" in scenarios:
            self.interleaved(up, "streams16",
                             lambda t, _: loadgen("GET", self.url(up, t, "large.bin"), "-c", 16, "-n", 16,
                                               headers=self.headers(t)),
                             per_req, per_gib)


def profile(bench, up, secs, out):
    """perf record of bucketgate alone under wrk small-GET load (c=16), then the top of
    `perf report`: self time per symbol, and the same with children (inclusive)."""
    data = os.path.join(bench.procs.workdir, "perf.data")  # hundreds of MB: kept only with --keep
    perf = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "1999", "--call-graph", "dwarf,32768",
                             "-o", data, "-p", str(bench.bg.pid), "--", "sleep", str(secs)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    r = wrk(bench.url(up, "bucketgate", "small.bin"), 16, secs, bench.headers("bucketgate"))
    perf.wait()
    report = []
    for extra in (["--no-children"], ["--children"]):
        rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--percent-limit", "1.5", "-g", "none",
                              "--sort", "symbol", *extra], capture_output=True, text=True)
        report.append("\n".join(l.rstrip(" -") for l in rep.stdout.splitlines() if l and not l.startswith("#")))
    text = (f"# bucketgate under wrk -c16 small GET on {up.name}: {r['rps']:.0f} req/s\n\n## self\n\n"
            f"{report[0]}\n\n## with children\n\n{report[1]}\n")
    with open(out, "w") as f:
        f.write(text)
    print(text)
    log(f"wrote {out}")


def callgrind(bench, up, secs, out):
    """Instruction counts per small GET (wrk, 4 connections) of bucketgate, of bucketgate with the
    operations features with --ops, of the baseline build with --baseline-bin and of the Pingora
    floor with --pingora, under valgrind: exact and repeatable where CPU time here is not. SHA-256
    runs in software under valgrind (no SHA-NI), so its share is far above the native one."""
    text = []
    names = {"bucketgate": "bucketgate", "ops": "bucketgate_ops", "baseline": "bucketgate_baseline",
             "pingora": "pingora_floor"}
    for t, proc in (("bucketgate", bench.bg), ("ops", bench.ops), ("baseline", bench.baseline),
                    ("pingora", bench.floor)):
        if proc is None:
            continue
        url, hdrs = bench.url(up, t, "small.bin"), bench.headers(t)
        wrk(url, 4, 2, hdrs)  # warm: connections, pools, caches
        subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True, capture_output=True)
        r = wrk(url, 4, secs, hdrs)
        subprocess.run(["callgrind_control", "-i", "off", str(proc.pid)], check=True, capture_output=True)
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True, capture_output=True)
        name = names[t]
        data = sorted(f for f in os.listdir(bench.procs.workdir)
                      if f == f"callgrind.{name}" or f.startswith(f"callgrind.{name}."))[-1]
        ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", os.path.join(bench.procs.workdir, data)],
                             capture_output=True, text=True).stdout
        total = next(int(l.split()[0].replace(",", "")) for l in ann.splitlines() if "PROGRAM TOTALS" in l)
        text.append(f"## {name}: {total / r['requests']:,.0f} instructions per request "
                    f"({r['requests']} requests on {up.name})\n")
        keep = ("bucketgate", "jsonwebtoken", "env_logger", "anstream", "serde_json", "sha2", "malloc", "free",
                "memcpy", "memmove", "pingora_proxy::HttpProxy", "pingora_core::protocols::http::v1")
        table = ann.split("file:function", 1)[-1].split("Auto-annotated source", 1)[0]
        rows = [l for l in table.splitlines()
                if "%)" in l and "=>" not in l and any(k in l for k in keep)]
        for l in rows[:45]:
            n = int(l.split()[0].replace(",", ""))
            fn = l.split(":", 1)[-1].split(" [")[0] if ":" in l else l
            text.append(f"{n / r['requests']:>9,.0f}  {l.split('(')[1].split(')')[0]:>7}  {fn[:150]}")
        text.append("")
    with open(out, "w") as f:
        f.write("\n".join(text))
    print("\n".join(text))
    log(f"wrote {out}")


def create_objects(up, bench, large):
    log(f"creating {BUCKET}/small.bin (4 KiB) and {BUCKET}/large.bin ({large // MIB} MiB) on {up.name}")
    for key, size in (("small.bin", 4 * KIB), ("large.bin", large)):
        r = loadgen("PUT", up.url("direct", key, "PUT"), "-n", 1, "--put-size", size)
        if r["ok"] != 1:
            raise SystemExit(f"bench: could not create {key} on {up.name}: {r}")


# ---------------------------------------------------------------- report


def median_of(rows, key):
    vals = [r["m"].get(key) for r in rows]
    vals = [v for v in vals if isinstance(v, (int, float))]
    return statistics.median(vals) if vals else None


def lat(rows, kind, q):
    vals = [r["m"][kind][q] for r in rows]
    return statistics.median(vals) if vals else None


def fmt(v, digits=1):
    if v is None:
        return "–"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def ratio(a, b):
    return f"{a / b:.2f}×" if a is not None and b else "–"


# (label, extractor, higher is better); extractors take the rows of one (upstream, scenario, target)
METRICS = {
    "small_get": [("req/s", lambda r: median_of(r, "rps"), True),
                  ("p50 ms", lambda r: lat(r, "latency_ms", "p50"), False),
                  ("p99 ms", lambda r: lat(r, "latency_ms", "p99"), False),
                  ("p99.9 ms", lambda r: lat(r, "latency_ms", "p999"), False),
                  ("proxy CPU µs/req", lambda r: median_of(r, "proxy_us_per_req"), False)],
    "small_get_half_rate": [("req/s (offered: half direct max)", lambda r: median_of(r, "rps"), True),
                            ("p50 ms", lambda r: lat(r, "latency_ms", "p50"), False),
                            ("p99 ms", lambda r: lat(r, "latency_ms", "p99"), False),
                            ("p99.9 ms", lambda r: lat(r, "latency_ms", "p999"), False),
                            ("proxy CPU µs/req", lambda r: median_of(r, "proxy_us_per_req"), False)],
    "large_get": [("MiB/s", lambda r: median_of(r, "mib_s"), True),
                  ("proxy CPU ms/GiB", lambda r: median_of(r, "proxy_ms_per_gib"), False),
                  ("proxy peak RSS MiB", lambda r: median_of(r, "proxy_hwm_mib"), False)],
    "large_put": [("MiB/s", lambda r: median_of(r, "mib_s"), True),
                  ("proxy CPU ms/GiB", lambda r: median_of(r, "proxy_ms_per_gib"), False),
                  ("proxy peak RSS MiB", lambda r: median_of(r, "proxy_hwm_mib"), False)],
    "seek_256k_c32": [("req/s", lambda r: median_of(r, "rps"), True),
                      ("TTFB p50 ms", lambda r: lat(r, "ttfb_ms", "p50"), False),
                      ("TTFB p99 ms", lambda r: lat(r, "ttfb_ms", "p99"), False),
                      ("TTFB p99.9 ms", lambda r: lat(r, "ttfb_ms", "p999"), False),
                      ("proxy CPU µs/req", lambda r: median_of(r, "proxy_us_per_req"), False),
                      ("proxy CPU ms/GiB", lambda r: median_of(r, "proxy_ms_per_gib"), False)],
    "streams16": [("MiB/s (all 16)", lambda r: median_of(r, "mib_s"), True),
                  ("proxy peak RSS MiB", lambda r: median_of(r, "proxy_hwm_mib"), False),
                  ("proxy CPU ms/GiB", lambda r: median_of(r, "proxy_ms_per_gib"), False)],
}


def metrics_for(scenario):
    return METRICS["small_get"] if scenario.startswith("small_get_c") else METRICS[scenario]


def error_count(m):
    e = m.get("errors") or 0
    return sum(e.values()) if isinstance(e, dict) else e


def failed(m):
    """A round whose figures mean nothing: over 1 % of its requests failed (any, for < 100)."""
    n = error_count(m)
    return n > 0 and (m.get("requests", 0) < 100 or n > 0.01 * m["requests"])


def rows_of(results, up, sc, t):
    """The rounds of one (upstream, scenario, target), failed rounds left out (listed under the table)."""
    return [r for r in results if r["upstream"] == up and r["scenario"] == sc and r["target"] == t
            and not failed(r["m"])]


def report(bench, args, started, elapsed):
    res = bench.results
    out = []
    machine = f"{os.cpu_count()} cores, {platform.machine()}, Linux {platform.release()}"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
        machine = f"{model}, " + machine
    except (OSError, StopIteration):
        pass
    out.append(f"# Load harness results, {started:%Y-%m-%d %H:%M} UTC\n")
    out.append(f"- command: `bash benchmarks/load/run.sh {' '.join(args.argv)}`".rstrip() + f" ({elapsed / 60:.1f} min)")
    out.append(f"- machine: {machine}; client, proxy and upstream share these cores")
    out.append(f"- rounds: {args.rounds}, interleaved ({', '.join(TARGETS)}, then the reverse order); "
               f"figures are the median over rounds; timed scenarios run {args.secs} s; large object "
               f"{args.large // MIB} MiB")
    out.append("- ratios are bucketgate ÷ direct and bucketgate ÷ nginx" +
               ("; bg ÷ baseline is this build ÷ the `--baseline-bin` build, same config, same rounds"
                if "baseline" in TARGETS else "") +
               "; for latency, CPU and memory lower is better (a ratio below 1 means bucketgate is smaller)\n")
    for up in bench.upstreams:
        scen = []
        for r in res:
            if r["upstream"] == up.name and r["scenario"] not in scen:
                scen.append(r["scenario"])
        if not scen:
            continue
        title = {"s3s": "s3s-fs (separate process)", "origin": "nginx serving the files from disk (isolates proxy overhead; no signature checked)",
                 "rgw": "Ceph RGW 16.2 (one node, memstore)"}[up.name]
        out.append(f"## Upstream: {title}\n")
        if up.name in bench.rates:
            out.append(f"Half-rate run offered {bench.rates[up.name]} req/s (half the best direct small-GET req/s).\n")
        if bench.put_sizes.get(up.name, args.large) != args.large:
            out.append(f"PUTs of {bench.put_sizes[up.name] // MIB} MiB here (RGW's memstore holds 4 GiB).\n")
        floor, ops, base = "pingora" in TARGETS, "ops" in TARGETS, "baseline" in TARGETS
        out.append("| scenario | metric | direct | bucketgate | nginx | bg ÷ direct | bg ÷ nginx |" +
                   (" Pingora floor | bg ÷ floor |" if floor else "") +
                   (" bucketgate + ops | ops ÷ bg |" if ops else "") +
                   (" baseline | bg ÷ baseline |" if base else ""))
        out.append("|---|---|---:|---:|---:|---:|---:|" + ("---:|---:|" if floor else "") +
                   ("---:|---:|" if ops else "") + ("---:|---:|" if base else ""))
        for sc in scen:
            for label, ex, _ in metrics_for(sc):
                v = {t: ex(rows_of(res, up.name, sc, t)) for t in TARGETS}
                if all(x is None for x in v.values()):
                    continue
                out.append(f"| {sc} | {label} | {fmt(v['direct'])} | {fmt(v['bucketgate'])} | {fmt(v['nginx'])} | "
                           f"{ratio(v['bucketgate'], v['direct'])} | {ratio(v['bucketgate'], v['nginx'])} |" +
                           (f" {fmt(v['pingora'])} | {ratio(v['bucketgate'], v['pingora'])} |" if floor else "") +
                           (f" {fmt(v['ops'])} | {ratio(v['ops'], v['bucketgate'])} |" if ops else "") +
                           (f" {fmt(v['baseline'])} | {ratio(v['bucketgate'], v['baseline'])} |" if base else ""))
        out.append("")
        for r in res:
            if r["upstream"] == up.name and error_count(r["m"]):
                what = "left out" if failed(r["m"]) else "kept"
                out.append(f"- errors in {r['scenario']} / {r['target']} round {r['round']}: {r['m']['errors']} "
                           f"of {r['m']['requests']} requests, status {r['m'].get('status', '?')} ({what})")
        out.append("")
        out.append(targets(res, up.name, args))
    return "\n".join(out)


def targets(res, up, args):
    """The issue's targets, checked on this upstream's figures."""
    def get(sc, t, ex):
        return ex(rows_of(res, up, sc, t))
    rps = lambda r: median_of(r, "rps")
    lines = ["| target (issue 7) | measured | verdict |", "|---|---|---|"]

    def add(name, measured, ok):
        lines.append(f"| {name} | {measured} | {'met' if ok else '**missed**'} |")

    top = f"small_get_c{max(args.small_conns)}"
    d, b, n = (get(top, t, rps) for t in ("direct", "bucketgate", "nginx"))
    if d and b and n:
        add(f"small GET req/s ≥ 0.95× direct ({top})", f"{b / d:.2f}×", b / d >= 0.95)
        add(f"small GET req/s ≥ nginx ({top})", f"{b / n:.2f}×", b >= n)
        cb, cn = (get(top, t, lambda r: median_of(r, "proxy_us_per_req")) for t in ("bucketgate", "nginx"))
        if cb and cn:
            add("proxy CPU per small request ≤ nginx's", f"{cb:.1f} vs {cn:.1f} µs ({cb / cn:.2f}×)", cb <= cn)
    d, b = (get("small_get_half_rate", t, lambda r: lat(r, "latency_ms", "p99")) for t in ("direct", "bucketgate"))
    if d is not None and b is not None:
        add("p99 at half the direct saturation rate ≤ direct + 1 ms", f"{b:.2f} vs {d:.2f} ms (+{b - d:.2f})", b <= d + 1)
    d, b = (get("large_get", t, lambda r: median_of(r, "mib_s")) for t in ("direct", "bucketgate"))
    if d and b:
        add("1 GiB GET ≥ 0.85× direct", f"{b / d:.2f}×", b / d >= 0.85)
        cb, cn = (get("large_get", t, lambda r: median_of(r, "proxy_ms_per_gib")) for t in ("bucketgate", "nginx"))
        if cb and cn:
            add("proxy CPU per GiB ≤ nginx's", f"{cb:.0f} vs {cn:.0f} ms/GiB ({cb / cn:.2f}×)", cb <= cn)
    d, b = (get("seek_256k_c32", t, rps) for t in ("direct", "bucketgate"))
    if d and b:
        add("seek req/s ≥ 0.90× direct", f"{b / d:.2f}×", b / d >= 0.90)
        d2, b2 = (get("seek_256k_c32", t, lambda r: lat(r, "ttfb_ms", "p99")) for t in ("direct", "bucketgate"))
        add("seek TTFB p99 ≤ direct + 2 ms", f"{b2:.2f} vs {d2:.2f} ms (+{b2 - d2:.2f})", b2 <= d2 + 2)
    d, b = (get("large_put", t, lambda r: median_of(r, "mib_s")) for t in ("direct", "bucketgate"))
    if d and b:
        add("PUT ≥ 0.85× direct", f"{b / d:.2f}×", b / d >= 0.85)
    b = get("streams16", "bucketgate", lambda r: max((x["m"]["proxy_hwm_mib"] for x in r), default=None))
    if b:
        add("peak RSS ≤ 32 MiB with 16 streams (max over rounds)", f"{b:.1f} MiB", b <= 32)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- main


def interrupted(*_):
    raise KeyboardInterrupt


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="a ~2 minute smoke run with small sizes")
    p.add_argument("--upstreams", default=None, help="comma list of s3s,origin,rgw (default: all; --quick: s3s,origin)")
    p.add_argument("--out", default=None, help="the Markdown file (default benchmarks/results/<date>[-quick].md)")
    p.add_argument("--profile", type=int, metavar="SECS", default=None,
                   help="instead of the scenarios: perf record bucketgate under small-GET load for SECS")
    p.add_argument("--callgrind", type=int, metavar="SECS", default=None,
                   help="instead of the scenarios: instructions per small GET under valgrind (bucketgate; "
                        "the Pingora floor, ops and baseline too with --pingora, --ops, --baseline-bin)")
    p.add_argument("--pingora", action="store_true",
                   help="a fourth target: examples/pingora_floor, Pingora with nothing of ours")
    p.add_argument("--ops", action="store_true",
                   help="another target: a second bucketgate with rate limits (never reached), the metrics "
                        "listener, the JSON access log and the upstream log on")
    p.add_argument("--baseline-bin", metavar="PATH", default=None,
                   help="another target: a second bucketgate binary (e.g. built from the commit before a "
                        "change), run with bucketgate's config; the report adds bg ÷ baseline")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, configs)")
    args = p.parse_args()
    args.argv = sys.argv[1:]
    if args.baseline_bin and not (os.path.isfile(args.baseline_bin) and os.access(args.baseline_bin, os.X_OK)):
        p.error(f"--baseline-bin {args.baseline_bin}: not an executable file")
    if args.quick:
        args.rounds, args.secs, args.large, args.small_conns = 2, 2, 64 * MIB, [16]
        default_ups = "s3s,origin"
    else:
        args.rounds, args.secs, args.large, args.small_conns = 2, 4, GIB, [1, 16, 64]
        default_ups = "s3s,origin,rgw"
    wanted = (args.upstreams or default_ups).split(",")
    # which scenarios run on which upstream (benchmarks/README.md says why)
    plan = {"s3s": ["small", "large", "put", "seek"] + (["streams"] if args.quick else []),
            "origin": ["small", "large", "seek", "streams"],
            "rgw": ["small", "large", "put", "seek"]}
    # SIGTERM (timeout, CI) stops every process we started, like Ctrl-C does
    signal.signal(signal.SIGTERM, interrupted)
    started = datetime.now(timezone.utc)
    t0 = time.time()
    workdir = tempfile.mkdtemp(prefix="bucketgate-bench-")
    procs = Procs(workdir, callgrind=bool(args.callgrind))
    rgw_started = False
    try:
        root = os.path.join(workdir, "s3s-root")
        os.makedirs(root)
        upstreams = []
        s3s = start_s3s(procs, root)
        if "s3s" in wanted or "origin" in wanted:
            upstreams.append(s3s)
        if "origin" in wanted:
            upstreams.append(start_origin(procs, workdir, root))
        if "rgw" in wanted:
            rgw_started = True
            upstreams.append(start_rgw())
        nginx = start_nginx_proxy(procs, workdir, upstreams)
        bg, bg_port = start_bucketgate(procs, workdir, upstreams)
        floor = None
        if args.pingora:
            TARGETS.append("pingora")
            floor = start_pingora_floor(procs, upstreams)
        ops = (None, None)
        if args.ops:
            TARGETS.append("ops")
            ops = start_bucketgate(procs, workdir, upstreams, ops=True)
        baseline = (None, None)
        if args.baseline_bin:
            TARGETS.append("baseline")
            baseline = start_bucketgate(procs, workdir, upstreams, binary=os.path.abspath(args.baseline_bin))
        bench = Bench(args, upstreams, bg, bg_port, nginx, mint_jwt(), floor, ops, baseline)
        bench.procs = procs
        for up in upstreams:
            if up.s3 is not None:
                create_objects(up, bench, args.large)
        if args.callgrind:
            up = next(u for u in upstreams if u.name in wanted)
            callgrind(bench, up, args.callgrind, args.out or os.path.join(
                REPO, "benchmarks", "results", f"{started:%Y-%m-%d}-callgrind-{up.name}.txt"))
            return
        if args.profile:
            up = next(u for u in upstreams if u.name in wanted)
            profile(bench, up, args.profile, args.out or os.path.join(
                REPO, "benchmarks", "results", f"{started:%Y-%m-%d}-profile-{up.name}.txt"))
            return
        for up in upstreams:
            if up.name in wanted:
                log(f"upstream {up.name}: {', '.join(plan[up.name])}")
                bench.run_upstream(up, plan[up.name])
        if "s3s" not in wanted:
            bench.upstreams = [u for u in upstreams if u.name != "s3s"]
        md = report(bench, args, started, time.time() - t0)
        out = args.out or os.path.join(REPO, "benchmarks", "results",
                                       f"{started:%Y-%m-%d}{'-quick' if args.quick else ''}.md")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "w") as f:
            f.write(md + "\n")
        with open(out[:-3] + ".json", "w") as f:
            json.dump(bench.results, f, indent=1)
        print(md)
        log(f"wrote {out} (and the raw rounds in {out[:-3]}.json) in {(time.time() - t0) / 60:.1f} min")
    finally:
        procs.stop()
        if rgw_started and not os.environ.get("BENCH_KEEP_RGW"):
            subprocess.run(["bash", os.path.join(REPO, "tests", "rgw.sh"), "stop"], stdout=subprocess.DEVNULL)
        if args.keep:
            log(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
