//! The pages a person sees: sign-in expired (with a retry link), not allowed, service
//! unavailable, and the minted S3 key (HTML, or JSON for scripts). Every interpolated value is
//! HTML-escaped; every page is `no-store` and may run no script.

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

fn html(status: u16, title: &str, body: &str) -> LocalResponse {
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
    headers.push((
        "content-security-policy".into(),
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'".into(),
    ));
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
<p>Use it with <code>--endpoint-url {endpoint}</code>. For scripts, add <code>?auth=json</code> \
to get this as JSON.</p>",
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
}
