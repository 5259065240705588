//! The S3 XML documents the internal S3 client (`upstream::client`) reads and writes, as
//! pure functions over bytes: the answers of ListObjectsV2, DeleteObjects,
//! CreateMultipartUpload, CopyObject, UploadPartCopy and CompleteMultipartUpload, S3 error
//! documents, and the two request bodies the client builds (`<Delete>` and
//! `<CompleteMultipartUpload>`).
//!
//! Upstream answers are untrusted input. Every parser here is total (garbage gives an `Err` or
//! `None`, never a panic) and bounded: the caller already capped the body, and the element tree
//! built from it is capped in depth and element count. Names are compared by local name, so
//! any namespace (or none) is accepted, and elements a parser does not know are ignored.

use std::borrow::Cow;
use std::fmt::Write as _;

use quick_xml::escape::resolve_xml_entity;
use quick_xml::events::{BytesRef, Event};
use quick_xml::Reader;

/// Deepest nesting accepted (S3 answers are at most four levels deep).
const MAX_DEPTH: usize = 16;
/// Most elements accepted in one document (a page of 1,000 listed objects has about 10,000).
const MAX_ELEMENTS: usize = 64 * 1024;

/// An S3 error document (`<Error><Code>..</Code><Message>..</Message></Error>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Error {
    pub code: String,
    pub message: String,
}

/// One page of a ListObjectsV2 answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    pub objects: Vec<ListedObject>,
    /// `<CommonPrefixes><Prefix>` (with a delimiter), in the order given.
    pub common_prefixes: Vec<String>,
    /// `<NextContinuationToken>` when the listing goes on after this page.
    pub next_token: Option<String>,
}

/// One `<Contents>` entry of a listing. `etag` and `last_modified` are as S3 gave them (the
/// ETag with its quotes); empty when absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub last_modified: String,
}

/// One `<Error>` entry of a DeleteResult: a key that was not deleted, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteFailure {
    pub key: String,
    pub code: String,
    pub message: String,
}

/// A DeleteResult: the keys reported deleted (none in quiet mode) and the failures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteOutcome {
    pub deleted: Vec<String>,
    pub failed: Vec<DeleteFailure>,
}

/// One part of a multipart upload, as CompleteMultipartUpload names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedPart {
    pub number: u32,
    /// The part's ETag as UploadPart / UploadPartCopy gave it.
    pub etag: String,
}

/// The error document in `body`, if its root is `<Error>`.
pub fn parse_error(body: &[u8]) -> Option<S3Error> {
    let root = Element::parse(body).ok()?;
    if root.name != "Error" {
        return None;
    }
    Some(S3Error {
        code: root.text_of("Code").unwrap_or_default().to_owned(),
        message: root.text_of("Message").unwrap_or_default().to_owned(),
    })
}

/// A `ListBucketResult` of ListObjectsV2. `Err` when it is not one, an entry lacks its key or
/// size, or a truncated page gives no continuation token (the listing could not go on).
pub fn parse_list_v2(body: &[u8]) -> Result<ListPage, String> {
    let root = Element::parse_root(body, "ListBucketResult")?;
    let mut page = ListPage::default();
    for entry in root.children_named("Contents") {
        let key = entry
            .text_of("Key")
            .filter(|k| !k.is_empty())
            .ok_or("a <Contents> entry without <Key>")?;
        let size = entry
            .text_of("Size")
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| format!("<Contents> of {key:?} without a valid <Size>"))?;
        page.objects.push(ListedObject {
            key: key.to_owned(),
            size,
            etag: entry.text_of("ETag").unwrap_or_default().to_owned(),
            last_modified: entry.text_of("LastModified").unwrap_or_default().to_owned(),
        });
    }
    for common in root.children_named("CommonPrefixes") {
        let prefix = common
            .text_of("Prefix")
            .ok_or("a <CommonPrefixes> entry without <Prefix>")?;
        page.common_prefixes.push(prefix.to_owned());
    }
    let truncated = match root.text_of("IsTruncated").map(str::trim) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return Err(format!("<IsTruncated> is {other:?}")),
    };
    if truncated {
        let token = root
            .text_of("NextContinuationToken")
            .filter(|t| !t.is_empty())
            .ok_or("a truncated page without <NextContinuationToken>")?;
        page.next_token = Some(token.to_owned());
    }
    Ok(page)
}

