//! Planning one S3 request: verify the caller's signature, find the operation, bucket and key,
//! check the grants, and decide what goes upstream (path, query, payload hash, body handling),
//! or answer locally. Everything here runs on the request head alone, before any upstream
//! connection exists.

use std::sync::Arc;
use std::time::SystemTime;

use bucketgate_plugin::{Identity, Operation};
use bytes::Bytes;
use http::HeaderMap;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use pingora_http::RequestHeader;

use super::body::{self, BodyPlan};
use super::buckets::{Alias, S3Route};
use super::error::S3Error;
use super::markers::MarkerSealer;
use super::operation::{self, S3Op};
use crate::access::access_keys::AccessKeyStore;
use crate::access::policy;
use crate::frontend::s3::xml::{list_buckets_xml, location_xml};
use crate::s3::encode_key_path;
use crate::s3::key::{check_key, decode_key};
use crate::s3::verify;
use crate::upstream::Pool;

/// What to do with the request.
pub enum Planned {
    /// Proxy it upstream.
    Forward(Box<S3Request>),
    /// DeleteObjects: its body must be read and checked key by key first.
    DeleteObjects(Box<S3Request>),
    /// Answer locally with this XML.
    Answer { identity: Identity, body: Bytes },
}

impl Planned {
    /// The verified caller.
    pub fn identity(&self) -> &Identity {
        match self {
            Planned::Forward(r) | Planned::DeleteObjects(r) => &r.identity,
            Planned::Answer { identity, .. } => identity,
        }
    }
}

/// A request bound upstream.
pub struct S3Request {
    pub op: S3Op,
    pub identity: Identity,
    /// The bucket as the client named it.
    pub client_bucket: String,
    pub bucket: String,
    /// The alias's key prefix (stripped again from listings).
    pub key_prefix: String,
    pub pool: Arc<Pool>,
    /// The full decoded upstream key; empty for bucket operations.
    pub key: String,
    /// The upstream query (raw, normalized again when sent).
    pub query: String,
    /// `x-amz-copy-source` for the upstream, when copying.
    pub copy_source: Option<String>,
    /// What is signed as the payload hash, and how the body travels.
    pub body: BodyPlan,
}

impl S3Request {
    /// What listing markers are bound to: the bucket as the client names it, and the caller.
    pub fn marker_context(&self) -> String {
        marker_context(&self.client_bucket, &self.identity)
    }

    /// The upstream path: `/bucket/key` or `/key`, per the pool's addressing.
    pub fn upstream_path(&self) -> String {
        let path = self
            .pool
            .object_path(&self.bucket, &encode_key_path(&self.key));
        if self.key.is_empty() {
            // `/bucket/` → `/bucket`: the bucket itself.
            let trimmed = path.trim_end_matches('/');
            if trimmed.is_empty() {
                "/".into()
            } else {
                trimmed.into()
            }
        } else {
            path
        }
    }
}

/// A refused request: the error, and who the caller was if the signature checked out.
pub struct Refusal {
    pub error: S3Error,
    pub identity: Option<Identity>,
}

/// The parts of the client request planning looks at.
pub struct Incoming<'a> {
    pub req: &'a RequestHeader,
    /// Host without port.
    pub host: &'a str,
    /// The raw path after the route prefix, with the query.
    pub rest: &'a str,
}

/// Plans `incoming` on an S3 route. `Err`: answer with that S3 error (the identity, if the
/// caller was authenticated, comes along for the log).
pub fn plan(
    incoming: &Incoming,
    route: &S3Route,
    keys: &AccessKeyStore,
    markers: &MarkerSealer,
    now: SystemTime,
) -> Result<Planned, Box<Refusal>> {
    let verified = match verify::verify_request(incoming.req, keys, now) {
        Ok(Some(v)) => v,
        Ok(None) => {
            return Err(Box::new(Refusal {
                error: S3Error::access_denied("anonymous request on an S3 route"),
                identity: None,
            }))
        }
        Err(e) => {
            return Err(Box::new(Refusal {
                error: S3Error::from(e),
                identity: None,
            }))
        }
    };
    let identity = verified.identity.clone();
    plan_verified(incoming, route, markers, verified).map_err(|error| {
        Box::new(Refusal {
            error,
            identity: Some(identity),
        })
    })
}

