//! Tests of listing scopes: ranges from grants, segments, where pages start, the upstream
//! query of each page, and (against a simulated upstream) that whole paginations show exactly
//! the visible keys and do not depend on hidden ones.

use bucketgate_plugin::{Grant, Identity, Operation};

use super::*;

/// A small deterministic generator for the property test.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// A key from a few parts that sort around the granted prefixes.
fn random_key(rng: &mut XorShift) -> String {
    const PARTS: [&str; 10] = [
        "photos", "users", "alice", "bob", "a", "z", "p1", "photos0", "users.", "x",
    ];
    let mut key = String::new();
    for i in 0..=rng.below(4) {
        if i > 0 {
            key.push(['/', '/', '.', '-'][rng.below(4)]);
        }
        key.push_str(PARTS[rng.below(PARTS.len())]);
    }
    key
}

const LIST: &[Operation] = &[Operation::List];

fn identity(grants: Vec<Grant>) -> Identity {
    Identity {
        subject: "alice".into(),
        plugin: "test".into(),
        claims: Default::default(),
        grants,
    }
}

fn alice() -> Identity {
    identity(vec![
        Grant::new("data", "photos/", LIST),
        Grant::new("data", "users/alice/", LIST),
        Grant::new("data", "users/alice/sub/", LIST),
        Grant::new("data", "users/bob/", &[Operation::Read]),
        Grant::new("other", "", LIST),
    ])
}

#[test]
fn ranges_are_the_granted_prefixes_under_the_request() {
    let id = alice();
    assert_eq!(ranges(&id, "data", ""), ["photos/", "users/alice/"]);
    assert_eq!(ranges(&id, "data", "users/"), ["users/alice/"]);
    // Inside a grant: the request's own prefix.
    assert_eq!(
        ranges(&id, "data", "users/alice/sub/x"),
        ["users/alice/sub/x"]
    );
    assert_eq!(ranges(&id, "data", "photos/2024/"), ["photos/2024/"]);
    // Read grants and other buckets do not count; nothing reaches users/bob/.
    assert!(ranges(&id, "data", "users/bob/").is_empty());
    assert_eq!(ranges(&id, "data", "photos"), ["photos/"]);
    assert_eq!(ranges(&id, "other", "x/"), ["x/"]);
    let any = identity(vec![Grant::new("*", "a/", LIST)]);
    assert_eq!(ranges(&any, "whatever", ""), ["a/"]);
    let whole = identity(vec![
        Grant::new("data", "", LIST),
        Grant::new("data", "a/", LIST),
    ]);
    assert_eq!(ranges(&whole, "data", ""), [""]);
}

#[test]
fn ranges_behind_a_delimiter_collapse_to_one_common_prefix() {
    let segs = segments(ranges(&alice(), "data", ""), "", Some("/")).unwrap();
    assert_eq!(
        segs,
        [
            Segment::Collapsed {
                range: "photos/".into(),
                common_prefix: "photos/".into()
            },
            Segment::Collapsed {
                range: "users/alice/".into(),
                common_prefix: "users/".into()
            },
        ]
    );
    let segs = segments(vec!["users/alice/".into()], "users/alice/", Some("/")).unwrap();
    assert_eq!(segs, [Segment::List("users/alice/".into())]);
    let segs = segments(vec!["a/b".into()], "", None).unwrap();
    assert_eq!(segs, [Segment::List("a/b".into())]);
    // A two-character delimiter that may start inside the range: refused, not guessed.
    let err = segments(vec!["usa".into()], "", Some("ab")).unwrap_err();
    assert_eq!(err.status, 501);
    assert!(segments(vec!["usa".into()], "", Some("xy")).is_ok());
}

fn sealer() -> MarkerSealer {
    MarkerSealer::new(None)
}

fn plan_for(
    kind: ListKind,
    raw: &str,
    id: &Identity,
    key_prefix: &str,
) -> Result<ListPlan, S3Error> {
    let sealer = sealer();
    plan_with(kind, raw, id, key_prefix, &sealer)
}

fn plan_with(
    kind: ListKind,
    raw: &str,
    id: &Identity,
    key_prefix: &str,
    sealer: &MarkerSealer,
) -> Result<ListPlan, S3Error> {
    let who = Lister {
        identity: id,
        bucket: "data",
        key_prefix,
        sealer,
        context: "data\ntest\nalice",
    };
    plan(kind, &Query::parse(raw).unwrap(), &who)
}

