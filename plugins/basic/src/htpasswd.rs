//! Apache htpasswd files: reading one safely (a regular file, bounded size) and parsing its
//! `user:hash` lines, with `#` comments and blank lines, bcrypt hashes only. Every problem names
//! its line number and never the hash.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::hash::{self, BcryptHash};

/// Larger files are refused: an htpasswd file of a million bcrypt users is 70 MB.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// One user of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileUser {
    /// 1-based line number.
    pub line: usize,
    pub name: String,
    pub hash: BcryptHash,
}

/// Reads and parses the file. Errors are whole sentences for the operator (`line 3: ...`).
pub fn load(path: &Path) -> Result<Vec<FileUser>, Vec<String>> {
    let bytes = read(path).map_err(|e| vec![e])?;
    parse(&bytes)
}

/// The file's bytes, refusing anything but a regular file of at most [`MAX_FILE_BYTES`].
fn read(path: &Path) -> Result<Vec<u8>, String> {
    let shown = path.display();
    // Checked before opening too: opening a FIFO would wait for a writer.
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot open {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{shown} is not a regular file"));
    }
    let file = File::open(path).map_err(|e| format!("cannot open {shown}: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot stat {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{shown} is not a regular file"));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "{shown} is larger than {MAX_FILE_BYTES} bytes; is it really an htpasswd file?"
        ));
    }
    Ok(bytes)
}

/// Parses htpasswd text: every problem is reported, each starting with `line N:`.
pub fn parse(bytes: &[u8]) -> Result<Vec<FileUser>, Vec<String>> {
    let mut users: Vec<FileUser> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut problems = Vec::new();
    for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = index + 1;
        match parse_line(raw) {
            Ok(None) => {}
            Ok(Some((name, hash))) => {
                if let Some(first) = seen.get(&name) {
                    problems.push(format!(
                        "line {line}: user {name} is already defined on line {first}"
                    ));
                } else {
                    seen.insert(name.clone(), line);
                    users.push(FileUser { line, name, hash });
                }
            }
            Err(message) => problems.push(format!("line {line}: {message}")),
        }
    }
    if problems.is_empty() {
        Ok(users)
    } else {
        Err(problems)
    }
}

/// One line: `Ok(None)` for a comment or a blank line.
fn parse_line(raw: &[u8]) -> Result<Option<(String, BcryptHash)>, String> {
    let text = std::str::from_utf8(raw).map_err(|_| "is not valid UTF-8".to_string())?;
    let text = text.trim();
    if text.is_empty() || text.starts_with('#') {
        return Ok(None);
    }
    let Some((name, hash)) = text.split_once(':') else {
        return Err("expected user:hash".into());
    };
    let name = name.trim();
    if let Some(problem) = name_problem(name) {
        return Err(problem);
    }
    let hash = hash::parse(hash.trim()).map_err(|why| format!("the hash of user {name} {why}"))?;
    Ok(Some((name.to_owned(), hash)))
}

/// Why `name` cannot be a Basic user name, if it cannot.
pub fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        Some("the user name is empty".into())
    } else if name.contains(':') {
        Some("a user name must not contain ':'".into())
    } else if name.chars().any(char::is_control) {
        Some("a user name must not contain control characters".into())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(password: &str) -> String {
        bcrypt::hash_with_result(password, hash::MIN_COST)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoY)
    }

    #[test]
    fn good_file_with_comments_blank_lines_and_crlf() {
        let text = format!(
            "# users of the genomics route\n\nigv:{}\r\n   \n  # indented comment\nbob:{}\n",
            hash("a"),
            hash("b")
        );
        let users = parse(text.as_bytes()).unwrap();
        assert_eq!(users.len(), 2);
        assert_eq!((users[0].name.as_str(), users[0].line), ("igv", 3));
        assert_eq!((users[1].name.as_str(), users[1].line), ("bob", 6));
        assert!(users[0].hash.verify(b"a"));
        assert!(users[1].hash.verify(b"b"));
        assert!(parse(b"").unwrap().is_empty());
    }

    #[test]
    fn an_apr1_line_is_a_problem_with_its_line_number() {
        let apr1 = "$apr1$8a7s6d5f$ZlH0q1ZFA/kUSw2ApJRkQ1";
        let text = format!("# header\nigv:{}\nold:{apr1}\n", hash("a"));
        let problems = parse(text.as_bytes()).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("line 3: "), "{}", problems[0]);
        assert!(problems[0].contains("MD5"), "{}", problems[0]);
        assert!(problems[0].contains("user old"), "{}", problems[0]);
        assert!(!problems[0].contains(apr1));
    }

    #[test]
    fn every_bad_line_is_reported() {
        let good = hash("a");
        let text = format!(
            "no-colon\n:{good}\nsha:{{SHA}}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\nplain:hunter2\na:{good}\na:{good}\n"
        );
        let mut bytes = text.into_bytes();
        bytes.extend_from_slice(b"bin\xff:x\n");
        let problems = parse(&bytes).unwrap_err();
        let starts: Vec<&str> = problems
            .iter()
            .map(|p| p.split(':').next().unwrap())
            .collect();
        assert_eq!(
            starts,
            ["line 1", "line 2", "line 3", "line 4", "line 6", "line 7"]
        );
        assert!(problems[4].contains("already defined on line 5"));
        assert!(problems.iter().all(|p| !p.contains("hunter2")));
    }

    #[test]
    fn load_reports_missing_and_non_regular_files() {
        let dir = tempfile::tempdir().unwrap();
        let missing = load(&dir.path().join("nope")).unwrap_err();
        assert!(missing[0].starts_with("cannot open"), "{missing:?}");
        let not_file = load(dir.path()).unwrap_err();
        assert!(not_file[0].contains("not a regular file"), "{not_file:?}");
        let path = dir.path().join("htpasswd");
        std::fs::write(&path, format!("u:{}\n", hash("p"))).unwrap();
        assert_eq!(load(&path).unwrap()[0].name, "u");
    }
}
