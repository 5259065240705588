//! The two endpoints besides login and callback: logout (the session deleted here, then the
//! provider's end-session endpoint when it has one), and key minting (`/<bucket>/?auth` on S3
//! routes with `mint_keys`: a sealed S3 key for the signed-in user, after a login if needed).

use bucketgate_plugin::{grants_from_claims, LocalResponse, RequestView};

use crate::login::StartError;
use crate::pages;
use crate::records::{is_token_shaped, session_key, Mode, SessionRecord};
use crate::web;
use crate::{redirect, OidcPlugin};

impl OidcPlugin {
    /// `GET`/`POST logout_path?rd=...`.
    pub(crate) async fn logout(&self, req: &RequestView) -> LocalResponse {
        let allowed = [http::Method::GET, http::Method::HEAD, http::Method::POST];
        if !allowed.contains(&req.method) {
            let mut r = pages::failed(405, "Method not allowed", "Sign out with GET or POST.", "/");
            r.headers.push(("allow".into(), "GET, HEAD, POST".into()));
            return r;
        }
        let mut id_token = None;
        if let Some(id) = req
            .cookie(&self.cfg.cookie.name)
            .filter(|c| is_token_shaped(c))
        {
            let key = session_key(id);
            match self.records.take::<SessionRecord>(&key).await {
                Ok(Some(s)) => {
                    log::info!("oidc: {:?} signed out", s.subject);
                    id_token = s.id_token;
                }
                Ok(None) => {}
                Err(e) => {
                    log::warn!("oidc: logout: {e}");
                    return pages::unavailable(web::prefers_json(req));
                }
            }
        }
        let target = match req.query_param("rd") {
            Some(rd) => web::safe_return_url(&rd, &self.site),
            None => self.cfg.post_logout_url.clone(),
        };
        let absolute = if target.starts_with('/') {
            format!("{}{target}", self.site.origin())
        } else {
            target.clone()
        };
        let secure = self.secure(req);
        let cookies = vec![web::clear_cookie(&self.cfg.cookie.name, "/", secure)];
        let location = match self.provider.discovered().await {
            Ok(d) => self
                .provider
                .end_session_url(&d, id_token.as_deref(), &absolute)
                .unwrap_or(target),
            Err(why) => {
                log::warn!("oidc: logout without the provider's end-session: {why}");
                target
            }
        };
        redirect(&location, cookies)
    }

    /// `GET /<bucket>/?auth`: a key now with a session, else a login that ends in one.
    pub(crate) async fn mint(&self, req: &RequestView) -> LocalResponse {
        let json = req.query_param("auth").as_deref() == Some("json") || web::prefers_json(req);
        if let Some(id) = req.cookie(&self.cfg.cookie.name) {
            match self.session(id).await {
                Ok(Some(s)) => return self.mint_page(&s, json),
                Ok(None) => {}
                Err(e) => {
                    log::warn!("oidc: mint: {e}");
                    return pages::unavailable(json);
                }
            }
        }
        match self
            .start_login(req, &web::own_url(req, &self.site), Mode::Mint { json })
            .await
        {
            Ok(resp) => resp,
            Err(StartError::Unavailable(why)) => {
                log::warn!("oidc: cannot start a login: {why}");
                pages::unavailable(json)
            }
        }
    }

    /// The key page for a session: a sealed key with its subject and grants.
    pub(crate) fn mint_page(&self, s: &SessionRecord, json: bool) -> LocalResponse {
        let (Some(minter), Some(cfg)) = (&self.minter, &self.cfg.mint_keys) else {
            return pages::failed(
                404,
                "No keys here",
                "This site does not hand out S3 keys.",
                "/",
            );
        };
        let grants = grants_from_claims(
            &s.claims,
            &self.cfg.grants,
            self.cfg.grants_claim.as_deref(),
        );
        match minter.mint(&s.subject, &grants, cfg.ttl.get()) {
            Ok(key) => {
                log::info!(
                    "oidc: minted an S3 key for {:?} ({} grants, {}s)",
                    s.subject,
                    grants.len(),
                    cfg.ttl.get().as_secs()
                );
                pages::key_page(&key, &s.subject, &self.site.origin(), json)
            }
            Err(why) => {
                log::warn!("oidc: minting a key for {:?} failed: {why}", s.subject);
                pages::failed(
                    500,
                    "No key",
                    "An S3 key could not be made. Please try again later.",
                    "/",
                )
            }
        }
    }
}
