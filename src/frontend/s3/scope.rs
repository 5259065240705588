//! Listings confined to what the caller may list, with pagination state only bucketgate reads.
//!
//! A listing is answered as the concatenation of upstream listings over **ranges**: the
//! prefixes under the requested prefix that the caller's `list` grants cover entirely (a grant
//! on `photos/` gives the range `photos/` to a listing of the bucket's root, and the range
//! `photos/2024/` to a listing of `photos/2024/`). Every upstream call of a listing names one
//! range as its `prefix`, so the upstream only ever answers about keys the caller may see:
//! its entries, its `IsTruncated`, its counts and its tokens are all functions of visible keys.
//! Nothing in the answer depends on a key outside the grants, so no choice of `start-after`,
//! `marker` or `max-keys` can reveal one (a binary search learns nothing it could not list).
//!
//! One client page is one upstream call, in one **segment**:
//! - a range with no delimiter between the requested prefix and its end is listed as it is,
//!   with the client's delimiter ([`Segment::List`]);
//! - a range with a delimiter after the requested prefix shows, at most, one common prefix
//!   (`users/` for the range `users/alice/` in a listing of the root with `/`): the page asks
//!   the upstream for one key in the range and shows the common prefix if there is one
//!   ([`Segment::Collapsed`]).
//!
//! Pages end at segment boundaries: a page may be short, with `IsTruncated` true. (A page that
//! would show nothing while more segments follow, an empty range, is not sent: the next one is
//! asked at once, see [`super::paging`]; clients such as s3cmd take an empty truncated page for
//! the end.) Where the next page starts is a [`Cursor`], sealed ([`MarkerSealer`]) and bound to
//! the bucket, the caller, the kind of listing, its prefix and its delimiter. A position the
//! client chooses itself (`start-after`, a plain `marker` or `key-marker`) is placed among the
//! segments: inside a range it is passed on; before one, that range starts from its beginning;
//! past all, the page is empty and answered without an upstream call.

use bucketgate_plugin::{Identity, Operation};
use serde::{Deserialize, Serialize};

use super::error::S3Error;
use super::markers::MarkerSealer;
use super::operation::S3Op;
use super::query::{self, Query};
use crate::frontend::s3::xml::listing::{Field, FieldValue, PageFields, UpstreamPage};

/// Which listing operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    V1,
    V2,
    Uploads,
}

impl ListKind {
    /// The listing kind of `op`, if it is a key listing.
    pub fn of(op: S3Op) -> Option<ListKind> {
        match op {
            S3Op::ListObjectsV1 => Some(ListKind::V1),
            S3Op::ListObjectsV2 => Some(ListKind::V2),
            S3Op::ListMultipartUploads => Some(ListKind::Uploads),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            ListKind::V1 => "v1",
            ListKind::V2 => "v2",
            ListKind::Uploads => "uploads",
        }
    }

    /// The S3 operation's name, for metrics and logs.
    pub fn operation(self) -> &'static str {
        match self {
            ListKind::V1 => "ListObjects",
            ListKind::V2 => "ListObjectsV2",
            ListKind::Uploads => "ListMultipartUploads",
        }
    }

    /// The parameter that carries a resume position (sealed or, except for V2, a plain key).
    fn marker_param(self) -> &'static str {
        match self {
            ListKind::V1 => "marker",
            ListKind::V2 => "continuation-token",
            ListKind::Uploads => "key-marker",
        }
    }

    fn max_param(self) -> &'static str {
        match self {
            ListKind::Uploads => "max-uploads",
            ListKind::V1 | ListKind::V2 => "max-keys",
        }
    }
}

/// The client's listing parameters, decoded, as it gave them (the echoes show them back).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListParams {
    /// Relative to the alias (without its key prefix).
    pub prefix: String,
    /// `None` when absent or empty (rclone sends `delimiter=` for "none").
    pub delimiter: Option<String>,
    /// `max-keys` or `max-uploads`.
    pub max: Option<u32>,
    /// `encoding-type` (only `url` exists).
    pub encoding_type: Option<String>,
    /// V2 `fetch-owner`.
    pub fetch_owner: Option<String>,
    /// V1 `marker`, V2 `continuation-token`, or `key-marker`; `None` when absent or empty.
    pub marker: Option<String>,
    /// V2 `start-after`.
    pub start_after: Option<String>,
    /// `upload-id-marker`.
    pub upload_id_marker: Option<String>,
}

