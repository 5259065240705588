//! Signing out (`logout_path`). A `GET` never signs out: it shows a confirmation whose form
//! POSTs to the same path with the session's CSRF token. The `POST` must be same-origin
//! ([`csrf::same_origin`]) and, when it carries a live session, that session's token; then the
//! session is deleted here, the cookie cleared, and the browser sent to the provider's
//! end-session endpoint when it has one (RP-initiated logout with `id_token_hint`), else to
//! `rd` or `post_logout_url`. So another site can neither sign a user out nor fill their
//! provider's sign-out page.

use bucketgate_plugin::{LocalResponse, RequestView};

use crate::csrf;
use crate::pages;
use crate::records::{self, is_token_shaped, session_key, SessionRecord};
use crate::web;
use crate::{redirect, OidcPlugin};

impl OidcPlugin {
    /// `GET|HEAD|POST logout_path?rd=...`.
    pub(crate) async fn logout(&self, req: &RequestView) -> LocalResponse {
        match req.method {
            http::Method::GET | http::Method::HEAD => self.logout_page(req).await,
            http::Method::POST => self.logout_post(req).await,
            _ => {
                let mut r =
                    pages::failed(405, "Method not allowed", "Sign out with the button.", "/");
                r.headers.push(("allow".into(), "GET, HEAD, POST".into()));
                r
            }
        }
    }

    /// The session the request's cookie names, read without a re-check at the provider:
    /// its id and record, when it is live (opens here and has not expired).
    async fn cookie_session(
        &self,
        req: &RequestView,
    ) -> Result<Option<(String, SessionRecord)>, crate::StoreError> {
        let Some(id) = req
            .cookie(&self.cfg.cookie.name)
            .filter(|c| is_token_shaped(c))
        else {
            return Ok(None);
        };
        let record = self
            .records
            .get::<SessionRecord>(&session_key(id))
            .await?
            .filter(|s| s.expires_at > records::now());
        Ok(record.map(|s| (id.to_owned(), s)))
    }

    /// The confirmation page: a button that POSTs, with the token of the session if any.
    async fn logout_page(&self, req: &RequestView) -> LocalResponse {
        let session = match self.cookie_session(req).await {
            Ok(s) => s,
            Err(e) => {
                log::warn!("oidc: logout: {e}");
                return pages::unavailable(web::prefers_json(req));
            }
        };
        let mut post_url = self.cfg.logout_path.clone();
        if let Some(rd) = req.query_param("rd") {
            post_url = web::with_param(&post_url, "rd", &rd);
        }
        if let Some((id, _)) = &session {
            let Some(token) = self.csrf.token(csrf::LOGOUT, id) else {
                return pages::unavailable(web::prefers_json(req));
            };
            post_url = web::with_param(&post_url, csrf::PARAM, &token);
        }
        pages::logout_confirm(&post_url, session.is_some())
    }

    /// The sign-out itself.
    async fn logout_post(&self, req: &RequestView) -> LocalResponse {
        let json = web::prefers_json(req);
        if let Err(why) = csrf::same_origin(req, &self.site) {
            log::warn!("oidc: logout refused: {why}");
            return pages::forbidden(
                json,
                "Sign out with the button of this site's sign-out page.",
                &self.cfg.logout_path,
            );
        }
        let mut id_token = None;
        match self.cookie_session(req).await {
            Ok(Some((id, s))) => {
                let token = req.query_param(csrf::PARAM).unwrap_or_default();
                if !self.csrf.verify(csrf::LOGOUT, &id, &token) {
                    log::warn!(
                        "oidc: logout refused for {:?}: missing or wrong CSRF token",
                        s.subject
                    );
                    return pages::forbidden(
                        json,
                        "This request did not come from the sign-out page. Open it again and press the button.",
                        &self.cfg.logout_path,
                    );
                }
                if let Err(e) = self.records.delete(&session_key(&id)).await {
                    log::warn!("oidc: logout: {e}");
                    return pages::unavailable(json);
                }
                log::info!("oidc: {:?} signed out", s.subject);
                id_token = s.id_token;
            }
            Ok(None) => {}
            Err(e) => {
                log::warn!("oidc: logout: {e}");
                return pages::unavailable(json);
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
        let cookies = vec![web::clear_cookie(
            &self.cfg.cookie.name,
            "/",
            self.secure(req),
        )];
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
        // 303: the browser follows with a GET.
        let mut r = redirect(&location, cookies);
        r.status = 303;
        r
    }
}