/// A `DeleteResult`. `Err` when it is not one, or an entry lacks its key.
pub fn parse_delete_result(body: &[u8]) -> Result<DeleteOutcome, String> {
    let root = Element::parse_root(body, "DeleteResult")?;
    let mut outcome = DeleteOutcome::default();
    for entry in &root.children {
        let key = || {
            entry
                .text_of("Key")
                .map(str::to_owned)
                .ok_or_else(|| format!("a <{}> entry without <Key>", entry.name))
        };
        match entry.name.as_str() {
            "Deleted" => outcome.deleted.push(key()?),
            "Error" => outcome.failed.push(DeleteFailure {
                key: key()?,
                code: entry.text_of("Code").unwrap_or_default().to_owned(),
                message: entry.text_of("Message").unwrap_or_default().to_owned(),
            }),
            _ => {}
        }
    }
    Ok(outcome)
}

/// The `<UploadId>` of an `InitiateMultipartUploadResult`.
pub fn parse_upload_id(body: &[u8]) -> Result<String, String> {
    let root = Element::parse_root(body, "InitiateMultipartUploadResult")?;
    root.text_of("UploadId")
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| "no <UploadId>".to_owned())
}

/// The `<ETag>` of a result whose root is `root`: `CopyObjectResult`, `CopyPartResult` or
/// `CompleteMultipartUploadResult`. Empty when it has none or an empty one (Ceph RGW 16 sends
/// `<ETag></ETag>` in its CompleteMultipartUploadResult); `Err` when the root is another.
pub fn parse_etag(body: &[u8], root: &str) -> Result<String, String> {
    let doc = Element::parse_root(body, root)?;
    Ok(doc.text_of("ETag").unwrap_or_default().to_owned())
}

