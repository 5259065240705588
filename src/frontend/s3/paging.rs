//! A key listing (ListObjects V1 and V2, ListMultipartUploads) driven with the internal S3
//! client: each upstream call lists one range the caller may list ([`super::scope`]), and its
//! answer is rewritten to the client's page.
//!
//! A page that would show nothing while the listing goes on (a granted range with no keys) is
//! not sent: the next range is asked at once, up to [`MAX_CALLS`] calls per client request.
//! S3 never answers an empty page that says it is truncated, and clients such as s3cmd take
//! one for the end of the listing. Skipping it reveals nothing: a range holds only keys the
//! caller may list.

use std::sync::Arc;

use async_trait::async_trait;
use bucketgate_plugin::Operation;
use bytes::Bytes;
use pingora_error::Result;
use pingora_proxy::Session;

use super::driven::{answer, Driven, Failed};
use super::error::{from_upstream, S3Error};
use super::markers::MarkerSealer;
use super::plan::S3Request;
use super::scope::{Cursor, ListKind, ListPlan};
use crate::access::policy;
use crate::frontend::s3::xml::listing::{rewrite_listing, ListingError, ListingView};
use crate::frontend::Drive;
use crate::limit::memory::Reservation;
use crate::reply::Refusal;
use crate::upstream::client::{Call, Guard, Touch};
use crate::upstream::S3Client;

/// Upstream calls one client page may take to find something to show.
pub const MAX_CALLS: usize = 64;
/// Largest upstream listing page read (1000 keys of 1 KiB, with room).
const MAX_LISTING: usize = 16 << 20;
/// Buffer budget reserved before a page is read: a page of 1000 keys with long names fits.
const FIRST_RESERVATION: usize = 1 << 20;

/// One client page of a key listing.
pub struct ListPages {
    plan: Box<S3Request>,
    markers: Arc<MarkerSealer>,
    request_id: String,
    route_name: String,
}

impl ListPages {
    pub fn new(
        plan: Box<S3Request>,
        markers: Arc<MarkerSealer>,
        request_id: String,
        route_name: &str,
    ) -> ListPages {
        ListPages {
            plan,
            markers,
            request_id,
            route_name: route_name.to_owned(),
        }
    }
}

#[async_trait]
impl Drive for ListPages {
    async fn run(
        self: Box<Self>,
        session: &mut Session,
        client: &S3Client,
    ) -> Result<std::result::Result<(), Refusal>> {
        let outcome = self.page(client).await;
        let driven = Driven {
            what: "s3 listing",
            route_name: &self.route_name,
            request_id: &self.request_id,
            plan: &self.plan,
        };
        answer(session, &driven, outcome).await
    }
}

impl ListPages {
    /// The client's page: the first upstream page that shows something, or the last one.
    async fn page(&self, client: &S3Client) -> std::result::Result<Bytes, Failed> {
        let plan = &self.plan;
        let Some(mut list) = plan.listing.clone() else {
            return Err(Failed::S3(S3Error::internal("a listing without its plan")));
        };
        let guard = Guard::Caller(&plan.identity);
        let bucket = client.bucket(&plan.pool, &plan.bucket, guard, &self.route_name);
        let mut held = Reservation::default();
        for calls in 1..=MAX_CALLS {
            let (Some(query), Some(page)) = (list.upstream_query(), list.page.as_ref()) else {
                return empty_listing(&list, &plan.client_bucket).map_err(rewrite_failed);
            };
            held.resize(FIRST_RESERVATION).map_err(Failed::Busy)?;
            let range = page.segment.range();
            let touch = Touch::prefix(Operation::List, range);
            let call = Call::new(list.kind.operation(), http::Method::GET, "", &query, touch);
            let answer = bucket
                .send(&call, MAX_LISTING)
                .await
                .map_err(Failed::Upstream)?;
            if answer.status != 200 {
                let err = from_upstream(answer.status, &answer.body).logged(format!(
                    "upstream answered {} to {}",
                    answer.status,
                    list.kind.operation()
                ));
                return Err(Failed::S3(err));
            }
            // The page, and its rewrite, in memory at once.
            held.reserve(answer.body.len().saturating_mul(2))
                .map_err(Failed::Busy)?;
            let written = listing_page(plan, &list, &self.markers, &answer.body).map_err(|e| {
                log::error!(
                    "s3 listing from {} could not be rewritten: {e}",
                    plan.pool.name
                );
                rewrite_failed(e)
            })?;
            match written.next {
                Some(next) if written.shown == 0 && calls < MAX_CALLS => {
                    if !list.advance(next) {
                        return Err(Failed::S3(S3Error::internal(
                            "a cursor outside its listing",
                        )));
                    }
                }
                _ => return Ok(Bytes::from(written.body)),
            }
        }
        Err(Failed::S3(S3Error::internal("listing loop ended")))
    }
}

