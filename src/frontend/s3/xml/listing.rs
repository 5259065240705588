//! Rewrites an upstream S3 listing body into the page a client sees.
//!
//! A client bucket alias maps to an upstream bucket plus a key prefix, and the client may only
//! see some keys under it. The upstream answers ListObjects (V1 and V2) and
//! ListMultipartUploads in terms of the upstream bucket and full keys. [`rewrite_listing`]:
//! - drops the entries the client may not see and strips the alias's key prefix from the rest;
//! - puts the client's bucket name in;
//! - drops every pagination and echo field of the upstream (`Prefix`, `Marker`, `IsTruncated`,
//!   `NextContinuationToken`, `KeyCount`...) and writes the caller's [`PageFields`] instead,
//!   right after the bucket name: the client's own parameters echoed, and bucketgate's own
//!   `IsTruncated` and sealed `Next*` tokens, decided from what the upstream page said
//!   ([`UpstreamPage`]);
//! - keeps everything else (owners, ETags, sizes, dates, unknown fields) as it came.
//!
//! [`rewrite_parts`] does the little ListParts needs: the bucket name and the key.

use std::error::Error;
use std::fmt;

use percent_encoding::{percent_decode, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use quick_xml::events::{BytesEnd, BytesStart, Event};

use super::document::{element_text, only_child, Action, Doc, Element, Item};
use super::text::{local_is, name_of};

/// What one client is allowed to see of an upstream listing.
pub struct ListingView<'a> {
    /// Replaces the text of the top-level `<Name>` (ListBucketResult) or `<Bucket>`
    /// (ListMultipartUploadsResult, ListPartsResult).
    pub client_bucket: &'a str,
    /// The upstream key prefix of this bucket alias; stripped from keys and prefixes.
    pub key_prefix: &'a str,
    /// Whether an object or upload key may be shown; called with the FULL upstream key
    /// (`key_prefix` included), URL-decoded if the body is URL-encoded.
    pub visible_key: &'a dyn Fn(&str) -> bool,
    /// Whether a common prefix may be shown; called with the FULL upstream common prefix.
    pub visible_prefix: &'a dyn Fn(&str) -> bool,
}

/// What an upstream listing page says about itself. Keys are full and decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamPage {
    /// `IsTruncated`.
    pub truncated: bool,
    /// Entries (`Contents`, `Upload`, `CommonPrefixes`), visible or not.
    pub entries: usize,
    pub next_marker: Option<String>,
    pub next_continuation_token: Option<String>,
    pub next_key_marker: Option<String>,
    pub next_upload_id_marker: Option<String>,
    /// The greatest entry key or common prefix of the page.
    pub last_entry: Option<String>,
}

/// A field bucketgate writes on the client's page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The element's local name (`Marker`); written with the root's namespace prefix.
    pub name: &'static str,
    pub value: FieldValue,
}

/// The text of a [`Field`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    /// A key-like text (a prefix, delimiter or marker): URL-encoded when the page is.
    Key(String),
    /// Written as it is (numbers, booleans, sealed tokens).
    Plain(String),
    /// The number of entries shown (`KeyCount`).
    KeyCount,
}

/// What the client's page says besides the upstream's entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageFields {
    /// Written after the bucket name, in this order.
    pub fields: Vec<Field>,
    /// Whether the upstream's entries are shown (those the view allows); `false` for a page
    /// that only asked whether a range holds anything.
    pub entries: bool,
    /// A common prefix to show after the entries: the FULL upstream prefix.
    pub common_prefix: Option<String>,
}

/// Why a listing body could not be rewritten. The proxy must not pass such a body through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListingError {
    /// Not well-formed XML, not UTF-8, or a key field holding markup; says where and why.
    Malformed(String),
    /// The root element (named here) is not one of the listing results this module knows.
    UnexpectedRoot(String),
}

impl fmt::Display for ListingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListingError::Malformed(why) => write!(f, "malformed S3 listing XML: {why}"),
            ListingError::UnexpectedRoot(name) => write!(
                f,
                "unexpected root element <{name}> in an S3 listing response (expected \
                 ListBucketResult, ListMultipartUploadsResult or ListPartsResult)"
            ),
        }
    }
}

impl Error for ListingError {}

/// S3's `encoding-type=url`, as written back to clients: every byte outside
/// `A-Za-z0-9-._~/` is percent-encoded (a space becomes `%20`).
const URL_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// Top-level fields of the upstream that bucketgate writes itself (from [`PageFields`]) or
/// leaves out: echoes, counts and pagination.
const OWN_FIELDS: [&str; 15] = [
    "Prefix",
    "Delimiter",
    "MaxKeys",
    "MaxUploads",
    "IsTruncated",
    "KeyCount",
    "Marker",
    "NextMarker",
    "ContinuationToken",
    "NextContinuationToken",
    "StartAfter",
    "KeyMarker",
    "UploadIdMarker",
    "NextKeyMarker",
    "NextUploadIdMarker",
];

