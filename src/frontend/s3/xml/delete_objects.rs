//! Parses the body of an S3 DeleteObjects request (`POST /bucket?delete`), so that bucketgate
//! can check every key against the caller's rights (and rewrite it for the upstream) before
//! anything is deleted. A body that does not parse is answered with S3's `MalformedXML`.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::text::{is_blank, local_is, name_of, read_text};

/// The most objects one DeleteObjects request may name (S3's limit).
pub const MAX_DELETE_OBJECTS: usize = 1000;

/// A parsed `<Delete>` document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteRequest {
    /// `<Quiet>true</Quiet>`: report only the failures. False when absent.
    pub quiet: bool,
    /// The `<Object>` entries, in document order; between 1 and [`MAX_DELETE_OBJECTS`].
    pub objects: Vec<DeleteEntry>,
}

/// One `<Object>` of a `<Delete>` document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteEntry {
    /// The key, entities and character references decoded, white space kept as sent.
    pub key: String,
    /// `<VersionId>`, if present and not empty.
    pub version_id: Option<String>,
}

/// Parses a DeleteObjects body. `Err` is the reason to give with S3's `MalformedXML`.
///
/// The root is `<Delete>` in any (or no) namespace. Unknown elements (such as the `ETag`,
/// `LastModifiedTime` and `Size` conditions of newer SDKs) are skipped. An `<Object>` needs
/// exactly one non-empty `<Key>`; there must be at least one and at most 1000 objects.
pub fn parse_delete(body: &[u8]) -> Result<DeleteRequest, String> {
    std::str::from_utf8(body).map_err(|e| format!("body is not UTF-8: {e}"))?;
    let mut reader = Reader::from_reader(body);

    let root = loop {
        match next(&mut reader)? {
            Event::Start(s) => break s,
            Event::Empty(s) if local_is(&s, "Delete") => {
                return Err("<Delete> names no <Object>".to_owned())
            }
            Event::Empty(s) => return Err(wrong_root(&s)),
            Event::Text(t) if is_blank(&t) => {}
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
            Event::Eof => return Err("empty body".to_owned()),
            _ => return Err("content before the root element".to_owned()),
        }
    };
    if !local_is(&root, "Delete") {
        return Err(wrong_root(&root));
    }

    let mut quiet = None;
    let mut objects = Vec::new();
    loop {
        match next(&mut reader)? {
            Event::Start(s) if local_is(&s, "Quiet") => {
                if quiet.is_some() {
                    return Err("more than one <Quiet>".to_owned());
                }
                quiet = Some(parse_bool(&read_text(&mut reader, &s)?)?);
            }
            Event::Start(s) if local_is(&s, "Object") => {
                if objects.len() >= MAX_DELETE_OBJECTS {
                    return Err(format!(
                        "more than {MAX_DELETE_OBJECTS} objects in one DeleteObjects request"
                    ));
                }
                objects.push(parse_object(&mut reader)?);
            }
            Event::Start(s) => skip(&mut reader, &s)?,
            Event::Empty(s) if local_is(&s, "Quiet") => return Err("empty <Quiet>".to_owned()),
            Event::Empty(s) if local_is(&s, "Object") => {
                return Err("<Object> without <Key>".to_owned())
            }
            Event::Empty(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Text(t) if is_blank(&t) => {}
            Event::End(_) => break,
            Event::Eof => return Err("document ends inside <Delete>".to_owned()),
            _ => return Err("unexpected text inside <Delete>".to_owned()),
        }
    }

    loop {
        match next(&mut reader)? {
            Event::Eof => break,
            Event::Text(t) if is_blank(&t) => {}
            Event::Comment(_) | Event::PI(_) => {}
            _ => return Err("content after </Delete>".to_owned()),
        }
    }

    if objects.is_empty() {
        return Err("<Delete> names no <Object>".to_owned());
    }
    Ok(DeleteRequest {
        quiet: quiet.unwrap_or(false),
        objects,
    })
}

/// Reads the rest of an `<Object>` element (its start tag already consumed).
fn parse_object(reader: &mut Reader<&[u8]>) -> Result<DeleteEntry, String> {
    let mut key = None;
    let mut version_id = None;
    loop {
        match next(reader)? {
            Event::Start(s) if local_is(&s, "Key") => {
                if key.is_some() {
                    return Err("<Object> with more than one <Key>".to_owned());
                }
                key = Some(read_text(reader, &s)?);
            }
            Event::Start(s) if local_is(&s, "VersionId") => {
                if version_id.is_some() {
                    return Err("<Object> with more than one <VersionId>".to_owned());
                }
                version_id = Some(read_text(reader, &s)?);
            }
            Event::Start(s) => skip(reader, &s)?,
            Event::Empty(s) if local_is(&s, "Key") => return Err("empty <Key>".to_owned()),
            Event::Empty(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Text(t) if is_blank(&t) => {}
            Event::End(_) => break,
            Event::Eof => return Err("document ends inside <Object>".to_owned()),
            _ => return Err("unexpected text inside <Object>".to_owned()),
        }
    }
    match key {
        None => Err("<Object> without <Key>".to_owned()),
        Some(key) if key.is_empty() => Err("empty <Key>".to_owned()),
        Some(key) => Ok(DeleteEntry {
            key,
            version_id: version_id.filter(|v| !v.is_empty()),
        }),
    }
}

fn next<'a>(reader: &mut Reader<&'a [u8]>) -> Result<Event<'a>, String> {
    reader
        .read_event()
        .map_err(|e| format!("at byte {}: {e}", reader.error_position()))
}