fn rewrite_failed(e: ListingError) -> Failed {
    Failed::S3(S3Error::internal(format!("listing rewrite failed: {e}")))
}

/// One rewritten upstream page.
struct Written {
    body: Vec<u8>,
    /// Entries the client sees on it.
    shown: usize,
    /// Where the listing goes on, if it does.
    next: Option<Cursor>,
}

/// An upstream listing page as the client sees it: only what its `list` grants cover, with the
/// fields its plan decides from the upstream page, and the next page's cursor sealed.
fn listing_page(
    plan: &S3Request,
    list: &ListPlan,
    markers: &MarkerSealer,
    upstream: &[u8],
) -> std::result::Result<Written, ListingError> {
    let identity = &plan.identity;
    let bucket = plan.bucket.as_str();
    let visible_key = |k: &str| policy::allows(identity, Operation::List, bucket, k);
    let visible_prefix = |p: &str| policy::reaches(identity, Operation::List, bucket, p);
    let view = ListingView {
        client_bucket: &plan.client_bucket,
        key_prefix: &plan.key_prefix,
        visible_key: &visible_key,
        visible_prefix: &visible_prefix,
    };
    let next = std::cell::RefCell::new(None);
    let (body, shown) = rewrite_listing(upstream, &view, &|up| {
        let (cursor, common_prefix) = list.next(up);
        let token = cursor.as_ref().map(|c| c.seal(markers, &list.seal_context));
        *next.borrow_mut() = cursor;
        list.fields(token.as_deref(), common_prefix)
    })?;
    Ok(Written {
        body,
        shown,
        next: next.into_inner(),
    })
}

/// The empty page of a listing that needs no upstream call (`max-keys=0`, or a position past
/// everything the caller may list), written like any other page.
pub fn empty_listing(
    list: &ListPlan,
    client_bucket: &str,
) -> std::result::Result<Bytes, ListingError> {
    let (root, name) = match list.kind {
        ListKind::Uploads => ("ListMultipartUploadsResult", "Bucket"),
        ListKind::V1 | ListKind::V2 => ("ListBucketResult", "Name"),
    };
    // As an upstream would write it: the client's encoding is the page's.
    let encoding = match list.params.encoding_type.as_deref() {
        Some("url") => "<EncodingType>url</EncodingType>",
        _ => "",
    };
    let root = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <{root} xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><{name}/>{encoding}</{root}>"
    );
    let view = ListingView {
        client_bucket,
        key_prefix: "",
        visible_key: &|_| false,
        visible_prefix: &|_| false,
    };
    let (body, _) = rewrite_listing(root.as_bytes(), &view, &|_| list.fields(None, None))?;
    Ok(Bytes::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frontend::s3::query::Query;
    use crate::frontend::s3::scope::{self, Lister};
    use bucketgate_plugin::{Grant, Identity};

    #[test]
    fn empty_pages_are_complete_listings() {
        let identity = Identity {
            subject: "alice".into(),
            plugin: "test".into(),
            claims: Default::default(),
            grants: vec![Grant::new("data", "photos/", &[Operation::List])],
        };
        let sealer = MarkerSealer::new(None);
        let who = Lister {
            identity: &identity,
            bucket: "data",
            key_prefix: "",
            sealer: &sealer,
            context: "data\ntest\nalice",
        };
        for (kind, raw, root) in [
            (
                ListKind::V2,
                "list-type=2&max-keys=0&prefix=p",
                "ListBucketResult",
            ),
            (ListKind::V1, "marker=zzz&delimiter=%2F", "ListBucketResult"),
            (
                ListKind::V2,
                "list-type=2&start-after=q%20r&encoding-type=url",
                "ListBucketResult",
            ),
            (
                ListKind::Uploads,
                "uploads&key-marker=zzz",
                "ListMultipartUploadsResult",
            ),
        ] {
            let list = scope::plan(kind, &Query::parse(raw).unwrap(), &who).unwrap();
            assert!(list.page.is_none(), "{raw}");
            let body = empty_listing(&list, "data").unwrap();
            let text = std::str::from_utf8(&body).unwrap();
            assert!(text.contains(&format!("<{root} ")), "{text}");
            assert!(text.contains("<IsTruncated>false</IsTruncated>"), "{text}");
            assert!(!text.contains("Next"), "{text}");
            if raw.contains("encoding-type") {
                assert!(text.contains("<StartAfter>q%20r</StartAfter>"), "{text}");
                assert!(text.contains("<EncodingType>url</EncodingType>"), "{text}");
            }
            assert!(
                text.contains("<Name>data</Name>") || text.contains("<Bucket>data</Bucket>"),
                "{text}"
            );
        }
    }
}
