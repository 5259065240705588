//! The OpenID provider, through the `openidconnect` crate: discovery and JWKS (fetched at first
//! use, cached, the JWKS fetched again when an ID token names an unknown key, at most every
//! 30 s), the authorization URL (PKCE S256, state, nonce), the code exchange, ID-token
//! verification (signature via JWKS, `iss`, `aud`, `exp`, `nonce`), refresh, userinfo, and the
//! end-session URL.
//!
//! Every HTTP call runs on tokio's blocking pool through ureq (no redirects followed, a 10 s
//! deadline, a 1 MiB body limit), so a slow provider never stalls a Pingora worker thread.

use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreIdToken, CoreJsonWebKeySet,
    CoreTokenResponse,
};
use openidconnect::{
    AccessToken, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EmptyAdditionalClaims, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl,
    ProviderMetadataWithLogout, RedirectUrl, RefreshToken, RequestTokenError, Scope,
    SignatureVerificationError, SubjectIdentifier, TokenResponse, UserInfoClaims, UserInfoError,
};

use crate::records::Claims;

/// The deadline of one provider HTTP call.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest provider response read.
const MAX_BODY: u64 = 1 << 20;
/// How long discovery is trusted before it is fetched again (keys rotate; endpoints rarely move).
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// The least time between two JWKS fetches forced by an unknown `kid`.
const MIN_JWKS_REFETCH: Duration = Duration::from_secs(30);

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// What discovery found, with its keys.
pub struct Discovered {
    metadata: ProviderMetadataWithLogout,
    fetched: Instant,
    jwks_fetched: Instant,
}

/// The provider as this client sees it.
pub struct Provider {
    issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: Option<ClientSecret>,
    redirect: RedirectUrl,
    scopes: Vec<String>,
    cache: RwLock<Option<Arc<Discovered>>>,
    /// One discovery or JWKS fetch at a time.
    fetching: tokio::sync::Mutex<()>,
}

/// A login in progress: what goes in the authorization URL and what the state record keeps.
pub struct Authorization {
    pub url: String,
    pub pkce_verifier: String,
}

/// Tokens from a code exchange or a refresh, the ID token verified.
pub struct Tokens {
    /// The verified ID token's whole payload; None when a refresh returned no ID token.
    pub claims: Option<Claims>,
    pub id_token: Option<String>,
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// Seconds the access token is valid for, when the provider says.
    pub expires_in: Option<u64>,
}

/// Why a re-check failed.
#[derive(Debug)]
pub enum CheckError {
    /// The provider refused: the user or the grant is gone.
    Denied(String),
    /// No answer, or an answer that says nothing: try again later.
    Transient(String),
}