fn plan_verified(
    incoming: &Incoming,
    route: &S3Route,
    markers: &MarkerSealer,
    verified: verify::Verified<Identity>,
) -> Result<Planned, S3Error> {
    let req = incoming.req;
    let addressed = super::address::address(incoming.host, incoming.rest, &route.base_domains);
    let params = operation::params(addressed.raw_query);
    let copy_source = req.headers.get("x-amz-copy-source");
    let op = operation::classify(
        req.method.as_str(),
        addressed.bucket.is_some(),
        !addressed.raw_key.is_empty(),
        &params,
        copy_source.is_some(),
    )
    .map_err(S3Error::not_implemented)?;
    let identity = &verified.identity;
    let Some(client_bucket) = addressed.bucket else {
        return Ok(Planned::Answer {
            identity: identity.clone(),
            body: list_buckets(identity, route),
        });
    };
    let alias = route.find(client_bucket).ok_or_else(|| {
        if op == S3Op::CreateBucket {
            S3Error::not_implemented(format!("creating bucket {client_bucket:?}"))
        } else {
            S3Error::no_such_bucket(client_bucket)
        }
    })?;
    let key = if addressed.raw_key.is_empty() {
        String::new()
    } else {
        full_key(alias, addressed.raw_key)?
    };
    check_grants(op, identity, alias, &key, &params)?;
    if op == S3Op::CreateBucket {
        return Err(S3Error::new(
            409,
            "BucketAlreadyOwnedByYou",
            "Your previous request to create the named bucket succeeded and you already own it.",
        ));
    }
    if op == S3Op::GetBucketLocation {
        return Ok(Planned::Answer {
            identity: identity.clone(),
            body: Bytes::from(location_xml(alias.pool.signer.region())),
        });
    }
    let copy_source = match copy_source {
        Some(value) => Some(copy_source_upstream(value, route, alias, identity)?),
        None => None,
    };
    let body = body::plan(
        &req.headers,
        &verified,
        has_body(op),
        alias.pool.decodes_trailers,
    )?;
    let planned = S3Request {
        op,
        identity: identity.clone(),
        client_bucket: client_bucket.to_string(),
        bucket: alias.bucket.clone(),
        key_prefix: alias.key_prefix.clone(),
        pool: alias.pool.clone(),
        key,
        query: upstream_query(
            op,
            &params,
            &alias.key_prefix,
            &Unsealer {
                markers,
                context: marker_context(client_bucket, identity),
            },
        )?,
        copy_source,
        body,
    };
    Ok(if op == S3Op::DeleteObjects {
        Planned::DeleteObjects(Box::new(planned))
    } else {
        Planned::Forward(Box::new(planned))
    })
}

/// Operations whose request carries a body.
fn has_body(op: S3Op) -> bool {
    matches!(
        op,
        S3Op::PutObject | S3Op::UploadPart | S3Op::CompleteMultipartUpload | S3Op::DeleteObjects
    )
}

/// The alias's key prefix plus the client's key, decoded once and checked.
fn full_key(alias: &Alias, raw_key: &str) -> Result<String, S3Error> {
    let bad = |e: crate::s3::key::KeyError| {
        S3Error::new(400, "InvalidArgument", format!("Invalid object key: {e}"))
    };
    let key = decode_key(raw_key, true).map_err(bad)?;
    let full = format!("{}{key}", alias.key_prefix);
    check_key(&full).map_err(bad)?;
    Ok(full)
}