/// Rewrites an upstream ListObjects (V1, V2) or ListMultipartUploads `body` for `view`;
/// `decide` turns what the upstream page said into the fields of the client's page. Returns
/// the client's body and how many entries it shows (keys, uploads and common prefixes).
///
/// Entries (`Contents`, `Upload`, `CommonPrefixes`) are dropped when their key or prefix is
/// missing, does not start with `key_prefix`, is exactly `key_prefix` (it would be empty for
/// the client), cannot be decoded, or is not visible.
pub fn rewrite_listing(
    body: &[u8],
    view: &ListingView,
    decide: &dyn Fn(&UpstreamPage) -> PageFields,
) -> Result<(Vec<u8>, usize), ListingError> {
    let mut doc = Doc::parse(body).map_err(ListingError::Malformed)?;
    let bucket_field = match doc.root.local_name().as_ref() {
        b"ListBucketResult" => "Name",
        b"ListMultipartUploadsResult" => "Bucket",
        _ => return Err(ListingError::UnexpectedRoot(name_of(&doc.root))),
    };
    if doc.items.is_empty() {
        // `<ListBucketResult/>`: no S3 server answers so, and there is no room for fields.
        return Err(ListingError::Malformed("an empty listing".into()));
    }
    let keys = KeyCodec {
        prefix: view.key_prefix,
        url: url_encoded(&doc)?,
    };
    let mut up = UpstreamPage::default();
    let mut actions = Vec::with_capacity(doc.items.len() + 16);
    // Where bucketgate's fields go: after the bucket name, or first.
    let mut fields_at = 0;
    for (index, item) in doc.items.iter().enumerate() {
        let Item::Element(Element { start, events }) = item else {
            actions.push(Action::Keep);
            continue;
        };
        let text = || element_text(events).map_err(ListingError::Malformed);
        let action = if local_is(start, "Contents") || local_is(start, "Upload") {
            up.entries += 1;
            keys.note_last(events, "Key", &mut up.last_entry)?;
            keys.entry(events, "Key", view.visible_key)?
        } else if local_is(start, "CommonPrefixes") {
            up.entries += 1;
            keys.note_last(events, "Prefix", &mut up.last_entry)?;
            keys.entry(events, "Prefix", view.visible_prefix)?
        } else if local_is(start, bucket_field) {
            fields_at = index + 1;
            Action::Text(view.client_bucket.to_owned())
        } else if OWN_FIELDS.iter().any(|f| local_is(start, f)) {
            let value = Some(text()?).filter(|t| !t.is_empty());
            if local_is(start, "IsTruncated") {
                up.truncated = value.is_some_and(|t| t.trim().eq_ignore_ascii_case("true"));
            } else if local_is(start, "NextMarker") {
                up.next_marker = value.and_then(|t| keys.decode(&t));
            } else if local_is(start, "NextKeyMarker") {
                up.next_key_marker = value.and_then(|t| keys.decode(&t));
            } else if local_is(start, "NextContinuationToken") {
                up.next_continuation_token = value;
            } else if local_is(start, "NextUploadIdMarker") {
                up.next_upload_id_marker = value;
            }
            Action::Drop
        } else {
            Action::Keep
        };
        actions.push(action);
    }
    let page = decide(&up);
    let is_entry = |a: &Action| matches!(a, Action::KeptEntry | Action::EntryKey { .. });
    if !page.entries {
        for action in actions.iter_mut().filter(|a| is_entry(a)) {
            *action = Action::Drop;
        }
    }
    let common_prefix = page
        .common_prefix
        .as_deref()
        .and_then(|p| p.strip_prefix(view.key_prefix))
        .filter(|p| !p.is_empty())
        .map(|p| keys.encode(p));
    let shown =
        actions.iter().filter(|a| is_entry(a)).count() + usize::from(common_prefix.is_some());
    let ns = namespace_prefix(&doc.root);
    if let Some(prefix) = common_prefix {
        let (group, name) = (format!("{ns}CommonPrefixes"), format!("{ns}Prefix"));
        let events = vec![
            Event::Start(BytesStart::new(group.clone())),
            Event::Start(BytesStart::new(name.clone())),
            Event::End(BytesEnd::new(name)),
            Event::End(BytesEnd::new(group.clone())),
        ];
        doc.items.push(Item::Element(Element {
            start: BytesStart::new(group),
            events,
        }));
        actions.push(Action::EntryKey {
            start: 1,
            end: 2,
            text: prefix,
        });
    }
    for (offset, field) in page.fields.iter().enumerate() {
        let name = format!("{ns}{}", field.name);
        let events = vec![
            Event::Start(BytesStart::new(name.clone())),
            Event::End(BytesEnd::new(name.clone())),
        ];
        doc.items.insert(
            fields_at + offset,
            Item::Element(Element {
                start: BytesStart::new(name),
                events,
            }),
        );
        let action = match &field.value {
            FieldValue::Key(k) => Action::Text(keys.encode(k)),
            FieldValue::Plain(p) => Action::Text(p.clone()),
            FieldValue::KeyCount => Action::KeyCount,
        };
        actions.insert(fields_at + offset, action);
    }
    let body = doc
        .write(&actions, shown)
        .map_err(ListingError::Malformed)?;
    Ok((body, shown))
}

