//! The Basic plugin (`bucketgate-plugin-basic`) on hostile `Authorization` headers, through its
//! public API (`BasicPlugin::authenticate`): the header parser, base64 and UTF-8 decoding, the
//! user lookup and the log line's user name.
//!
//! The plugin knows one user, `igv`, with a bcrypt hash (cost 4, the lowest, so a
//! verification costs about a millisecond). Input: a mode byte, then
//! - mode 0: `Authorization` values separated by newlines, as sent;
//! - mode 1: `Basic ` + the base64 of the rest (`user:password` as the fuzzer writes it),
//!   padded or not, plus any further raw values after a newline in the rest.
//!
//! Properties: no panic; `NotMine` exactly when no header uses the Basic scheme (checked
//! here independently); `Authenticated` exactly when there is one Basic header and it decodes
//! (here, with the base64 crate) to `igv:` and the right password, and then as `igv`; no
//! rejection carries the password.
#![no_main]

use base64::alphabet;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use bucketgate_fuzz::block_on;
use bucketgate_plugin::{Plugin, RequestView, Verdict};
use bucketgate_plugin_basic::{BasicConfig, BasicPlugin};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

const USER: &str = "igv";
const PASSWORD: &str = "pa:ss wörd-fuzz";

fn plugin() -> BasicPlugin {
    let hash = bcrypt::hash(PASSWORD, 4).expect("bcrypt hashes");
    let cfg: BasicConfig = serde_json::from_value(json!({
        "users": [{"name": USER, "password_hash": hash}],
        "grants": [{"bucket": "data", "prefix": "users/{sub}/", "operations": ["read"]}],
        "cache_seconds": 60,
    }))
    .expect("a valid basic section");
    BasicPlugin::new(&cfg).expect("the basic plugin builds")
}

/// The credentials of a header value, if it uses the Basic scheme: RFC 7617 read plainly.
fn basic_token(value: &[u8]) -> Option<&[u8]> {
    let value = value.trim_ascii();
    let end = value
        .iter()
        .position(|&b| b == b' ' || b == b'\t')
        .unwrap_or(value.len());
    value[..end]
        .eq_ignore_ascii_case(b"basic")
        .then(|| value[end..].trim_ascii())
}

/// Standard base64 with or without padding, as the plugin documents it.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn right_credentials(token: &[u8]) -> bool {
    let Ok(decoded) = LENIENT.decode(token) else {
        return false;
    };
    token.len() <= 4096 && decoded == format!("{USER}:{PASSWORD}").as_bytes()
}

fuzz_target!(|data: &[u8]| {
    static PLUGIN: std::sync::OnceLock<BasicPlugin> = std::sync::OnceLock::new();
    let plugin = PLUGIN.get_or_init(plugin);
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut values: Vec<Vec<u8>> = Vec::new();
    if mode & 1 == 0 {
        values.extend(rest.split(|&b| b == b'\n').map(<[u8]>::to_vec));
    } else {
        let mut parts = rest.splitn(2, |&b| b == b'\n');
        let creds = parts.next().unwrap_or_default();
        let engine = if mode & 2 == 0 {
            &STANDARD
        } else {
            &STANDARD_NO_PAD
        };
        values.push(format!("Basic {}", engine.encode(creds)).into_bytes());
        if let Some(more) = parts.next() {
            values.extend(more.split(|&b| b == b'\n').map(<[u8]>::to_vec));
        }
    }
    let mut headers = http::HeaderMap::new();
    let mut sent = Vec::new();
    for v in &values {
        if let Ok(value) = http::HeaderValue::from_bytes(v) {
            headers.append(http::header::AUTHORIZATION, value);
            sent.push(v.as_slice());
        }
    }
    let req = RequestView {
        method: http::Method::GET,
        path: "/files/x".into(),
        query: String::new(),
        headers,
        client_addr: None,
        route: "fuzz".into(),
        tls: true,
    };
    let basic: Vec<&[u8]> = sent.iter().filter_map(|v| basic_token(v)).collect();
    let verdict = block_on(plugin.authenticate(&req));
    match &verdict {
        Verdict::NotMine => assert!(basic.is_empty(), "a Basic header was not seen: {sent:?}"),
        _ => assert!(!basic.is_empty(), "no Basic header, yet {verdict:?}"),
    }
    let right = basic.len() == 1 && right_credentials(basic[0]);
    match &verdict {
        Verdict::Authenticated(identity) => {
            assert!(right, "authenticated with wrong credentials: {sent:?}");
            assert_eq!(identity.subject, USER);
        }
        Verdict::Reject(r) | Verdict::SignIn(r) => {
            assert!(!right, "refused the right credentials: {}", r.log_reason);
            let shown = format!("{} {} {:?}", r.public_message, r.log_reason, r.headers);
            assert!(
                !shown.contains(PASSWORD),
                "rejection shows the password: {shown}"
            );
        }
        Verdict::NotMine => {}
    }
});