/// The grant each operation needs.
fn check_grants(
    op: S3Op,
    identity: &Identity,
    alias: &Alias,
    key: &str,
    params: &[operation::Param<'_>],
) -> Result<(), S3Error> {
    let need = |op_class: Operation| {
        if policy::allows(identity, op_class, &alias.bucket, key) {
            Ok(())
        } else {
            Err(denied(identity, op_class, &alias.bucket, key))
        }
    };
    match op {
        S3Op::GetObject | S3Op::HeadObject | S3Op::ListParts => need(Operation::Read),
        S3Op::PutObject
        | S3Op::CopyObject
        | S3Op::CreateMultipartUpload
        | S3Op::UploadPart
        | S3Op::UploadPartCopy
        | S3Op::CompleteMultipartUpload
        | S3Op::AbortMultipartUpload => need(Operation::Write),
        S3Op::DeleteObject => need(Operation::Delete),
        // Each key is checked once the body is read.
        S3Op::DeleteObjects => Ok(()),
        S3Op::ListObjectsV1 | S3Op::ListObjectsV2 | S3Op::ListMultipartUploads => {
            let prefix = format!(
                "{}{}",
                alias.key_prefix,
                operation::value(params, "prefix")
                    .map(query_decode)
                    .unwrap_or_default()
            );
            if policy::reaches(identity, Operation::List, &alias.bucket, &prefix) {
                Ok(())
            } else {
                Err(denied(identity, Operation::List, &alias.bucket, &prefix))
            }
        }
        S3Op::HeadBucket | S3Op::GetBucketLocation | S3Op::ListBuckets | S3Op::CreateBucket => {
            if visible(identity, alias) {
                Ok(())
            } else {
                Err(S3Error::access_denied(format!(
                    "no grant of {} reaches bucket {}",
                    identity.subject, alias.name
                )))
            }
        }
    }
}

fn denied(identity: &Identity, op: Operation, bucket: &str, key: &str) -> S3Error {
    S3Error::access_denied(
        policy::check(identity, op, bucket, key)
            .err()
            .unwrap_or_default(),
    )
}

fn marker_context(client_bucket: &str, identity: &Identity) -> String {
    format!("{client_bucket}\n{}\n{}", identity.plugin, identity.subject)
}

/// Whether any grant reaches into the alias.
fn visible(identity: &Identity, alias: &Alias) -> bool {
    [
        Operation::Read,
        Operation::Write,
        Operation::Delete,
        Operation::List,
    ]
    .into_iter()
    .any(|op| policy::reaches(identity, op, &alias.bucket, &alias.key_prefix))
}

/// ListBuckets: the aliases this identity can reach.
fn list_buckets(identity: &Identity, route: &S3Route) -> Bytes {
    let names: Vec<(&str, &str)> = route
        .aliases
        .iter()
        .filter(|a| visible(identity, a))
        .map(|a| (a.name.as_str(), "2024-01-01T00:00:00.000Z"))
        .collect();
    Bytes::from(list_buckets_xml(
        &identity.subject,
        &identity.subject,
        &names,
    ))
}

/// `x-amz-copy-source` (`[/]bucket/key[?versionId=v]`, key URL-encoded) checked for read
/// access and rewritten to the upstream bucket and full key.
fn copy_source_upstream(
    value: &http::HeaderValue,
    route: &S3Route,
    dest: &Alias,
    identity: &Identity,
) -> Result<String, S3Error> {
    let bad = || S3Error::invalid_argument("Invalid copy source: expected bucket/key");
    let text = value.to_str().map_err(|_| bad())?;
    let (path, version) = match text.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (text, None),
    };
    let path = path.trim_start_matches('/');
    let (bucket, raw_key) = path.split_once('/').ok_or_else(bad)?;
    if raw_key.is_empty() {
        return Err(bad());
    }
    let source = route
        .find(bucket)
        .ok_or_else(|| S3Error::no_such_bucket(bucket))?;
    if !Arc::ptr_eq(&source.pool, &dest.pool) {
        return Err(S3Error::not_implemented(format!(
            "copy from {} to {}: the buckets are on different upstreams",
            source.name, dest.name
        )));
    }
    let key = full_key(source, raw_key)?;
    if !policy::allows(identity, Operation::Read, &source.bucket, &key) {
        return Err(denied(identity, Operation::Read, &source.bucket, &key));
    }
    let mut out = format!("/{}/{}", source.bucket, encode_key_path(&key));
    if let Some(v) = version.and_then(|q| q.strip_prefix("versionId=")) {
        out.push_str("?versionId=");
        out.push_str(v);
    }
    Ok(out)
}

/// Opens the sealed markers a client hands back.
struct Unsealer<'a> {
    markers: &'a MarkerSealer,
    context: String,
}

/// Marker parameters that are keys (plain keys get the alias's key prefix).
const KEY_MARKER_PARAMS: &[&str] = &["marker", "key-marker"];
/// Marker parameters that are opaque upstream tokens.
const TOKEN_MARKER_PARAMS: &[&str] = &["continuation-token", "upload-id-marker"];

