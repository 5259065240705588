//! The `files` frontend on the [`Frontend`] seam: plan the object operation, authorize it with
//! the route's auth chain and grants, and forward it as one S3 call. Upstream errors are shown
//! as short JSON bodies ([`crate::frontend::upstream_errors`]); object answers to GET and HEAD
//! are made safe to open in a browser ([`header_policy::harden_object_response`]).

use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use pingora_error::Result;
use pingora_http::{RequestHeader, ResponseHeader};
use pingora_proxy::Session;

use super::{check_headers, plan, ClientRequest, ObjectRequest};
use crate::access::authorize::{self, authorize, Asked, Decision};
use crate::access::policy::operation_for;
use crate::config::model::Method;
use crate::frontend::upstream_errors::{self, MappedError};
use crate::frontend::{header_policy, Exchange, Forward, Frontend, Step};
use crate::reply::{Refusal, Reply};
use crate::s3::{encode_key_path, UNSIGNED_PAYLOAD};
use crate::upstream::client::upstream_uri;
use crate::upstream::Pool;

/// The most bytes of an upstream error body kept to find its S3 error code.
const ERROR_BODY_CAP: usize = 4096;

/// A `files` route: its upstream bucket and pool.
pub struct Files {
    route: Arc<FilesRoute>,
}

struct FilesRoute {
    bucket: String,
    pool: Arc<Pool>,
}

impl Files {
    pub fn new(bucket: &str, pool: Arc<Pool>) -> Files {
        Files {
            route: Arc::new(FilesRoute {
                bucket: bucket.to_string(),
                pool,
            }),
        }
    }
}

#[async_trait]
impl Frontend for Files {
    async fn request(&self, session: &mut Session, ex: &mut Exchange<'_>) -> Result<Step> {
        // A method the route does not serve may be for one of its sign-in plugins (the oidc
        // sign-out form POSTs): they answer before the method check would refuse it.
        let method = session.req_header().method.as_str();
        if !ex.config.methods.iter().any(|m| m.as_str() == method) {
            match authorize::sign_in(session, &ex.gate()).await {
                Some(Decision::Respond(resp)) => return Ok(Step::Plugin(resp)),
                Some(Decision::Refused(refusal, _)) => return Ok(Step::Refuse(refusal)),
                Some(Decision::Proceed(_)) | None => {}
            }
        }
        let req = session.req_header();
        let client = ClientRequest {
            method: req.method.as_str(),
            rest: ex.rest.as_bytes(),
            content_length: req
                .headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()),
            chunked: req.headers.contains_key(http::header::TRANSFER_ENCODING),
        };
        let obj = match plan(ex.config, &client) {
            Ok(obj) => obj,
            Err(refusal) => return Ok(Step::Refuse(refusal)),
        };
        let asked = Asked {
            op: operation_for(obj.method),
            bucket: &self.route.bucket,
            key: &obj.key,
            public: obj.is_health_key,
        };
        match authorize(session, &ex.gate(), &asked, ex.admission).await {
            Decision::Proceed(identity) => {
                let limited = match &identity {
                    Some(id) => ex.check_identity(&id.subject).await,
                    None => None,
                };
                ex.identity = identity;
                let refused =
                    limited.or_else(|| check_headers(&session.req_header().headers).err());
                if let Some(refusal) = refused {
                    ex.key = Some(obj.key);
                    return Ok(Step::Refuse(refusal));
                }
                Ok(Step::Forward(Box::new(FilesForward {
                    route: self.route.clone(),
                    obj,
                    active_content: ex.config.active_content,
                    error: None,
                })))
            }
            Decision::Respond(resp) => {
                ex.key = Some(obj.key);
                Ok(Step::Plugin(resp))
            }
            Decision::Refused(refusal, identity) => {
                ex.identity = identity;
                ex.key = Some(obj.key);
                Ok(Step::Refuse(refusal))
            }
        }
    }

    fn render(&self, refusal: &Refusal, _req: &RequestHeader, _request_id: Option<&str>) -> Reply {
        refusal.json()
    }
}

/// One object operation on its way upstream.
struct FilesForward {
    route: Arc<FilesRoute>,
    obj: ObjectRequest,
    /// The route lets browsers render objects as pages (`active_content`).
    active_content: bool,
    /// Set when the upstream answered an error that the client sees rewritten.
    error: Option<ErrorRewrite>,
}

/// An upstream error being replaced by our own body.
struct ErrorRewrite {
    upstream_status: u16,
    mapped: MappedError,
    /// The start of the upstream body, for the log.
    upstream_body: Vec<u8>,
    sent: bool,
}

impl Forward for FilesForward {
    fn pool(&self) -> &Arc<Pool> {
        &self.route.pool
    }

    fn target(&self) -> (&str, &str) {
        (&self.route.bucket, &self.obj.key)
    }

    fn log_key(&self) -> Option<&str> {
        Some(&self.obj.key)
    }

    fn upstream_request(&mut self, req: &mut RequestHeader, host: &str) -> Result<()> {
        let pool = &self.route.pool;
        let target = pool.object_path(&self.route.bucket, &encode_key_path(&self.obj.key));
        req.set_uri(upstream_uri(target, &self.obj.query)?);
        header_policy::filter_request(req);
        req.insert_header("host", host)?;
        pool.signer.sign(req, UNSIGNED_PAYLOAD, SystemTime::now());
        Ok(())
    }

    fn response_head(&mut self, resp: &mut ResponseHeader) -> Result<()> {
        let status = resp.status.as_u16();
        if status < 300 || status == 304 {
            header_policy::filter_response(resp);
            if matches!(self.obj.method, Method::Get | Method::Head) {
                header_policy::harden_object_response(resp, self.active_content);
            }
            return Ok(());
        }
        let mapped = upstream_errors::map_status(status);
        *resp = error_head(&mapped)?;
        self.error = Some(ErrorRewrite {
            upstream_status: status,
            mapped,
            upstream_body: Vec::new(),
            sent: false,
        });
        Ok(())
    }

    fn response_body(&mut self, body: &mut Option<Bytes>, end: bool, req: &RequestHeader) {
        let Some(rewrite) = self.error.as_mut() else {
            return;
        };
        if let Some(chunk) = body.take() {
            let room = ERROR_BODY_CAP.saturating_sub(rewrite.upstream_body.len());
            rewrite
                .upstream_body
                .extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        if end && !rewrite.sent && req.method != http::Method::HEAD {
            rewrite.sent = true;
            *body = Some(rewrite.mapped.body.clone());
        } else {
            *body = Some(Bytes::new());
        }
    }

    fn finished(&self) {
        let Some(rewrite) = self.error.as_ref() else {
            return;
        };
        if rewrite.mapped.our_fault {
            let code = upstream_errors::s3_error_code(&rewrite.upstream_body);
            upstream_errors::report_our_fault(
                &self.route.pool.name,
                rewrite.upstream_status,
                code.as_deref(),
            );
        }
    }
}

/// The response head that replaces an upstream error: only our status, body type and length.
fn error_head(mapped: &MappedError) -> Result<ResponseHeader> {
    let mut head = ResponseHeader::build(mapped.status, Some(4))?;
    head.insert_header("content-type", "application/json")?;
    head.insert_header("content-length", mapped.body.len().to_string())?;
    head.insert_header("cache-control", "no-store")?;
    if let Some(secs) = mapped.retry_after {
        head.insert_header("retry-after", secs)?;
    }
    Ok(head)
}
