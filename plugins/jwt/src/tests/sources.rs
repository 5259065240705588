//! Where tokens are looked for: the Authorization header, a query parameter, a cookie, in the
//! configured order; a token anywhere else is not this plugin's business (`NotMine`).

use bucketgate_plugin::{Plugin, Verdict};
use jsonwebtoken::Algorithm as A;
use jsonwebtoken::EncodingKey;

use super::support::*;

fn token() -> String {
    sign(
        A::HS256,
        &EncodingKey::from_secret(SECRET32.as_bytes()),
        None,
        &claims(),
    )
}

fn hs_plugin(extra: &str) -> crate::JwtPlugin {
    plugin(&format!(
        "keys: [{{algorithm: HS256, secret: \"{SECRET32}\"}}]\n{extra}"
    ))
}

fn is_authenticated(v: &Verdict) -> bool {
    matches!(v, Verdict::Authenticated(_))
}

#[test]
fn name_and_challenge() {
    let p = hs_plugin("");
    assert_eq!(p.name(), "jwt");
    assert_eq!(
        p.challenge().as_deref(),
        Some("Bearer realm=\"bucketgate\"")
    );
}

#[test]
fn header_is_the_default() {
    let p = hs_plugin("");
    let t = token();
    assert!(is_authenticated(&authenticate(&p, &bearer(&t))));
    let lower = request(&[("authorization", &format!("bearer  {t}"))], "");
    assert!(is_authenticated(&authenticate(&p, &lower)));
    // Only the header is configured: the same token elsewhere is not ours.
    let in_query = request(&[], &format!("access_token={t}"));
    assert_eq!(authenticate(&p, &in_query), Verdict::NotMine);
    let in_cookie = request(&[("cookie", &format!("jwt={t}"))], "");
    assert_eq!(authenticate(&p, &in_cookie), Verdict::NotMine);
}

#[test]
fn no_token_is_not_mine() {
    let p = hs_plugin("");
    assert_eq!(authenticate(&p, &request(&[], "")), Verdict::NotMine);
    let basic = request(&[("authorization", "Basic YWxpY2U6c2VjcmV0")], "");
    assert_eq!(authenticate(&p, &basic), Verdict::NotMine);
    let empty = request(&[("authorization", "Bearer ")], "");
    assert_eq!(authenticate(&p, &empty), Verdict::NotMine);
}

#[test]
fn query_parameter() {
    let p = hs_plugin("token_from: [{query: access_token}]");
    let t = token();
    let req = request(&[], &format!("x=1&access_token={t}"));
    assert!(is_authenticated(&authenticate(&p, &req)));
    // The header is not configured now.
    assert_eq!(authenticate(&p, &bearer(&t)), Verdict::NotMine);
    let req = request(&[], "access_token=garbage");
    assert!(matches!(authenticate(&p, &req), Verdict::Reject(_)));
}

#[test]
fn cookie() {
    let p = hs_plugin("token_from: [{cookie: jwt}]");
    let t = token();
    let req = request(&[("cookie", &format!("a=b; jwt={t}; c=d"))], "");
    assert!(is_authenticated(&authenticate(&p, &req)));
    assert_eq!(authenticate(&p, &bearer(&t)), Verdict::NotMine);
}

#[test]
fn sources_are_tried_in_order() {
    let p = hs_plugin("token_from: [header, {query: access_token}, {cookie: jwt}]");
    let t = token();
    // The header comes first: a bad header token is rejected even with a good query token.
    let req = request(
        &[("authorization", "Bearer bad.token.here")],
        &format!("access_token={t}"),
    );
    assert!(matches!(authenticate(&p, &req), Verdict::Reject(_)));
    // No header: the query's token.
    let req = request(&[("cookie", "jwt=bad")], &format!("access_token={t}"));
    assert!(is_authenticated(&authenticate(&p, &req)));
    // Only the cookie.
    let req = request(&[("cookie", &format!("jwt={t}"))], "");
    assert!(is_authenticated(&authenticate(&p, &req)));
}
