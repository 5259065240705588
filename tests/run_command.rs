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

/// conf/bucketgate.service runs commands this binary accepts: every bucketgate command line of
/// the unit (with `-d` swapped for `-t`, so `run` loads everything and exits) succeeds on a
/// valid config; and `systemd-analyze verify` finds nothing wrong beyond the binary not being
/// installed here.
#[test]
fn systemd_unit_commands_are_accepted() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/conf/bucketgate.service"
    ))
    .expect("conf/bucketgate.service");
    let dir = tempfile::tempdir().unwrap();
    let conf = config(dir.path(), "bucket: data");
    let mut commands = 0;
    for line in unit.lines().filter(|l| !l.starts_with('#')) {
        let Some((key, cmd)) = line.split_once('=') else {
            continue;
        };
        let Some(args) = cmd.strip_prefix("/usr/local/bin/bucketgate ") else {
            continue;
        };
        assert!(key.starts_with("Exec"), "{line}");
        let args: Vec<&str> = args
            .split_whitespace()
            .map(|a| match a {
                "/etc/bucketgate/bucketgate.yaml" => conf.to_str().unwrap(),
                "-d" => "-t",
                other => other,
            })
            .collect();
        let (code, out) = bucketgate(&args);
        assert_eq!(code, Some(0), "{line}: {out}");
        commands += 1;
    }
    assert!(
        commands >= 3,
        "ExecStartPre, ExecStart and ExecReload use bucketgate"
    );
    assert!(unit.contains("ExecReload=/bin/kill -HUP $MAINPID"));
    match Command::new("systemd-analyze")
        .args([
            "verify",
            concat!(env!("CARGO_MANIFEST_DIR"), "/conf/bucketgate.service"),
        ])
        .output()
    {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stderr).into_owned()
                + &String::from_utf8_lossy(&out.stdout);
            let problems: Vec<&str> = text
                .lines()
                .filter(|l| !l.contains("is not executable") && !l.trim().is_empty())
                .collect();
            assert!(problems.is_empty(), "systemd-analyze verify: {problems:?}");
        }
        Err(_) => eprintln!("systemd-analyze not installed: unit syntax not verified"),
    }
}
