//! TLS end to end, with the real binary and real curl: HTTP/2 through ALPN downloading a Range,
//! certificates chosen by SNI (wildcards, the default for an unknown or absent name), the
//! minimum TLS version, config errors for bad certificate files, certificates re-read on
//! SIGHUP (and kept when the new files are broken), and an `https` upstream with its own CA and
//! a client certificate, in front of the usual test upstream (s3s-fs or RGW).
//!
//! Certificates are made at test time with the `openssl` CLI (a test CA signing each leaf);
//! nothing private is committed. Without `openssl` or `curl` the tests print SKIPPED, and fail
//! under `CI=true`.

mod common;

use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::gateway::{Gateway, PREAMBLE};
use common::script::have_tool;
use common::upstream::Upstream;
use common::{fresh_bucket, pattern};

/// A test PKI in a temp dir: one CA, and leaf certificates it signs.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    /// None (after a SKIPPED note, or a failure in CI) when openssl or curl is missing.
    fn new() -> Option<Pki> {
        if !have_tool("openssl", "apt-get install openssl")
            || !have_tool("curl", "apt-get install curl")
        {
            return None;
        }
        let pki = Pki {
            dir: tempfile::Builder::new()
                .prefix("bucketgate-pki-")
                .tempdir()
                .unwrap(),
        };
        pki.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=bucketgate test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        Some(pki)
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn ca(&self) -> String {
        self.path("ca.pem")
    }

    fn openssl(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("running openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `<stem>.pem` and `<stem>.key`: a leaf for `cn` with the subject alternative names `sans`
    /// (`DNS:a.test,IP:127.0.0.1`), signed by the CA. Returns (cert path, key path).
    fn leaf(&self, stem: &str, cn: &str, sans: &str) -> (String, String) {
        let ext = format!("{stem}.ext");
        std::fs::write(
            self.dir.path().join(&ext),
            format!(
                "subjectAltName={sans}\nbasicConstraints=CA:FALSE\n\
                 keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n"
            ),
        )
        .unwrap();
        let (key, csr, pem) = (
            format!("{stem}.key"),
            format!("{stem}.csr"),
            format!("{stem}.pem"),
        );
        self.openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            &format!("/CN={cn}"),
        ]);
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            "2",
            "-extfile",
            &ext,
        ]);
        (self.path(&pem), self.path(&key))
    }
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `PREAMBLE` with `more` (more items of `listeners:`) after the plain `{listen}` listener the
/// harness probes, then `routes`.
fn config(more_listeners: &str, routes: &str) -> String {
    let listen = "  - address: {listen}\n";
    assert!(PREAMBLE.contains(listen));
    format!(
        "{}{routes}",
        PREAMBLE.replace(listen, &format!("{listen}{more_listeners}"))
    )
}

/// A TLS listener item on `port` with `certs` (cert, key) and extra `tls:` lines.
fn tls_listener(port: u16, certs: &[(String, String)], extra: &str) -> String {
    let mut s = format!("  - address: 127.0.0.1:{port}\n    tls:\n      certificates:\n");
    for (c, k) in certs {
        s.push_str(&format!("        - cert: {c}\n          key: {k}\n"));
    }
    s.push_str(extra);
    s
}

fn files_route(bucket: &str) -> String {
    format!(
        "routes:
  - name: files
    path_prefix: /files
    upstream: s3
    bucket: {bucket}
    key_prefix: 'pre/'
    methods: [GET, HEAD]
    public: true
"
    )
}

