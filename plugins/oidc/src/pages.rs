//! The pages a person sees: sign-in expired (with a retry link), not allowed, service
//! unavailable, the offer of an S3 key and the minted key (HTML, or JSON for scripts), and the
//! sign-out confirmation. Every interpolated value is HTML-escaped; every page is `no-store`,
//! may run no script and may not be framed. The two pages with a form (key offer, sign-out)
//! send their `Origin` on submission (`Referrer-Policy: same-origin`), which the POST needs.

use std::time::SystemTime;

use bucketgate_plugin::LocalResponse;
use bytes::Bytes;

use crate::MintedKey;

/// `&`, `<`, `>`, `"`, `'` as entities.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Headers every page and redirect of the plugin carries.
pub fn common_headers() -> Vec<(String, String)> {
    vec![
        ("cache-control".into(), "no-store".into()),
        ("pragma".into(), "no-cache".into()),
        ("referrer-policy".into(), "no-referrer".into()),
        ("x-content-type-options".into(), "nosniff".into()),
    ]
}

/// The `Content-Security-Policy` of a page without a form.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// That of the key offer: its form posts to this site.
const CSP_FORM_SELF: &str = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// That of the sign-out confirmation: no `form-action`, because the POST's answer redirects to
/// the provider's end-session endpoint (or `post_logout_url`), which browsers check against it.
const CSP_FORM_ANY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'";

fn html(status: u16, title: &str, body: &str) -> LocalResponse {
    html_with(status, title, body, CSP)
}

/// A page with a form: its CSP, and a referrer policy under which the browser sends `Origin`.
fn form_page(status: u16, title: &str, body: &str, csp: &str) -> LocalResponse {
    let mut r = html_with(status, title, body, csp);
    for (k, v) in &mut r.headers {
        if k == "referrer-policy" {
            *v = "same-origin".into();
        }
    }
    r
}

fn html_with(status: u16, title: &str, body: &str, csp: &str) -> LocalResponse {
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:46rem;margin:3rem auto;padding:0 1rem;line-height:1.5}}\
pre{{background:#f4f4f4;padding:.75rem;overflow-x:auto}}code{{word-break:break-all}}</style></head>\
<body><h1>{title}</h1>\n{body}\n</body></html>\n",
        title = escape(title)
    );
    let mut headers = common_headers();
    headers.push(("content-type".into(), "text/html; charset=utf-8".into()));
    headers.push(("content-security-policy".into(), csp.into()));
    headers.push(("x-frame-options".into(), "DENY".into()));
    LocalResponse {
        status,
        headers,
        body: Bytes::from(page),
    }
}

/// 200: the login took too long, or its link was used already.
pub fn expired(retry_url: &str) -> LocalResponse {
    html(
        200,
        "Your sign-in expired",
        &format!(
            "<p>The sign-in took too long, or this link was already used.</p>\n\
<p><a href=\"{}\">Sign in again</a></p>",
            escape(retry_url)
        ),
    )
}

/// A sign-in that failed: `status` with a title and a sentence, and a retry link.
pub fn failed(status: u16, title: &str, message: &str, retry_url: &str) -> LocalResponse {
    html(
        status,
        title,
        &format!(
            "<p>{}</p>\n<p><a href=\"{}\">Try again</a></p>",
            escape(message),
            escape(retry_url)
        ),
    )
}

/// 503: the provider or the session store does not answer. JSON for scripts.
pub fn unavailable(json: bool) -> LocalResponse {
    if json {
        return json_response(
            503,
            &serde_json::json!({"error": "sign-in service unavailable"}),
        );
    }
    html(
        503,
        "Sign-in service unavailable",
        "<p>The sign-in service does not answer right now. Please try again in a moment.</p>",
    )
}

fn json_response(status: u16, value: &serde_json::Value) -> LocalResponse {
    let mut headers = common_headers();
    headers.push(("content-type".into(), "application/json".into()));
    LocalResponse {
        status,
        headers,
        body: Bytes::from(format!("{value}\n")),
    }
}

/// RFC 3339 in UTC, whole seconds.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = crate::records::unix(t);
    i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "unknown".into())
}

/// A refusal of a POST (a forged or cross-site one, a wrong CSRF token): HTML or JSON.
pub fn forbidden(json: bool, message: &str, back: &str) -> LocalResponse {
    if json {
        return json_response(
            403,
            &serde_json::json!({"error": "forbidden", "message": message}),
        );
    }
    failed(403, "Not allowed", message, back)
}

/// A POST that needs a session and has none: sign in first (HTML or JSON).
pub fn sign_in_first(json: bool, login_url: &str) -> LocalResponse {
    if json {
        return json_response(
            401,
            &serde_json::json!({"error": "unauthorized", "message": "sign in first", "login_url": login_url}),
        );
    }
    html(
        401,
        "Please sign in",
        &format!(
            "<p>You are not signed in (or your session ended).</p>\n<p><a href=\"{}\">Sign in</a></p>",
            escape(login_url)
        ),
    )
}