fn upstream(kind: ListKind, raw: &str, key_prefix: &str) -> Option<String> {
    plan_for(kind, raw, &alice(), key_prefix)
        .unwrap()
        .upstream_query()
}

#[test]
fn the_upstream_query_names_one_range_and_the_alias_key_prefix() {
    // Item 4a: a bare `prefix` is the empty prefix, under the alias's key prefix.
    assert_eq!(
        upstream(ListKind::V2, "list-type=2&prefix&max-keys=1", "photos/").as_deref(),
        Some("list-type=2&prefix=photos%2F&max-keys=1")
    );
    assert_eq!(
        upstream(ListKind::V1, "prefix&delimiter=%2F", "photos/").as_deref(),
        Some("prefix=photos%2F&delimiter=%2F")
    );
    // The root of `data`: the first range, not the bucket.
    assert_eq!(
        upstream(
            ListKind::V2,
            "list-type=2&max-keys=5&fetch-owner=true&encoding-type=url",
            ""
        )
        .as_deref(),
        Some("list-type=2&prefix=photos%2F&max-keys=5&encoding-type=url&fetch-owner=true")
    );
    // A collapsed range is asked for one key, without the delimiter.
    assert_eq!(
        upstream(ListKind::V1, "delimiter=%2F&max-keys=7", "").as_deref(),
        Some("prefix=photos%2F&max-keys=1")
    );
    assert_eq!(
        upstream(ListKind::Uploads, "uploads&prefix=users%2Falice%2F", "").as_deref(),
        Some("uploads&prefix=users%2Falice%2F")
    );
    // An empty delimiter is none.
    assert_eq!(
        upstream(ListKind::V2, "list-type=2&delimiter=&prefix=photos%2F", "").as_deref(),
        Some("list-type=2&prefix=photos%2F")
    );
}

#[test]
fn client_positions_are_placed_among_the_ranges() {
    let up = |raw: &str| upstream(ListKind::V2, &format!("list-type=2&{raw}"), "");
    // Before every range: the first from its start.
    assert_eq!(
        up("start-after=a").as_deref(),
        Some("list-type=2&prefix=photos%2F")
    );
    // Inside a range: passed on.
    assert_eq!(
        up("start-after=photos%2Fp1.jpg").as_deref(),
        Some("list-type=2&prefix=photos%2F&start-after=photos%2Fp1.jpg")
    );
    // Between ranges (where only hidden keys can be): the next range from its start.
    for between in ["photos0", "q", "users%2F", "users%2Fa", "users%2Falice"] {
        assert_eq!(
            up(&format!("start-after={between}")).as_deref(),
            Some("list-type=2&prefix=users%2Falice%2F"),
            "{between}"
        );
    }
    // Past every range: answered locally, empty.
    for past in ["users%2Falicf", "users%2Fbob%2Fsecret", "zzz"] {
        let p = plan_for(
            ListKind::V2,
            &format!("list-type=2&start-after={past}"),
            &alice(),
            "",
        )
        .unwrap();
        assert_eq!(p.page, None, "{past}");
        let fields = p.fields(None, None);
        assert!(fields.fields.contains(&Field {
            name: "IsTruncated",
            value: FieldValue::Plain("false".into())
        }));
    }
    // V1 markers and upload key markers the same; upload id markers ride along inside.
    assert_eq!(
        upstream(ListKind::V1, "marker=photos%2Fp1.jpg", "").as_deref(),
        Some("prefix=photos%2F&marker=photos%2Fp1.jpg")
    );
    assert_eq!(
        upstream(
            ListKind::Uploads,
            "uploads&key-marker=users%2Falice%2Fa&upload-id-marker=2~x",
            ""
        )
        .as_deref(),
        Some("uploads&prefix=users%2Falice%2F&key-marker=users%2Falice%2Fa&upload-id-marker=2~x")
    );
    assert_eq!(
        upstream(
            ListKind::Uploads,
            "uploads&key-marker=photos0&upload-id-marker=2~x",
            ""
        )
        .as_deref(),
        Some("uploads&prefix=users%2Falice%2F")
    );
    // With a delimiter, a position inside a common prefix passes all of it.
    assert_eq!(
        upstream(ListKind::V1, "delimiter=%2F&marker=photos%2Fzzz", "").as_deref(),
        Some("prefix=users%2Falice%2F&max-keys=1")
    );
    // max-keys=0 asks nothing.
    assert_eq!(upstream(ListKind::V2, "list-type=2&max-keys=0", ""), None);
}