/// The forwarded query: only the operation's parameters, with key-valued ones moved under the
/// alias's key prefix (a listing of the alias's root lists `key_prefix` upstream) and sealed
/// markers opened.
fn upstream_query(
    op: S3Op,
    params: &[operation::Param<'_>],
    key_prefix: &str,
    unsealer: &Unsealer,
) -> Result<String, S3Error> {
    let is_listing = matches!(
        op,
        S3Op::ListObjectsV1 | S3Op::ListObjectsV2 | S3Op::ListMultipartUploads
    );
    let mut out: Vec<String> = Vec::new();
    let mut saw_prefix = false;
    for (name, value) in params {
        if !operation::forwards(op, name) {
            continue;
        }
        // An empty delimiter means none (rclone's recursive listings send `delimiter=`); some
        // servers (s3s-fs) would split keys on "" instead.
        if *name == "delimiter" && value.is_none_or(|v| v.is_empty()) {
            continue;
        }
        saw_prefix |= *name == "prefix";
        let Some(v) = value else {
            out.push((*name).to_string());
            continue;
        };
        let marker = KEY_MARKER_PARAMS.contains(name) || TOKEN_MARKER_PARAMS.contains(name);
        let decoded = query_decode(v);
        if is_listing && marker && MarkerSealer::is_sealed(&decoded) {
            let opened = unsealer
                .markers
                .open(&decoded, &unsealer.context)
                .ok_or_else(|| {
                    S3Error::invalid_argument(format!(
                        "The {name} is not one this gateway issued for this bucket and key."
                    ))
                })?;
            out.push(format!("{name}={}", query_encode(&opened)));
            continue;
        }
        let prefixed = is_listing && matches!(*name, "prefix" | "start-after")
            || KEY_MARKER_PARAMS.contains(name);
        if prefixed && is_listing && !key_prefix.is_empty() {
            out.push(format!(
                "{name}={}",
                query_encode(&format!("{key_prefix}{decoded}"))
            ));
        } else {
            out.push(format!("{name}={v}"));
        }
    }
    if is_listing && !saw_prefix && !key_prefix.is_empty() {
        out.push(format!("prefix={}", query_encode(key_prefix)));
    }
    Ok(out.join("&"))
}

/// Everything but unreserved characters is encoded.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A query value as text: `+` is a space (as aws-sigv4 canonicalizes it), then percent-decoded.
pub fn query_decode(v: &str) -> String {
    percent_decode_str(&v.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

fn query_encode(v: &str) -> String {
    utf8_percent_encode(v, QUERY_VALUE).to_string()
}

/// A header's text, if it is text.
pub fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Who the signature verified as, whatever was then decided.
pub fn verified_identity(planned: &Result<Planned, Box<Refusal>>) -> Option<&Identity> {
    match planned {
        Ok(Planned::Forward(r)) => Some(&r.identity),
        Ok(Planned::Answer { identity, .. }) => Some(identity),
        Ok(Planned::DeleteObjects(r)) => Some(&r.identity),
        Err(refusal) => refusal.identity.as_ref(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unsealer(markers: &MarkerSealer) -> Unsealer<'_> {
        Unsealer {
            markers,
            context: "b\ns3-key\nalice".into(),
        }
    }

    fn q(op: S3Op, raw: &str, prefix: &str) -> String {
        let m = MarkerSealer::new(None);
        upstream_query(op, &operation::params(raw), prefix, &unsealer(&m)).unwrap()
    }

    #[test]
    fn sealed_markers_are_opened_and_foreign_ones_refused() {
        let m = MarkerSealer::new(None);
        let token = m.seal("p/users/bob/x", "b\ns3-key\nalice");
        let raw = format!("marker={}", query_encode(&token));
        let got = upstream_query(
            S3Op::ListObjectsV1,
            &operation::params(&raw),
            "p/",
            &unsealer(&m),
        );
        assert_eq!(got.unwrap(), "marker=p%2Fusers%2Fbob%2Fx&prefix=p%2F");
        let other = crate::frontend::s3::markers::other_fleet(9).seal("x", "b\ns3-key\nalice");
        let raw = format!("list-type=2&continuation-token={other}");
        let got = upstream_query(
            S3Op::ListObjectsV2,
            &operation::params(&raw),
            "",
            &unsealer(&m),
        );
        assert_eq!(got.unwrap_err().code, "InvalidArgument");
    }

    #[test]
    fn listing_queries_move_under_the_key_prefix() {
        assert_eq!(
            q(
                S3Op::ListObjectsV2,
                "list-type=2&prefix=a%20b%2F&delimiter=%2F&acl&max-keys=2",
                "photos/"
            ),
            "list-type=2&prefix=photos%2Fa%20b%2F&delimiter=%2F&max-keys=2"
        );
        assert_eq!(
            q(S3Op::ListObjectsV2, "list-type=2", "photos/"),
            "list-type=2&prefix=photos%2F"
        );
        assert_eq!(q(S3Op::ListObjectsV2, "list-type=2", ""), "list-type=2");
        assert_eq!(
            q(S3Op::ListObjectsV1, "marker=x&prefix=", "p/"),
            "marker=p%2Fx&prefix=p%2F"
        );
    }

    #[test]
    fn an_empty_delimiter_is_no_delimiter() {
        assert_eq!(
            q(S3Op::ListObjectsV2, "list-type=2&delimiter=&prefix=a", ""),
            "list-type=2&prefix=a"
        );
        assert_eq!(q(S3Op::ListObjectsV1, "delimiter", ""), "");
        assert_eq!(q(S3Op::ListObjectsV1, "delimiter=%2F", ""), "delimiter=%2F");
    }

    #[test]
    fn object_queries_keep_only_their_parameters() {
        let p = "partNumber=1&uploadId=abc&X-Amz-Signature=00&response-content-type=x";
        assert_eq!(q(S3Op::UploadPart, p, "p/"), "partNumber=1&uploadId=abc");
        assert_eq!(
            q(S3Op::GetObject, p, "p/"),
            "partNumber=1&response-content-type=x"
        );
    }

    #[test]
    fn query_values_decode_like_sigv4() {
        assert_eq!(query_decode("a+b%2Bc%2F"), "a b+c/");
        assert_eq!(query_encode("a b+c/é"), "a%20b%2Bc%2F%C3%A9");
    }
}