/// Rewrites an upstream ListParts `body`: the client's bucket name, and the key without the
/// alias's `key_prefix`. Everything else is kept as it came.
pub fn rewrite_parts(
    body: &[u8],
    client_bucket: &str,
    key_prefix: &str,
) -> Result<Vec<u8>, ListingError> {
    let doc = Doc::parse(body).map_err(ListingError::Malformed)?;
    if doc.root.local_name().as_ref() != b"ListPartsResult" {
        return Err(ListingError::UnexpectedRoot(name_of(&doc.root)));
    }
    let keys = KeyCodec {
        prefix: key_prefix,
        url: url_encoded(&doc)?,
    };
    let mut actions = Vec::with_capacity(doc.items.len());
    for item in &doc.items {
        actions.push(match item {
            Item::Element(Element { start, .. }) if local_is(start, "Bucket") => {
                Action::Text(client_bucket.to_owned())
            }
            Item::Element(Element { start, events }) if local_is(start, "Key") => {
                keys.field(events)?
            }
            _ => Action::Keep,
        });
    }
    doc.write(&actions, 0).map_err(ListingError::Malformed)
}

/// Whether the body says its keys are URL-encoded (`<EncodingType>url</EncodingType>`).
fn url_encoded(doc: &Doc<'_>) -> Result<bool, ListingError> {
    let mut url = false;
    for item in &doc.items {
        if let Item::Element(el) = item {
            if local_is(&el.start, "EncodingType") {
                url |= element_text(&el.events)
                    .map_err(ListingError::Malformed)?
                    .trim()
                    .eq_ignore_ascii_case("url");
            }
        }
    }
    Ok(url)
}

/// `s3:` when the root is written `<s3:ListBucketResult>`, so added elements share its
/// namespace; empty otherwise.
fn namespace_prefix(root: &BytesStart<'_>) -> String {
    match root.name().prefix() {
        Some(p) => format!("{}:", String::from_utf8_lossy(p.as_ref())),
        None => String::new(),
    }
}

/// Maps key text between the upstream body and the client body.
struct KeyCodec<'a> {
    prefix: &'a str,
    url: bool,
}

impl KeyCodec<'_> {
    /// The full upstream key from element text: URL-decoded if the body is URL-encoded.
    /// `+` is decoded as a space, as AWS S3 encodes spaces so (and always encodes a real `+`).
    fn decode(&self, text: &str) -> Option<String> {
        if !self.url {
            return Some(text.to_owned());
        }
        let plus = text.replace('+', " ");
        percent_decode(plus.as_bytes())
            .decode_utf8()
            .ok()
            .map(|s| s.into_owned())
    }

    /// The client's text for a key (the prefix already stripped).
    fn encode(&self, stripped: &str) -> String {
        if self.url {
            utf8_percent_encode(stripped, URL_ENCODE).to_string()
        } else {
            stripped.to_owned()
        }
    }

    /// Decides a `Contents`/`Upload` (child `Key`) or `CommonPrefixes` (child `Prefix`).
    fn entry(
        &self,
        events: &[Event<'_>],
        child: &str,
        visible: &dyn Fn(&str) -> bool,
    ) -> Result<Action, ListingError> {
        let Some((start, end)) = only_child(events, child) else {
            return Ok(Action::Drop);
        };
        let text = element_text(events.get(start..=end).unwrap_or_default())
            .map_err(ListingError::Malformed)?;
        let Some(full) = self.decode(&text) else {
            return Ok(Action::Drop);
        };
        match full.strip_prefix(self.prefix) {
            Some(stripped) if !stripped.is_empty() && visible(&full) => {
                if self.prefix.is_empty() {
                    Ok(Action::KeptEntry)
                } else {
                    Ok(Action::EntryKey {
                        start,
                        end,
                        text: self.encode(stripped),
                    })
                }
            }
            _ => Ok(Action::Drop),
        }
    }

    /// Records the entry's key (or prefix) as the last one seen, if it is later than the last.
    fn note_last(
        &self,
        events: &[Event<'_>],
        child: &str,
        last: &mut Option<String>,
    ) -> Result<(), ListingError> {
        let Some((start, end)) = only_child(events, child) else {
            return Ok(());
        };
        let text = element_text(events.get(start..=end).unwrap_or_default())
            .map_err(ListingError::Malformed)?;
        if let Some(full) = self.decode(&text) {
            if last.as_deref().is_none_or(|l| full.as_str() > l) {
                *last = Some(full);
            }
        }
        Ok(())
    }

    /// Decides a top-level key field: stripped if it starts with the prefix, else kept.
    fn field(&self, events: &[Event<'_>]) -> Result<Action, ListingError> {
        if self.prefix.is_empty() {
            return Ok(Action::Keep);
        }
        let text = element_text(events).map_err(ListingError::Malformed)?;
        let stripped = self
            .decode(&text)
            .and_then(|full| full.strip_prefix(self.prefix).map(|s| self.encode(s)));
        Ok(stripped.map_or(Action::Keep, Action::Text))
    }
}

#[cfg(test)]
#[path = "listing_tests.rs"]
mod tests;