#[test]
fn bad_parameters_are_invalid_arguments() {
    for raw in [
        "list-type=2&max-keys=-1",
        "list-type=2&max-keys=1x",
        "list-type=2&max-keys=99999999999",
        "list-type=2&max-keys",
        "list-type=2&encoding-type=base64",
        "list-type=2&continuation-token=photos%2Fp1.jpg",
        "list-type=2&continuation-token=bgm1.AAAA",
    ] {
        let err = plan_for(ListKind::V2, raw, &alice(), "").unwrap_err();
        assert_eq!(
            (err.status, err.code.as_ref()),
            (400, "InvalidArgument"),
            "{raw}"
        );
    }
    let err = plan_for(
        ListKind::Uploads,
        "uploads&upload-id-marker=bgm1.AAAA",
        &alice(),
        "",
    )
    .unwrap_err();
    assert_eq!(err.status, 400);
    let nobody = identity(vec![]);
    let err = plan_for(ListKind::V1, "", &nobody, "").unwrap_err();
    assert_eq!(err.status, 403);
}

fn token_of(fields: &PageFields, name: &str) -> Option<String> {
    fields
        .fields
        .iter()
        .find_map(|f| match (&f.value, f.name == name) {
            (FieldValue::Plain(t), true) => Some(t.clone()),
            _ => None,
        })
}

#[test]
fn tokens_are_bound_to_the_caller_and_the_listing() {
    let sealer = sealer();
    let id = alice();
    let first = plan_with(ListKind::V2, "list-type=2", &id, "", &sealer).unwrap();
    let up = UpstreamPage {
        truncated: true,
        entries: 1,
        next_continuation_token: Some("photos/p1.jpg".into()),
        last_entry: Some("photos/p1.jpg".into()),
        ..Default::default()
    };
    let (cursor, _) = first.next(&up);
    let sealed = cursor.unwrap().seal(&sealer, &first.seal_context);
    let fields = first.fields(Some(&sealed), None);
    let token = token_of(&fields, "NextContinuationToken").unwrap();
    assert_eq!(token_of(&fields, "IsTruncated").as_deref(), Some("true"));
    assert!(MarkerSealer::is_sealed(&token) && !token.contains("p1"));
    let raw = format!("list-type=2&continuation-token={token}");
    let next = plan_with(ListKind::V2, &raw, &id, "", &sealer).unwrap();
    assert_eq!(
        next.upstream_query().as_deref(),
        Some("list-type=2&prefix=photos%2F&continuation-token=photos%2Fp1.jpg")
    );
    // The client's token is echoed as it sent it.
    let fields = next.fields(None, None);
    assert_eq!(token_of(&fields, "ContinuationToken"), Some(token.clone()));
    // Another prefix, another kind, another caller, another process: refused.
    for (kind, raw) in [
        (
            ListKind::V2,
            format!("list-type=2&prefix=photos%2F&continuation-token={token}"),
        ),
        (
            ListKind::V2,
            format!("list-type=2&delimiter=%2F&continuation-token={token}"),
        ),
        (ListKind::V1, format!("marker={token}")),
    ] {
        let err = plan_with(kind, &raw, &id, "", &sealer).unwrap_err();
        assert_eq!(err.status, 400, "{raw}");
    }
    let bob = Lister {
        identity: &id,
        bucket: "data",
        key_prefix: "",
        sealer: &sealer,
        context: "data\ntest\nbob",
    };
    assert!(plan(ListKind::V2, &Query::parse(&raw).unwrap(), &bob).is_err());
    let other = crate::frontend::s3::markers::other_fleet(3);
    assert!(plan_with(ListKind::V2, &raw, &id, "", &other).is_err());
}

