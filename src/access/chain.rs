//! A route's auth chain: its plugins, tried in order.
//!
//! Answers first (`respond`: login pages, callbacks), then `authenticate` until one plugin
//! authenticates or rejects. When none recognises the request, the answer is 401 with every
//! plugin's challenge. A plugin that panics gives a 500 with no detail, never a crash or its
//! message in a body.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use bucketgate_plugin::{Identity, LocalResponse, Plugin, Rejection, RequestView, Verdict};
use futures_util::FutureExt;

/// What the chain decided.
#[derive(Debug)]
pub enum Outcome {
    Authenticated(Identity),
    Respond(LocalResponse),
    /// A plugin recognised the credentials and refused them: a failed attempt.
    Reject(Rejection),
    /// No plugin recognised the request (401 with every plugin's challenge), or one sends the
    /// client to sign in: answered, never a failed attempt.
    Challenge(Rejection),
}

pub struct Chain {
    plugins: Vec<Arc<dyn Plugin>>,
}

impl Chain {
    pub fn new(plugins: Vec<Arc<dyn Plugin>>) -> Chain {
        Chain { plugins }
    }

    pub fn is_empty(&self) -> bool {
        self.plugins.is_empty()
    }

    /// Whether a request reaching this chain counts as an authentication attempt in flight:
    /// when one of its plugins can refuse a credential as a failed attempt.
    pub fn counts_attempts(&self) -> bool {
        self.plugins.iter().any(|p| p.counts_failed_attempts())
    }

    pub async fn run(&self, req: &RequestView) -> Outcome {
        if let Some(answer) = self.respond(req).await {
            return answer;
        }
        for p in &self.plugins {
            let verdict = guarded(p.as_ref(), p.authenticate(req)).await;
            crate::observe::auth::verdict(p.name(), &verdict);
            match verdict {
                Ok(Verdict::Authenticated(id)) => return Outcome::Authenticated(id),
                Ok(Verdict::Reject(r)) => return Outcome::Reject(r),
                Ok(Verdict::SignIn(r)) => return Outcome::Challenge(r),
                Ok(Verdict::NotMine) => {}
                Err(r) => return Outcome::Reject(r),
            }
        }
        crate::observe::auth::no_credentials();
        Outcome::Challenge(Rejection {
            status: 401,
            public_message: "authentication required".into(),
            log_reason: "no credentials for any plugin of the route".into(),
            headers: self
                .plugins
                .iter()
                .filter_map(|p| p.challenge())
                .map(|c| ("www-authenticate".to_string(), c))
                .collect(),
        })
    }

    /// Only the answering step: the first plugin's own answer ([`Outcome::Respond`], or
    /// [`Outcome::Reject`] when it panicked), or None when no plugin answers this request. S3
    /// routes use this alone: their callers authenticate by SigV4, and their plugins only
    /// answer sign-in pages (`?auth`, callbacks).
    pub async fn respond(&self, req: &RequestView) -> Option<Outcome> {
        for p in &self.plugins {
            match guarded(p.as_ref(), p.respond(req)).await {
                Ok(Some(resp)) => return Some(Outcome::Respond(resp)),
                Ok(None) => {}
                Err(r) => return Some(Outcome::Reject(r)),
            }
        }
        None
    }
}

/// Runs a plugin future, turning a panic into a 500 rejection.
async fn guarded<T>(
    plugin: &dyn Plugin,
    fut: impl std::future::Future<Output = T>,
) -> Result<T, Rejection> {
    AssertUnwindSafe(fut).catch_unwind().await.map_err(|_| {
        log::error!("plugin {} panicked; answering 500", plugin.name());
        Rejection {
            status: 500,
            public_message: "internal error".into(),
            log_reason: format!("plugin {} panicked", plugin.name()),
            headers: Vec::new(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;

    struct Fixed(&'static str, Verdict);

    /// A plugin whose verdicts are never failed attempts (as oidc's).
    struct NeverFails;

    #[async_trait]
    impl Plugin for NeverFails {
        fn name(&self) -> &str {
            "never"
        }
        fn counts_failed_attempts(&self) -> bool {
            false
        }
    }

    #[test]
    fn attempts_count_when_a_plugin_can_refuse_a_credential() {
        let never: Arc<dyn Plugin> = Arc::new(NeverFails);
        let can: Arc<dyn Plugin> = Arc::new(Fixed("a", Verdict::NotMine));
        assert!(!Chain::new(vec![never.clone()]).counts_attempts());
        assert!(Chain::new(vec![never, can.clone()]).counts_attempts());
        assert!(Chain::new(vec![can]).counts_attempts());
        assert!(!Chain::new(Vec::new()).counts_attempts());
    }

    #[async_trait]
    impl Plugin for Fixed {
        fn name(&self) -> &str {
            self.0
        }
        async fn authenticate(&self, _req: &RequestView) -> Verdict {
            self.1.clone()
        }
        fn challenge(&self) -> Option<String> {
            Some(format!("{} realm=\"x\"", self.0))
        }
    }

    struct Panics;

    #[async_trait]
    impl Plugin for Panics {
        fn name(&self) -> &str {
            "panics"
        }
        async fn authenticate(&self, _req: &RequestView) -> Verdict {
            panic!("secret internals")
        }
    }

    fn view() -> RequestView {
        RequestView {
            method: http::Method::GET,
            path: "/x".into(),
            query: String::new(),
            headers: Default::default(),
            client_addr: None,
            route: "r".into(),
            tls: false,
        }
    }

    fn id(name: &str) -> Identity {
        Identity {
            subject: name.into(),
            plugin: name.into(),
            claims: Default::default(),
            grants: vec![],
        }
    }

    fn run(chain: Chain) -> Outcome {
        futures_util::FutureExt::now_or_never(chain.run(&view())).expect("no await point pends")
    }

    #[test]
    fn first_authenticated_wins_after_not_mine() {
        let chain = Chain::new(vec![
            Arc::new(Fixed("a", Verdict::NotMine)),
            Arc::new(Fixed("b", Verdict::Authenticated(id("bob")))),
            Arc::new(Fixed("c", Verdict::Authenticated(id("carol")))),
        ]);
        match run(chain) {
            Outcome::Authenticated(i) => assert_eq!(i.subject, "bob"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_rejection_stops_the_chain() {
        let chain = Chain::new(vec![
            Arc::new(Fixed(
                "a",
                Verdict::Reject(Rejection::unauthorized("A", "bad")),
            )),
            Arc::new(Fixed("b", Verdict::Authenticated(id("bob")))),
        ]);
        assert!(matches!(run(chain), Outcome::Reject(r) if r.status == 401));
    }

    #[test]
    fn nobody_recognises_it_gives_401_with_every_challenge() {
        let chain = Chain::new(vec![
            Arc::new(Fixed("Bearer", Verdict::NotMine)),
            Arc::new(Fixed("Basic", Verdict::NotMine)),
        ]);
        let Outcome::Challenge(r) = run(chain) else {
            panic!("expected a challenge")
        };
        assert_eq!(r.status, 401);
        let challenges: Vec<&str> = r.headers.iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(challenges, ["Bearer realm=\"x\"", "Basic realm=\"x\""]);
    }

    #[test]
    fn a_panicking_plugin_is_a_500_without_detail() {
        let chain = Chain::new(vec![Arc::new(Panics)]);
        let Outcome::Reject(r) = run(chain) else {
            panic!("expected a rejection")
        };
        assert_eq!(r.status, 500);
        assert!(!r.public_message.contains("secret"));
    }
}
