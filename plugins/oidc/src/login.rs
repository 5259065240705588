//! Starting a login and finishing it at the callback.
//!
//! Start: a fresh `state`, `nonce` and PKCE verifier go into a sealed, single-use state record
//! (TTL `state_ttl`) with the return URL and a hash of a random browser-binding value, which the
//! browser gets as a cookie scoped to the callback path; then a 302 to the provider.
//!
//! Callback: the state record is taken (read and deleted at once), so a replayed or expired
//! `state`, or one from another browser, gets the friendly "sign-in expired" page with a retry
//! link. Then the code exchange, ID-token verification, the `allow` rules, and a session under a
//! new random id (never one the request brought: no session fixation).

use bucketgate_plugin::{LocalResponse, RequestView};

use crate::allow;
use crate::pages;
use crate::records::{
    self, digest, is_token_shaped, random_token, session_key, state_key, Mode, SessionRecord,
    StateRecord,
};
use crate::store::StoreError;
use crate::web;
use crate::{redirect, OidcPlugin};

/// Why a login could not start.
pub enum StartError {
    /// Discovery failed, the store is down or full, no randomness.
    Unavailable(String),
}

impl OidcPlugin {
    /// `GET login_path?rd=...`: starts a login returning to `rd` (when it is on this site).
    /// With `mint` (`mint=json` for JSON), on a plugin that mints keys, the login ends on the
    /// key page instead.
    pub(crate) async fn login_endpoint(&self, req: &RequestView) -> LocalResponse {
        let rd = req.query_param("rd").unwrap_or_default();
        let return_url = web::safe_return_url(&rd, &self.site);
        let mode = match req.query_param("mint") {
            Some(m) if self.minter.is_some() => Mode::Mint { json: m == "json" },
            _ => Mode::Session,
        };
        match self.start_login(req, &return_url, mode).await {
            Ok(resp) => resp,
            Err(StartError::Unavailable(why)) => {
                log::warn!("oidc: cannot start a login: {why}");
                pages::unavailable(web::prefers_json(req))
            }
        }
    }

    /// A 302 to the provider for a new login that ends at `return_url` (a local path).
    ///
    /// A request to another host than `redirect_url`'s (the virtual-host form
    /// `bucket.s3.example.com/?auth`) is first sent to the login path on `redirect_url`'s
    /// origin: the browser-binding cookie, and the session cookie after it, must be set on the
    /// host the callback is on, or the callback could never see them.
    pub(crate) async fn start_login(
        &self,
        req: &RequestView,
        return_url: &str,
        mode: Mode,
    ) -> Result<LocalResponse, StartError> {
        if !web::is_host(req, &self.site) {
            let mut to = format!("{}{}", self.site.origin(), self.login_link(return_url));
            if let Mode::Mint { json } = mode {
                to.push_str(if json { "&mint=json" } else { "&mint" });
            }
            return Ok(redirect(&to, Vec::new()));
        }
        let discovered = self
            .provider
            .discovered()
            .await
            .map_err(StartError::Unavailable)?;
        let (Some(state), Some(nonce), Some(binding)) =
            (random_token(), random_token(), random_token())
        else {
            return Err(StartError::Unavailable("no randomness".into()));
        };
        let auth = self.provider.authorize(&discovered, &state, &nonce);
        let ttl = self.cfg.state_ttl.get();
        let record = StateRecord {
            pkce_verifier: auth.pkce_verifier,
            nonce,
            return_url: return_url.to_owned(),
            mode,
            created_at: records::now(),
            binding: digest(&binding),
        };
        self.records
            .put(&state_key(&state), &record, ttl)
            .await
            .map_err(|e| StartError::Unavailable(e.to_string()))?;
        let cookie = web::set_cookie(
            &self.binding_cookie(),
            &binding,
            &self.callback_path,
            ttl.as_secs(),
            self.secure(req),
        );
        Ok(redirect(&auth.url, vec![cookie]))
    }

