//! Puts a request's CORS response headers on whatever answers it: the upstream's response, and
//! every answer bucketgate writes itself (401, 403, 404, 429, S3 error documents, plugin
//! pages). Without them a page on another origin cannot even read the status of a refusal and
//! sees a network error.
//!
//! It is a Pingora downstream module because every response head, local or proxied, passes
//! through the modules on its way out; the proxy sets the headers (from the route's
//! [`crate::access::cors::CorsPolicy`]) once it knows the route and the `Origin` is allowed.

use std::any::Any;

use async_trait::async_trait;
use pingora_core::modules::http::{HttpModule, HttpModuleBuilder, Module};
use pingora_error::Result;
use pingora_http::ResponseHeader;

/// The per-request module state: the headers to add, if any.
#[derive(Default)]
pub struct CorsHeaders {
    headers: Vec<(&'static str, String)>,
}

impl CorsHeaders {
    /// The headers every answer to this request gets.
    pub fn set(&mut self, headers: Vec<(&'static str, String)>) {
        self.headers = headers;
    }
}

#[async_trait]
impl HttpModule for CorsHeaders {
    async fn response_header_filter(
        &mut self,
        resp: &mut ResponseHeader,
        _end_of_stream: bool,
    ) -> Result<()> {
        // A preflight answer carries its own set; interim (1xx) heads get none.
        if self.headers.is_empty()
            || resp.status.as_u16() < 200
            || resp.headers.contains_key("access-control-allow-origin")
        {
            return Ok(());
        }
        for (name, value) in &self.headers {
            if *name == "vary" {
                resp.append_header(*name, value.as_str())?;
            } else {
                resp.insert_header(*name, value.as_str())?;
            }
        }
        Ok(())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// Registers [`CorsHeaders`] in the proxy's downstream modules.
pub struct CorsHeadersBuilder;

impl HttpModuleBuilder for CorsHeadersBuilder {
    fn init(&self) -> Module {
        Box::new(CorsHeaders::default())
    }
}
