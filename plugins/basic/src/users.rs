//! The users the plugin knows at one moment: inline users plus the htpasswd file's, the dummy
//! hash for unknown names, and the verification cache that belongs to exactly this set (a new
//! set, after the file changed, starts with an empty cache).

use std::collections::HashMap;
use std::time::Duration;

use bucketgate_plugin::GrantTemplate;

use crate::cache::VerifiedCache;
use crate::hash::BcryptHash;
use crate::htpasswd::FileUser;

/// The cost of the dummy hash when there are no users at all.
const DEFAULT_COST: u32 = 10;

/// One user: the hash to verify and the user's own grants (empty for file users).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub hash: BcryptHash,
    pub grants: Vec<GrantTemplate>,
}

/// A snapshot of the users, shared by the requests that started while it was current.
#[derive(Debug)]
pub struct UserSet {
    pub users: HashMap<String, User>,
    /// What an unknown user's password is checked against: the users' most common cost.
    pub dummy: BcryptHash,
    pub cache: VerifiedCache,
}

impl UserSet {
    /// The set of `inline` and `file` users, whose names must not overlap (see
    /// [`check_disjoint`]; the caller has checked).
    pub fn new(inline: &[(String, User)], file: &[FileUser], cache_ttl: Duration) -> UserSet {
        let mut users: HashMap<String, User> = file
            .iter()
            .map(|u| {
                let user = User {
                    hash: u.hash.clone(),
                    grants: Vec::new(),
                };
                (u.name.clone(), user)
            })
            .collect();
        users.extend(inline.iter().cloned());
        let dummy = BcryptHash::dummy(most_common_cost(&users));
        UserSet {
            users,
            dummy,
            cache: VerifiedCache::new(cache_ttl),
        }
    }

    /// Whether both sets hold the same users with the same hashes and grants.
    pub fn same_users(&self, other: &UserSet) -> bool {
        self.users == other.users
    }
}

/// Refuses file users that are also inline users: which hash would count is not obvious.
pub fn check_disjoint(inline: &[(String, User)], file: &[FileUser]) -> Result<(), Vec<String>> {
    let conflicts: Vec<String> = file
        .iter()
        .filter(|f| inline.iter().any(|(name, _)| *name == f.name))
        .map(|f| {
            format!(
                "line {}: user {} is also an inline user (users); define each user once",
                f.line, f.name
            )
        })
        .collect();
    if conflicts.is_empty() {
        Ok(())
    } else {
        Err(conflicts)
    }
}

/// The cost most users have (the higher one on a tie), so that an unknown name costs what a
/// typical known one does.
fn most_common_cost(users: &HashMap<String, User>) -> u32 {
    let mut counts: HashMap<u32, usize> = HashMap::new();
    for u in users.values() {
        *counts.entry(u.hash.cost()).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|&(cost, count)| (count, cost))
        .map_or(DEFAULT_COST, |(cost, _)| cost)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash;

    fn bcrypt_hash(cost: u32) -> BcryptHash {
        hash::parse(&bcrypt::hash("pw", cost).unwrap()).unwrap()
    }

    fn file_user(line: usize, name: &str, cost: u32) -> FileUser {
        FileUser {
            line,
            name: name.into(),
            hash: bcrypt_hash(cost),
        }
    }

    #[test]
    fn the_dummy_has_the_most_common_cost() {
        let file = [
            file_user(1, "a", 4),
            file_user(2, "b", 5),
            file_user(3, "c", 5),
        ];
        assert_eq!(UserSet::new(&[], &file, Duration::ZERO).dummy.cost(), 5);
        assert_eq!(
            UserSet::new(&[], &[], Duration::ZERO).dummy.cost(),
            DEFAULT_COST
        );
    }

    #[test]
    fn overlapping_names_are_reported_with_their_line() {
        let inline = [(
            "b".to_string(),
            User {
                hash: bcrypt_hash(4),
                grants: vec![],
            },
        )];
        let file = [file_user(1, "a", 4), file_user(7, "b", 4)];
        let err = check_disjoint(&inline, &file).unwrap_err();
        assert_eq!(err.len(), 1);
        assert!(err[0].starts_with("line 7: user b"), "{err:?}");
        assert!(check_disjoint(&inline, &file[..1]).is_ok());
    }
}