/// curl with a deadline and no proxy.
fn curl(args: &[&str]) -> Output {
    Command::new("curl")
        .args(["--max-time", "15", "--noproxy", "*", "-sS"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running curl")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The subject line curl -v prints for the server's certificate (`CN=...`).
fn served_subject(o: &Output) -> String {
    let err = stderr(o);
    err.lines()
        .find_map(|l| l.trim_start_matches(['*', ' ']).strip_prefix("subject: "))
        .unwrap_or_else(|| panic!("no server certificate subject in curl -v output:\n{err}"))
        .to_string()
}

/// `curl -v` to `https://{name}:{port}/healthz`, `name` resolved to 127.0.0.1, trusting the
/// test CA; `extra` args go first.
fn curl_name(pki: &Pki, name: &str, port: u16, extra: &[&str]) -> Output {
    let resolve = format!("{name}:{port}:127.0.0.1");
    let url = format!("https://{name}:{port}/healthz");
    let ca = pki.ca();
    let mut args: Vec<&str> = extra.to_vec();
    args.extend([
        "-v",
        "-o",
        "/dev/null",
        "--cacert",
        &ca,
        "--resolve",
        &resolve,
        &url,
    ]);
    curl(&args)
}

#[test]
fn http2_over_tls_downloads_a_range() {
    let Some(pki) = Pki::new() else { return };
    let cert = pki.leaf("a", "a.test", "DNS:a.test");
    let bucket = fresh_bucket("tls-h2");
    let body = pattern(7, 64 * 1024);
    Upstream::get().put_object(&bucket, "pre/data.bin", &body, &[]);
    let port = free_port();
    let gw = Gateway::start(&config(
        &tls_listener(port, &[cert], ""),
        &files_route(&bucket),
    ));

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("range.bin");
    let resolve = format!("a.test:{port}:127.0.0.1");
    let url = format!("https://a.test:{port}/files/data.bin");
    let o = curl(&[
        "--http2",
        "--cacert",
        &pki.ca(),
        "--resolve",
        &resolve,
        "-H",
        "Range: bytes=1000-2999",
        "-o",
        out.to_str().unwrap(),
        "-w",
        "%{http_version} %{http_code}",
        &url,
    ]);
    assert!(
        o.status.success(),
        "curl failed: {}\n{}",
        stderr(&o),
        gw.log()
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "2 206",
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(&out).unwrap(), &body[1000..3000]);

    // HTTP/1.1 over TLS on the same listener.
    let o = curl(&[
        "--http1.1",
        "--cacert",
        &pki.ca(),
        "--resolve",
        &resolve,
        "-o",
        out.to_str().unwrap(),
        "-w",
        "%{http_version} %{http_code}",
        &url,
    ]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "1.1 200",
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(&out).unwrap(), body);

    // Plain HTTP on the TLS port is no way around it.
    let plain = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("http://127.0.0.1:{port}/files/data.bin"),
    ]);
    assert_ne!(String::from_utf8_lossy(&plain.stdout), "200");
}

#[test]
fn http2_false_offers_only_http11() {
    let Some(pki) = Pki::new() else { return };
    let cert = pki.leaf("a", "a.test", "DNS:a.test");
    let port = free_port();
    let _gw = Gateway::start(&config(
        &tls_listener(port, &[cert], "      http2: false\n"),
        &files_route("unused"),
    ));
    let o = curl_name(&pki, "a.test", port, &["--http2", "-w", "%{http_version}"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "1.1");
}

#[test]
fn sni_picks_the_certificate() {
    let Some(pki) = Pki::new() else { return };
    let a = pki.leaf("a", "a.test", "DNS:a.test");
    let wild = pki.leaf("wild", "wild.b.test", "DNS:*.b.test");
    let exact = pki.leaf("exact", "exact.b.test", "DNS:x.b.test");
    let port = free_port();
    let gw = Gateway::start(&config(
        &tls_listener(port, &[a, wild, exact], ""),
        &files_route("unused"),
    ));

    for (name, want) in [
        ("a.test", "CN=a.test"),
        ("y.b.test", "CN=wild.b.test"),
        ("Y.B.Test", "CN=wild.b.test"),
        // An exact name wins over a wildcard listed before it.
        ("x.b.test", "CN=exact.b.test"),
    ] {
        let o = curl_name(&pki, name, port, &[]);
        assert!(o.status.success(), "{name}: {}\n{}", stderr(&o), gw.log());
        assert_eq!(served_subject(&o), want, "{name}");
    }
    // An unknown name and no SNI at all (curl sends none for an IP) get the first certificate,
    // which the client then rightly refuses to trust for that name.
    let o = curl_name(&pki, "unknown.test", port, &["-k"]);
    assert_eq!(served_subject(&o), "CN=a.test");
    let o = curl_name(&pki, "unknown.test", port, &[]);
    assert!(
        !o.status.success(),
        "a certificate for a.test passed for unknown.test"
    );
    let o = curl(&[
        "-k",
        "-v",
        "-o",
        "/dev/null",
        &format!("https://127.0.0.1:{port}/healthz"),
    ]);
    assert_eq!(served_subject(&o), "CN=a.test");
    // Two levels under the wildcard are not covered.
    let o = curl_name(&pki, "deep.y.b.test", port, &["-k"]);
    assert_eq!(served_subject(&o), "CN=a.test");
}

#[test]
fn min_version_13_refuses_tls12_clients() {
    let Some(pki) = Pki::new() else { return };
    let cert = pki.leaf("a", "a.test", "DNS:a.test");
    let (p12, p13) = (free_port(), free_port());
    let listeners = format!(
        "{}{}",
        tls_listener(p12, std::slice::from_ref(&cert), ""),
        tls_listener(p13, &[cert], "      min_version: \"1.3\"\n")
    );
    let gw = Gateway::start(&config(&listeners, &files_route("unused")));

    let only12 = ["--tlsv1.2", "--tls-max", "1.2"];
    let o = curl_name(&pki, "a.test", p12, &only12);
    assert!(
        o.status.success(),
        "the default (1.2) refused TLS 1.2: {}\n{}",
        stderr(&o),
        gw.log()
    );
    assert!(
        stderr(&o).contains("SSL connection using TLSv1.2"),
        "{}",
        stderr(&o)
    );

    let o = curl_name(&pki, "a.test", p13, &only12);
    assert!(
        !o.status.success(),
        "min_version 1.3 accepted a TLS 1.2-only client:\n{}",
        stderr(&o)
    );
    assert!(
        !stderr(&o).contains("SSL connection using"),
        "{}",
        stderr(&o)
    );

    let o = curl_name(&pki, "a.test", p13, &["--tlsv1.3"]);
    assert!(
        o.status.success(),
        "min_version 1.3 refused TLS 1.3: {}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("SSL connection using TLSv1.3"),
        "{}",
        stderr(&o)
    );
    // ... and its requests are served (the 1.3-only gate on requests lets TLS 1.3 through).
    assert!(
        stderr(&o).contains("< HTTP/2 200") || stderr(&o).contains("< HTTP/1.1 200"),
        "{}",
        stderr(&o)
    );
}

/// `bucketgate check -c` on `yaml`: (exit code, stderr).
fn check(yaml: &str) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bucketgate.yaml");
    std::fs::write(&file, yaml).unwrap();
    let out = Command::new(Gateway::bin())
        .args(["check", "-c", file.to_str().unwrap()])
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        file.display().to_string(),
    )
}

