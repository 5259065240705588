//! The backend selection of a pool, chosen by config (`balance:`): Pingora's weighted round
//! robin or its Ketama consistent hashing, behind one type so that every pool has the same
//! `LoadBalancer` type whatever its setting.
//!
//! Consistent hashing keys on the upstream bucket and object key ([`hash_key`]), so one object
//! always goes to the same backend (an RGW node's cache) while that backend is up, and only
//! the objects of a backend that leaves or joins move.

use std::collections::BTreeSet;
use std::sync::Arc;

use pingora_load_balancing::selection::{
    consistent::OwnedNodeIterator, weighted::WeightedIterator, BackendIter, BackendSelection,
    Consistent, RoundRobin,
};
use pingora_load_balancing::Backend;

use crate::config::model::Balance;

/// The built selector of one backend set.
pub enum Balanced {
    RoundRobin(Arc<RoundRobin>),
    Consistent(Arc<Consistent>),
}

/// Backends in the order a [`Balanced`] selector proposes them.
pub enum BalancedIter {
    RoundRobin(WeightedIterator<pingora_load_balancing::selection::algorithms::RoundRobin>),
    Consistent(OwnedNodeIterator),
}

impl BackendIter for BalancedIter {
    fn next(&mut self) -> Option<&Backend> {
        match self {
            BalancedIter::RoundRobin(i) => i.next(),
            BalancedIter::Consistent(i) => i.next(),
        }
    }
}

impl BackendSelection for Balanced {
    type Iter = BalancedIter;
    type Config = Balance;

    fn build_with_config(backends: &BTreeSet<Backend>, config: &Balance) -> Self {
        match config {
            Balance::RoundRobin => Balanced::RoundRobin(Arc::new(RoundRobin::build(backends))),
            Balance::ConsistentHash => Balanced::Consistent(Arc::new(Consistent::build(backends))),
        }
    }

    fn build(backends: &BTreeSet<Backend>) -> Self {
        Self::build_with_config(backends, &Balance::default())
    }

    fn iter(self: &Arc<Self>, key: &[u8]) -> BalancedIter {
        match self.as_ref() {
            Balanced::RoundRobin(s) => BalancedIter::RoundRobin(s.iter(key)),
            Balanced::Consistent(s) => BalancedIter::Consistent(s.iter(key)),
        }
    }
}

/// What consistent hashing hashes: the upstream bucket and the full upstream key. Round robin
/// ignores it.
pub fn hash_key(bucket: &str, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(bucket.len() + 1 + key.len());
    k.extend_from_slice(bucket.as_bytes());
    k.push(b'/');
    k.extend_from_slice(key.as_bytes());
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backends(weights: &[usize]) -> BTreeSet<Backend> {
        weights
            .iter()
            .enumerate()
            .map(|(i, w)| Backend::new_with_weight(&format!("10.0.0.{}:80", i + 1), *w).unwrap())
            .collect()
    }

    fn first(sel: &Arc<Balanced>, key: &[u8]) -> String {
        sel.iter(key).next().unwrap().addr.to_string()
    }

    #[test]
    fn consistent_hash_is_stable_per_key_and_spreads_keys() {
        let sel = Arc::new(Balanced::build_with_config(
            &backends(&[1, 1]),
            &Balance::ConsistentHash,
        ));
        let chosen = first(&sel, &hash_key("b", "video.mp4"));
        for _ in 0..50 {
            assert_eq!(first(&sel, &hash_key("b", "video.mp4")), chosen);
        }
        let spread: BTreeSet<String> = (0..64)
            .map(|i| first(&sel, &hash_key("b", &format!("k{i}"))))
            .collect();
        assert_eq!(spread.len(), 2, "64 keys all went to {spread:?}");
    }

    #[test]
    fn round_robin_follows_weights() {
        let sel = Arc::new(Balanced::build_with_config(
            &backends(&[3, 1]),
            &Balance::RoundRobin,
        ));
        let picks: Vec<String> = (0..400).map(|_| first(&sel, b"")).collect();
        let heavy = picks.iter().filter(|a| a.as_str() == "10.0.0.1:80").count();
        assert_eq!(heavy, 300, "weight 3 of 4 should get 3/4 of the picks");
    }
}
