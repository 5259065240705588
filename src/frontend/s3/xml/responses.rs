//! The S3 XML documents bucketgate answers with itself (errors, ListBuckets, GetBucketLocation),
//! and reading the code and message out of an upstream S3 error document.
//!
//! The writers build strings directly: the documents are small and fixed in shape, and every
//! piece of text or attribute value goes through the same escaping as the listing rewrite.

use quick_xml::events::Event;
use quick_xml::Reader;

use super::text::{escape_text, is_blank, local_is, read_text};

/// The XML declaration S3 starts its documents with.
const DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// The namespace of S3 result documents.
const S3_XMLNS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// An S3 error document:
/// `<Error><Code/><Message/><Resource/><RequestId/></Error>`, every value escaped.
pub fn error_xml(code: &str, message: &str, resource: &str, request_id: &str) -> String {
    let mut out = String::with_capacity(200 + message.len() + resource.len());
    out.push_str(DECLARATION);
    out.push_str("<Error>");
    push_element(&mut out, "Code", code);
    push_element(&mut out, "Message", message);
    push_element(&mut out, "Resource", resource);
    push_element(&mut out, "RequestId", request_id);
    out.push_str("</Error>");
    out
}

/// A ListBuckets (`GET /`) result: the owner, then each `(name, creation date)`, the date
/// already in S3's ISO 8601 form such as `2024-01-01T00:00:00.000Z`.
pub fn list_buckets_xml(owner_id: &str, owner_name: &str, buckets: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(256 + buckets.len() * 96);
    out.push_str(DECLARATION);
    out.push_str("<ListAllMyBucketsResult xmlns=\"");
    out.push_str(S3_XMLNS);
    out.push_str("\"><Owner>");
    push_element(&mut out, "ID", owner_id);
    push_element(&mut out, "DisplayName", owner_name);
    out.push_str("</Owner><Buckets>");
    for (name, created) in buckets {
        out.push_str("<Bucket>");
        push_element(&mut out, "Name", name);
        push_element(&mut out, "CreationDate", created);
        out.push_str("</Bucket>");
    }
    out.push_str("</Buckets></ListAllMyBucketsResult>");
    out
}

/// A GetBucketLocation result. As S3 does, the constraint is empty for `us-east-1` (and for
/// an empty region).
pub fn location_xml(region: &str) -> String {
    let mut out = String::with_capacity(160);
    out.push_str(DECLARATION);
    out.push_str("<LocationConstraint xmlns=\"");
    out.push_str(S3_XMLNS);
    if region.is_empty() || region == "us-east-1" {
        out.push_str("\"/>");
    } else {
        out.push_str("\">");
        out.push_str(&escape_text(region));
        out.push_str("</LocationConstraint>");
    }
    out
}

/// The `Code` and `Message` of an upstream S3 error document (`<Error>` root, any namespace).
///
/// `None` if the body is not a well-formed `<Error>` document or has no non-empty `Code`.
/// A missing `Message` (Ceph RGW often sends none) gives an empty message.
pub fn error_code_and_message(body: &[u8]) -> Option<(String, String)> {
    std::str::from_utf8(body).ok()?;
    let mut reader = Reader::from_reader(body);
    let root = loop {
        match reader.read_event().ok()? {
            Event::Start(s) => break s,
            Event::Text(t) if is_blank(&t) => {}
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
            _ => return None,
        }
    };
    if !local_is(&root, "Error") {
        return None;
    }
    let mut code = None;
    let mut message = None;
    loop {
        match reader.read_event().ok()? {
            Event::Start(s) if local_is(&s, "Code") && code.is_none() => {
                code = Some(read_text(&mut reader, &s).ok()?);
            }
            Event::Start(s) if local_is(&s, "Message") && message.is_none() => {
                message = Some(read_text(&mut reader, &s).ok()?);
            }
            Event::Start(s) => {
                reader.read_to_end(s.name()).ok()?;
            }
            Event::End(_) => break,
            Event::Eof => return None,
            _ => {}
        }
    }
    let code = code?.trim().to_owned();
    if code.is_empty() {
        return None;
    }
    Some((code, message.unwrap_or_default()))
}

