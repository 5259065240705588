//! Planning one S3 request: verify the caller's signature, find the operation, bucket and key,
//! check the grants, and decide what goes upstream (path, query, payload hash, body handling),
//! or answer locally. Everything here runs on the request head alone, before any upstream
//! connection exists.

use std::sync::Arc;
use std::time::SystemTime;

use bucketgate_plugin::{Identity, Operation};
use bytes::Bytes;
use http::HeaderMap;
use pingora_http::RequestHeader;

use super::body::{self, BodyPlan};
use super::buckets::{Alias, S3Route};
use super::error::S3Error;
use super::markers::MarkerSealer;
use super::operation::{self, S3Op};
use super::query::{self, Query};
use super::scope::{self, ListKind, ListPlan};
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
    /// A key listing: driven page by page within the caller's list grants
    /// ([`super::paging`]).
    List(Box<S3Request>),
    /// DeleteObjects: its body must be read and checked key by key first.
    DeleteObjects(Box<S3Request>),
    /// Answer locally with this XML.
    Answer { identity: Identity, body: Bytes },
}

impl Planned {
    /// The verified caller.
    pub fn identity(&self) -> &Identity {
        match self {
            Planned::Forward(r) | Planned::List(r) | Planned::DeleteObjects(r) => &r.identity,
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
    /// The upstream query (built from the canonical query, normalized again when sent).
    pub query: String,
    /// For ListObjects (V1, V2) and ListMultipartUploads: the page this request reads.
    pub listing: Option<ListPlan>,
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
    if incoming.req.method == http::Method::OPTIONS {
        return Err(Box::new(Refusal {
            error: options_refusal(&incoming.req.headers),
            identity: None,
        }));
    }
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
    let params =
        Query::parse(addressed.raw_query).map_err(|e| S3Error::invalid_argument(e.to_string()))?;
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
    super::protection::check(op, &req.headers, params.iter())?;
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
    let listing = match ListKind::of(op) {
        Some(kind) => {
            let context = marker_context(client_bucket, identity);
            let who = scope::Lister {
                identity,
                bucket: &alias.bucket,
                key_prefix: &alias.key_prefix,
                sealer: markers,
                context: &context,
            };
            Some(scope::plan(kind, &params, &who)?)
        }
        None => None,
    };
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
        // A listing's query is its page's, made when it is driven.
        query: match &listing {
            Some(_) => String::new(),
            None => upstream_query(op, &params),
        },
        listing,
        copy_source,
        body,
    };
    Ok(if op == S3Op::DeleteObjects {
        Planned::DeleteObjects(Box::new(planned))
    } else if planned.listing.is_some() {
        Planned::List(Box::new(planned))
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
    params: &Query,
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
                params.get("prefix").unwrap_or_default()
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

/// Parameters sent upstream as bare flags (`?uploads`, `?delete`).
const FLAGS: &[&str] = &["uploads", "delete"];

/// The forwarded query of an operation that is not a key listing: only the parameters the
/// operation may carry, from the canonical query. (Listings build theirs in [`scope`].)
fn upstream_query(op: S3Op, params: &Query) -> String {
    query::build(
        params
            .iter()
            .filter(|(name, _)| operation::forwards(op, name))
            .map(|(name, value)| {
                let flag = value.is_empty() && FLAGS.contains(&name);
                (name, (!flag).then_some(value))
            }),
    )
}

/// An `OPTIONS` that the route's CORS layer did not answer as a preflight. S3 does not
/// authenticate `OPTIONS` (a presigned URL is signed for another method), so it is answered
/// before any signature check, as S3 answers: `400` without `Origin`, else `403` (no CORS rule
/// of this route allows the request).
fn options_refusal(headers: &HeaderMap) -> S3Error {
    if headers.get("origin").is_none() {
        return S3Error::new(
            400,
            "BadRequest",
            "Insufficient information. Origin request header needed.",
        )
        .logged("OPTIONS without Origin");
    }
    S3Error::new(
        403,
        "AccessForbidden",
        "CORSResponse: This CORS request is not allowed.",
    )
    .logged("OPTIONS that no CORS rule of the route answers")
}

/// A header's text, if it is text.
pub fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Who the signature verified as, whatever was then decided.
pub fn verified_identity(planned: &Result<Planned, Box<Refusal>>) -> Option<&Identity> {
    match planned {
        Ok(Planned::Forward(r)) | Ok(Planned::List(r)) => Some(&r.identity),
        Ok(Planned::Answer { identity, .. }) => Some(identity),
        Ok(Planned::DeleteObjects(r)) => Some(&r.identity),
        Err(refusal) => refusal.identity.as_ref(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(op: S3Op, raw: &str) -> String {
        upstream_query(op, &Query::parse(raw).unwrap())
    }

    #[test]
    fn object_queries_keep_only_their_parameters() {
        let p = "partNumber=1&uploadId=abc&X-Amz-Signature=00&response-content-type=x";
        assert_eq!(q(S3Op::UploadPart, p), "partNumber=1&uploadId=abc");
        assert_eq!(
            q(S3Op::GetObject, p),
            "partNumber=1&response-content-type=x"
        );
        assert_eq!(
            q(
                S3Op::GetObject,
                "response-content-type=text%2Fplain&x-id=GetObject"
            ),
            "response-content-type=text%2Fplain"
        );
    }

    #[test]
    fn flags_stay_bare_and_values_are_re_encoded() {
        assert_eq!(q(S3Op::CreateMultipartUpload, "uploads="), "uploads");
        assert_eq!(q(S3Op::DeleteObjects, "delete"), "delete");
        assert_eq!(
            q(S3Op::GetObject, "response-content-disposition=a+b%3B"),
            "response-content-disposition=a%20b%3B"
        );
    }

    #[test]
    fn options_is_answered_like_s3() {
        let mut headers = HeaderMap::new();
        let e = options_refusal(&headers);
        assert_eq!((e.status, e.code.as_ref()), (400, "BadRequest"));
        headers.insert("origin", "https://a.example".parse().unwrap());
        let e = options_refusal(&headers);
        assert_eq!((e.status, e.code.as_ref()), (403, "AccessForbidden"));
    }
}
