//! `bucketgate run`: it takes Pingora's flags, and refuses a bad config the way `check` does,
//! before anything listens.

use std::process::Command;

fn config(dir: &std::path::Path, bucket_line: &str) -> std::path::PathBuf {
    let path = dir.join("bucketgate.yaml");
    let text = format!(
        "server:
  grace_period_seconds: 0
  pid_file: {d}/pid
  upgrade_sock: {d}/upgrade.sock
listeners:
  - address: 127.0.0.1:1
upstreams:
  local:
    endpoints: [127.0.0.1:9]
    credentials: {{access_key_id: a, secret_access_key: b}}
routes:
  - path_prefix: /files
    upstream: local
    {bucket_line}
    public: true
",
        d = dir.display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn bucketgate(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bucketgate"))
        .args(args)
        .output()
        .expect("run bucketgate");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn run_refuses_a_bad_config_before_listening() {
    let dir = tempfile::tempdir().unwrap();
    let conf = config(dir.path(), "bukcet: data");
    let conf = conf.to_str().unwrap();
    for args in [vec!["run", "-c", conf], vec!["-c", conf]] {
        let (code, out) = bucketgate(&args);
        assert_eq!(code, Some(1), "{args:?}: {out}");
        assert!(out.contains(&format!("{conf}:14:5:")), "{args:?}: {out}");
        assert!(out.contains("test failed"), "{out}");
        assert!(!out.contains("Server starting"), "it started anyway: {out}");
    }
}

#[test]
fn run_test_flag_loads_everything_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let conf = config(dir.path(), "bucket: data");
    let (code, out) = bucketgate(&["run", "-c", conf.to_str().unwrap(), "-t"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("Server Test passed"), "{out}");
}
