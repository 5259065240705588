//! Documents with keys in them that are not listings: the DeleteObjects body bucketgate sends
//! upstream (with the full upstream keys), and the upstream's `DeleteResult`,
//! `InitiateMultipartUploadResult` and `CompleteMultipartUploadResult` with the client's view
//! put back: the alias's key prefix off every `<Key>`, the client's bucket name in `<Bucket>`,
//! and no `<Location>` (an upstream URL).

use quick_xml::events::{BytesText, Event};
use quick_xml::{Reader, Writer};

use super::text::{escape_text, local_is, read_text, MAX_DEPTH};

/// `<Delete>` with `keys` (key, version id) in order.
pub fn delete_body_xml(quiet: bool, keys: &[(String, Option<String>)]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
    );
    if quiet {
        out.push_str("<Quiet>true</Quiet>");
    }
    for (key, version) in keys {
        out.push_str("<Object><Key>");
        out.push_str(&escape_text(key));
        out.push_str("</Key>");
        if let Some(v) = version {
            out.push_str("<VersionId>");
            out.push_str(&escape_text(v));
            out.push_str("</VersionId>");
        }
        out.push_str("</Object>");
    }
    out.push_str("</Delete>");
    out
}

/// `body` with `key_prefix` removed from the start of every `<Key>` text, `client_bucket` as
/// every `<Bucket>` text, and `<Location>` elements dropped. Everything else passes unchanged.
/// `Err` when the body is not well-formed XML.
pub fn rewrite_result(
    body: &[u8],
    key_prefix: &str,
    client_bucket: &str,
) -> Result<Vec<u8>, String> {
    let mut reader = Reader::from_reader(body);
    let mut writer = Writer::new(Vec::with_capacity(body.len()));
    let mut depth = 0usize;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("at byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Eof => break,
            Event::Start(start) if local_is(&start, "Location") => {
                read_text(&mut reader, &start)?;
            }
            Event::Start(start) if local_is(&start, "Key") || local_is(&start, "Bucket") => {
                let text = read_text(&mut reader, &start)?;
                let shown = if local_is(&start, "Bucket") {
                    client_bucket
                } else {
                    text.strip_prefix(key_prefix).unwrap_or(&text)
                };
                let end = start.to_end().into_owned();
                writer
                    .write_event(Event::Start(start))
                    .and_then(|()| {
                        writer.write_event(Event::Text(BytesText::from_escaped(escape_text(shown))))
                    })
                    .and_then(|()| writer.write_event(Event::End(end)))
                    .map_err(|e| e.to_string())?;
            }
            other => {
                match &other {
                    Event::Start(_) => depth += 1,
                    Event::End(_) => depth = depth.saturating_sub(1),
                    _ => {}
                }
                if depth > MAX_DEPTH {
                    return Err("nested too deeply".into());
                }
                writer.write_event(other).map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(writer.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frontend::s3::xml::parse_delete;

    #[test]
    fn body_round_trips_through_the_parser() {
        let keys = vec![
            ("p/a&b<c>".to_string(), None),
            ("p/x".to_string(), Some("v1".to_string())),
        ];
        let xml = delete_body_xml(true, &keys);
        let parsed = parse_delete(xml.as_bytes()).unwrap();
        assert!(parsed.quiet);
        assert_eq!(parsed.objects[0].key, "p/a&b<c>");
        assert_eq!(parsed.objects[1].version_id.as_deref(), Some("v1"));
    }

    #[test]
    fn keys_lose_the_prefix_and_nothing_else_changes() {
        let upstream = br#"<?xml version="1.0" encoding="UTF-8"?><DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Deleted><Key>photos/a&amp;b</Key></Deleted><Error><Key>photos/c</Key><Code>AccessDenied</Code><Message>no</Message></Error></DeleteResult>"#;
        let out = rewrite_result(upstream, "photos/", "photos").unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("<Key>a&amp;b</Key>"), "{text}");
        assert!(
            text.contains("<Key>c</Key><Code>AccessDenied</Code>"),
            "{text}"
        );
        assert!(!text.contains("photos/"), "{text}");
    }

    #[test]
    fn multipart_results_show_the_client_bucket_and_key() {
        let upstream = br#"<CompleteMultipartUploadResult><Location>http://10.0.0.1/data/photos/k</Location><Bucket>data</Bucket><Key>photos/k</Key><ETag>"e-2"</ETag></CompleteMultipartUploadResult>"#;
        let text = String::from_utf8(rewrite_result(upstream, "photos/", "pics").unwrap()).unwrap();
        assert_eq!(
            text,
            r#"<CompleteMultipartUploadResult><Bucket>pics</Bucket><Key>k</Key><ETag>"e-2"</ETag></CompleteMultipartUploadResult>"#
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [&b"<DeleteResult><Key>x"[..], b"<a></b>", b"\xff\xfe<"] {
            let _ = rewrite_result(bad, "p/", "b");
        }
        assert!(rewrite_result(b"<a><Key>x</a>", "p/", "b").is_err());
    }
}
