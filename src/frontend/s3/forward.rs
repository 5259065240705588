//! One S3 request forwarded through the proxy phases: the upstream request re-signed under
//! the pool's credentials, the client's aws-chunked body checked on its way, and the answer's
//! head and body rewritten to the client's view ([`super::response`]).

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use pingora_error::Result;
use pingora_http::{RequestHeader, ResponseHeader};

use super::markers::MarkerSealer;
use super::plan::S3Request;
use super::response::{self, BodyState};
use super::S3Error;
use crate::frontend::{header_policy, Forward};
use crate::reply::Refusal;
use crate::upstream::client::upstream_uri;
use crate::upstream::Pool;

/// A planned S3 request and what its response body needs.
pub struct S3Forward {
    plan: Box<S3Request>,
    markers: Arc<MarkerSealer>,
    request_id: String,
    /// What happens to the upstream body, once its head arrived.
    body: Option<BodyState>,
}

impl S3Forward {
    pub fn new(plan: Box<S3Request>, markers: Arc<MarkerSealer>, request_id: String) -> Self {
        S3Forward {
            plan,
            markers,
            request_id,
            body: None,
        }
    }
}

impl Forward for S3Forward {
    fn pool(&self) -> &Arc<Pool> {
        &self.plan.pool
    }

    fn target(&self) -> (&str, &str) {
        (&self.plan.bucket, &self.plan.key)
    }

    fn log_key(&self) -> Option<&str> {
        Some(self.plan.key.as_str()).filter(|k| !k.is_empty())
    }

    /// Upload bodies pass through the aws-chunked decoder and checksums.
    fn filters_body(&self) -> bool {
        true
    }

    /// Path, query, headers, body framing, signature.
    fn upstream_request(&mut self, req: &mut RequestHeader, host: &str) -> Result<()> {
        let plan = &self.plan;
        req.set_uri(upstream_uri(plan.upstream_path(), &plan.query)?);
        header_policy::filter_s3_request(req);
        if let Some(source) = &plan.copy_source {
            req.insert_header("x-amz-copy-source", source.as_str())?;
        }
        plan.body.edit_headers(req)?;
        req.insert_header("host", host)?;
        plan.pool
            .signer
            .sign(req, &plan.body.payload_hash, SystemTime::now());
        Ok(())
    }

    /// A forged chunk or a bad checksum stops the upload before it reaches storage.
    fn request_body(&mut self, body: &mut Option<Bytes>, end: bool) -> Result<(), Refusal> {
        let plan = &mut self.plan;
        plan.body.body_filter(body, end).map_err(|e| {
            log::warn!(
                "s3 upload refused mid-body: user={} key={:?}: {e}",
                plan.identity.subject,
                plan.key
            );
            Refusal::from(S3Error::from(e))
        })
    }

    fn response_head(&mut self, resp: &mut ResponseHeader) -> Result<()> {
        self.body = Some(response::on_head(&self.plan, resp, &self.request_id)?);
        Ok(())
    }

    /// Object bodies stream through untouched; only rewritten bodies need the rest.
    fn response_body(&mut self, body: &mut Option<Bytes>, end: bool, req: &RequestHeader) {
        let Some(state) = self.body.as_mut() else {
            return;
        };
        if matches!(state, BodyState::Pass) || req.method == http::Method::HEAD {
            return;
        }
        response::on_body(
            &self.plan,
            &self.markers,
            state,
            body,
            end,
            req.uri.path(),
            &self.request_id,
        );
    }
}