impl Provider {
    /// Checks the URLs; no network.
    pub fn new(
        issuer: &str,
        client_id: &str,
        client_secret: Option<&str>,
        redirect_url: &str,
        scopes: &[String],
    ) -> Result<Provider, String> {
        Ok(Provider {
            issuer: IssuerUrl::new(issuer.to_owned()).map_err(|e| format!("issuer: {e}"))?,
            client_id: ClientId::new(client_id.to_owned()),
            client_secret: client_secret.map(|s| ClientSecret::new(s.to_owned())),
            redirect: RedirectUrl::new(redirect_url.to_owned())
                .map_err(|e| format!("redirect_url: {e}"))?,
            scopes: scopes
                .iter()
                .filter(|s| s.as_str() != "openid")
                .cloned()
                .collect(),
            cache: RwLock::new(None),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    fn cached(&self) -> Option<Arc<Discovered>> {
        match self.cache.read() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn store(&self, d: Arc<Discovered>) {
        match self.cache.write() {
            Ok(mut c) => *c = Some(d),
            Err(p) => *p.into_inner() = Some(d),
        }
    }

    /// Discovery and keys: the cached copy, or a fetch. A failed refresh keeps a stale copy.
    pub async fn discovered(&self) -> Result<Arc<Discovered>, String> {
        if let Some(d) = self
            .cached()
            .filter(|d| d.fetched.elapsed() < DISCOVERY_TTL)
        {
            return Ok(d);
        }
        let _one = self.fetching.lock().await;
        if let Some(d) = self
            .cached()
            .filter(|d| d.fetched.elapsed() < DISCOVERY_TTL)
        {
            return Ok(d);
        }
        let issuer = self.issuer.clone();
        let fetched = blocking(move || {
            ProviderMetadataWithLogout::discover(&issuer, &http_call)
                .map_err(|e| format!("discovery of {} failed: {}", issuer.as_str(), chain(&e)))
        })
        .await;
        match fetched {
            Ok(metadata) => {
                let now = Instant::now();
                let d = Arc::new(Discovered {
                    metadata,
                    fetched: now,
                    jwks_fetched: now,
                });
                self.store(Arc::clone(&d));
                Ok(d)
            }
            Err(why) => match self.cached() {
                Some(stale) => {
                    log::warn!("oidc: {why}; keeping the previous discovery");
                    Ok(stale)
                }
                None => Err(why),
            },
        }
    }

    /// Fetches the JWKS again (a key rotation), unless that was done in the last 30 s. The new
    /// copy, or None when nothing changed.
    async fn refetch_jwks(&self, seen: &Arc<Discovered>) -> Option<Arc<Discovered>> {
        let _one = self.fetching.lock().await;
        let current = self.cached()?;
        if !Arc::ptr_eq(&current, seen) {
            return Some(current);
        }
        if current.jwks_fetched.elapsed() < MIN_JWKS_REFETCH {
            return None;
        }
        let uri = current.metadata.jwks_uri().clone();
        let fetched = blocking(move || {
            CoreJsonWebKeySet::fetch(&uri, &http_call).map_err(|e| chain(&e).to_string())
        })
        .await;
        match fetched {
            Ok(jwks) => {
                let d = Arc::new(Discovered {
                    metadata: current.metadata.clone().set_jwks(jwks),
                    fetched: current.fetched,
                    jwks_fetched: Instant::now(),
                });
                self.store(Arc::clone(&d));
                Some(d)
            }
            Err(why) => {
                log::warn!("oidc: JWKS refresh failed: {why}");
                None
            }
        }
    }

    fn client(&self, d: &Discovered) -> Client {
        CoreClient::from_provider_metadata(
            d.metadata.clone(),
            self.client_id.clone(),
            self.client_secret.clone(),
        )
        .set_redirect_uri(self.redirect.clone())
    }

    /// The authorization URL for `state` and `nonce`, with a fresh PKCE S256 challenge.
    pub fn authorize(&self, d: &Discovered, state: &str, nonce: &str) -> Authorization {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = state.to_owned();
        let nonce = nonce.to_owned();
        let (url, _, _) = self
            .client(d)
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .add_scopes(self.scopes.iter().map(|s| Scope::new(s.clone())))
            .set_pkce_challenge(challenge)
            .url();
        Authorization {
            url: url.to_string(),
            pkce_verifier: verifier.secret().clone(),
        }
    }

    /// Exchanges an authorization code and verifies the ID token against `nonce`.
    pub async fn exchange(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<Tokens, String> {
        let d = self.discovered().await?;
        let client = self.client(&d);
        let code = AuthorizationCode::new(code.to_owned());
        let verifier = PkceCodeVerifier::new(pkce_verifier.to_owned());
        let response = blocking(move || {
            client
                .exchange_code(code)
                .map_err(|e| format!("no token endpoint: {e}"))?
                .set_pkce_verifier(verifier)
                .request(&http_call)
                .map_err(|e| token_error("code exchange", &e))
        })
        .await?;
        let id_token = response
            .id_token()
            .ok_or("the token response has no id_token")?
            .clone();
        let nonce = Nonce::new(nonce.to_owned());
        let claims = self.verify(d, &id_token, Some(&nonce)).await?;
        Ok(tokens(&response, Some(claims), Some(id_token.to_string())))
    }

    /// Verifies an ID token: signature with the provider's keys (fetched again once for an
    /// unknown key), `iss`, `aud`, `exp`, and the nonce when given. Its whole payload.
    async fn verify(
        &self,
        d: Arc<Discovered>,
        id_token: &CoreIdToken,
        nonce: Option<&Nonce>,
    ) -> Result<Claims, String> {
        match self.verify_with(&d, id_token, nonce) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                let Some(fresh) = self.refetch_jwks(&d).await else {
                    return Err("ID token signed with an unknown key".into());
                };
                self.verify_with(&fresh, id_token, nonce)
                    .map_err(|e| format!("ID token refused: {}", chain(&e)))?;
                payload(&id_token.to_string())
            }
            Err(e) => Err(format!("ID token refused: {}", chain(&e))),
            Ok(()) => payload(&id_token.to_string()),
        }
    }

    fn verify_with(
        &self,
        d: &Discovered,
        id_token: &CoreIdToken,
        nonce: Option<&Nonce>,
    ) -> Result<(), ClaimsVerificationError> {
        let client = self.client(d);
        let verifier = client.id_token_verifier();
        match nonce {
            Some(n) => id_token.claims(&verifier, n).map(|_| ()),
            // A refreshed ID token carries no nonce of ours (OIDC Core 12.2).
            None => id_token
                .claims(&verifier, |_: Option<&Nonce>| Ok(()))
                .map(|_| ()),
        }
    }

    /// Refreshes the tokens; the new ID token, if any, is verified.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens, CheckError> {
        let d = self.discovered().await.map_err(CheckError::Transient)?;
        let client = self.client(&d);
        let token = RefreshToken::new(refresh_token.to_owned());
        let response = blocking(move || {
            let request = client
                .exchange_refresh_token(&token)
                .map_err(|e| CheckError::Transient(format!("no token endpoint: {e}")))?;
            request.request(&http_call).map_err(|e| match &e {
                RequestTokenError::ServerResponse(_) => {
                    CheckError::Denied(token_error("refresh", &e))
                }
                _ => CheckError::Transient(token_error("refresh", &e)),
            })
        })
        .await?;
        let (claims, id_token) = match response.id_token() {
            Some(t) => (
                Some(self.verify(d, t, None).await.map_err(CheckError::Denied)?),
                Some(t.to_string()),
            ),
            None => (None, None),
        };
        Ok(tokens(&response, claims, id_token))
    }

    /// Asks the userinfo endpoint whether `access_token` is still good for `subject`.
    pub async fn userinfo(&self, access_token: &str, subject: &str) -> Result<(), CheckError> {
        let d = self.discovered().await.map_err(CheckError::Transient)?;
        let client = self.client(&d);
        let token = AccessToken::new(access_token.to_owned());
        let subject = SubjectIdentifier::new(subject.to_owned());
        blocking(move || {
            let request = client.user_info(token, Some(subject)).map_err(|_| {
                CheckError::Transient("the provider has no userinfo endpoint".into())
            })?;
            request
                .request::<EmptyAdditionalClaims, CoreGenderClaim, _>(&http_call)
                .map(|_: UserInfoClaims<EmptyAdditionalClaims, CoreGenderClaim>| ())
                .map_err(|e| match &e {
                    UserInfoError::Response(status, _, _) if status.is_client_error() => {
                        CheckError::Denied(format!("userinfo answered {status}"))
                    }
                    UserInfoError::ClaimsVerification(_) => {
                        CheckError::Denied(format!("userinfo: {}", chain(&e)))
                    }
                    _ => CheckError::Transient(format!("userinfo: {}", chain(&e))),
                })
        })
        .await
    }

    /// The provider's end-session URL for this logout, when it has one.
    pub fn end_session_url(
        &self,
        d: &Discovered,
        id_token: Option<&str>,
        post_logout: &str,
    ) -> Option<String> {
        let endpoint = d
            .metadata
            .additional_metadata()
            .end_session_endpoint
            .clone()?;
        let mut request =
            openidconnect::LogoutRequest::from(endpoint).set_client_id(self.client_id.clone());
        if let Some(token) = id_token.and_then(|t| CoreIdToken::from_str(t).ok()) {
            request = request.set_id_token_hint(&token);
        }
        if let Ok(url) = PostLogoutRedirectUrl::new(post_logout.to_owned()) {
            request = request.set_post_logout_redirect_uri(url);
        }
        Some(request.http_get_url().to_string())
    }
}

fn tokens(
    response: &CoreTokenResponse,
    claims: Option<Claims>,
    id_token: Option<String>,
) -> Tokens {
    Tokens {
        claims,
        id_token,
        access_token: response.access_token().secret().clone(),
        refresh_token: response.refresh_token().map(|t| t.secret().clone()),
        expires_in: response.expires_in().map(|d| d.as_secs()),
    }
}

/// The payload of a JWS whose signature was verified: a JSON object.
fn payload(jwt: &str) -> Result<Claims, String> {
    let encoded = jwt.split('.').nth(1).ok_or("malformed ID token")?;
    let bytes = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| "ID token payload is not base64url".to_owned())?;
    serde_json::from_slice(&bytes).map_err(|_| "ID token payload is not a JSON object".to_owned())
}

/// A token endpoint error for the log: the OAuth error code, never a token.
fn token_error<RE: std::error::Error + 'static, T: openidconnect::ErrorResponse + 'static>(
    what: &str,
    e: &RequestTokenError<RE, T>,
) -> String {
    match e {
        RequestTokenError::ServerResponse(r) => format!("{what} refused by the provider: {r}"),
        RequestTokenError::Request(inner) => format!("{what} failed: {}", chain(inner)),
        RequestTokenError::Parse(inner, _) => {
            format!("{what}: unreadable provider answer ({inner})")
        }
        RequestTokenError::Other(why) => format!("{what}: {why}"),
    }
}

/// An error and its sources, on one line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Runs a blocking provider call on tokio's blocking pool.
async fn blocking<T, E>(f: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, E>
where
    T: Send + 'static,
    E: Send + 'static + From<BlockingFailed>,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(_) => Err(E::from(BlockingFailed)),
    }
}