/// Skips an element we do not use, with everything inside it.
fn skip(reader: &mut Reader<&[u8]>, start: &BytesStart<'_>) -> Result<(), String> {
    reader
        .read_to_end(start.name())
        .map(|_| ())
        .map_err(|e| format!("in <{}>: {e}", name_of(start)))
}

fn parse_bool(text: &str) -> Result<bool, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if text.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(format!("<Quiet> must be true or false, not {text:?}"))
    }
}

fn wrong_root(start: &BytesStart<'_>) -> String {
    format!("root element is <{}>, expected <Delete>", name_of(start))
}

#[cfg(test)]
mod tests {
    use super::super::fuzz::{mutate, XorShift};
    use super::*;

    fn entry(key: &str, version_id: Option<&str>) -> DeleteEntry {
        DeleteEntry {
            key: key.to_owned(),
            version_id: version_id.map(str::to_owned),
        }
    }

    #[test]
    fn sdk_body_with_namespace() {
        let body = concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#,
            "<Object><Key>photos/a.jpg</Key></Object>",
            "<Object><Key>photos/b.jpg</Key><VersionId>3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY</VersionId></Object>",
            "<Quiet>true</Quiet></Delete>"
        );
        assert_eq!(
            parse_delete(body.as_bytes()).unwrap(),
            DeleteRequest {
                quiet: true,
                objects: vec![
                    entry("photos/a.jpg", None),
                    entry("photos/b.jpg", Some("3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY")),
                ],
            }
        );
    }

    #[test]
    fn pretty_printed_without_namespace_and_quiet_false() {
        let body = "<Delete>\n  <Quiet> False </Quiet>\n  <Object>\n    <Key>a</Key>\n    \
                    <VersionId>null</VersionId>\n  </Object>\n</Delete>\n";
        let parsed = parse_delete(body.as_bytes()).unwrap();
        assert!(!parsed.quiet);
        assert_eq!(parsed.objects, [entry("a", Some("null"))]);

        let parsed = parse_delete(b"<Delete><Object><Key>k</Key></Object></Delete>").unwrap();
        assert!(!parsed.quiet);
        assert_eq!(parsed.objects, [entry("k", None)]);
    }

    #[test]
    fn entities_and_white_space_in_keys_are_kept() {
        let body = concat!(
            "<Delete><Object><Key> a&amp;b&lt;c&gt;&quot;&apos;&#10;&#x263A;.txt </Key>",
            "<VersionId/></Object>",
            "<Object><Key><![CDATA[x<y>&z]]></Key></Object></Delete>"
        );
        let parsed = parse_delete(body.as_bytes()).unwrap();
        assert_eq!(
            parsed.objects,
            [entry(" a&b<c>\"'\n☺.txt ", None), entry("x<y>&z", None)]
        );
    }

    #[test]
    fn unknown_elements_are_skipped() {
        let body = concat!(
            r#"<s3:Delete xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/"><!-- c -->"#,
            "<s3:Object><s3:Key>a</s3:Key><s3:ETag>&quot;abc&quot;</s3:ETag>",
            "<s3:Size>3</s3:Size><s3:Extra><Deep>x</Deep></s3:Extra></s3:Object>",
            "<Unknown/></s3:Delete>"
        );
        assert_eq!(
            parse_delete(body.as_bytes()).unwrap().objects,
            [entry("a", None)]
        );
    }

    #[test]
    fn thousand_objects_pass_and_more_fail() {
        let body = |n: usize| {
            let objects: String = (0..n)
                .map(|i| format!("<Object><Key>k{i}</Key></Object>"))
                .collect();
            format!("<Delete>{objects}</Delete>")
        };
        assert_eq!(
            parse_delete(body(MAX_DELETE_OBJECTS).as_bytes())
                .unwrap()
                .objects
                .len(),
            MAX_DELETE_OBJECTS
        );
        let err = parse_delete(body(MAX_DELETE_OBJECTS + 1).as_bytes()).unwrap_err();
        assert!(err.contains("1000"), "{err}");
    }

    #[test]
    fn malformed_bodies_are_errors() {
        for body in [
            "",
            "  \n",
            "garbage",
            "<Delete/>",
            "<Delete></Delete>",
            "<Delete><Quiet>true</Quiet></Delete>",
            "<Remove><Object><Key>a</Key></Object></Remove>",
            "<Delete><Object><Key>a</Key></Object>",
            "<Delete><Object><Key>a</Key></Delete>",
            "<Delete><Object/></Delete>",
            "<Delete><Object><VersionId>v</VersionId></Object></Delete>",
            "<Delete><Object><Key></Key></Object></Delete>",
            "<Delete><Object><Key/></Object></Delete>",
            "<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>",
            "<Delete><Object><Key>a<b/></Key></Object></Delete>",
            "<Delete><Object><Key>a&foo;</Key></Object></Delete>",
            "<Delete><Object><Key>a & b</Key></Object></Delete>",
            "<Delete><Object><Key>a&#0;</Key></Object></Delete>",
            "<Delete><Object>text<Key>a</Key></Object></Delete>",
            "<Delete><Quiet>yes</Quiet><Object><Key>a</Key></Object></Delete>",
            "<Delete><Quiet/><Object><Key>a</Key></Object></Delete>",
            "<Delete><Quiet>true</Quiet><Quiet>true</Quiet><Object><Key>a</Key></Object></Delete>",
            "<Delete><Object><Key>a</Key></Object></Delete><Delete/>",
            "<Delete><Object><Key>a</Key></Object></Delete>junk",
            "junk<Delete><Object><Key>a</Key></Object></Delete>",
            "<Delete><Object><Key>a</Key></Object><Extra><Open></Extra></Delete>",
        ] {
            assert!(parse_delete(body.as_bytes()).is_err(), "{body:?}");
        }
        assert!(parse_delete(b"<Delete><Object><Key>\xff</Key></Object></Delete>").is_err());
    }

    #[test]
    fn garbage_never_panics() {
        let valid = concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#,
            "<Quiet>true</Quiet><Object><Key>a&amp;b</Key><VersionId>v1</VersionId></Object>",
            "<Object><Key>c</Key><ETag>e</ETag></Object></Delete>"
        );
        let mut rng = XorShift(0xDEAD_BEEF_CAFE_F00D);
        for round in 0..3000 {
            let body: Vec<u8> = if round % 4 == 0 {
                (0..rng.below(120)).map(|_| rng.next() as u8).collect()
            } else {
                mutate(&mut rng, valid.as_bytes())
            };
            let _ = parse_delete(&body);
        }
    }
}
