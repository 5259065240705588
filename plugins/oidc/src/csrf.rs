//! What makes a state-changing request (minting a key, signing out) the user's own and not a
//! forgery from another site or a script:
//!
//! - a **CSRF token** bound to the session and to one action: an HMAC-SHA256 of the action
//!   ([`MINT`] or [`LOGOUT`]), the session binding and the session id, under a key derived from
//!   the session key. The page that offers the action puts it
//!   in its form's action URL; a script reads it from the JSON of the same page. Another site can
//!   neither read it nor compute it, and it is worthless with another session or for the other
//!   action.
//! - **the request's origin** ([`same_origin`]): the method must be POST; a browser's
//!   `Sec-Fetch-Site` must be `same-origin` or `none`; `Origin`, when sent, must be this site's
//!   (`redirect_url`'s origin); and a browser's `Sec-Fetch-Mode`/`Sec-Fetch-Dest`, when sent,
//!   must say a top-level form navigation (`navigate`, `document`), so neither a `fetch()` from a
//!   page nor a form aimed at a frame counts. Command-line clients send none of these headers
//!   and are judged by the token alone.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bucketgate_plugin::RequestView;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::ParsedUrl;

type HmacSha256 = Hmac<Sha256>;

/// The query parameter that carries the token.
pub const PARAM: &str = "csrf";

/// The action of a token: minting a key.
pub const MINT: &str = "mint";
/// The action of a token: signing out.
pub const LOGOUT: &str = "logout";

/// Makes and checks CSRF tokens of one plugin.
pub struct Csrf {
    key: zeroize::Zeroizing<[u8; 32]>,
    /// The session binding: a token of one route set is refused by another.
    binding: String,
}

impl Csrf {
    /// A token maker under a key derived from `session_key` (never the session key itself).
    /// None only if HMAC refused a key, which it never does.
    pub fn new(session_key: &[u8; 32], binding: &str) -> Option<Csrf> {
        let mut key = zeroize::Zeroizing::new([0u8; 32]);
        let derived = mac(session_key)?
            .chain_update(b"bucketgate oidc csrf v1")
            .finalize()
            .into_bytes();
        key.copy_from_slice(&derived);
        Some(Csrf {
            key,
            binding: binding.to_owned(),
        })
    }

    fn mac_of(&self, action: &str, session_id: &str) -> Option<HmacSha256> {
        Some(
            mac(&self.key[..])?
                .chain_update(action.as_bytes())
                .chain_update(b"\n")
                .chain_update(self.binding.as_bytes())
                .chain_update(b"\n")
                .chain_update(session_id.as_bytes()),
        )
    }

    /// The token of `action` for session `session_id` (base64url, 43 characters).
    pub fn token(&self, action: &str, session_id: &str) -> Option<String> {
        let m = self.mac_of(action, session_id)?;
        Some(URL_SAFE_NO_PAD.encode(m.finalize().into_bytes()))
    }

    /// Whether `token` is the token of `action` for session `session_id` (compared in constant
    /// time).
    pub fn verify(&self, action: &str, session_id: &str, token: &str) -> bool {
        let (Ok(raw), Some(m)) = (
            URL_SAFE_NO_PAD.decode(token.as_bytes()),
            self.mac_of(action, session_id),
        ) else {
            return false;
        };
        m.verify_slice(&raw).is_ok()
    }
}

/// HMAC-SHA256 under `key` (HMAC takes keys of any length, so this is always Some).
fn mac(key: &[u8]) -> Option<HmacSha256> {
    <HmacSha256 as Mac>::new_from_slice(key).ok()
}