/// A complete config whose first listener is `listener` (indented list item lines) and whose
/// upstream gets `upstream_extra` lines.
fn check_config(listener: &str, upstream_extra: &str) -> String {
    format!(
        "listeners:
{listener}upstreams:
  s3:
    endpoints: [127.0.0.1:9]
    credentials: {{access_key_id: AK, secret_access_key: SK}}
{upstream_extra}routes:
  - {{name: files, path_prefix: /f, upstream: s3, bucket: bkt, public: true}}
"
    )
}

#[test]
fn bad_certificate_files_are_config_errors_with_a_place() {
    let Some(pki) = Pki::new() else { return };
    let (a_cert, a_key) = pki.leaf("a", "a.test", "DNS:a.test");
    let (_, b_key) = pki.leaf("b", "b.test", "DNS:b.test");
    let garbage = pki.path("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let listener = |cert: &str, key: &str| {
        format!("  - address: 127.0.0.1:8443\n    tls:\n      certificates:\n        - cert: {cert}\n          key: {key}\n")
    };

    // The good pair passes.
    let (code, err, _) = check(&check_config(&listener(&a_cert, &a_key), ""));
    assert_eq!(code, Some(0), "{err}");

    // Line 5 is `- cert:` (col 11), line 6 `key:` (col 11).
    let missing = pki.path("missing.pem");
    for (cert, key, place, fragment) in [
        (
            missing.as_str(),
            a_key.as_str(),
            "5:11: listeners[0].tls.certificates[0].cert",
            "cannot read",
        ),
        (
            a_cert.as_str(),
            b_key.as_str(),
            "6:11: listeners[0].tls.certificates[0].key",
            "is not the private key of the certificate",
        ),
        (
            garbage.as_str(),
            a_key.as_str(),
            "5:11: listeners[0].tls.certificates[0].cert",
            "not a valid PEM",
        ),
        (
            a_cert.as_str(),
            a_cert.as_str(),
            "6:11: listeners[0].tls.certificates[0].key",
            "no private key",
        ),
    ] {
        let (code, err, file) = check(&check_config(&listener(cert, key), ""));
        assert_eq!(code, Some(1), "{err}");
        let want = format!("{file}:{place}: ");
        let line = err
            .lines()
            .find(|l| l.starts_with(&want))
            .unwrap_or_else(|| panic!("no {want:?} in:\n{err}"));
        assert!(line.contains(fragment), "{line}");
        for f in [cert, key] {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            for l in text
                .lines()
                .filter(|l| !l.starts_with("-----") && l.len() > 8)
            {
                assert!(!err.contains(l), "contents of {f} leaked: {err}");
            }
        }
    }

    // No certificates; an unknown version.
    let (code, err, file) = check(&check_config(
        "  - address: 127.0.0.1:8443\n    tls: {certificates: []}\n",
        "",
    ));
    assert_eq!(code, Some(1));
    assert!(
        err.contains(&format!(
            "{file}:3:11: listeners[0].tls.certificates: list at least one"
        )),
        "{err}"
    );
    let (code, err, file) = check(&check_config(
        &format!("  - address: 127.0.0.1:8443\n    tls: {{certificates: [{{cert: {a_cert}, key: {a_key}}}], min_version: 1.1}}\n"),
        "",
    ));
    assert_eq!(code, Some(1));
    assert!(
        err.contains(&format!("{file}:3:")) && err.contains("unsupported TLS version \"1.1\""),
        "{err}"
    );

    // Upstream tls: needs https; client_cert needs client_key; a CA file must hold certificates.
    let plain = "  - address: 127.0.0.1:8080\n";
    let (_, err, file) = check(&check_config(
        plain,
        &format!("    tls: {{ca_file: {}}}\n", pki.ca()),
    ));
    assert!(
        err.contains(&format!(
            "{file}:7:5: upstreams.s3.tls: upstream `s3` is plain HTTP"
        )),
        "{err}"
    );
    let (_, err, file) = check(&check_config(
        plain,
        &format!("    scheme: https\n    tls: {{client_cert: {a_cert}}}\n"),
    ));
    assert!(
        err.contains(&format!(
            "{file}:8:11: upstreams.s3.tls.client_cert: needs client_key"
        )),
        "{err}"
    );
    let (_, err, file) = check(&check_config(
        plain,
        &format!("    scheme: https\n    tls: {{ca_file: {a_key}}}\n"),
    ));
    assert!(
        err.contains(&format!("{file}:8:11: upstreams.s3.tls.ca_file: ")),
        "{err}"
    );
    assert!(err.contains("no certificate"), "{err}");
    let (_, err, _) = check(&check_config(
        plain,
        &format!("    scheme: https\n    tls: {{client_cert: {a_cert}, client_key: {b_key}}}\n"),
    ));
    assert!(
        err.contains("upstreams.s3.tls.client_key: ") && err.contains("is not the private key"),
        "{err}"
    );
    let (code, err, _) = check(&check_config(plain, &format!("    scheme: https\n    tls: {{ca_file: {}, client_cert: {a_cert}, client_key: {a_key}}}\n", pki.ca())));
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn sighup_rereads_certificates_and_keeps_them_when_broken() {
    let Some(pki) = Pki::new() else { return };
    let (cert, key) = pki.leaf("a", "a.test", "DNS:a.test");
    // The files the gateway reads; renewed by copying other files over them.
    let (live_cert, live_key) = (pki.path("live.pem"), pki.path("live.key"));
    std::fs::copy(&cert, &live_cert).unwrap();
    std::fs::copy(&key, &live_key).unwrap();
    let port = free_port();
    let mut gw = Gateway::start(&config(
        &tls_listener(port, &[(live_cert.clone(), live_key.clone())], ""),
        &files_route("unused"),
    ));
    assert_eq!(
        served_subject(&curl_name(&pki, "a.test", port, &[])),
        "CN=a.test"
    );

    // Renewed: a new key and certificate for the same name.
    let (new_cert, new_key) = pki.leaf("renewed", "a.test renewed", "DNS:a.test");
    std::fs::copy(&new_cert, &live_cert).unwrap();
    std::fs::copy(&new_key, &live_key).unwrap();
    gw.signal("HUP");
    gw.wait_for_log("reload: now serving", Duration::from_secs(10));
    let o = curl_name(&pki, "a.test", port, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(served_subject(&o), "CN=a.test renewed");

    // Broken: the certificate no longer matches the key. Rejected, the renewed one serves on.
    std::fs::copy(&cert, &live_cert).unwrap();
    gw.signal("HUP");
    let log = gw.wait_for_log(
        "rejected, the previous config keeps serving",
        Duration::from_secs(10),
    );
    assert!(
        log.contains("is not the private key of the certificate"),
        "{log}"
    );
    let o = curl_name(&pki, "a.test", port, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(served_subject(&o), "CN=a.test renewed");
    assert!(gw.is_running());
}

/// A TLS front for the test upstream: terminates TLS with `server` (a rustls config) and
/// relays the bytes to the upstream. Returns its port; runs until the test process ends.
fn https_front(server: rustls::ServerConfig) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let upstream = Upstream::get().endpoint();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            listener.set_nonblocking(true).unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut plain) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
    });
    port
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn pem_certs(path: &str) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_file_iter(path)
        .unwrap()
        .map(|c| c.unwrap())
        .collect()
}