/// Appends `<name>text</name>` with `text` escaped.
fn push_element(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    out.push_str(&escape_text(text));
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

#[cfg(test)]
mod tests {
    use super::super::fuzz::{mutate, XorShift};
    use super::*;

    /// The root's attributes as `("@name", value)`, then `(path, text)` of every leaf
    /// element, parsing `xml` strictly.
    fn flatten(xml: &str) -> Vec<(String, String)> {
        let mut reader = Reader::from_reader(xml.as_bytes());
        let mut stack: Vec<String> = Vec::new();
        let mut found = Vec::new();
        let mut text = String::new();
        let mut leaf = false;
        loop {
            match reader.read_event().expect("well-formed") {
                Event::Start(s) | Event::Empty(s) if stack.is_empty() => {
                    for attr in s.attributes() {
                        let attr = attr.expect("attribute");
                        let value = attr
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .expect("value")
                            .into_owned();
                        let key = String::from_utf8_lossy(attr.key.as_ref()).into_owned();
                        found.push((format!("@{key}"), value));
                    }
                    stack.push(String::from_utf8_lossy(s.local_name().as_ref()).into_owned());
                    leaf = true;
                    text.clear();
                }
                Event::Start(s) => {
                    stack.push(String::from_utf8_lossy(s.local_name().as_ref()).into_owned());
                    leaf = true;
                    text.clear();
                }
                Event::End(_) => {
                    if leaf {
                        found.push((stack.join("/"), std::mem::take(&mut text)));
                    }
                    leaf = false;
                    stack.pop();
                }
                Event::Eof => return found,
                Event::Decl(_) => {}
                ref other => super::super::text::push_text(&mut text, other).expect("text"),
            }
        }
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn error_document_shape() {
        assert_eq!(
            error_xml(
                "NoSuchKey",
                "The specified key does not exist.",
                "/photos/a.jpg",
                "req-1"
            ),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>\
             <Message>The specified key does not exist.</Message>\
             <Resource>/photos/a.jpg</Resource><RequestId>req-1</RequestId></Error>"
        );
    }

    #[test]
    fn error_document_escapes_and_parses_back() {
        let message = "a <b> & \"c\" 'd'\r\n\u{1}";
        let xml = error_xml("Access<Denied>", message, "/b/k&\"'.txt", "id&1");
        assert!(!xml.contains("<b>"));
        assert!(xml.contains("&lt;b&gt; &amp; &quot;c&quot; &apos;d&apos;"));
        assert_eq!(
            error_code_and_message(xml.as_bytes()),
            Some(("Access<Denied>".to_owned(), message.to_owned()))
        );
        let flat = flatten(&xml);
        assert!(flat.contains(&("Error/Resource".to_owned(), "/b/k&\"'.txt".to_owned())));
        assert!(flat.contains(&("Error/RequestId".to_owned(), "id&1".to_owned())));
    }

    #[test]
    fn list_buckets_document() {
        let xml = list_buckets_xml(
            "bucketgate",
            "Tom & Jerry <co>",
            &[
                ("photos", "2024-01-01T00:00:00.000Z"),
                ("logs", "2024-02-29T12:30:00.000Z"),
            ],
        );
        assert!(xml.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListAllMyBucketsResult \
             xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Owner><ID>bucketgate</ID>"
        ));
        assert_eq!(
            flatten(&xml),
            pairs(&[
                ("@xmlns", "http://s3.amazonaws.com/doc/2006-03-01/"),
                ("ListAllMyBucketsResult/Owner/ID", "bucketgate"),
                (
                    "ListAllMyBucketsResult/Owner/DisplayName",
                    "Tom & Jerry <co>"
                ),
                ("ListAllMyBucketsResult/Buckets/Bucket/Name", "photos"),
                (
                    "ListAllMyBucketsResult/Buckets/Bucket/CreationDate",
                    "2024-01-01T00:00:00.000Z"
                ),
                ("ListAllMyBucketsResult/Buckets/Bucket/Name", "logs"),
                (
                    "ListAllMyBucketsResult/Buckets/Bucket/CreationDate",
                    "2024-02-29T12:30:00.000Z"
                ),
            ])
        );
        let empty = list_buckets_xml("o", "o", &[]);
        assert!(empty.ends_with("<Buckets></Buckets></ListAllMyBucketsResult>"));
        flatten(&empty);
    }

    #[test]
    fn location_documents() {
        assert_eq!(
            location_xml("eu-west-1"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint \
             xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">eu-west-1</LocationConstraint>"
        );
        assert_eq!(
            location_xml("us-east-1"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint \
             xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"/>"
        );
        assert!(location_xml("").ends_with("/>"));
        let odd = location_xml("x<&>\"'");
        assert!(odd.contains(">x&lt;&amp;&gt;&quot;&apos;</LocationConstraint>"));
        flatten(&odd);
        flatten(&location_xml("us-east-1"));
    }

    #[test]
    fn upstream_errors_are_read() {
        let s3 = concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            "\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>",
            "<Key>tenants/acme/a.txt</Key><RequestId>4442587FB7D0A2F9</RequestId>",
            "<HostId>abc=</HostId></Error>"
        );
        assert_eq!(
            error_code_and_message(s3.as_bytes()),
            Some((
                "NoSuchKey".to_owned(),
                "The specified key does not exist.".to_owned()
            ))
        );
        // Ceph RGW: no Message.
        let rgw = concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchBucket</Code>"#,
            "<BucketName>shared</BucketName>",
            "<RequestId>tx00000a-0065f1b2c3-1234-default</RequestId>",
            "<HostId>1234-default-default</HostId></Error>"
        );
        assert_eq!(
            error_code_and_message(rgw.as_bytes()),
            Some(("NoSuchBucket".to_owned(), String::new()))
        );
        // A namespace, nested elements before the code, entities in the message.
        let odd = concat!(
            r#"<Error xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#,
            "<Details><Code>Inner</Code></Details><Message>a &amp; b</Message>",
            "<Code> SlowDown </Code></Error>"
        );
        assert_eq!(
            error_code_and_message(odd.as_bytes()),
            Some(("SlowDown".to_owned(), "a & b".to_owned()))
        );
    }

    #[test]
    fn non_error_documents_give_none() {
        for body in [
            "",
            "garbage",
            "<ListBucketResult><Name>b</Name></ListBucketResult>",
            "<Error><Message>no code</Message></Error>",
            "<Error><Code></Code></Error>",
            "<Error/>",
            "<Error><Code>X</Code>",
            "<Error><Code>X<b/></Code></Error>",
            "<Error><Code>&bogus;</Code></Error>",
            "<Error><Code>X</Code></Oops>",
            "{\"error\":\"json\"}",
        ] {
            assert_eq!(error_code_and_message(body.as_bytes()), None, "{body:?}");
        }
        assert_eq!(
            error_code_and_message(b"<Error><Code>\xff</Code></Error>"),
            None
        );
    }

    #[test]
    fn garbage_never_panics() {
        let valid = error_xml("SlowDown", "Please reduce your request rate.", "/b/k", "r1");
        let mut rng = XorShift(0x0123_4567_89AB_CDEF);
        for round in 0..3000 {
            let body: Vec<u8> = if round % 4 == 0 {
                (0..rng.below(120)).map(|_| rng.next() as u8).collect()
            } else {
                mutate(&mut rng, valid.as_bytes())
            };
            let _ = error_code_and_message(&body);
            let text = String::from_utf8_lossy(&body);
            // Whatever text goes in, what comes out parses back to it.
            let xml = error_xml(&text, &text, &text, &text);
            if !text.contains('\0') && !text.trim().is_empty() {
                let (code, message) = error_code_and_message(xml.as_bytes()).expect("parses");
                assert_eq!(message, text);
                assert_eq!(code, text.trim());
            }
        }
    }
}