    /// The provider sent the browser back.
    pub(crate) async fn callback(&self, req: &RequestView) -> LocalResponse {
        let json = web::prefers_json(req);
        let state = req.query_param("state").unwrap_or_default();
        let record = if is_token_shaped(&state) {
            match self.records.take::<StateRecord>(&state_key(&state)).await {
                Ok(r) => r,
                Err(e) => {
                    log::warn!("oidc: callback: {e}");
                    return pages::unavailable(json);
                }
            }
        } else {
            None
        };
        let Some(record) = record else {
            log::info!("oidc: callback with an unknown, expired or already used state");
            return pages::expired(&self.login_link("/"));
        };
        let retry = self.login_link(&record.return_url);
        let ttl = self.cfg.state_ttl.get().as_secs();
        let fresh = records::now().saturating_sub(record.created_at) <= ttl;
        let bound = req
            .cookie(&self.binding_cookie())
            .is_some_and(|b| is_token_shaped(b) && digest(b) == record.binding);
        if !fresh || !bound {
            log::info!(
                "oidc: callback refused: {}",
                if fresh {
                    "the browser-binding cookie is missing or does not match"
                } else {
                    "the state expired"
                }
            );
            return pages::expired(&retry);
        }
        if let Some(error) = req.query_param("error") {
            let code: String = error
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(64)
                .collect();
            log::info!("oidc: the provider answered error={code}");
            return if code == "access_denied" {
                pages::failed(
                    403,
                    "Sign-in was refused",
                    "The identity provider did not let you sign in to this site.",
                    &retry,
                )
            } else {
                pages::failed(
                    400,
                    "Sign-in failed",
                    "The identity provider could not complete the sign-in.",
                    &retry,
                )
            };
        }
        let Some(code) = req.query_param("code").filter(|c| !c.is_empty()) else {
            return pages::failed(
                400,
                "Sign-in failed",
                "The identity provider sent no authorization code.",
                &retry,
            );
        };
        let tokens = match self
            .provider
            .exchange(&code, &record.pkce_verifier, &record.nonce)
            .await
        {
            Ok(t) => t,
            Err(why) => {
                log::warn!("oidc: callback: {why}");
                return pages::failed(
                    502,
                    "Sign-in failed",
                    "The answer of the identity provider could not be verified.",
                    &retry,
                );
            }
        };
        let claims = tokens.claims.unwrap_or_default();
        let subject = match allow::subject(&claims, &self.cfg.subject_claim) {
            Ok(s) => s,
            Err(why) => {
                log::warn!("oidc: callback: {why}");
                return pages::failed(
                    403,
                    "Not allowed",
                    "Your account has no usable identity for this site.",
                    &retry,
                );
            }
        };
        if let Err(why) = allow::check(&claims, self.cfg.allow.as_ref()) {
            log::info!("oidc: {subject:?} is not allowed: {why}");
            return pages::failed(
                403,
                "Not allowed",
                "Your account is not allowed to use this site.",
                "/",
            );
        }
        let now = records::now();
        let lifetime = self.cfg.cookie.lifetime.get();
        let session = SessionRecord {
            subject,
            claims,
            id_token: tokens.id_token,
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            access_expires_at: tokens.expires_in.map(|s| now.saturating_add(s)),
            created_at: now,
            expires_at: now.saturating_add(lifetime.as_secs()),
            last_check: now,
            last_ok: now,
        };
        let Some(id) = random_token() else {
            return pages::unavailable(json);
        };
        if let Err(e) = self
            .records
            .put(&session_key(&id), &session, lifetime)
            .await
        {
            log::warn!("oidc: cannot store a session: {e}");
            return match e {
                StoreError::Full => pages::failed(
                    503,
                    "Too many sign-ins",
                    "This site holds too many sessions right now. Please try again later.",
                    &retry,
                ),
                StoreError::Unavailable(_) => pages::unavailable(json),
            };
        }
        // A session the browser had before is ended: the new id replaces it.
        if let Some(old) = req
            .cookie(&self.cfg.cookie.name)
            .filter(|c| is_token_shaped(c))
        {
            if let Err(e) = self.records.delete(&session_key(old)).await {
                log::debug!("oidc: could not delete the previous session: {e}");
            }
        }
        log::info!("oidc: {:?} signed in", session.subject);
        let secure = self.secure(req);
        let cookies = vec![
            web::set_cookie(&self.cfg.cookie.name, &id, "/", lifetime.as_secs(), secure),
            web::clear_cookie(&self.binding_cookie(), &self.callback_path, secure),
        ];
        match record.mode {
            Mode::Session => redirect(&record.return_url, cookies),
            Mode::Mint { json } => {
                let mut resp = self.mint_page(&session, json);
                resp.headers
                    .extend(cookies.into_iter().map(|c| ("set-cookie".to_string(), c)));
                resp
            }
        }
    }
}