impl ListParams {
    /// Reads the listing parameters of `kind` from the canonical query.
    pub fn read(kind: ListKind, q: &Query) -> Result<ListParams, S3Error> {
        let non_empty = |name: &str| q.get(name).filter(|v| !v.is_empty()).map(str::to_owned);
        let max = match q.get(kind.max_param()) {
            None => None,
            Some(v) => Some(parse_max(v).ok_or_else(|| {
                S3Error::invalid_argument(format!(
                    "Provided {} not an integer or within integer range",
                    kind.max_param()
                ))
            })?),
        };
        let encoding_type = q.get("encoding-type").map(str::to_owned);
        if encoding_type.as_deref().is_some_and(|e| e != "url") {
            return Err(S3Error::invalid_argument(
                "Invalid Encoding Method specified in Request",
            ));
        }
        Ok(ListParams {
            prefix: q.get("prefix").unwrap_or_default().to_owned(),
            delimiter: non_empty("delimiter"),
            max,
            encoding_type,
            fetch_owner: (kind == ListKind::V2)
                .then(|| non_empty("fetch-owner"))
                .flatten(),
            marker: non_empty(kind.marker_param()),
            start_after: (kind == ListKind::V2)
                .then(|| non_empty("start-after"))
                .flatten(),
            upload_id_marker: (kind == ListKind::Uploads)
                .then(|| non_empty("upload-id-marker"))
                .flatten(),
        })
    }
}

/// A count as S3 takes it: decimal digits only.
fn parse_max(v: &str) -> Option<u32> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// The prefixes under `full_prefix` (upstream, with the alias's key prefix) that the caller's
/// `list` grants on `bucket` cover entirely: sorted, none inside another. Their keys are
/// exactly the keys under `full_prefix` the caller may list.
pub fn ranges(identity: &Identity, bucket: &str, full_prefix: &str) -> Vec<String> {
    let mut found: Vec<String> = identity
        .grants
        .iter()
        .filter(|g| {
            g.operations.contains(Operation::List) && (g.bucket == "*" || g.bucket == bucket)
        })
        .filter_map(|g| {
            if g.prefix.starts_with(full_prefix) {
                Some(g.prefix.clone())
            } else if full_prefix.starts_with(g.prefix.as_str()) {
                Some(full_prefix.to_owned())
            } else {
                None
            }
        })
        .collect();
    found.sort();
    found.dedup();
    // Sorted, a prefix comes right before the strings that extend it.
    let mut out: Vec<String> = Vec::with_capacity(found.len());
    for range in found {
        if out.last().is_some_and(|l| range.starts_with(l.as_str())) {
            continue;
        }
        out.push(range);
    }
    out
}

/// One part of a listing, read by its own upstream calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A range listed as it is, with the client's delimiter.
    List(String),
    /// A range that shows as (at most) the common prefix `common_prefix`.
    Collapsed {
        range: String,
        common_prefix: String,
    },
}

impl Segment {
    /// The upstream prefix this segment reads.
    pub fn range(&self) -> &str {
        match self {
            Segment::List(range) | Segment::Collapsed { range, .. } => range,
        }
    }
}

/// The segments of a listing of `full_prefix` with `delimiter` over `ranges` (from [`ranges`]).
pub fn segments(
    ranges: Vec<String>,
    full_prefix: &str,
    delimiter: Option<&str>,
) -> Result<Vec<Segment>, S3Error> {
    let mut out = Vec::with_capacity(ranges.len());
    for range in ranges {
        let rel = range.get(full_prefix.len()..).unwrap_or_default();
        let Some(d) = delimiter else {
            out.push(Segment::List(range));
            continue;
        };
        if let Some(at) = rel.find(d) {
            let common_prefix = format!("{full_prefix}{}", &rel[..at + d.len()]);
            out.push(Segment::Collapsed {
                range,
                common_prefix,
            });
            continue;
        }
        // A delimiter that could begin inside the range and end after it: where the common
        // prefix ends would depend on the keys. Multi-character delimiters only.
        let straddles = (1..d.len()).any(|k| d.is_char_boundary(k) && rel.ends_with(&d[..k]));
        if straddles {
            return Err(S3Error::not_implemented(format!(
                "delimiter {d:?} overlaps the end of the granted prefix {range:?}"
            )));
        }
        out.push(Segment::List(range));
    }
    Ok(out)
}

/// Where a page starts: a range and a position in it. Sealed into the tokens clients get.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "r")]
    pub range: String,
    #[serde(rename = "p")]
    pub resume: Resume,
}