#[test]
fn pages_go_on_in_their_range_then_in_the_next() {
    let p = plan_for(ListKind::V1, "", &alice(), "").unwrap();
    let cursor = |up: UpstreamPage| p.next(&up).0;
    // Truncated: the same range, from the upstream's marker or its last entry.
    let c = cursor(UpstreamPage {
        truncated: true,
        next_marker: Some("photos/b".into()),
        last_entry: Some("photos/a".into()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(c.range, "photos/");
    assert_eq!(
        c.resume,
        Resume::After {
            key: "photos/b".into(),
            upload_id: None
        }
    );
    let c = cursor(UpstreamPage {
        truncated: true,
        last_entry: Some("photos/a".into()),
        ..Default::default()
    })
    .unwrap();
    assert!(matches!(c.resume, Resume::After { ref key, .. } if key == "photos/a"));
    // Done with the range: the next one from its start; done with all: nothing.
    let c = cursor(UpstreamPage::default()).unwrap();
    assert_eq!(
        (c.range.as_str(), &c.resume),
        ("users/alice/", &Resume::Start)
    );
    let raw = format!(
        "marker={}",
        query::encode(
            &Cursor {
                range: "users/alice/".into(),
                resume: Resume::Start
            }
            .seal(&MarkerSealer::new(None), &p.seal_context)
        )
    );
    let last = plan_for(ListKind::V1, &raw, &alice(), "").unwrap();
    assert_eq!(last.next(&UpstreamPage::default()), (None, None));

    // A collapsed range shows its common prefix when it holds a key, then skips past it.
    let p = plan_for(ListKind::V2, "list-type=2&delimiter=%2F", &alice(), "").unwrap();
    let found = UpstreamPage {
        entries: 1,
        ..Default::default()
    };
    let (c, cp) = p.next(&found);
    assert_eq!(cp.as_deref(), Some("photos/"));
    assert_eq!(c.unwrap().range, "users/alice/");
    let fields = p.fields(Some("T"), cp);
    assert!(!fields.entries);
    assert_eq!(fields.common_prefix.as_deref(), Some("photos/"));
}

/// A simulated S3 listing of sorted `keys`, as s3s-fs answers it: `(entries, page)`.
fn simulate(keys: &[String], q: &Query) -> (Vec<String>, UpstreamPage) {
    let prefix = q.get("prefix").unwrap_or_default();
    let after = q
        .get("continuation-token")
        .or(q.get("start-after"))
        .or(q.get("marker"));
    let max: usize = q.get("max-keys").map_or(1000, |m| m.parse().unwrap());
    let mut entries: Vec<String> = Vec::new();
    for key in keys.iter().filter(|k| k.starts_with(prefix)) {
        let entry = match q.get("delimiter") {
            Some(d) => match key[prefix.len()..].find(d) {
                Some(at) => key[..prefix.len() + at + d.len()].to_owned(),
                None => key.clone(),
            },
            None => key.clone(),
        };
        if after.is_some_and(|a| entry.as_str() <= a) || entries.last() == Some(&entry) {
            continue;
        }
        entries.push(entry);
    }
    let truncated = entries.len() > max;
    entries.truncate(max);
    let page = UpstreamPage {
        truncated,
        entries: entries.len(),
        next_continuation_token: entries.last().filter(|_| truncated).cloned(),
        last_entry: entries.last().cloned(),
        ..Default::default()
    };
    (entries, page)
}

/// One client page, as far as the client can tell (tokens left out: they are random).
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    shown: Vec<String>,
    truncated: bool,
}

/// Every page of a V2 listing of `keys` (one upstream bucket) by `id`.
fn paginate(keys: &[String], id: &Identity, base: &str) -> Vec<Seen> {
    let sealer = MarkerSealer::new(None);
    let mut pages = Vec::new();
    let mut raw = format!("list-type=2&{base}");
    for _ in 0..200 {
        let mut plan = plan_with(ListKind::V2, &raw, id, "", &sealer).unwrap();
        // As the drive does (super::super::paging): a page that shows nothing while the
        // listing goes on is not sent; the next segment is asked at once.
        let (shown, token) = loop {
            let Some(q) = plan.upstream_query() else {
                let fields = plan.fields(None, None);
                assert_eq!(token_of(&fields, "IsTruncated").as_deref(), Some("false"));
                break (Vec::new(), None);
            };
            let (entries, up) = simulate(keys, &Query::parse(&q).unwrap());
            let (next, common_prefix) = plan.next(&up);
            let fields = plan.fields(Some("T"), common_prefix.clone());
            let mut shown: Vec<String> = if fields.entries { entries } else { Vec::new() };
            shown.extend(common_prefix);
            match next {
                Some(cursor) if shown.is_empty() => assert!(plan.advance(cursor)),
                next => break (shown, next.map(|c| c.seal(&sealer, &plan.seal_context))),
            }
        };
        assert!(
            !(shown.is_empty() && token.is_some()),
            "an empty page that says it is truncated"
        );
        pages.push(Seen {
            shown,
            truncated: token.is_some(),
        });
        let Some(token) = token else {
            return pages;
        };
        // S3 ignores start-after once a continuation token is given; so does bucketgate.
        raw = format!(
            "list-type=2&{base}&continuation-token={}",
            query::encode(&token)
        );
    }
    panic!("no end after 200 pages");
}

/// What S3 would list of `visible` for a prefix and delimiter (no paging).
fn expected(visible: &[String], prefix: &str, delimiter: Option<&str>, after: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for key in visible.iter().filter(|k| k.starts_with(prefix)) {
        let entry = match delimiter.and_then(|d| key[prefix.len()..].find(d).map(|at| (d, at))) {
            Some((d, at)) => key[..prefix.len() + at + d.len()].to_owned(),
            None => key.clone(),
        };
        if entry.as_str() <= after {
            continue;
        }
        if out.last() != Some(&entry) {
            out.push(entry);
        }
    }
    out
}

/// The property behind item 4b: for random buckets that differ only in keys the caller may
/// not list, every page of every listing looks the same, and together the pages show exactly
/// what S3 would list of the visible keys.
#[test]
fn paginations_do_not_depend_on_hidden_keys() {
    let id = identity(vec![
        Grant::new("data", "photos/", LIST),
        Grant::new("data", "users/alice/", LIST),
    ]);
    let mut rng = XorShift(0xB10C_5EED);
    for round in 0..300 {
        let mut visible: Vec<String> = Vec::new();
        for _ in 0..rng.below(8) {
            let key = random_key(&mut rng);
            let under = ["photos/", "users/alice/"][rng.below(2)];
            visible.push(format!("{under}{key}"));
        }
        let hidden = |rng: &mut XorShift| {
            let mut out = Vec::new();
            for _ in 0..rng.below(12) {
                let k = random_key(rng);
                if !k.starts_with("photos/") && !k.starts_with("users/alice/") {
                    out.push(k);
                }
            }
            out
        };
        let bucket = |hidden: Vec<String>| {
            let mut all: Vec<String> = visible.iter().cloned().chain(hidden).collect();
            all.sort();
            all.dedup();
            all
        };
        let a = bucket(hidden(&mut rng));
        let b = bucket(hidden(&mut rng));
        let mut sorted_visible = visible.clone();
        sorted_visible.sort();
        sorted_visible.dedup();
        let probe = random_key(&mut rng);
        for (base, prefix, delimiter, after) in [
            ("max-keys=1".to_owned(), "", None, String::new()),
            (
                "max-keys=2&delimiter=%2F".to_owned(),
                "",
                Some("/"),
                String::new(),
            ),
            (
                "max-keys=1&prefix=users%2F&delimiter=%2F".to_owned(),
                "users/",
                Some("/"),
                String::new(),
            ),
            (
                format!("max-keys=1&start-after={}", query::encode(&probe)),
                "",
                None,
                probe.clone(),
            ),
            (
                format!(
                    "max-keys=3&delimiter=%2F&start-after={}",
                    query::encode(&probe)
                ),
                "",
                Some("/"),
                probe.clone(),
            ),
        ] {
            let pages_a = paginate(&a, &id, &base);
            let pages_b = paginate(&b, &id, &base);
            assert_eq!(pages_a, pages_b, "round {round} {base}: {a:?} vs {b:?}");
            let shown: Vec<String> = pages_a.iter().flat_map(|p| p.shown.clone()).collect();
            assert_eq!(
                shown,
                expected(&sorted_visible, prefix, delimiter, &after),
                "round {round} {base}: {a:?}"
            );
        }
    }
}
