//! What the loader reports: one [`Problem`] per thing wrong in the file, with the place to fix
//! it, printed like a compiler error (`FILE:LINE:COL: MESSAGE`).

use std::fmt;

use super::locate::{Locations, Pos};
use super::path::Path;

/// One thing wrong with a config file. `line` and `column` are 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for Problem {}

/// Collects problems for one file, turning paths into positions.
pub struct Reporter<'a> {
    file: &'a str,
    locations: &'a Locations,
    problems: Vec<Problem>,
    muted: Vec<Path>,
}

impl<'a> Reporter<'a> {
    pub fn new(file: &'a str, locations: &'a Locations) -> Reporter<'a> {
        Reporter {
            file,
            locations,
            problems: Vec::new(),
            muted: Vec::new(),
        }
    }

    /// A problem at a fixed position, with the message as it is.
    pub fn at_pos(&mut self, pos: Pos, message: impl Into<String>) {
        self.problems.push(Problem {
            file: self.file.to_string(),
            line: pos.line,
            column: pos.column,
            message: message.into(),
        });
    }

    /// A problem with the entry at `path`, pointing at its key (see [`Locations::key`]). The
    /// message is prefixed with the path.
    pub fn at(&mut self, path: &Path, message: impl fmt::Display) {
        let pos = self.locations.key(path);
        self.at_path_pos(path, pos, message);
    }

    /// Like [`Reporter::at`], but pointing at the value itself rather than its key.
    pub fn at_value(&mut self, path: &Path, message: impl fmt::Display) {
        let pos = self.locations.node(path);
        self.at_path_pos(path, pos, message);
    }

    fn at_path_pos(&mut self, path: &Path, pos: Pos, message: impl fmt::Display) {
        if self.is_muted(path) {
            return;
        }
        if path.is_root() {
            self.at_pos(pos, message.to_string());
        } else {
            self.at_pos(pos, format!("{path}: {message}"));
        }
    }

    /// Drops later problems at or under `path`, whose value is already known to be wrong
    /// (for example a `${VAR}` that is not set), so one mistake is reported once.
    pub fn mute(&mut self, path: Path) {
        self.muted.push(path);
    }

    /// Whether `path` is at or under a muted path: its value is not the one written, so it
    /// must not take part in checks against other entries either.
    pub fn is_muted(&self, path: &Path) -> bool {
        self.muted.iter().any(|m| path.starts_with(m))
    }

    /// The line of the entry at `path`, for messages that refer to another place.
    pub fn line_of(&self, path: &Path) -> usize {
        self.locations.key(path).line
    }

    pub fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }

    /// The problems in file order, without exact repeats.
    pub fn finish(mut self) -> Vec<Problem> {
        // A stable sort keeps problems at the same place in the order they were found.
        self.problems.sort_by_key(|p| (p.line, p.column));
        let mut out: Vec<Problem> = Vec::with_capacity(self.problems.len());
        for p in self.problems {
            if !out.contains(&p) {
                out.push(p);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_a_compiler() {
        let p = Problem {
            file: "b.yaml".into(),
            line: 3,
            column: 5,
            message: "oops".into(),
        };
        assert_eq!(p.to_string(), "b.yaml:3:5: oops");
    }

    #[test]
    fn sorts_dedups_and_mutes() {
        let loc = Locations::scan("a: 1\nb: {c: 2}\n");
        let mut r = Reporter::new("f", &loc);
        r.at(&Path::root().key("b"), "second");
        r.at(&Path::root().key("a"), "first");
        r.at(&Path::root().key("b"), "second");
        r.mute(Path::root().key("b"));
        r.at(&Path::root().key("b").key("c"), "muted");
        r.at_value(&Path::root().key("a"), "value");
        r.at(&Path::root(), "whole file");
        let got: Vec<String> = r.finish().iter().map(|p| p.to_string()).collect();
        assert_eq!(
            got,
            [
                "f:1:1: a: first",
                "f:1:1: whole file",
                "f:1:4: a: value",
                "f:2:1: b: second"
            ]
        );
    }
}