/// A position inside a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Resume {
    /// Its beginning.
    #[serde(rename = "s")]
    Start,
    /// The upstream's V2 continuation token.
    #[serde(rename = "t")]
    Token(String),
    /// After this full upstream key (and, for uploads, this upload id).
    #[serde(rename = "a")]
    After {
        #[serde(rename = "k")]
        key: String,
        #[serde(rename = "u", default, skip_serializing_if = "Option::is_none")]
        upload_id: Option<String>,
    },
}

impl Cursor {
    /// This cursor sealed for `context`.
    pub fn seal(&self, sealer: &MarkerSealer, context: &str) -> String {
        match serde_json::to_string(self) {
            Ok(json) => sealer.seal(&json, context),
            Err(_) => String::new(),
        }
    }

    /// The cursor sealed in `token` for `context`, if bucketgate sealed it so.
    pub fn open(sealer: &MarkerSealer, token: &str, context: &str) -> Option<Cursor> {
        serde_json::from_str(&sealer.open(token, context)?).ok()
    }
}

/// A planned listing page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPlan {
    pub kind: ListKind,
    pub params: ListParams,
    /// Every segment of the listing, in order.
    pub segments: Vec<Segment>,
    /// What this page reads; `None` when it is empty without asking (`max-keys=0`, or a
    /// `start-after` past every range): then it is answered locally.
    pub page: Option<Page>,
    /// What this listing's cursors are sealed for.
    pub seal_context: String,
}

/// The one upstream call of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Its index in [`ListPlan::segments`].
    pub index: usize,
    pub segment: Segment,
    pub resume: Resume,
    /// The range of the segment after this one.
    pub next: Option<String>,
    /// For a collapsed segment: the range of the first segment beyond its common prefix.
    pub next_beyond: Option<String>,
}

/// The caller's view of the listing: who, which bucket and alias.
pub struct Lister<'a> {
    pub identity: &'a Identity,
    /// The upstream bucket.
    pub bucket: &'a str,
    /// The alias's key prefix.
    pub key_prefix: &'a str,
    pub sealer: &'a MarkerSealer,
    /// What markers of this bucket and caller are bound to.
    pub context: &'a str,
}

/// Plans the page of a `kind` listing that the query `q` asks for.
pub fn plan(kind: ListKind, q: &Query, who: &Lister) -> Result<ListPlan, S3Error> {
    let params = ListParams::read(kind, q)?;
    let full_prefix = format!("{}{}", who.key_prefix, params.prefix);
    let delimiter = params.delimiter.as_deref().unwrap_or_default();
    let seal_context = format!(
        "{}\n{}\n{}:{}\n{}:{delimiter}",
        who.context,
        kind.name(),
        params.prefix.len(),
        params.prefix,
        delimiter.len()
    );
    let ranges = ranges(who.identity, who.bucket, &full_prefix);
    if ranges.is_empty() {
        return Err(S3Error::access_denied(format!(
            "no list grant of {} reaches {}:{full_prefix:?}",
            who.identity.subject, who.bucket
        )));
    }
    let segs = segments(ranges, &full_prefix, params.delimiter.as_deref())?;
    let start = if params.max == Some(0) {
        None
    } else {
        start(kind, &params, &segs, who, &seal_context)?
    };
    let page = start.map(|(index, resume)| page_at(&segs, index, resume));
    Ok(ListPlan {
        kind,
        params,
        segments: segs,
        page,
        seal_context,
    })
}

/// The page that reads segment `index` of `segs` from `resume`.
fn page_at(segs: &[Segment], index: usize, resume: Resume) -> Page {
    let segment = segs[index].clone();
    let after = segs.get(index + 1..).unwrap_or_default();
    let next_beyond = match &segment {
        Segment::Collapsed { common_prefix, .. } => after
            .iter()
            .find(|s| !s.range().starts_with(common_prefix.as_str()))
            .map(|s| s.range().to_owned()),
        Segment::List(_) => None,
    };
    Page {
        index,
        segment,
        resume,
        next: after.first().map(|s| s.range().to_owned()),
        next_beyond,
    }
}

