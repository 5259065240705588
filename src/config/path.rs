//! A location inside the config tree (`routes[2].upstream`, `upstreams.local.endpoints[0]`),
//! shared by the locator, the typed loader and the semantic checks so that they can all name
//! the same node and find its line and column.

use std::fmt;

/// One step into the tree: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A path from the document root; the empty path is the root itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Path(pub Vec<Seg>);

impl Path {
    pub fn root() -> Path {
        Path(Vec::new())
    }

    /// This path with a mapping key appended.
    pub fn key(&self, k: impl Into<String>) -> Path {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.into()));
        p
    }

    /// This path with a sequence index appended.
    pub fn index(&self, i: usize) -> Path {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }

    /// The path one step up, or `None` at the root.
    pub fn parent(&self) -> Option<Path> {
        let mut p = self.clone();
        p.0.pop().map(|_| p)
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `self` is `other` or lies under it.
    pub fn starts_with(&self, other: &Path) -> bool {
        self.0.starts_with(&other.0)
    }

    /// Whether any step is the mapping key `k`.
    pub fn has_key(&self, k: &str) -> bool {
        self.0.iter().any(|s| matches!(s, Seg::Key(x) if x == k))
    }
}

/// The text a YAML mapping key is known by in a [`Path`]: strings as they are, other scalars
/// as written, anything else as `?`.
pub fn key_text(key: &serde_yaml::Value) -> String {
    use serde_yaml::Value;
    match key {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "~".into(),
        Value::Tagged(t) => key_text(&t.value),
        Value::Sequence(_) | Value::Mapping(_) => "?".into(),
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(document)");
        }
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => f.write_str(k)?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_the_docs() {
        let p = Path::root().key("routes").index(2).key("upstream");
        assert_eq!(p.to_string(), "routes[2].upstream");
        let p = Path::root()
            .key("upstreams")
            .key("local")
            .key("endpoints")
            .index(0);
        assert_eq!(p.to_string(), "upstreams.local.endpoints[0]");
        assert_eq!(Path::root().to_string(), "(document)");
        assert_eq!(p.parent().unwrap().to_string(), "upstreams.local.endpoints");
        assert!(Path::root().parent().is_none());
    }
}
