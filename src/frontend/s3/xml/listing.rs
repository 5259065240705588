//! Rewrites an upstream S3 listing body so that a client sees only its own view of a bucket.
//!
//! A client bucket alias maps to an upstream bucket plus a key prefix, and the client may only
//! see some keys under it. The upstream answers ListObjects (V1 and V2), ListMultipartUploads
//! and ListParts in terms of the upstream bucket and full keys; this module drops the entries
//! the client may not see, strips the alias's key prefix from every key-like field, puts the
//! client's bucket name in, and recomputes `KeyCount`. Everything else in the body (owners,
//! ETags, sizes, dates, tokens, namespaces, the XML declaration) passes through byte for byte.

use std::error::Error;
use std::fmt;

use percent_encoding::{percent_decode, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use quick_xml::events::Event;

use super::document::{element_text, only_child, Action, Doc, Element, Item};
use super::text::{escape_text, local_is, name_of};

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
    /// Seals a pagination marker (`Marker`, `NextMarker`, `KeyMarker`, `NextKeyMarker`: the
    /// full upstream key, URL-decoded; `ContinuationToken`, `NextContinuationToken`,
    /// `UploadIdMarker`, `NextUploadIdMarker`: as the upstream wrote them). Its output must
    /// need no XML escaping beyond what the writer does.
    pub seal_marker: &'a dyn Fn(&str) -> String,
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

/// Top-level fields whose text starts with the upstream key prefix, stripped when it does.
const PREFIXED_FIELDS: [&str; 3] = ["Key", "Prefix", "StartAfter"];

/// Pagination markers that are keys: sealed (URL-decoded first).
const KEY_MARKERS: [&str; 4] = ["Marker", "NextMarker", "KeyMarker", "NextKeyMarker"];
/// Opaque pagination tokens: sealed as they are.
const TOKEN_MARKERS: [&str; 4] = [
    "ContinuationToken",
    "NextContinuationToken",
    "UploadIdMarker",
    "NextUploadIdMarker",
];

/// Rewrites an upstream listing `body` for `view`. See the module documentation.
///
/// Entries (`Contents`, `Upload`, `CommonPrefixes`) are dropped when their key or prefix is
/// missing, does not start with `key_prefix`, is exactly `key_prefix` (it would be empty for
/// the client), cannot be decoded, or is not visible.
pub fn rewrite_listing(body: &[u8], view: &ListingView) -> Result<Vec<u8>, ListingError> {
    let doc = Doc::parse(body).map_err(ListingError::Malformed)?;
    let bucket_field = match doc.root.local_name().as_ref() {
        b"ListBucketResult" => "Name",
        b"ListMultipartUploadsResult" | b"ListPartsResult" => "Bucket",
        _ => return Err(ListingError::UnexpectedRoot(name_of(&doc.root))),
    };

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
    let keys = KeyCodec {
        prefix: view.key_prefix,
        url,
    };

    let mut actions = Vec::with_capacity(doc.items.len());
    let mut kept_entries = 0usize;
    // For a truncated ListObjects (V1) page without NextMarker: the last upstream entry,
    // visible or not, where the next page must start.
    let mut last_entry: Option<String> = None;
    let mut truncated = false;
    let mut has_next_marker = false;
    let mut is_v1 = false;
    for item in &doc.items {
        let action = match item {
            Item::Node(_) => Action::Keep,
            Item::Element(Element { start, events }) => {
                let action = if local_is(start, "Contents") || local_is(start, "Upload") {
                    keys.note_last(events, "Key", &mut last_entry)?;
                    keys.entry(events, "Key", view.visible_key)?
                } else if local_is(start, "CommonPrefixes") {
                    keys.note_last(events, "Prefix", &mut last_entry)?;
                    keys.entry(events, "Prefix", view.visible_prefix)?
                } else if KEY_MARKERS.iter().any(|f| local_is(start, f)) {
                    is_v1 |= local_is(start, "Marker");
                    has_next_marker |= local_is(start, "NextMarker");
                    let text = element_text(events).map_err(ListingError::Malformed)?;
                    match keys.decode(&text) {
                        Some(full) if !full.is_empty() => Action::Text((view.seal_marker)(&full)),
                        _ => Action::Keep,
                    }
                } else if TOKEN_MARKERS.iter().any(|f| local_is(start, f)) {
                    let text = element_text(events).map_err(ListingError::Malformed)?;
                    if text.is_empty() {
                        Action::Keep
                    } else {
                        Action::Text((view.seal_marker)(&text))
                    }
                } else if local_is(start, "IsTruncated") {
                    truncated = element_text(events)
                        .map_err(ListingError::Malformed)?
                        .trim()
                        .eq_ignore_ascii_case("true");
                    Action::Keep
                } else if local_is(start, bucket_field) {
                    Action::Text(view.client_bucket.to_owned())
                } else if local_is(start, "KeyCount") {
                    Action::KeyCount
                } else if PREFIXED_FIELDS.iter().any(|f| local_is(start, f)) {
                    keys.field(events)?
                } else {
                    Action::Keep
                };
                if matches!(action, Action::EntryKey { .. } | Action::KeptEntry) {
                    kept_entries += 1;
                }
                action
            }
        };
        actions.push(action);
    }

    let mut out = doc
        .write(&actions, kept_entries)
        .map_err(ListingError::Malformed)?;
    if bucket_field == "Name" && is_v1 && truncated && !has_next_marker {
        if let Some(last) = last_entry {
            add_next_marker(&mut out, &(view.seal_marker)(&last))?;
        }
    }
    Ok(out)
}

/// Inserts `<NextMarker>` before the root's end tag: clients page a truncated V1 listing from
/// `NextMarker` when it is there, and from the last key they see otherwise, which after
/// filtering could be a key the upstream already passed (they would loop).
fn add_next_marker(out: &mut Vec<u8>, sealed: &str) -> Result<(), ListingError> {
    let end = out
        .windows(b"</".len())
        .rposition(|w| w == b"</")
        .ok_or_else(|| ListingError::Malformed("no end tag".into()))?;
    let element = format!("<NextMarker>{}</NextMarker>", escape_text(sealed));
    out.splice(end..end, element.bytes());
    Ok(())
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

    /// The client's text for a key the prefix was stripped from.
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

    /// Decides a top-level key-like field: stripped if it starts with the prefix, else kept.
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
