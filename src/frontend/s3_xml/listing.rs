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
const PREFIXED_FIELDS: [&str; 7] = [
    "Key",
    "Prefix",
    "Marker",
    "NextMarker",
    "StartAfter",
    "KeyMarker",
    "NextKeyMarker",
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
    for item in &doc.items {
        let action = match item {
            Item::Node(_) => Action::Keep,
            Item::Element(Element { start, events }) => {
                let action = if local_is(start, "Contents") || local_is(start, "Upload") {
                    keys.entry(events, "Key", view.visible_key)?
                } else if local_is(start, "CommonPrefixes") {
                    keys.entry(events, "Prefix", view.visible_prefix)?
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

    doc.write(&actions, kept_entries)
        .map_err(ListingError::Malformed)
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