/// Whether `req` is a POST that comes from this site's own page (or from a client that is no
/// browser): Err says why not, for the log.
pub fn same_origin(req: &RequestView, site: &ParsedUrl) -> Result<(), &'static str> {
    if req.method != http::Method::POST {
        return Err("not a POST");
    }
    let lower = |name: &str| req.header(name).map(|v| v.trim().to_ascii_lowercase());
    // Several values of one of these headers are not a browser's: treat as a forgery.
    for name in [
        "sec-fetch-site",
        "sec-fetch-mode",
        "sec-fetch-dest",
        "origin",
    ] {
        if req.headers.get_all(name).iter().count() > 1 {
            return Err("a repeated Sec-Fetch or Origin header");
        }
    }
    match lower("sec-fetch-site").as_deref() {
        None | Some("same-origin") | Some("none") => {}
        Some(_) => return Err("Sec-Fetch-Site is not same-origin"),
    }
    if let Some(mode) = lower("sec-fetch-mode") {
        if mode != "navigate" {
            return Err("Sec-Fetch-Mode is not navigate (a script's request, not a form)");
        }
    }
    if let Some(dest) = lower("sec-fetch-dest") {
        if dest != "document" {
            return Err("Sec-Fetch-Dest is not document (a form aimed at a frame)");
        }
    }
    if req.headers.contains_key("origin") {
        let origin = lower("origin").unwrap_or_default();
        if origin != site.origin().to_ascii_lowercase() {
            return Err("Origin is not this site");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_absolute;

    fn req(method: &str, headers: &[(&str, &str)]) -> RequestView {
        let mut map = http::HeaderMap::new();
        for (k, v) in headers {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        RequestView {
            method: method.parse().unwrap(),
            path: "/data/".into(),
            query: "auth".into(),
            headers: map,
            client_addr: None,
            route: "r".into(),
            tls: false,
        }
    }

    fn site() -> ParsedUrl {
        parse_absolute("https://files.example.com/_bucketgate/oidc/callback").unwrap()
    }

    #[test]
    fn tokens_are_bound_to_the_session_key_and_binding() {
        let c = Csrf::new(&[1u8; 32], "b").unwrap();
        let t = c.token(MINT, "session-a").unwrap();
        assert_eq!(t.len(), 43);
        assert_eq!(
            Some(t.clone()),
            c.token(MINT, "session-a"),
            "stable for a session"
        );
        assert!(c.verify(MINT, "session-a", &t));
        assert!(!c.verify(MINT, "session-b", &t), "another session");
        assert!(!c.verify(LOGOUT, "session-a", &t), "another action");
        assert!(
            !Csrf::new(&[2u8; 32], "b")
                .unwrap()
                .verify(MINT, "session-a", &t),
            "another key"
        );
        assert!(
            !Csrf::new(&[1u8; 32], "c")
                .unwrap()
                .verify(MINT, "session-a", &t),
            "another binding"
        );
        for bad in [
            "",
            "x",
            "%%%",
            &t[..42],
            &format!("{t}A"),
            &t.to_ascii_uppercase(),
        ] {
            assert!(!c.verify(MINT, "session-a", bad), "{bad:?}");
        }
        // Not the session id, nor anything that reveals it.
        assert!(!t.contains("session"));
    }

    #[test]
    fn only_same_origin_form_posts_pass() {
        let s = site();
        // A form on this site's page, a CLI, a bookmark-like navigation.
        for ok in [
            req(
                "POST",
                &[
                    ("sec-fetch-site", "same-origin"),
                    ("sec-fetch-mode", "navigate"),
                    ("sec-fetch-dest", "document"),
                    ("origin", "https://files.example.com"),
                ],
            ),
            req("POST", &[("origin", "https://FILES.example.com")]),
            req("POST", &[]),
            req("POST", &[("sec-fetch-site", "none")]),
        ] {
            assert_eq!(same_origin(&ok, &s), Ok(()), "{:?}", ok.headers);
        }
        for bad in [
            req("GET", &[]),
            req("POST", &[("sec-fetch-site", "cross-site")]),
            req("POST", &[("sec-fetch-site", "same-site")]),
            req(
                "POST",
                &[
                    ("sec-fetch-site", "same-origin"),
                    ("sec-fetch-mode", "cors"),
                ],
            ),
            req(
                "POST",
                &[
                    ("sec-fetch-site", "same-origin"),
                    ("sec-fetch-mode", "no-cors"),
                ],
            ),
            req(
                "POST",
                &[
                    ("sec-fetch-site", "same-origin"),
                    ("sec-fetch-dest", "iframe"),
                ],
            ),
            req("POST", &[("origin", "https://evil.example")]),
            req("POST", &[("origin", "null")]),
            req("POST", &[("origin", "http://files.example.com")]),
            req("POST", &[("origin", "https://files.example.com:8443")]),
            req(
                "POST",
                &[
                    ("sec-fetch-site", "same-origin"),
                    ("sec-fetch-site", "cross-site"),
                ],
            ),
        ] {
            assert!(
                same_origin(&bad, &s).is_err(),
                "{} {:?}",
                bad.method,
                bad.headers
            );
        }
    }
}
