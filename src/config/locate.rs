//! Finds the line and column of every node in the YAML text.
//!
//! `serde_yaml::Value` forgets where things were, so the text is walked a second time with
//! yaml-rust2's marked event parser, recording for each [`Path`] where its node starts and,
//! for mapping entries, where its key starts. Errors then point at the `key:` line.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

use super::path::{Path, Seg};

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    /// The start of the document, where problems without a better place go.
    pub const START: Pos = Pos { line: 1, column: 1 };

    fn from_marker(m: Marker) -> Pos {
        // yaml-rust2 counts lines from 1 and columns from 0.
        Pos {
            line: m.line().max(1),
            column: m.col().saturating_add(1),
        }
    }
}

/// Where each node (and each mapping key) of the first document is.
#[derive(Debug, Default, Clone)]
pub struct Locations {
    keys: HashMap<Path, Pos>,
    nodes: HashMap<Path, Pos>,
    duplicates: Vec<Duplicate>,
}

/// A mapping key written twice in the same mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    pub path: Path,
    pub first: Pos,
    pub again: Pos,
}

impl Locations {
    /// Scans `text`. Never fails: on a syntax error the nodes seen so far are kept, and
    /// lookups of the rest fall back to their nearest known ancestor.
    pub fn scan(text: &str) -> Locations {
        let mut rx = Receiver::default();
        let _ = Parser::new_from_str(text).load(&mut rx, false);
        rx.locations
    }

    /// Where an error about `path` should point: the key of a mapping entry, else the node,
    /// else the nearest ancestor that is known, else the start of the document.
    pub fn key(&self, path: &Path) -> Pos {
        self.find(path, &self.keys, &self.nodes)
    }

    /// Where the value at `path` itself starts (for example the scalar holding a `${VAR}`),
    /// falling back like [`Locations::key`].
    pub fn node(&self, path: &Path) -> Pos {
        self.find(path, &self.nodes, &self.keys)
    }

    /// Keys that appear twice in one mapping, in file order. (YAML forbids them; serde_yaml
    /// reports only the mapping, this says where the repeat is.)
    pub fn duplicates(&self) -> &[Duplicate] {
        &self.duplicates
    }

    fn find(&self, path: &Path, first: &HashMap<Path, Pos>, second: &HashMap<Path, Pos>) -> Pos {
        let mut p = path.clone();
        loop {
            if let Some(pos) = first.get(&p).or_else(|| second.get(&p)) {
                return *pos;
            }
            match p.parent() {
                Some(up) => p = up,
                None => return Pos::START,
            }
        }
    }
}

enum Frame {
    Map {
        path: Path,
        expecting_key: bool,
        key: Option<Seg>,
        seen_first_key: bool,
    },
    Seq {
        path: Path,
        next: usize,
    },
}

#[derive(Default)]
struct Receiver {
    locations: Locations,
    stack: Vec<Frame>,
    done: bool,
}

impl Receiver {
    /// Records a node that starts at `pos` and returns its path. `scalar` is the text of a
    /// scalar node, used when the node turns out to be a mapping key.
    fn node_start(&mut self, pos: Pos, scalar: Option<&str>) -> Path {
        let Locations {
            keys,
            nodes,
            duplicates,
        } = &mut self.locations;
        match self.stack.last_mut() {
            None => {
                nodes.entry(Path::root()).or_insert(pos);
                Path::root()
            }
            Some(Frame::Map {
                path,
                expecting_key: true,
                key,
                seen_first_key,
            }) => {
                // A block mapping's own mark lies after its first key; the key is the better
                // place to point at the mapping.
                if !*seen_first_key {
                    *seen_first_key = true;
                    let slot = nodes.entry(path.clone()).or_insert(pos);
                    if pos < *slot {
                        *slot = pos;
                    }
                }
                let name = scalar.unwrap_or("?").to_string();
                let child = path.key(name.clone());
                match keys.get(&child) {
                    Some(first) if scalar.is_some() => duplicates.push(Duplicate {
                        path: child.clone(),
                        first: *first,
                        again: pos,
                    }),
                    Some(_) => {}
                    None => {
                        keys.insert(child.clone(), pos);
                    }
                }
                *key = Some(Seg::Key(name));
                // Children of a complex key get a path of their own that nothing looks up.
                child.key("?")
            }
            Some(Frame::Map {
                path,
                expecting_key: false,
                key,
                ..
            }) => {
                let mut child = path.clone();
                child.0.push(key.clone().unwrap_or(Seg::Key("?".into())));
                nodes.entry(child.clone()).or_insert(pos);
                child
            }
            Some(Frame::Seq { path, next }) => {
                let child = path.index(*next);
                *next += 1;
                nodes.entry(child.clone()).or_insert(pos);
                child
            }
        }
    }