/// The `<Delete>` body of a DeleteObjects call naming `keys`.
pub fn delete_xml(keys: &[impl AsRef<str>], quiet: bool) -> String {
    let mut out = String::with_capacity(64 + keys.len() * 48);
    out.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    out.push_str(r#"<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#);
    if quiet {
        out.push_str("<Quiet>true</Quiet>");
    }
    for key in keys {
        out.push_str("<Object><Key>");
        out.push_str(&escape(key.as_ref()));
        out.push_str("</Key></Object>");
    }
    out.push_str("</Delete>");
    out
}

/// The `<CompleteMultipartUpload>` body naming `parts` (in order).
pub fn complete_xml(parts: &[CompletedPart]) -> String {
    let mut out = String::with_capacity(96 + parts.len() * 80);
    out.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    out.push_str(r#"<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#);
    for part in parts {
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>",
            part.number,
            escape(&part.etag)
        );
    }
    out.push_str("</CompleteMultipartUpload>");
    out
}

/// `text` made safe as XML element content that reads back as exactly `text`: markup
/// characters as entities, and control characters (which end-of-line normalization or XML 1.0
/// itself would not let through raw) as character references, as S3 writes them.
pub fn escape(text: &str) -> Cow<'_, str> {
    let special = |c: char| matches!(c, '&' | '<' | '>' | '"' | '\'') || c.is_control();
    if !text.contains(special) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Tab and line feed survive as they are.
            '\t' | '\n' => out.push(c),
            c if c.is_control() => {
                let _ = write!(out, "&#x{:X};", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// An element of a parsed document: its local name, its character data (references resolved)
/// and its child elements. S3 answers are small trees of text-only leaves, so a whole tree is
/// the simplest thing to read fields from in any order.
#[derive(Debug, Default)]
struct Element {
    name: String,
    text: String,
    children: Vec<Element>,
}

impl Element {
    /// The root element of `body`, which must be named `name`.
    fn parse_root(body: &[u8], name: &str) -> Result<Element, String> {
        let root = Element::parse(body)?;
        if root.name != name {
            return Err(format!("expected <{name}>, found <{}>", root.name));
        }
        Ok(root)
    }

    /// The root element of `body`, with everything under it.
    fn parse(body: &[u8]) -> Result<Element, String> {
        let mut reader = Reader::from_reader(body);
        // Open elements, innermost last.
        let mut open: Vec<Element> = Vec::new();
        let mut root = None;
        let mut count = 0usize;
        loop {
            let event = reader
                .read_event()
                .map_err(|e| format!("at byte {}: {e}", reader.error_position()))?;
            let element = match event {
                Event::Eof if root.is_some() => break,
                Event::Eof => return Err("no complete root element".to_owned()),
                Event::Start(ref start) | Event::Empty(ref start) => {
                    count += 1;
                    if count > MAX_ELEMENTS {
                        return Err(format!("more than {MAX_ELEMENTS} elements"));
                    }
                    if root.is_some() {
                        return Err("content after the root element".to_owned());
                    }
                    let name = std::str::from_utf8(start.local_name().into_inner())
                        .map_err(|_| "an element name is not UTF-8".to_owned())?
                        .to_owned();
                    let element = Element {
                        name,
                        ..Element::default()
                    };
                    if let Event::Start(_) = event {
                        if open.len() >= MAX_DEPTH {
                            return Err(format!("elements nested deeper than {MAX_DEPTH}"));
                        }
                        open.push(element);
                        continue;
                    }
                    element
                }
                Event::End(_) => match open.pop() {
                    Some(element) => element,
                    None => return Err("an end tag without its start".to_owned()),
                },
                Event::Text(ref t) => {
                    let text = t.xml10_content().map_err(|e| format!("text: {e}"))?;
                    push_text(&mut open, &text)?;
                    continue;
                }
                Event::CData(ref c) => {
                    let text = c.xml10_content().map_err(|e| format!("CDATA: {e}"))?;
                    push_text(&mut open, &text)?;
                    continue;
                }
                Event::GeneralRef(ref r) => {
                    let mut text = String::new();
                    resolve_reference(r, &mut text)?;
                    push_text(&mut open, &text)?;
                    continue;
                }
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => continue,
            };
            match open.last_mut() {
                Some(parent) => parent.children.push(element),
                None => root = Some(element),
            }
        }
        root.ok_or_else(|| "no root element".to_owned())
    }

    /// The direct children named `name`.
    fn children_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Element> + 's {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of the first direct child named `name`.
    fn text_of(&self, name: &str) -> Option<&str> {
        let child = self.children.iter().find(|c| c.name == name)?;
        Some(child.text.as_str())
    }
}

/// Appends character data to the innermost open element; outside the root only white space
/// may appear (s3s sends some before a slow CompleteMultipartUpload answer).
fn push_text(open: &mut [Element], text: &str) -> Result<(), String> {
    match open.last_mut() {
        Some(element) => {
            element.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err("text outside the root element".to_owned()),
    }
}

/// Resolves `&name;` (the five predefined entities) or `&#N;` / `&#xN;` onto `out`.
fn resolve_reference(r: &BytesRef<'_>, out: &mut String) -> Result<(), String> {
    if let Some(c) = r
        .resolve_char_ref()
        .map_err(|e| format!("bad character reference: {e}"))?
    {
        out.push(c);
        return Ok(());
    }
    let name = r.decode().map_err(|e| format!("entity name: {e}"))?;
    let resolved = resolve_xml_entity(&name).ok_or_else(|| format!("unknown entity &{name};"))?;
    out.push_str(resolved);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_pages_read_entries_prefixes_and_the_next_token() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>data</Name><Prefix>p/</Prefix><KeyCount>3</KeyCount><MaxKeys>3</MaxKeys>
  <IsTruncated>true</IsTruncated>
  <Contents><Key>p/a&amp;b&#xD;</Key><LastModified>2024-01-02T03:04:05.000Z</LastModified>
    <ETag>&quot;abc&quot;</ETag><Size>12</Size><StorageClass>STANDARD</StorageClass></Contents>
  <Contents><Key><![CDATA[p/<c>]]></Key><Size>0</Size></Contents>
  <CommonPrefixes><Prefix>p/dir/</Prefix></CommonPrefixes>
  <NextContinuationToken>tok+en/=</NextContinuationToken>
</ListBucketResult>"#;
        let page = parse_list_v2(body).unwrap();
        assert_eq!(page.objects.len(), 2);
        assert_eq!(page.objects[0].key, "p/a&b\r");
        assert_eq!(page.objects[0].etag, "\"abc\"");
        assert_eq!(page.objects[0].size, 12);
        assert_eq!(page.objects[0].last_modified, "2024-01-02T03:04:05.000Z");
        assert_eq!(page.objects[1].key, "p/<c>");
        assert_eq!(page.objects[1].etag, "");
        assert_eq!(page.common_prefixes, vec!["p/dir/".to_owned()]);
        assert_eq!(page.next_token.as_deref(), Some("tok+en/="));

        let last =
            parse_list_v2(b"<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>")
                .unwrap();
        assert_eq!(last, ListPage::default());
    }

    #[test]
    fn a_listing_that_cannot_go_on_or_lacks_fields_is_an_error() {
        for bad in [
            &b"<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>"[..],
            b"<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>",
            b"<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
            b"<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents></ListBucketResult>",
            b"<ListBucketResult><Contents><Key>k</Key></Contents></ListBucketResult>",
            b"<ListAllMyBucketsResult/>",
            b"<Error><Code>AccessDenied</Code></Error>",
        ] {
            assert!(parse_list_v2(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn delete_results_give_the_failures_with_their_codes() {
        let body = br#"<DeleteResult><Deleted><Key>a</Key></Deleted>
            <Error><Key>b&lt;</Key><Code>AccessDenied</Code><Message>no</Message></Error>
            </DeleteResult>"#;
        let outcome = parse_delete_result(body).unwrap();
        assert_eq!(outcome.deleted, vec!["a".to_owned()]);
        assert_eq!(
            outcome.failed,
            vec![DeleteFailure {
                key: "b<".into(),
                code: "AccessDenied".into(),
                message: "no".into()
            }]
        );
        assert_eq!(
            parse_delete_result(b"<DeleteResult/>").unwrap(),
            DeleteOutcome::default()
        );
        assert!(
            parse_delete_result(b"<DeleteResult><Error><Code>X</Code></Error></DeleteResult>")
                .is_err()
        );
    }

    #[test]
    fn results_and_errors_are_told_apart() {
        let init = b"<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>u-1</UploadId></InitiateMultipartUploadResult>";
        assert_eq!(parse_upload_id(init).unwrap(), "u-1");
        assert!(parse_upload_id(b"<InitiateMultipartUploadResult/>").is_err());
        // s3s sends white space while a CompleteMultipartUpload is under way.
        let done = b"   \n<CompleteMultipartUploadResult><ETag>\"e-2\"</ETag></CompleteMultipartUploadResult>";
        assert_eq!(
            parse_etag(done, "CompleteMultipartUploadResult").unwrap(),
            "\"e-2\""
        );
        let error = b"<?xml version=\"1.0\"?><Error><Code>InternalError</Code><Message>try again</Message></Error>";
        assert!(parse_etag(error, "CopyObjectResult").is_err());
        let rgw = b"<CompleteMultipartUploadResult><Key>k</Key><ETag></ETag></CompleteMultipartUploadResult>";
        assert_eq!(
            parse_etag(rgw, "CompleteMultipartUploadResult").unwrap(),
            ""
        );
        assert_eq!(
            parse_error(error),
            Some(S3Error {
                code: "InternalError".into(),
                message: "try again".into()
            })
        );
        assert_eq!(parse_error(done), None);
        assert_eq!(parse_error(b""), None);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let deep = "<a>".repeat(MAX_DEPTH + 1);
        let wide = format!("<a>{}</a>", "<b/>".repeat(MAX_ELEMENTS));
        for bad in [
            &b""[..],
            b"   ",
            b"text",
            b"<a>",
            b"<a></b>",
            b"</a>",
            b"<a/><b/>",
            b"<a/>tail",
            b"<a>&nope;</a>",
            b"<a>&#0;</a>",
            b"\xff\xfe<\x00",
            b"<a>\xff</a>",
            deep.as_bytes(),
            wide.as_bytes(),
        ] {
            assert!(
                Element::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
            assert_eq!(parse_error(bad), None);
        }
    }

    #[test]
    fn written_bodies_read_back_exactly() {
        let keys = [
            "a&b<c>\"'".to_owned(),
            "x\ry\u{1}z\t\n".to_owned(),
            "plain/é".to_owned(),
        ];
        let xml = delete_xml(&keys, true);
        let root = Element::parse(xml.as_bytes()).unwrap();
        assert_eq!(root.name, "Delete");
        assert_eq!(root.text_of("Quiet"), Some("true"));
        let read: Vec<&str> = root
            .children_named("Object")
            .filter_map(|o| o.text_of("Key"))
            .collect();
        assert_eq!(read, keys.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(!delete_xml(&["k"], false).contains("Quiet"));

        let parts = [
            CompletedPart {
                number: 1,
                etag: "\"e1\"".into(),
            },
            CompletedPart {
                number: 2,
                etag: "\"e2\"".into(),
            },
        ];
        let root = Element::parse(complete_xml(&parts).as_bytes()).unwrap();
        let read: Vec<(&str, &str)> = root
            .children_named("Part")
            .map(|p| (p.text_of("PartNumber").unwrap(), p.text_of("ETag").unwrap()))
            .collect();
        assert_eq!(read, vec![("1", "\"e1\""), ("2", "\"e2\"")]);
        assert!(matches!(escape("plain/key.txt"), Cow::Borrowed(_)));
    }
}