/// The segment (index into `segs`) and position this page starts at; `None`: nothing is left.
fn start(
    kind: ListKind,
    params: &ListParams,
    segs: &[Segment],
    who: &Lister,
    seal_context: &str,
) -> Result<Option<(usize, Resume)>, S3Error> {
    let foreign = || {
        S3Error::invalid_argument(format!(
            "The {} provided is incorrect: it is not one this gateway issued for this listing.",
            kind.marker_param()
        ))
    };
    if kind == ListKind::Uploads
        && params
            .upload_id_marker
            .as_deref()
            .is_some_and(MarkerSealer::is_sealed)
        && !params
            .marker
            .as_deref()
            .is_some_and(MarkerSealer::is_sealed)
    {
        return Err(foreign());
    }
    if let Some(marker) = &params.marker {
        if MarkerSealer::is_sealed(marker) || kind == ListKind::V2 {
            let cursor = Cursor::open(who.sealer, marker, seal_context).ok_or_else(foreign)?;
            let index = segs
                .iter()
                .position(|s| s.range() == cursor.range)
                .ok_or_else(foreign)?;
            return Ok(Some((index, cursor.resume)));
        }
    }
    let chosen = match kind {
        ListKind::V2 => params.start_after.as_deref(),
        ListKind::V1 | ListKind::Uploads => params.marker.as_deref(),
    };
    let Some(chosen) = chosen else {
        return Ok(Some((0, Resume::Start)));
    };
    let key = format!("{}{chosen}", who.key_prefix);
    Ok(place(segs, &key, params.upload_id_marker.as_deref()))
}

/// Where a listing that starts after the client's `key` begins: the first segment with keys
/// after it. A key inside a collapsed segment's common prefix passes the whole common prefix
/// (as S3 servers do with a marker inside a common prefix).
fn place(segs: &[Segment], key: &str, upload_id: Option<&str>) -> Option<(usize, Resume)> {
    for (index, seg) in segs.iter().enumerate() {
        let range = seg.range();
        match seg {
            Segment::Collapsed { common_prefix, .. } if key.starts_with(common_prefix.as_str()) => {
            }
            Segment::List(_) if key.starts_with(range) => {
                return Some((
                    index,
                    Resume::After {
                        key: key.to_owned(),
                        upload_id: upload_id.map(str::to_owned),
                    },
                ));
            }
            _ if key < range => return Some((index, Resume::Start)),
            _ => {}
        }
    }
    None
}

impl ListPlan {
    /// Moves this plan to the page at `cursor` (one [`ListPlan::next`] gave); `false` if its
    /// range is not one of this listing's.
    pub fn advance(&mut self, cursor: Cursor) -> bool {
        match self.segments.iter().position(|s| s.range() == cursor.range) {
            Some(index) => {
                self.page = Some(page_at(&self.segments, index, cursor.resume));
                true
            }
            None => false,
        }
    }

    /// The upstream query of this page (`None` when it is answered locally).
    pub fn upstream_query(&self) -> Option<String> {
        let page = self.page.as_ref()?;
        let p = &self.params;
        let collapsed = matches!(page.segment, Segment::Collapsed { .. });
        let max = p.max.map(|m| m.to_string());
        let mut pairs: Vec<(&str, Option<&str>)> = Vec::new();
        match self.kind {
            ListKind::V1 => {}
            ListKind::V2 => pairs.push(("list-type", Some("2"))),
            ListKind::Uploads => pairs.push(("uploads", None)),
        }
        let range = page.segment.range();
        if !range.is_empty() {
            pairs.push(("prefix", Some(range)));
        }
        if !collapsed {
            if let Some(d) = &p.delimiter {
                pairs.push(("delimiter", Some(d)));
            }
        }
        if collapsed {
            pairs.push((self.kind.max_param(), Some("1")));
        } else if let Some(max) = &max {
            pairs.push((self.kind.max_param(), Some(max)));
        }
        match &page.resume {
            Resume::Start => {}
            Resume::Token(token) => pairs.push(("continuation-token", Some(token))),
            Resume::After { key, upload_id } => match self.kind {
                ListKind::V1 => pairs.push(("marker", Some(key))),
                ListKind::V2 => pairs.push(("start-after", Some(key))),
                ListKind::Uploads => {
                    pairs.push(("key-marker", Some(key)));
                    if let Some(id) = upload_id {
                        pairs.push(("upload-id-marker", Some(id)));
                    }
                }
            },
        }
        if let Some(e) = &p.encoding_type {
            pairs.push(("encoding-type", Some(e)));
        }
        if let Some(f) = &p.fetch_owner {
            pairs.push(("fetch-owner", Some(f)));
        }
        Some(query::build(pairs))
    }

