//! Requests with a session cookie: the session's identity, re-checked at the provider every
//! `recheck.interval` (a refresh, or userinfo) so a user the provider revoked loses access
//! within that period. Every request is held against this route's own `allow` rules, and its
//! grants are built from the session's claims by this route's templates: a session is never
//! worth more on one route than that route gives. Requests without a valid session: a browser
//! is sent to the login, anything else gets 401, and a request carrying its own `Authorization`
//! is left to the next plugin.

use std::time::Duration;

use bucketgate_plugin::{grants_from_claims, Identity, Rejection, RequestView, Verdict};

use crate::config::RecheckMethod;
use crate::login::StartError;
use crate::pages;
use crate::provider::{CheckError, Tokens};
use crate::records::{self, is_token_shaped, session_key, SessionRecord};
use crate::store::StoreError;
use crate::{allow, rejection_of, web, OidcPlugin, CHALLENGE};

/// A failed re-check is tried again after this long (or the interval, if shorter).
const RETRY_AFTER_FAILURE: u64 = 10;

/// Removes a session from the in-flight re-checks when dropped.
struct Rechecking<'a> {
    plugin: &'a OidcPlugin,
    key: String,
}

impl Drop for Rechecking<'_> {
    fn drop(&mut self) {
        let mut set = self
            .plugin
            .rechecking
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        set.remove(&self.key);
    }
}

impl OidcPlugin {
    pub(crate) async fn authenticate_session(&self, req: &RequestView) -> Verdict {
        let cookie = req.cookie(&self.cfg.cookie.name);
        let session = match cookie {
            Some(id) => match self.session(id).await {
                Ok(s) => s,
                Err(e) => {
                    log::warn!("oidc: {e}");
                    return Verdict::Reject(unavailable(e));
                }
            },
            None => None,
        };
        if let Some(s) = session {
            if let Err(why) = self.allowed(&s) {
                // Signed in, but not for this route: 403, never a failed attempt (the session
                // is genuine) and never a login loop.
                return Verdict::SignIn(Rejection {
                    status: 403,
                    public_message: "not allowed".into(),
                    log_reason: format!(
                        "oidc: {:?} is not allowed on route {}: {why}",
                        s.subject, req.route
                    ),
                    headers: Vec::new(),
                });
            }
            return Verdict::Authenticated(self.identity(&s));
        }
        if req.header("authorization").is_some() {
            // Credentials of another kind (a Bearer token, Basic): the next plugin's.
            return Verdict::NotMine;
        }
        let stale = cookie.is_some();
        if !web::is_browser(req, self.cfg.unauthenticated) {
            let mut r = Rejection::unauthorized(
                CHALLENGE,
                if stale {
                    "oidc: session cookie unknown, expired or revoked"
                } else {
                    "oidc: no session cookie"
                },
            );
            r.public_message = "sign-in required".into();
            return Verdict::SignIn(r);
        }
        match self.start_login(req, &web::own_url(req, &self.site)).await {
            Ok(mut resp) => {
                if stale {
                    resp.headers.push((
                        "set-cookie".into(),
                        web::clear_cookie(&self.cfg.cookie.name, "/", self.secure(req)),
                    ));
                }
                Verdict::SignIn(rejection_of(
                    resp,
                    "redirecting to sign-in",
                    "oidc: no valid session; redirected to the login".into(),
                ))
            }
            Err(StartError::Unavailable(why)) => {
                log::warn!("oidc: cannot start a login: {why}");
                Verdict::Reject(unavailable(StoreError::Unavailable(why)))
            }
        }
    }

    /// Whether this route's `allow` rules let the session's claims in (checked on every use).
    pub(crate) fn allowed(&self, s: &SessionRecord) -> Result<(), String> {
        allow::check(&s.claims, self.cfg.allow.as_ref(), self.cfg.email_verified)
    }

    /// The grants this route's templates give the session's claims now (an unverified email
    /// fills none).
    pub(crate) fn grants(&self, s: &SessionRecord) -> Vec<bucketgate_plugin::Grant> {
        grants_from_claims(
            &allow::for_grants(&s.claims, self.cfg.email_verified),
            &self.cfg.grants,
            self.cfg.grants_claim.as_deref(),
        )
    }

    /// The identity of a session: its subject, claims, and the grants they give now.
    pub(crate) fn identity(&self, s: &SessionRecord) -> Identity {
        Identity {
            subject: s.subject.clone(),
            plugin: "oidc".into(),
            claims: s.claims.clone(),
            grants: self.grants(s),
        }
    }

    /// The request's session cookie value and its live session, if any (see
    /// [`OidcPlugin::session`]).
    pub(crate) async fn signed_in(
        &self,
        req: &RequestView,
    ) -> Result<Option<(String, SessionRecord)>, StoreError> {
        let Some(id) = req.cookie(&self.cfg.cookie.name) else {
            return Ok(None);
        };
        Ok(self.session(id).await?.map(|s| (id.to_owned(), s)))
    }