/// What a signed-in `GET /<bucket>/?auth` shows: a button that POSTs to `post_url` (the same
/// URL with the session's CSRF token), or, for scripts, the same as JSON. Nothing is minted.
pub fn mint_offer(
    subject: &str,
    post_url: &str,
    csrf: &str,
    ttl_secs: u64,
    json: bool,
) -> LocalResponse {
    if json {
        return json_response(
            200,
            &serde_json::json!({
                "subject": subject,
                "csrf_token": csrf,
                "mint_url": post_url,
                "method": "POST",
            }),
        );
    }
    let body = format!(
        "<p>Signed in as <b>{subject}</b>. An S3 access key carries your current permissions \
and works for {hours}. Each press makes a new key; the secret is shown once.</p>\n\
<form method=\"post\" action=\"{action}\"><button type=\"submit\">Create an S3 access key</button></form>\n\
<p>For scripts: <code>GET</code> this URL with <code>?auth=json</code> and the session cookie \
gives a <code>csrf_token</code> and a <code>mint_url</code>; a <code>POST</code> to that URL \
with the same cookie answers the key as JSON.</p>",
        subject = escape(subject),
        hours = escape(&human_duration(ttl_secs)),
        action = escape(post_url),
    );
    form_page(200, "Create an S3 access key", &body, CSP_FORM_SELF)
}

/// What `GET logout_path` shows: a button that POSTs the sign-out to `post_url`.
pub fn logout_confirm(post_url: &str, signed_in: bool) -> LocalResponse {
    let intro = if signed_in {
        "Sign out of this site?"
    } else {
        "You are not signed in here. Signing out also ends the session at the identity provider, if it has one."
    };
    let body = format!(
        "<p>{}</p>\n<form method=\"post\" action=\"{}\"><button type=\"submit\">Sign out</button></form>",
        escape(intro),
        escape(post_url)
    );
    form_page(200, "Sign out", &body, CSP_FORM_ANY)
}

/// `3600` as `1 hour`, `5400` as `90 minutes`, `86400` as `1 day`: the key lifetime in words.
fn human_duration(secs: u64) -> String {
    let plural = |n: u64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if secs > 0 && secs.is_multiple_of(86_400) {
        plural(secs / 86_400, "day")
    } else if secs > 0 && secs.is_multiple_of(3600) {
        plural(secs / 3600, "hour")
    } else if secs > 0 && secs.is_multiple_of(60) {
        plural(secs / 60, "minute")
    } else {
        plural(secs, "second")
    }
}

