//! Checks of the observability settings: the top-level `metrics` section (typed here, since it
//! needs the listeners to catch a clash) and the `server` log keys (`upstream_log`). Kept apart
//! from validate.rs so the operations work of issue 6 does not pile into one file.

use std::collections::HashSet;
use std::net::SocketAddr;

use serde_yaml::{Mapping, Value};

use super::model::{Listener, MetricsConfig, ServerConfig};
use super::path::Path;
use super::problem::Reporter;
use super::typed::typed;

/// Types and checks `metrics`: `Some(None)` when absent, `None` when it did not type.
pub fn metrics_section(
    top: &Mapping,
    listeners: &[(usize, Listener)],
    substituted: &HashSet<Path>,
    r: &mut Reporter,
) -> Option<Option<MetricsConfig>> {
    let at = Path::root().key("metrics");
    let metrics = match top.get("metrics") {
        None | Some(Value::Null) => return Some(None),
        Some(v) => typed::<MetricsConfig>(v, &at, substituted, r)?,
    };
    check_metrics(&metrics, listeners, &at, r);
    Some(Some(metrics))
}

fn check_metrics(m: &MetricsConfig, listeners: &[(usize, Listener)], at: &Path, r: &mut Reporter) {
    if let Some((i, _)) = listeners
        .iter()
        .find(|(_, l)| clash(l.address.0, m.address.0))
    {
        let line = r.line_of(&Path::root().key("listeners").index(*i));
        r.at(
            &at.key("address"),
            format!(
                "{} is already a proxy listener (line {line}); metrics need a port of their own",
                m.address.0
            ),
        );
    }
    if let Err(why) = check_path(&m.path) {
        r.at(&at.key("path"), why);
    }
}

/// Two addresses that cannot both be bound: the same port on the same IP, or on any IP when
/// one of them is the wildcard.
fn clash(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port() && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

fn check_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!(
            "{path:?} must start with `/`, for example /metrics"
        ));
    }
    if let Some(c) = path
        .chars()
        .find(|c| matches!(c, '?' | '#') || c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "{path:?} contains {c:?}: a plain path such as /metrics is expected"
        ));
    }
    Ok(())
}

/// `server.upstream_log`: a file path whose directory exists.
pub fn check_server(server: &ServerConfig, r: &mut Reporter) {
    let Some(file) = server.upstream_log.as_deref() else {
        return;
    };
    let at = Path::root().key("server").key("upstream_log");
    if let Err(why) = check_log_file(file) {
        r.at(&at, why);
    }
}

fn check_log_file(file: &str) -> Result<(), String> {
    if file.trim().is_empty() {
        return Err("is empty: give a file path, or omit the key to turn the log off".into());
    }
    let path = std::path::Path::new(file);
    if path.is_dir() {
        return Err(format!(
            "{file:?} is a directory: give a file path inside it"
        ));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    if !dir.is_dir() {
        return Err(format!(
            "the directory {} of {file:?} does not exist",
            dir.display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_paths() {
        assert!(check_path("/metrics").is_ok());
        assert!(check_path("/-/prometheus").is_ok());
        assert!(check_path("metrics").is_err());
        assert!(check_path("/metrics?x=1").is_err());
        assert!(check_path("/me trics").is_err());
        assert!(check_path("").is_err());
    }

    #[test]
    fn metrics_need_a_port_of_their_own() {
        let at = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(clash(at("127.0.0.1:9100"), at("127.0.0.1:9100")));
        assert!(clash(at("0.0.0.0:9100"), at("127.0.0.1:9100")));
        assert!(clash(at("127.0.0.1:9100"), at("[::]:9100")));
        assert!(!clash(at("127.0.0.1:8080"), at("127.0.0.1:9100")));
        assert!(!clash(at("127.0.0.1:9100"), at("127.0.0.2:9100")));
    }

    #[test]
    fn log_files() {
        let dir = tempfile::tempdir().unwrap();
        let inside = dir.path().join("s3.log");
        assert!(check_log_file(&inside.to_string_lossy()).is_ok());
        assert!(check_log_file("relative.log").is_ok());
        assert!(check_log_file(&dir.path().to_string_lossy()).is_err());
        let missing = dir.path().join("nope/s3.log");
        let err = check_log_file(&missing.to_string_lossy()).unwrap_err();
        assert!(err.contains("does not exist"), "{err}");
        assert!(check_log_file("  ").is_err());
    }
}
