//! Starting a login and finishing it at the callback.
//!
//! Start: a fresh `state`, `nonce` and PKCE verifier go, with the return URL, into a sealed
//! [`LoginState`] that the browser keeps as the `<cookie>_login` cookie (scoped to the callback
//! path, `HttpOnly`, `SameSite=Lax`, alive `state_ttl`); then a 302 to the provider. Nothing is
//! written to the session store, so any number of anonymous requests cost no memory and no Redis
//! key, and can never crowd out sessions.
//!
//! Callback: the login cookie must open (sealed by this route set, unaltered), be fresh, and name
//! the `state` the provider sent back; else the friendly "sign-in expired" page with a retry link
//! (a replay after the callback cleared the cookie, a callback from another browser, an expired
//! one). Then the code exchange (the provider accepts a code once), ID-token verification, the
//! `allow` rules, and a session under a new random id (never one the request brought: no session
//! fixation).

use bucketgate_plugin::{LocalResponse, RequestView};

use crate::allow;
use crate::pages;
use crate::records::{self, is_token_shaped, random_token, session_key, LoginState, SessionRecord};
use crate::store::StoreError;
use crate::web;
use crate::{redirect, OidcPlugin};

/// The longest return URL a login cookie carries; a longer one returns to its path alone (or
/// `/`), so the cookie stays well under the 4 KiB browsers keep.
const MAX_RETURN_URL: usize = 2048;

/// Why a login could not start.
pub enum StartError {
    /// Discovery failed, no randomness.
    Unavailable(String),
}

impl OidcPlugin {
    /// `GET login_path?rd=...`: starts a login returning to `rd` (when it is on this site).
    pub(crate) async fn login_endpoint(&self, req: &RequestView) -> LocalResponse {
        let rd = req.query_param("rd").unwrap_or_default();
        let return_url = web::safe_return_url(&rd, &self.site);
        match self.start_login(req, &return_url).await {
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
    /// origin: the login cookie, and the session cookie after it, must be set on the host the
    /// callback is on, or the callback could never see them.
    pub(crate) async fn start_login(
        &self,
        req: &RequestView,
        return_url: &str,
    ) -> Result<LocalResponse, StartError> {
        if !web::is_host(req, &self.site) {
            let to = format!("{}{}", self.site.origin(), self.login_link(return_url));
            return Ok(redirect(&to, Vec::new()));
        }
        let discovered = self
            .provider
            .discovered()
            .await
            .map_err(StartError::Unavailable)?;
        let (Some(state), Some(nonce)) = (random_token(), random_token()) else {
            return Err(StartError::Unavailable("no randomness".into()));
        };
        let auth = self.provider.authorize(&discovered, &state, &nonce);
        let ttl = self.cfg.state_ttl.get();
        let login = LoginState {
            state,
            pkce_verifier: auth.pkce_verifier,
            nonce,
            return_url: bounded_return_url(return_url),
            created_at: records::now(),
        };
        let value = self
            .records
            .seal_cookie(&self.login_cookie(), &login)
            .ok_or_else(|| StartError::Unavailable("no randomness to seal a login".into()))?;
        let cookie = web::set_cookie(
            &self.login_cookie(),
            &value,
            &self.callback_path,
            ttl.as_secs(),
            self.secure(req),
        );
        Ok(redirect(&auth.url, vec![cookie]))
    }

    /// The login state this callback's browser holds for the `state` it brings, or why not.
    fn login_state(&self, req: &RequestView) -> Result<LoginState, &'static str> {
        let state = req.query_param("state").unwrap_or_default();
        if !is_token_shaped(&state) {
            return Err("no state, or a malformed one");
        }
        let cookie = req
            .cookie(&self.login_cookie())
            .ok_or("no login cookie (expired, used, or another browser's sign-in)")?;
        let login = self
            .records
            .open_cookie::<LoginState>(&self.login_cookie(), cookie)
            .ok_or("the login cookie does not open (altered, or another route set's)")?;
        if login.state != state {
            return Err("the state is not this browser's (another sign-in, or login CSRF)");
        }
        let age = records::now().saturating_sub(login.created_at);
        if age > self.cfg.state_ttl.get().as_secs() {
            return Err("the state expired");
        }
        Ok(login)
    }

    /// The provider sent the browser back.
    pub(crate) async fn callback(&self, req: &RequestView) -> LocalResponse {
        let json = web::prefers_json(req);
        let secure = self.secure(req);
        let clear_login = web::clear_cookie(&self.login_cookie(), &self.callback_path, secure);
        let record = match self.login_state(req) {
            Ok(r) => r,
            Err(why) => {
                log::info!("oidc: callback refused: {why}");
                // The retry returns to the page of the login, when the cookie still tells it.
                let back = req
                    .cookie(&self.login_cookie())
                    .and_then(|c| {
                        self.records
                            .open_cookie::<LoginState>(&self.login_cookie(), c)
                    })
                    .map_or_else(|| "/".to_string(), |l| l.return_url);
                return with_cookie(pages::expired(&self.login_link(&back)), clear_login);
            }
        };
        let retry = self.login_link(&record.return_url);
        let resp = self.finish(req, record, json, &retry).await;
        with_cookie(resp, clear_login)
    }

    /// The callback of a login whose state checked out: the provider's answer, the code
    /// exchange, the rules, the new session.
    async fn finish(
        &self,
        req: &RequestView,
        record: LoginState,
        json: bool,
        retry: &str,
    ) -> LocalResponse {
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
                    retry,
                )
            } else {
                pages::failed(
                    400,
                    "Sign-in failed",
                    "The identity provider could not complete the sign-in.",
                    retry,
                )
            };
        }
        let Some(code) = req.query_param("code").filter(|c| !c.is_empty()) else {
            return pages::failed(
                400,
                "Sign-in failed",
                "The identity provider sent no authorization code.",
                retry,
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
                    retry,
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
                    retry,
                );
            }
        };
        if let Err(why) = allow::check(&claims, self.cfg.allow.as_ref(), self.cfg.email_verified) {
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
                    retry,
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
        let cookie = web::set_cookie(
            &self.cfg.cookie.name,
            &id,
            "/",
            lifetime.as_secs(),
            self.secure(req),
        );
        // Back to the page of the login; for a key, that is the key offer (`?auth`), where
        // only a POST mints.
        redirect(&record.return_url, vec![cookie])
    }
}

/// `resp` with one more `Set-Cookie`.
fn with_cookie(mut resp: LocalResponse, cookie: String) -> LocalResponse {
    resp.headers.push(("set-cookie".into(), cookie));
    resp
}

/// `url` when short enough for the login cookie, else its path, else `/`.
fn bounded_return_url(url: &str) -> String {
    if url.len() <= MAX_RETURN_URL {
        return url.to_owned();
    }
    let path = url.split('?').next().unwrap_or("/");
    if path.len() <= MAX_RETURN_URL {
        path.to_owned()
    } else {
        "/".into()
    }
}
