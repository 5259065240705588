//! The buckets an S3 route shows its clients, each resolved to its upstream pool, bucket and
//! key prefix (aliases), so one instance can serve many buckets from many pools.

use std::sync::Arc;

use crate::config::model::Route;
use crate::upstream::{Pool, Pools};

/// One client-visible bucket.
pub struct Alias {
    /// The name clients use.
    pub name: String,
    /// The upstream bucket.
    pub bucket: String,
    /// Prepended to every key upstream; stripped from listings.
    pub key_prefix: String,
    pub pool: Arc<Pool>,
}

/// What an S3 route needs at request time.
pub struct S3Route {
    pub aliases: Vec<Alias>,
    pub base_domains: Vec<String>,
}

impl S3Route {
    /// Resolves a validated route's buckets against the pools.
    pub fn new(route: &Route, pools: &Pools) -> S3Route {
        let pool_of = |name: &str| {
            pools
                .by_name
                .get(name)
                .cloned()
                .expect("config validation checks that every bucket names an upstream")
        };
        S3Route {
            aliases: route
                .buckets
                .iter()
                .map(|b| Alias {
                    name: b.name.clone(),
                    bucket: b.upstream_bucket().to_string(),
                    key_prefix: b.key_prefix.clone(),
                    pool: pool_of(b.upstream.as_deref().unwrap_or(&route.upstream)),
                })
                .collect(),
            base_domains: route
                .base_domains
                .iter()
                .map(|d| d.to_ascii_lowercase())
                .collect(),
        }
    }

    /// The alias a client names.
    pub fn find(&self, name: &str) -> Option<&Alias> {
        self.aliases.iter().find(|a| a.name == name)
    }
}
