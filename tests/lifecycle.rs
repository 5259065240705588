//! The process lifecycle operators rely on: SIGTERM drains (with `/readyz` at 503 first), SIGQUIT
//! hands the listening sockets to a `run -u` successor without failing a request, and SIGHUP
//! reloads the config, keeping the old one when the new one is broken.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use common::client::{self, try_request, try_request_to_sink};
use common::gateway::{Gateway, PREAMBLE};
use common::{fresh_bucket, pattern_fill, pattern_sha256, wait_until};

fn route(prefix: &str, bucket: &str) -> String {
    format!(
        "routes:\n  - name: files\n    path_prefix: {prefix}\n    upstream: s3\n    bucket: {bucket}\n    methods: [GET, HEAD, PUT]\n    public: true\n"
    )
}

/// The test preamble with other drain settings.
fn preamble(grace: u64, notice: u64) -> String {
    PREAMBLE
        .replace(
            "  grace_period_seconds: 0\n",
            &format!("  grace_period_seconds: {grace}\n"),
        )
        .replace(
            "  drain_notice_seconds: 0\n",
            &format!("  drain_notice_seconds: {notice}\n"),
        )
}

const BIG: u64 = 256 * 1024 * 1024;

#[test]
fn sigterm_during_a_256_mib_download_finishes_it_byte_exact_with_readyz_503_first() {
    let bucket = fresh_bucket("drain");
    let yaml = format!("{}{}", preamble(90, 3), route("/files", &bucket));
    let mut gw = Gateway::start(&yaml);
    let put =
        client::request_streaming_body(gw.addr(), "PUT", "/files/big.bin", &[], BIG, |o, b| {
            pattern_fill(7, o, b)
        });
    put.assert_status(200);
    client::get(gw.addr(), "/readyz").assert_status(200);

    // A client that reads at most about 100 MiB/s (less in debug builds on a busy machine), so
    // the download spans the SIGTERM, the drain notice and usually the drain itself. The grace
    // period is generous: a slow CI machine must not cut the transfer.
    let received = Arc::new(AtomicU64::new(0));
    let addr = gw.addr().to_string();
    let progress = received.clone();
    let download = std::thread::spawn(move || {
        let mut hash = Sha256::new();
        let mut since_pause = 0usize;
        let resp = try_request_to_sink(&addr, "GET", "/files/big.bin", &[], |chunk| {
            hash.update(chunk);
            progress.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            since_pause += chunk.len();
            if since_pause >= 1 << 20 {
                since_pause = 0;
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        (resp, hex::encode(hash.finalize()))
    });
    wait_until("the download to get going", Duration::from_secs(30), || {
        received.load(Ordering::Relaxed) >= 16 << 20
    });
    gw.signal("TERM");
    // During the notice the listener still answers, and says it is going away.
    gw.wait_for_log("SIGTERM: /readyz answers 503", Duration::from_secs(5));
    let ready = client::get(gw.addr(), "/readyz");
    ready.assert_status(503);
    assert_eq!(ready.json()["status"], "draining");

    let (resp, sha) = download.join().expect("download thread");
    let resp = resp.expect("the download survives the drain");
    assert_eq!(resp.status, 200);
    assert_eq!(received.load(Ordering::Relaxed), BIG, "every byte arrived");
    assert_eq!(sha, pattern_sha256(7, BIG), "byte-exact");
    // After the notice the listeners close (the process then sits out its grace period, which
    // the harness cuts short when `gw` drops).
    gw.wait_for_log("Graceful shutdown started", Duration::from_secs(10));
    wait_until("the listener to close", Duration::from_secs(10), || {
        std::net::TcpStream::connect(gw.addr()).is_err()
    });
}

#[test]
fn sigquit_upgrade_under_a_request_loop_fails_no_request() {
    let bucket = fresh_bucket("upgrade");
    let yaml = format!("{}{}", preamble(1, 0), route("/files", &bucket));
    let mut gw = Gateway::start(&yaml);
    client::request(gw.addr(), "PUT", "/files/k.txt", &[], Some(b"served")).assert_status(200);

    let stop = Arc::new(AtomicBool::new(false));
    let addr = gw.addr().to_string();
    let stopping = stop.clone();
    let looping = std::thread::spawn(move || {
        let (mut ok, mut failed) = (0u64, Vec::new());
        while !stopping.load(Ordering::Relaxed) {
            match try_request(&addr, "GET", "/files/k.txt", &[], None) {
                Ok(r) if r.status == 200 && r.body == b"served" => ok += 1,
                Ok(r) => failed.push(format!("status {}: {}", r.status, r.text())),
                Err(e) => failed.push(e.to_string()),
            }
        }
        (ok, failed)
    });
    let successor = gw.spawn_successor();
    gw.signal("QUIT");
    wait_until(
        "the successor to hold the listening socket",
        Duration::from_secs(20),
        || successor.listens_on(gw.addr()),
    );
    assert!(
        gw.wait_exit(Duration::from_secs(30)).is_some(),
        "the old process exits after handing over"
    );
    // Keep the loop going against the successor alone for a moment.
    let served_before = successor_gets(&successor);
    wait_until(
        "the successor to serve the loop",
        Duration::from_secs(20),
        || successor_gets(&successor) >= served_before + 20,
    );
    stop.store(true, Ordering::Relaxed);
    let (ok, failed) = looping.join().expect("loop thread");
    assert!(
        failed.is_empty(),
        "{} failed requests: {failed:?}",
        failed.len()
    );
    assert!(ok >= 20, "the loop ran ({ok} requests)");
    assert!(
        gw.log().contains("listener sockets sent"),
        "old log:\n{}",
        gw.log()
    );
}

/// GETs of k.txt in the successor's access log.
fn successor_gets(s: &common::gateway::Successor) -> usize {
    s.log()
        .lines()
        .filter(|l| l.contains("GET route=files") && l.contains("status=200"))
        .count()
}

#[test]
fn sighup_reloads_a_good_config_and_keeps_the_old_one_on_a_broken_one() {
    let bucket = fresh_bucket("reload");
    let yaml = format!("{}{}", preamble(0, 0), route("/files", &bucket));
    let mut gw = Gateway::start(&yaml);
    client::request(gw.addr(), "PUT", "/files/k.txt", &[], Some(b"v1")).assert_status(200);
    let config = std::fs::read_to_string(gw.config_path()).unwrap();

    // A broken config: a typo'd key. The old config keeps serving, and the log says why.
    std::fs::write(
        gw.config_path(),
        config.replace("    bucket:", "    bukket:"),
    )
    .unwrap();
    gw.signal("HUP");
    let log = gw.wait_for_log(
        "rejected, the previous config keeps serving",
        Duration::from_secs(10),
    );
    assert!(
        log.contains("bukket"),
        "the reason names the bad key:\n{log}"
    );
    client::get(gw.addr(), "/files/k.txt").assert_status(200);
    client::get(gw.addr(), "/readyz").assert_status(200);

    // A YAML syntax error is rejected the same way.
    std::fs::write(gw.config_path(), "routes: [\n").unwrap();
    gw.signal("HUP");
    wait_until("the second rejection", Duration::from_secs(10), || {
        gw.log()
            .matches("rejected, the previous config keeps serving")
            .count()
            == 2
    });
    client::get(gw.addr(), "/files/k.txt").assert_status(200);

    // A good config with the route moved: the new prefix serves, the old one is gone.
    // A setting a running process cannot change is named in the log.
    std::fs::write(
        gw.config_path(),
        config
            .replace("path_prefix: /files", "path_prefix: /renamed")
            .replace("  threads: 2\n", "  threads: 3\n"),
    )
    .unwrap();
    gw.signal("HUP");
    let log = gw.wait_for_log("reload: now serving", Duration::from_secs(10));
    assert!(
        log.contains("reload: server.threads changed; it takes effect only after an upgrade"),
        "{log}"
    );
    let r = client::get(gw.addr(), "/renamed/k.txt");
    r.assert_status(200);
    assert_eq!(r.body, b"v1");
    client::get(gw.addr(), "/files/k.txt").assert_status(404);
    client::get(gw.addr(), "/readyz").assert_status(200);
    assert!(gw.is_running());
}