    /// The live session of cookie value `id`, re-checked if due. None when the id is malformed,
    /// unknown, expired, tampered with, or the provider no longer accepts the user.
    pub(crate) async fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        if !is_token_shaped(id) {
            return Ok(None);
        }
        let key = session_key(id);
        let Some(record) = self.records.get::<SessionRecord>(&key).await? else {
            return Ok(None);
        };
        let now = records::now();
        if record.expires_at <= now {
            return Ok(None);
        }
        self.recheck_if_due(&key, record, now).await
    }

    async fn recheck_if_due(
        &self,
        key: &str,
        mut record: SessionRecord,
        now: u64,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let interval = self.cfg.recheck.interval.get().as_secs();
        if interval == 0 {
            return Ok(Some(record));
        }
        let last_failed = record.last_check > record.last_ok;
        let wait = if last_failed {
            interval.min(RETRY_AFTER_FAILURE)
        } else {
            interval
        };
        if now.saturating_sub(record.last_check) < wait {
            return Ok(Some(record));
        }
        let grace = interval.saturating_mul(3);
        let within_grace = |r: &SessionRecord| now.saturating_sub(r.last_ok) <= grace;
        let Some(_guard) = self.begin_recheck(key) else {
            // Another request of this process is re-checking it right now.
            return Ok(within_grace(&record).then_some(record));
        };
        match self.recheck(&record).await {
            Ok(tokens) => {
                if let Some(t) = tokens {
                    if let Err(why) = self.apply(&mut record, t, now) {
                        log::info!("oidc: session of {:?} ended: {why}", record.subject);
                        self.records.delete(key).await?;
                        return Ok(None);
                    }
                }
                record.last_check = now;
                record.last_ok = now;
                self.save(key, &record, now).await?;
                Ok(Some(record))
            }
            Err(CheckError::Denied(why)) => {
                log::info!(
                    "oidc: session of {:?} ended: the provider refused the re-check ({why})",
                    record.subject
                );
                self.records.delete(key).await?;
                Ok(None)
            }
            Err(CheckError::Transient(why)) => {
                record.last_check = now;
                if within_grace(&record) {
                    log::warn!(
                        "oidc: re-check of {:?} failed ({why}); serving from the session, retrying soon",
                        record.subject
                    );
                    self.save(key, &record, now).await?;
                    Ok(Some(record))
                } else {
                    log::warn!(
                        "oidc: re-check of {:?} failed ({why}) and the last success is older than {grace}s; access refused",
                        record.subject
                    );
                    self.save(key, &record, now).await?;
                    Ok(None)
                }
            }
        }
    }

    fn begin_recheck(&self, key: &str) -> Option<Rechecking<'_>> {
        let mut set = self.rechecking.lock().unwrap_or_else(|p| p.into_inner());
        set.insert(key.to_owned()).then(|| Rechecking {
            plugin: self,
            key: key.to_owned(),
        })
    }

    /// Asks the provider whether the session is still good: new tokens from a refresh, or None
    /// when userinfo said yes.
    async fn recheck(&self, r: &SessionRecord) -> Result<Option<Tokens>, CheckError> {
        let now = records::now();
        let access_expired = r.access_expires_at.is_some_and(|t| t <= now);
        match (&r.refresh_token, self.cfg.recheck.method) {
            (Some(refresh), RecheckMethod::Refresh) => {
                self.provider.refresh(refresh).await.map(Some)
            }
            (Some(refresh), RecheckMethod::Userinfo) if access_expired => {
                let t = self.provider.refresh(refresh).await?;
                self.provider.userinfo(&t.access_token, &r.subject).await?;
                Ok(Some(t))
            }
            _ => self
                .provider
                .userinfo(&r.access_token, &r.subject)
                .await
                .map(|()| None),
        }
    }

    /// Takes refreshed tokens into the session; a new ID token must name the same subject and
    /// still pass the `allow` rules.
    fn apply(&self, r: &mut SessionRecord, t: Tokens, now: u64) -> Result<(), String> {
        if let Some(claims) = t.claims {
            let subject = allow::subject(&claims, &self.cfg.subject_claim)?;
            if subject != r.subject {
                return Err("the refreshed ID token names another subject".into());
            }
            allow::check(&claims, self.cfg.allow.as_ref(), self.cfg.email_verified)?;
            r.claims = claims;
        }
        if t.id_token.is_some() {
            r.id_token = t.id_token;
        }
        r.access_token = t.access_token;
        if t.refresh_token.is_some() {
            r.refresh_token = t.refresh_token;
        }
        r.access_expires_at = t.expires_in.map(|s| now.saturating_add(s));
        Ok(())
    }

    /// Stores the session again for the rest of its life.
    async fn save(&self, key: &str, r: &SessionRecord, now: u64) -> Result<(), StoreError> {
        let left = r.expires_at.saturating_sub(now);
        if left == 0 {
            return self.records.delete(key).await;
        }
        self.records.put(key, r, Duration::from_secs(left)).await
    }
}

/// 503 for a store or provider that does not answer.
fn unavailable(e: StoreError) -> Rejection {
    let resp = pages::unavailable(false);
    rejection_of(resp, "sign-in service unavailable", format!("oidc: {e}"))
}
