//! Key minting on S3 routes with `mint_keys` (`/<bucket>/?auth`, or `/?auth` on the sign-in
//! host after the virtual-host form's hop there).
//!
//! A `GET` never mints. Signed in, it shows an offer: a button whose form POSTs to the same URL
//! with the session's CSRF token (`?auth=json`, or `Accept: application/json`: the token and the
//! URL as JSON, for scripts). Not signed in, it starts a login that comes back to the offer.
//! Only a `POST` mints, and only when it is same-origin ([`csrf::same_origin`]), carries a live
//! session that this route's `allow` rules accept, and the session's CSRF token. So a page on
//! another site, or a script's `fetch()`, can make nobody's key.

use bucketgate_plugin::{LocalResponse, RequestView};

use crate::csrf;
use crate::login::StartError;
use crate::pages;
use crate::records::SessionRecord;
use crate::web;
use crate::OidcPlugin;

impl OidcPlugin {
    /// `GET|HEAD /<bucket>/?auth`: the offer with a session, else a login that ends on it.
    pub(crate) async fn mint_offer(&self, req: &RequestView) -> LocalResponse {
        let json = wants_json(req);
        let here = web::without_param(&web::own_url(req, &self.site), csrf::PARAM);
        match self.signed_in(req).await {
            Ok(Some((id, s))) => {
                if let Err(why) = self.allowed(&s) {
                    log::info!(
                        "oidc: no key offer: {:?} is not allowed here: {why}",
                        s.subject
                    );
                    return pages::forbidden(
                        json,
                        "Your account is not allowed to use this site.",
                        "/",
                    );
                }
                let Some(token) = self.csrf.token(csrf::MINT, &id) else {
                    return pages::unavailable(json);
                };
                let post_url = web::with_param(&here, csrf::PARAM, &token);
                let ttl = self
                    .cfg
                    .mint_keys
                    .as_ref()
                    .map_or(0, |m| m.ttl.get().as_secs());
                pages::mint_offer(&s.subject, &post_url, &token, ttl, json)
            }
            Ok(None) => match self.start_login(req, &here).await {
                Ok(resp) => resp,
                Err(StartError::Unavailable(why)) => {
                    log::warn!("oidc: cannot start a login: {why}");
                    pages::unavailable(json)
                }
            },
            Err(e) => {
                log::warn!("oidc: mint: {e}");
                pages::unavailable(json)
            }
        }
    }

    /// `POST /<bucket>/?auth&csrf=<token>`: a key, when the request is the user's own.
    pub(crate) async fn mint_post(&self, req: &RequestView) -> LocalResponse {
        let json = wants_json(req);
        let here = web::without_param(&web::own_url(req, &self.site), csrf::PARAM);
        if let Err(why) = csrf::same_origin(req, &self.site) {
            log::warn!("oidc: mint refused: {why}");
            return pages::forbidden(
                json,
                "Keys are made only from this site's own key page.",
                &here,
            );
        }
        let (id, s) = match self.signed_in(req).await {
            Ok(Some(found)) => found,
            Ok(None) => return pages::sign_in_first(json, &self.login_link(&here)),
            Err(e) => {
                log::warn!("oidc: mint: {e}");
                return pages::unavailable(json);
            }
        };
        if let Err(why) = self.allowed(&s) {
            log::info!(
                "oidc: mint refused: {:?} is not allowed here: {why}",
                s.subject
            );
            return pages::forbidden(json, "Your account is not allowed to use this site.", "/");
        }
        let token = req.query_param(csrf::PARAM).unwrap_or_default();
        if !self.csrf.verify(csrf::MINT, &id, &token) {
            log::warn!(
                "oidc: mint refused for {:?}: missing or wrong CSRF token",
                s.subject
            );
            return pages::forbidden(
                json,
                "This request did not come from your key page. Open it again and press the button.",
                &here,
            );
        }
        self.mint_page(&s, json)
    }

    /// A freshly minted key for a session: its subject and this route's grants.
    fn mint_page(&self, s: &SessionRecord, json: bool) -> LocalResponse {
        let (Some(minter), Some(cfg)) = (&self.minter, &self.cfg.mint_keys) else {
            return pages::failed(
                404,
                "No keys here",
                "This site does not hand out S3 keys.",
                "/",
            );
        };
        let grants = self.grants(s);
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

/// `?auth=json`, or `Accept: application/json`.
fn wants_json(req: &RequestView) -> bool {
    req.query_param("auth").as_deref() == Some("json") || web::prefers_json(req)
}