    /// Where the listing goes on after the upstream answered `up` to this page, and the
    /// common prefix the page shows (for a collapsed segment that holds keys).
    pub fn next(&self, up: &UpstreamPage) -> (Option<Cursor>, Option<String>) {
        let Some(page) = &self.page else {
            return (None, None);
        };
        let start = |range: &Option<String>| {
            range.clone().map(|range| Cursor {
                range,
                resume: Resume::Start,
            })
        };
        match &page.segment {
            Segment::List(range) => {
                if up.truncated {
                    if let Some(resume) = self.resume_from(up) {
                        let range = range.clone();
                        return (Some(Cursor { range, resume }), None);
                    }
                }
                (start(&page.next), None)
            }
            Segment::Collapsed { common_prefix, .. } if up.entries > 0 => {
                (start(&page.next_beyond), Some(common_prefix.clone()))
            }
            Segment::Collapsed { .. } => (start(&page.next), None),
        }
    }

    /// Where a truncated upstream page says its range goes on.
    fn resume_from(&self, up: &UpstreamPage) -> Option<Resume> {
        let after = |key: &String, upload_id: Option<&String>| Resume::After {
            key: key.clone(),
            upload_id: upload_id.cloned(),
        };
        match self.kind {
            ListKind::V2 => match &up.next_continuation_token {
                Some(token) => Some(Resume::Token(token.clone())),
                None => up.last_entry.as_ref().map(|k| after(k, None)),
            },
            ListKind::V1 => up
                .next_marker
                .as_ref()
                .or(up.last_entry.as_ref())
                .map(|k| after(k, None)),
            ListKind::Uploads => match &up.next_key_marker {
                Some(key) => Some(after(key, up.next_upload_id_marker.as_ref())),
                None => up.last_entry.as_ref().map(|k| after(k, None)),
            },
        }
    }

    /// The fields bucketgate writes on the client's page: the client's own parameters echoed,
    /// `IsTruncated` (whether there is a `token`), the `Next*` fields (the sealed `token`), and
    /// the `common_prefix` the page shows ([`ListPlan::next`] gives both).
    pub fn fields(&self, token: Option<&str>, common_prefix: Option<String>) -> PageFields {
        let token = token.filter(|t| !t.is_empty());
        let p = &self.params;
        let key = |v: &str| FieldValue::Key(v.to_owned());
        let plain = |v: &str| FieldValue::Plain(v.to_owned());
        let field = |name: &'static str, value: FieldValue| Field { name, value };
        let max = p.max.unwrap_or(1000).to_string();
        let truncated = if token.is_some() { "true" } else { "false" };
        let mut fields = Vec::new();
        match self.kind {
            ListKind::V1 => {
                fields.push(field("Prefix", key(&p.prefix)));
                fields.push(field(
                    "Marker",
                    key(p.marker.as_deref().unwrap_or_default()),
                ));
                fields.push(field("MaxKeys", plain(&max)));
                if let Some(d) = &p.delimiter {
                    fields.push(field("Delimiter", key(d)));
                }
                fields.push(field("IsTruncated", plain(truncated)));
                if let Some(t) = &token {
                    fields.push(field("NextMarker", plain(t)));
                }
            }
            ListKind::V2 => {
                fields.push(field("Prefix", key(&p.prefix)));
                fields.push(field("KeyCount", FieldValue::KeyCount));
                fields.push(field("MaxKeys", plain(&max)));
                if let Some(d) = &p.delimiter {
                    fields.push(field("Delimiter", key(d)));
                }
                fields.push(field("IsTruncated", plain(truncated)));
                if let Some(t) = &p.marker {
                    fields.push(field("ContinuationToken", plain(t)));
                }
                if let Some(t) = &token {
                    fields.push(field("NextContinuationToken", plain(t)));
                }
                if let Some(s) = &p.start_after {
                    fields.push(field("StartAfter", key(s)));
                }
            }
            ListKind::Uploads => {
                fields.push(field(
                    "KeyMarker",
                    key(p.marker.as_deref().unwrap_or_default()),
                ));
                let id = p.upload_id_marker.as_deref().unwrap_or_default();
                fields.push(field("UploadIdMarker", plain(id)));
                if let Some(t) = &token {
                    fields.push(field("NextKeyMarker", plain(t)));
                    fields.push(field("NextUploadIdMarker", plain(t)));
                }
                fields.push(field("Prefix", key(&p.prefix)));
                if let Some(d) = &p.delimiter {
                    fields.push(field("Delimiter", key(d)));
                }
                fields.push(field("MaxUploads", plain(&max)));
                fields.push(field("IsTruncated", plain(truncated)));
            }
        }
        PageFields {
            fields,
            entries: self
                .page
                .as_ref()
                .is_some_and(|p| matches!(p.segment, Segment::List(_))),
            common_prefix,
        }
    }
}

#[cfg(test)]
#[path = "scope_tests.rs"]
mod tests;