/// A rustls server config for `cert`/`key` that requires a client certificate signed by the
/// test CA.
fn front_config(pki: &Pki, cert: &(String, String)) -> rustls::ServerConfig {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in pem_certs(&pki.ca()) {
        roots.add(c).unwrap();
    }
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .unwrap();
    rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            pem_certs(&cert.0),
            rustls::pki_types::PrivateKeyDer::from_pem_file(&cert.1).unwrap(),
        )
        .unwrap()
}

#[test]
fn https_upstream_with_its_own_ca_and_a_client_certificate() {
    let Some(pki) = Pki::new() else { return };
    let server = pki.leaf(
        "upstream",
        "upstream.test",
        "DNS:upstream.test,IP:127.0.0.1",
    );
    let (client_cert, client_key) = pki.leaf("client", "bucketgate client", "DNS:client.test");
    let bucket = fresh_bucket("tls-up");
    let body = pattern(11, 10_000);
    Upstream::get().put_object(&bucket, "pre/obj.bin", &body, &[]);
    let up = Upstream::get();

    // One front per upstream, so no pooled connection is shared between cases.
    let upstream = |name: &str, tls: &str| {
        let port = https_front(front_config(&pki, &server));
        format!(
            "  {name}:
    endpoints: [127.0.0.1:{port}]
    scheme: https
    credentials: {{access_key_id: \"{}\", secret_access_key: \"{}\"}}
    tls: {tls}
",
            up.access_key(),
            up.secret_key()
        )
    };
    let ca = pki.ca();
    let upstreams = [
        (
            "good",
            format!("{{ca_file: {ca}, client_cert: {client_cert}, client_key: {client_key}}}"),
        ),
        ("nocert", format!("{{ca_file: {ca}}}")),
        (
            "noca",
            format!("{{client_cert: {client_cert}, client_key: {client_key}}}"),
        ),
        (
            "noverify",
            format!("{{verify: false, client_cert: {client_cert}, client_key: {client_key}}}"),
        ),
    ];
    let mut yaml = PREAMBLE.to_string();
    let mut routes = String::from("routes:\n");
    for (name, tls) in &upstreams {
        yaml.push_str(&upstream(name, tls));
        routes.push_str(&format!(
            "  - {{name: {name}, path_prefix: /{name}, upstream: {name}, bucket: {bucket}, key_prefix: 'pre/', public: true}}\n"
        ));
    }
    yaml.push_str(&routes);
    let gw = Gateway::start(&yaml);

    let get = |name: &str| common::client::get(gw.addr(), &format!("/{name}/obj.bin"));
    let r = get("good");
    assert_eq!(r.status, 200, "{}\n{}", r.text(), gw.log());
    assert_eq!(r.body, body);
    // Without the client certificate the upstream refuses the handshake; without the CA the
    // upstream's certificate is not trusted.
    assert_eq!(get("nocert").status, 502);
    assert_eq!(get("noca").status, 502);
    // verify: false trusts any certificate.
    let r = get("noverify");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, body);
}

/// Pingora pools upstream connections by address, SNI and client certificate, not by the CA
/// that verified them: two upstreams on one endpoint that trust different CAs must not share a
/// pooled connection, or the second would skip its own verification.
#[test]
fn upstreams_trusting_different_cas_never_share_a_pooled_connection() {
    let Some(pki) = Pki::new() else { return };
    let Some(stranger) = Pki::new() else { return };
    let server = pki.leaf("upstream", "upstream.test", "IP:127.0.0.1");
    let (client_cert, client_key) = pki.leaf("client", "bucketgate client", "DNS:client.test");
    let bucket = fresh_bucket("tls-reuse");
    let body = pattern(12, 5_000);
    let up = Upstream::get();
    up.put_object(&bucket, "obj.bin", &body, &[]);
    let port = https_front(front_config(&pki, &server));
    let upstream = |name: &str, ca: &str| {
        format!(
            "  {name}:
    endpoints: [127.0.0.1:{port}]
    scheme: https
    credentials: {{access_key_id: \"{}\", secret_access_key: \"{}\"}}
    tls: {{ca_file: {ca}, client_cert: {client_cert}, client_key: {client_key}}}
",
            up.access_key(),
            up.secret_key()
        )
    };
    let yaml = format!(
        "{PREAMBLE}{}{}routes:
  - {{name: trusted, path_prefix: /trusted, upstream: trusted, bucket: {bucket}, public: true}}
  - {{name: stranger, path_prefix: /stranger, upstream: stranger, bucket: {bucket}, public: true}}
",
        upstream("trusted", &pki.ca()),
        upstream("stranger", &stranger.ca())
    );
    let gw = Gateway::start(&yaml);
    let get = |name: &str| common::client::get(gw.addr(), &format!("/{name}/obj.bin"));
    for _ in 0..3 {
        let r = get("trusted");
        assert_eq!(r.status, 200, "{}\n{}", r.text(), gw.log());
        assert_eq!(r.body, body);
        // A connection verified against the right CA is idle in the pool now.
        assert_eq!(
            get("stranger").status,
            502,
            "the upstream whose CA did not sign the certificate was served:\n{}",
            gw.log()
        );
    }
}

/// `conf/tls.yaml` passes `bucketgate check` with real files in its variables, and a key that
/// belongs to another certificate is refused at its `key:` line.
#[test]
fn conf_example_checks() {
    let Some(pki) = Pki::new() else { return };
    let (media_cert, media_key) = pki.leaf("media", "media.example.org", "DNS:media.example.org");
    let (wild_cert, wild_key) = pki.leaf("wild", "wildcard.example.net", "DNS:*.example.net");
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = |media_key: &str| {
        Command::new(Gateway::bin())
            .args(["check", "-c", "conf/tls.yaml"])
            .current_dir(repo)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs([
                ("MEDIA_CERT", media_cert.as_str()),
                ("MEDIA_KEY", media_key),
                ("WILDCARD_CERT", wild_cert.as_str()),
                ("WILDCARD_KEY", wild_key.as_str()),
                ("RGW_CA_FILE", pki.ca().as_str()),
                ("RGW_ACCESS_KEY", "AK"),
                ("RGW_SECRET_KEY", "SK"),
            ])
            .output()
            .unwrap()
    };
    let ok = run(&media_key);
    assert!(ok.status.success(), "{}", stderr(&ok));

    let bad = run(&wild_key);
    assert_eq!(bad.status.code(), Some(1), "{}", stderr(&bad));
    let text = std::fs::read_to_string(repo.join("conf/tls.yaml")).unwrap();
    let line = 1 + text
        .lines()
        .position(|l| l.contains("key: ${MEDIA_KEY}"))
        .expect("the MEDIA_KEY line");
    let want = format!(
        "conf/tls.yaml:{line}:11: listeners[0].tls.certificates[0].key: {wild_key} is not the private key of the certificate in {media_cert}"
    );
    assert!(
        stderr(&bad).contains(&want),
        "want {want:?} in:\n{}",
        stderr(&bad)
    );
}

/// Requests on a TLS listener count as HTTPS for the plugins (`RequestView.tls`): the OIDC
/// plugin's logout (a POST; a GET only shows its confirmation) clears its cookie with `Secure`
/// over TLS, and without it over plain HTTP. (Logout needs no provider: with none reachable it
/// still answers.)
#[test]
fn plugins_see_tls_listeners_as_https() {
    let Some(pki) = Pki::new() else { return };
    let cert = pki.leaf("a", "a.test", "DNS:a.test");
    let port = free_port();
    let routes = "access_keys:
  sealing_keys:
    - {id: k1, key: \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"}
routes:
  - name: sso
    path_prefix: /
    upstream: s3
    bucket: unused
    auth:
      - oidc:
          issuer: http://127.0.0.1:9/
          client_id: bucketgate
          client_secret: \"not-used\"
          redirect_url: http://{listen}/_bucketgate/oidc/callback
          post_logout_url: /bye
          grants:
            - {bucket: unused, prefix: \"users/{sub}/\", operations: [read]}
";
    let gw = Gateway::start(&config(&tls_listener(port, &[cert], ""), routes));
    let logout = "/_bucketgate/oidc/logout";
    let resolve = format!("a.test:{port}:127.0.0.1");
    let over_tls = curl(&[
        "-D",
        "-",
        "-o",
        "/dev/null",
        "--cacert",
        &pki.ca(),
        "--resolve",
        &resolve,
        "--data",
        "",
        &format!("https://a.test:{port}{logout}"),
    ]);
    let plain = curl(&["-D", "-", "-o", "/dev/null", "--data", "", &gw.url(logout)]);
    let cookie = |o: &Output| -> String {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
            .unwrap_or_else(|| panic!("no Set-Cookie in {:?}\n{}", o, gw.log()))
            .to_string()
    };
    assert!(
        cookie(&over_tls).contains("Secure"),
        "{}",
        cookie(&over_tls)
    );
    assert!(!cookie(&plain).contains("Secure"), "{}", cookie(&plain));
}