/// The blocking task died (panicked or was cancelled).
pub struct BlockingFailed;

impl From<BlockingFailed> for String {
    fn from(_: BlockingFailed) -> String {
        "the provider call was cancelled".into()
    }
}

impl From<BlockingFailed> for CheckError {
    fn from(_: BlockingFailed) -> CheckError {
        CheckError::Transient("the provider call was cancelled".into())
    }
}

fn agent() -> &'static ureq::Agent {
    static AGENT: std::sync::OnceLock<ureq::Agent> = std::sync::OnceLock::new();
    AGENT.get_or_init(|| {
        ureq::Agent::config_builder()
            .timeout_global(Some(HTTP_TIMEOUT))
            .max_redirects(0)
            .http_status_as_error(false)
            .user_agent("bucketgate-oidc")
            .build()
            .into()
    })
}

/// The HTTP client `openidconnect` calls: ureq, no redirects, a deadline, a body limit.
fn http_call(
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, ureq::Error> {
    let mut response = agent().run(request)?;
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_vec()?;
    let (parts, _) = response.into_parts();
    Ok(openidconnect::HttpResponse::from_parts(parts, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_reads_the_middle_segment() {
        let p = URL_SAFE_NO_PAD.encode(br#"{"sub":"alice","groups":["staff"]}"#);
        let claims = payload(&format!("h.{p}.s")).unwrap();
        assert_eq!(claims["sub"], "alice");
        assert!(payload("nodots").is_err());
        assert!(payload("h.!!.s").is_err());
        let not_object = URL_SAFE_NO_PAD.encode(b"[1]");
        assert!(payload(&format!("h.{not_object}.s")).is_err());
    }

    #[test]
    fn authorization_url_carries_pkce_state_nonce_and_scopes() {
        let p = Provider::new(
            "https://idp.example",
            "bucketgate",
            Some("s3cret"),
            "https://files.example.com/cb",
            &["openid".into(), "email".into()],
        )
        .unwrap();
        let metadata: ProviderMetadataWithLogout = serde_json::from_value(serde_json::json!({
            "issuer": "https://idp.example",
            "authorization_endpoint": "https://idp.example/auth",
            "token_endpoint": "https://idp.example/token",
            "jwks_uri": "https://idp.example/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "end_session_endpoint": "https://idp.example/logout"
        }))
        .unwrap();
        let d = Discovered {
            metadata,
            fetched: Instant::now(),
            jwks_fetched: Instant::now(),
        };
        let a = p.authorize(&d, "st4te", "n0nce");
        assert!(a.url.starts_with("https://idp.example/auth?"), "{}", a.url);
        for part in [
            "response_type=code",
            "client_id=bucketgate",
            "state=st4te",
            "nonce=n0nce",
            "code_challenge_method=S256",
            "scope=openid+email",
            "redirect_uri=https%3A%2F%2Ffiles.example.com%2Fcb",
        ] {
            assert!(a.url.contains(part), "{part} missing from {}", a.url);
        }
        assert!(a.pkce_verifier.len() >= 43);
        assert!(!a.url.contains(&a.pkce_verifier), "the verifier stays here");
        let out = p
            .end_session_url(&d, None, "https://files.example.com/")
            .unwrap();
        assert!(out.starts_with("https://idp.example/logout?"), "{out}");
        assert!(out.contains("client_id=bucketgate"));
        assert!(out.contains("post_logout_redirect_uri=https%3A%2F%2Ffiles.example.com%2F"));
    }
}