/// The minted key, for a person (HTML with ready `aws` snippets) or a script (JSON).
pub fn key_page(key: &MintedKey, subject: &str, endpoint: &str, json: bool) -> LocalResponse {
    let expires = rfc3339(key.expires_at);
    if json {
        return json_response(
            200,
            &serde_json::json!({
                "access_key_id": key.access_key_id,
                "secret_access_key": key.secret_access_key,
                "expires_at": expires,
                "subject": subject,
                "endpoint_url": endpoint,
            }),
        );
    }
    let id = escape(&key.access_key_id);
    let secret = escape(&key.secret_access_key);
    let endpoint = escape(endpoint);
    let body = format!(
        "<p>Signed in as <b>{subject}</b>. This S3 access key works until <b>{expires}</b>. \
Keep the secret to yourself; this page is not shown again.</p>\n\
<dl><dt>Access key id</dt><dd><code>{id}</code></dd>\
<dt>Secret access key</dt><dd><code>{secret}</code></dd>\
<dt>Expires</dt><dd>{expires}</dd><dt>Endpoint</dt><dd><code>{endpoint}</code></dd></dl>\n\
<h2>AWS CLI</h2>\n<pre>aws configure set aws_access_key_id {id} --profile bucketgate\n\
aws configure set aws_secret_access_key {secret} --profile bucketgate\n\
aws configure set region us-east-1 --profile bucketgate\n\
aws configure set s3.addressing_style path --profile bucketgate\n\
aws --profile bucketgate --endpoint-url {endpoint} s3 ls</pre>\n\
<h2>~/.aws/credentials</h2>\n<pre>[bucketgate]\naws_access_key_id = {id}\n\
aws_secret_access_key = {secret}</pre>\n\
<p>Use it with <code>--endpoint-url {endpoint}</code>. For scripts: <code>GET ?auth=json</code> \
gives a <code>csrf_token</code> and a <code>mint_url</code> to <code>POST</code> to, which answers \
this as JSON.</p>",
        subject = escape(subject),
        expires = escape(&expires),
    );
    html(200, "Your S3 access key", &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn key() -> MintedKey {
        MintedKey {
            access_key_id: "BG1ABC".into(),
            secret_access_key: "s3cr<e>t".into(),
            expires_at: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        }
    }

    fn header<'a>(r: &'a LocalResponse, name: &str) -> Option<&'a str> {
        r.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn escaping() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn key_page_json_has_the_fields_and_no_store() {
        let r = key_page(&key(), "alice", "https://files.example.com", true);
        assert_eq!(r.status, 200);
        assert_eq!(header(&r, "content-type"), Some("application/json"));
        assert_eq!(header(&r, "cache-control"), Some("no-store"));
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["access_key_id"], "BG1ABC");
        assert_eq!(v["secret_access_key"], "s3cr<e>t");
        assert_eq!(v["expires_at"], "2023-11-14T22:13:20Z");
        assert_eq!(v["subject"], "alice");
    }

    #[test]
    fn key_page_html_escapes_and_has_the_snippets() {
        let r = key_page(
            &key(),
            "<script>x</script>",
            "https://files.example.com",
            false,
        );
        assert_eq!(r.status, 200);
        assert_eq!(header(&r, "content-type"), Some("text/html; charset=utf-8"));
        assert_eq!(header(&r, "cache-control"), Some("no-store"));
        assert!(header(&r, "content-security-policy")
            .unwrap()
            .contains("default-src 'none'"));
        let body = std::str::from_utf8(&r.body).unwrap();
        assert!(!body.contains("<script>"));
        assert!(body.contains("&lt;script&gt;x&lt;/script&gt;"));
        assert!(body.contains("s3cr&lt;e&gt;t") && !body.contains("s3cr<e>t"));
        assert!(body.contains("aws configure set aws_access_key_id BG1ABC"));
        assert!(body.contains("[bucketgate]\naws_access_key_id = BG1ABC"));
        assert!(body.contains("2023-11-14T22:13:20Z"));
        assert!(body.contains("--endpoint-url https://files.example.com"));
    }

    #[test]
    fn expired_page_is_friendly_with_an_escaped_retry_link() {
        let r = expired("/_bucketgate/oidc/login?rd=%2Fa\"><script>");
        assert_eq!(r.status, 200);
        let body = std::str::from_utf8(&r.body).unwrap();
        assert!(body.contains("Your sign-in expired"));
        assert!(body.contains("href=\"/_bucketgate/oidc/login?rd=%2Fa&quot;&gt;&lt;script&gt;\""));
        assert!(!body.contains("<script>"));
        let f = failed(403, "Not allowed", "You <b>", "/");
        assert_eq!(f.status, 403);
        assert!(std::str::from_utf8(&f.body)
            .unwrap()
            .contains("You &lt;b&gt;"));
        let u = unavailable(true);
        assert_eq!(u.status, 503);
        assert!(std::str::from_utf8(&u.body)
            .unwrap()
            .contains("unavailable"));
    }

    #[test]
    fn the_offer_and_the_sign_out_are_forms_that_post_and_send_their_origin() {
        let r = mint_offer("<b>", "/d/?auth&csrf=a\"b", "a\"b", 7200, false);
        assert_eq!(r.status, 200);
        assert_eq!(header(&r, "referrer-policy"), Some("same-origin"));
        assert_eq!(header(&r, "x-frame-options"), Some("DENY"));
        let csp = header(&r, "content-security-policy").unwrap();
        assert!(csp.contains("form-action 'self'") && csp.contains("frame-ancestors 'none'"));
        let body = std::str::from_utf8(&r.body).unwrap();
        assert!(body.contains("<form method=\"post\" action=\"/d/?auth&amp;csrf=a&quot;b\">"));
        assert!(body.contains("&lt;b&gt;") && body.contains("2 hours"));
        let j = mint_offer("alice", "/d/?auth=json&csrf=t", "t", 60, true);
        let v: serde_json::Value = serde_json::from_slice(&j.body).unwrap();
        assert_eq!(v["csrf_token"], "t");
        assert_eq!(v["mint_url"], "/d/?auth=json&csrf=t");
        assert!(v.get("secret_access_key").is_none());
        let l = logout_confirm("/logout?csrf=t", true);
        assert_eq!(header(&l, "referrer-policy"), Some("same-origin"));
        assert!(!header(&l, "content-security-policy")
            .unwrap()
            .contains("form-action"));
        assert!(std::str::from_utf8(&l.body)
            .unwrap()
            .contains("<form method=\"post\" action=\"/logout?csrf=t\">"));
        // Pages without a form keep the strict policy.
        let e = expired("/");
        assert_eq!(header(&e, "referrer-policy"), Some("no-referrer"));
        assert!(header(&e, "content-security-policy")
            .unwrap()
            .contains("form-action 'none'"));
        assert_eq!(forbidden(true, "no", "/").status, 403);
        assert_eq!(sign_in_first(true, "/login").status, 401);
    }

    #[test]
    fn durations_in_words() {
        assert_eq!(human_duration(86_400), "1 day");
        assert_eq!(human_duration(7 * 86_400), "7 days");
        assert_eq!(human_duration(3600), "1 hour");
        assert_eq!(human_duration(5400), "90 minutes");
        assert_eq!(human_duration(61), "61 seconds");
        assert_eq!(human_duration(0), "0 seconds");
    }
}