    /// A node is complete: in a mapping, a key is followed by a value and a value by a key.
    fn node_end(&mut self) {
        if let Some(Frame::Map { expecting_key, .. }) = self.stack.last_mut() {
            *expecting_key = !*expecting_key;
        }
    }
}

impl MarkedEventReceiver for Receiver {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.done {
            return;
        }
        let pos = Pos::from_marker(mark);
        match ev {
            Event::Scalar(text, ..) => {
                self.node_start(pos, Some(&text));
                self.node_end();
            }
            Event::Alias(_) => {
                self.node_start(pos, None);
                self.node_end();
            }
            Event::MappingStart(..) => {
                let path = self.node_start(pos, None);
                self.stack.push(Frame::Map {
                    path,
                    expecting_key: true,
                    key: None,
                    seen_first_key: false,
                });
            }
            Event::SequenceStart(..) => {
                let path = self.node_start(pos, None);
                self.stack.push(Frame::Seq { path, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                self.node_end();
            }
            Event::DocumentEnd => self.done = true,
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentStart => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &[&str]) -> Path {
        let mut path = Path::root();
        for seg in s {
            path = match seg.parse::<usize>() {
                Ok(i) => path.index(i),
                Err(_) => path.key(*seg),
            };
        }
        path
    }

    const TEXT: &str = "\
# a comment
server:
  threads: 4
listeners:
  - address: 127.0.0.1:8080
upstreams:
  local:
    endpoints: [127.0.0.1:9000, 'b:1']
    credentials: {access_key_id: x, secret_access_key: y}
routes:
  - name: files
    upstream: local
    methods:
      - GET
      - PUT
  -   name: two
      rewrite:
        - match: 'a'
          replace: |
            b
";

    fn at(line: usize, column: usize) -> Pos {
        Pos { line, column }
    }

    #[test]
    fn keys_point_at_the_key() {
        let l = Locations::scan(TEXT);
        assert_eq!(l.key(&p(&["server"])), at(2, 1));
        assert_eq!(l.key(&p(&["server", "threads"])), at(3, 3));
        assert_eq!(l.key(&p(&["listeners", "0", "address"])), at(5, 5));
        assert_eq!(l.key(&p(&["upstreams", "local"])), at(7, 3));
        assert_eq!(l.key(&p(&["routes", "1", "name"])), at(16, 7));
        assert_eq!(
            l.key(&p(&["routes", "1", "rewrite", "0", "replace"])),
            at(19, 11)
        );
        assert_eq!(
            l.key(&p(&[
                "upstreams",
                "local",
                "credentials",
                "secret_access_key"
            ])),
            at(9, 37)
        );
    }

    #[test]
    fn sequence_items_and_values_point_at_the_node() {
        let l = Locations::scan(TEXT);
        assert_eq!(
            l.key(&p(&["upstreams", "local", "endpoints", "1"])),
            at(8, 33)
        );
        assert_eq!(
            l.node(&p(&["upstreams", "local", "endpoints", "0"])),
            at(8, 17)
        );
        assert_eq!(l.key(&p(&["routes", "0", "methods", "1"])), at(15, 9));
        // A mapping in a sequence is found at its first key, not after it.
        assert_eq!(l.key(&p(&["routes", "0"])), at(11, 5));
        assert_eq!(l.key(&p(&["routes", "1"])), at(16, 7));
        assert_eq!(l.node(&p(&["routes", "0", "upstream"])), at(12, 15));
        assert_eq!(l.node(&p(&["server", "threads"])), at(3, 12));
        assert_eq!(l.key(&Path::root()), at(2, 1));
    }

    #[test]
    fn unknown_paths_fall_back_to_the_nearest_ancestor() {
        let l = Locations::scan(TEXT);
        assert_eq!(l.key(&p(&["routes", "0", "bucket"])), at(11, 5));
        assert_eq!(l.key(&p(&["routes", "7", "bucket"])), at(10, 1));
        assert_eq!(l.key(&p(&["nothing", "here"])), at(2, 1));
        assert_eq!(Locations::scan("").key(&p(&["routes"])), Pos::START);
    }

    #[test]
    fn finds_repeated_keys() {
        let l = Locations::scan("a: 1\nb:\n  c: 1\n  d: 2\n  c: 3\na: 4\n");
        let got: Vec<(String, usize, usize)> = l
            .duplicates()
            .iter()
            .map(|d| (d.path.to_string(), d.first.line, d.again.line))
            .collect();
        assert_eq!(got, [("b.c".to_string(), 3, 5), ("a".to_string(), 1, 6)]);
        assert!(Locations::scan(TEXT).duplicates().is_empty());
    }

    #[test]
    fn broken_text_keeps_what_was_seen() {
        let l = Locations::scan("a: 1\nb:\n  c: [1, 2\n");
        assert_eq!(l.key(&p(&["b", "c"])), at(3, 3));
        assert_eq!(l.key(&p(&["a"])), at(1, 1));
    }
}
