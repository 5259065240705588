//! Tests of the listing rewrite, on hand-written bodies in the shapes s3s-fs, Ceph RGW and AWS
//! S3 send (with and without the S3 namespace, pretty-printed, URL-encoded), plus garbage.

use std::cell::RefCell;

use quick_xml::events::Event;
use quick_xml::Reader;

use super::super::fuzz::{mutate, XorShift};
use super::super::text::{escape_text, push_text};
use super::*;

/// A V2 listing as s3s-fs writes it (its element order: KeyCount before the entries).
const S3S_V2: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8"?>"#,
    r#"<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#,
    "<Name>shared-data</Name><Prefix>tenants/acme/</Prefix><MaxKeys>1000</MaxKeys>",
    "<KeyCount>5</KeyCount><IsTruncated>false</IsTruncated>",
    "<Contents><Key>tenants/acme/readme.txt</Key>",
    "<LastModified>2024-03-01T12:00:00.000Z</LastModified>",
    "<ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag><Size>0</Size>",
    "<StorageClass>STANDARD</StorageClass></Contents>",
    "<Contents><Key>tenants/acme/private.txt</Key>",
    "<LastModified>2024-03-02T12:00:00.000Z</LastModified>",
    "<ETag>&quot;0cc175b9c0f1b6a831c399e269772661&quot;</ETag><Size>1</Size>",
    "<StorageClass>STANDARD</StorageClass></Contents>",
    "<Contents><Key>tenants/acme/report 2024.csv</Key>",
    "<LastModified>2024-03-03T12:00:00.000Z</LastModified>",
    "<ETag>&quot;900150983cd24fb0d6963f7d28e17f72&quot;</ETag><Size>3</Size>",
    "<StorageClass>STANDARD</StorageClass></Contents>",
    "<CommonPrefixes><Prefix>tenants/acme/photos/</Prefix></CommonPrefixes>",
    "<CommonPrefixes><Prefix>tenants/acme/secret/</Prefix></CommonPrefixes>",
    "<Delimiter>/</Delimiter></ListBucketResult>"
);

/// A truncated V1 listing as Ceph RGW writes it (Owner and Type in each entry).
const RGW_V1: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8"?>"#,
    r#"<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#,
    "<Name>shared-data</Name><Prefix>tenants/acme/</Prefix>",
    "<Marker>tenants/acme/a.txt</Marker><NextMarker>tenants/acme/c.txt</NextMarker>",
    "<MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>",
    "<Contents><Key>tenants/acme/b.txt</Key><LastModified>2024-03-01T12:00:00.000Z</LastModified>",
    "<ETag>&quot;9a0364b9e99bb480dd25e1f0284c8555&quot;</ETag><Size>7</Size>",
    "<StorageClass>STANDARD</StorageClass>",
    "<Owner><ID>acme$svc</ID><DisplayName>ACME service</DisplayName></Owner>",
    "<Type>Normal</Type></Contents>",
    "<Contents><Key>tenants/acme/c.txt</Key><LastModified>2024-03-01T12:00:01.000Z</LastModified>",
    "<ETag>&quot;e2fc714c4727ee9395f324cd2e7f331f&quot;</ETag><Size>4</Size>",
    "<StorageClass>STANDARD</StorageClass>",
    "<Owner><ID>acme$svc</ID><DisplayName>ACME service</DisplayName></Owner>",
    "<Type>Normal</Type></Contents></ListBucketResult>"
);

/// A URL-encoded V2 listing the way AWS S3 encodes (space as `+`, a real `+` as `%2B`), with
/// `EncodingType` after the entries and a continuation token that holds a full key.
const URL_V2: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8"?>"#,
    r#"<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#,
    "<Name>shared-data</Name><Prefix>team+one/</Prefix><KeyCount>4</KeyCount>",
    "<MaxKeys>4</MaxKeys><Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>",
    "<NextContinuationToken>team one/zzz</NextContinuationToken>",
    "<StartAfter>team+one/a%26b</StartAfter>",
    "<Contents><Key>team+one/a+b%2Bc.txt</Key><Size>1</Size></Contents>",
    "<Contents><Key>team+one/%ED%95%9C%EA%B8%80.txt</Key><Size>2</Size></Contents>",
    "<Contents><Key>team+one/hidden%3F.txt</Key><Size>3</Size></Contents>",
    "<CommonPrefixes><Prefix>team+one/run+books/</Prefix></CommonPrefixes>",
    "<EncodingType>url</EncodingType></ListBucketResult>"
);

/// ListMultipartUploads as RGW writes it.
const RGW_UPLOADS: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8"?>"#,
    r#"<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#,
    "<Bucket>shared-data</Bucket><KeyMarker>tenants/acme/</KeyMarker>",
    "<UploadIdMarker>2~tenants/acme/x</UploadIdMarker>",
    "<NextKeyMarker>tenants/acme/video.mp4</NextKeyMarker>",
    "<NextUploadIdMarker>2~vid</NextUploadIdMarker><Prefix>tenants/acme/</Prefix>",
    "<MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>",
    "<Upload><Key>tenants/acme/private/dump.sql</Key><UploadId>2~dump</UploadId>",
    "<Initiator><ID>acme$svc</ID><DisplayName>svc</DisplayName></Initiator>",
    "<Owner><ID>acme$svc</ID><DisplayName>svc</DisplayName></Owner>",
    "<StorageClass>STANDARD</StorageClass><Initiated>2024-03-01T12:00:00.000Z</Initiated></Upload>",
    "<Upload><Key>tenants/acme/video.mp4</Key><UploadId>2~vid</UploadId>",
    "<Initiator><ID>acme$svc</ID><DisplayName>svc</DisplayName></Initiator>",
    "<Owner><ID>acme$svc</ID><DisplayName>svc</DisplayName></Owner>",
    "<StorageClass>STANDARD</StorageClass><Initiated>2024-03-01T12:00:00.000Z</Initiated></Upload>",
    "<CommonPrefixes><Prefix>tenants/acme/private/</Prefix></CommonPrefixes>",
    "</ListMultipartUploadsResult>"
);

/// ListParts as RGW writes it.
const RGW_PARTS: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8"?>"#,
    r#"<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#,
    "<Bucket>shared-data</Bucket><Key>tenants/acme/video.mp4</Key><UploadId>2~vid</UploadId>",
    "<StorageClass>STANDARD</StorageClass><PartNumberMarker>0</PartNumberMarker>",
    "<NextPartNumberMarker>1</NextPartNumberMarker><MaxParts>1000</MaxParts>",
    "<IsTruncated>false</IsTruncated>",
    "<Owner><ID>acme$svc</ID><DisplayName>svc</DisplayName></Owner>",
    "<Part><LastModified>2024-03-01T12:00:00.000Z</LastModified><PartNumber>1</PartNumber>",
    "<ETag>&quot;5d41402abc4b2a76b9719d911017c592&quot;</ETag><Size>5242880</Size></Part>",
    "</ListPartsResult>"
);

/// V2-like fields for tests: the client's prefix and delimiter, a count, and a fixed
/// `IsTruncated`.
fn v2_fields(prefix: &str, delimiter: Option<&str>) -> Vec<Field> {
    let mut fields = vec![
        Field {
            name: "Prefix",
            value: FieldValue::Key(prefix.into()),
        },
        Field {
            name: "KeyCount",
            value: FieldValue::KeyCount,
        },
    ];
    if let Some(d) = delimiter {
        fields.push(Field {
            name: "Delimiter",
            value: FieldValue::Key(d.into()),
        });
    }
    fields
}

/// Runs the rewrite for client bucket `photos` with `fields`; returns the body and what the
/// rewrite reported of the upstream page.
fn run_with(
    body: &str,
    prefix: &str,
    keys: &dyn Fn(&str) -> bool,
    prefixes: &dyn Fn(&str) -> bool,
    page: PageFields,
) -> Result<(String, UpstreamPage), ListingError> {
    let view = ListingView {
        client_bucket: "photos",
        key_prefix: prefix,
        visible_key: keys,
        visible_prefix: prefixes,
    };
    let seen = RefCell::new(None);
    let (out, shown) = rewrite_listing(body.as_bytes(), &view, &|up| {
        *seen.borrow_mut() = Some(up.clone());
        page.clone()
    })?;
    let out = String::from_utf8(out).expect("UTF-8");
    let listed: usize = [
        "ListBucketResult/Contents/Key",
        "ListBucketResult/CommonPrefixes/Prefix",
        "ListMultipartUploadsResult/Upload/Key",
        "ListMultipartUploadsResult/CommonPrefixes/Prefix",
    ]
    .iter()
    .map(|path| texts(&out, path).len())
    .sum();
    assert_eq!(shown, listed, "the count of shown entries: {out}");
    let up = seen.into_inner().expect("decide was called");
    Ok((out, up))
}

/// Runs the rewrite showing the entries, with a `KeyCount` and no other field.
fn run(
    body: &str,
    prefix: &str,
    keys: &dyn Fn(&str) -> bool,
    prefixes: &dyn Fn(&str) -> bool,
) -> Result<String, ListingError> {
    let page = PageFields {
        fields: vec![Field {
            name: "KeyCount",
            value: FieldValue::KeyCount,
        }],
        entries: true,
        common_prefix: None,
    };
    run_with(body, prefix, keys, prefixes, page).map(|(out, _)| out)
}

fn shown(fields: Vec<Field>) -> PageFields {
    PageFields {
        fields,
        entries: true,
        common_prefix: None,
    }
}

fn all(_: &str) -> bool {
    true
}

/// The texts of every element at `path` (local names joined by `/`), parsing `xml` strictly.
fn texts(xml: &str, path: &str) -> Vec<String> {
    let mut reader = Reader::from_reader(xml.as_bytes());
    let mut stack: Vec<String> = Vec::new();
    let mut found = Vec::new();
    let mut current: Option<String> = None;
    loop {
        let event = reader.read_event().expect("output is well-formed");
        match event {
            Event::Start(ref s) => {
                stack.push(String::from_utf8_lossy(s.local_name().as_ref()).into_owned());
                if stack.join("/") == path {
                    current = Some(String::new());
                }
            }
            Event::Empty(ref s) => {
                stack.push(String::from_utf8_lossy(s.local_name().as_ref()).into_owned());
                if stack.join("/") == path {
                    found.push(String::new());
                }
                stack.pop();
            }
            Event::End(_) => {
                if stack.join("/") == path {
                    found.extend(current.take());
                }
                stack.pop();
            }
            Event::Eof => return found,
            ref other => {
                if let Some(text) = current.as_mut() {
                    push_text(text, other).expect("text");
                }
            }
        }
    }
}

#[test]
fn s3s_v2_is_filtered_stripped_and_recounted() {
    let seen = RefCell::new(Vec::new());
    let keys = |k: &str| {
        seen.borrow_mut().push(k.to_owned());
        k != "tenants/acme/private.txt"
    };
    let prefixes = |p: &str| p != "tenants/acme/secret/";
    let page = shown(v2_fields("", Some("/")));
    let (out, up) = run_with(S3S_V2, "tenants/acme/", &keys, &prefixes, page).unwrap();

    assert_eq!(
        texts(&out, "ListBucketResult/Contents/Key"),
        ["readme.txt", "report 2024.csv"]
    );
    assert_eq!(
        texts(&out, "ListBucketResult/CommonPrefixes/Prefix"),
        ["photos/"]
    );
    assert_eq!(texts(&out, "ListBucketResult/KeyCount"), ["3"]);
    assert_eq!(texts(&out, "ListBucketResult/Name"), ["photos"]);
    assert_eq!(texts(&out, "ListBucketResult/Prefix"), [""]);
    assert_eq!(texts(&out, "ListBucketResult/Delimiter"), ["/"]);
    // The upstream's own fields are gone: the page says only what it was told to.
    assert!(texts(&out, "ListBucketResult/MaxKeys").is_empty());
    assert!(texts(&out, "ListBucketResult/IsTruncated").is_empty());
    // The predicate saw full upstream keys.
    assert_eq!(
        *seen.borrow(),
        [
            "tenants/acme/readme.txt",
            "tenants/acme/private.txt",
            "tenants/acme/report 2024.csv"
        ]
    );
    assert_eq!(
        up,
        UpstreamPage {
            truncated: false,
            entries: 5,
            last_entry: Some("tenants/acme/secret/".into()),
            ..Default::default()
        }
    );
    // Everything else is byte for byte what came; the fields follow the bucket name.
    assert!(out.starts_with(concat!(
        r#"<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#,
        "<Name>photos</Name><Prefix></Prefix><KeyCount>3</KeyCount><Delimiter>/</Delimiter><Contents>"
    )));
    assert!(out.contains("<ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag><Size>0</Size>"));
    assert!(!out.contains("private"));
    assert!(!out.contains("secret"));
    assert!(!out.contains("tenants"));
    assert!(!out.contains("shared-data"));
}

#[test]
fn s3s_v2_everything_visible_is_only_stripped() {
    let (out, _) = run_with(
        S3S_V2,
        "tenants/acme/",
        &all,
        &all,
        shown(v2_fields("", Some("/"))),
    )
    .unwrap();
    let expected = S3S_V2
        .replace("tenants/acme/", "")
        .replace("shared-data", "photos")
        .replace(
            "<Name>photos</Name><Prefix></Prefix><MaxKeys>1000</MaxKeys><KeyCount>5</KeyCount><IsTruncated>false</IsTruncated>",
            "<Name>photos</Name><Prefix></Prefix><KeyCount>5</KeyCount><Delimiter>/</Delimiter>",
        )
        .replace("<Delimiter>/</Delimiter></ListBucketResult>", "</ListBucketResult>");
    assert_eq!(out, expected);
}

#[test]
fn rgw_v1_markers_are_read_and_replaced_and_owner_kept() {
    let page = shown(vec![
        Field {
            name: "Marker",
            value: FieldValue::Key("a.txt".into()),
        },
        Field {
            name: "IsTruncated",
            value: FieldValue::Plain("true".into()),
        },
        Field {
            name: "NextMarker",
            value: FieldValue::Plain("bgm1.sealed".into()),
        },
    ]);
    let (out, up) = run_with(RGW_V1, "tenants/acme/", &all, &all, page).unwrap();
    assert_eq!(up.next_marker.as_deref(), Some("tenants/acme/c.txt"));
    assert_eq!(up.last_entry.as_deref(), Some("tenants/acme/c.txt"));
    assert!(up.truncated);
    assert_eq!(up.entries, 2);
    // The client's own marker is echoed; the next one is the caller's (sealed) token.
    assert_eq!(texts(&out, "ListBucketResult/Marker"), ["a.txt"]);
    assert_eq!(texts(&out, "ListBucketResult/NextMarker"), ["bgm1.sealed"]);
    assert_eq!(
        texts(&out, "ListBucketResult/Contents/Key"),
        ["b.txt", "c.txt"]
    );
    assert_eq!(
        texts(&out, "ListBucketResult/Contents/Owner/ID"),
        ["acme$svc", "acme$svc"]
    );
    assert_eq!(texts(&out, "ListBucketResult/IsTruncated"), ["true"]);
    assert!(!out.contains("tenants"));
    // V1 has no KeyCount and none is added.
    assert!(!out.contains("KeyCount"));
}

#[test]
fn no_namespace_pretty_printed_drops_the_white_space_of_dropped_entries() {
    let body = "<?xml version=\"1.0\"?>\n<ListBucketResult>\n  <Name>b</Name>\n  \
                <KeyCount>2</KeyCount>\n  <Contents>\n    <Key>p/x</Key>\n  </Contents>\n  \
                <Contents>\n    <Key>p/y</Key>\n  </Contents>\n</ListBucketResult>\n";
    let out = run(body, "p/", &|k| k == "p/x", &all).unwrap();
    assert_eq!(
        out,
        "<?xml version=\"1.0\"?>\n<ListBucketResult>\n  <Name>photos</Name>\
         <KeyCount>1</KeyCount>\n  <Contents>\n    <Key>x</Key>\n  </Contents>\n\
         </ListBucketResult>\n"
    );
}

#[test]
fn url_encoded_keys_are_decoded_for_the_predicates_and_encoded_again() {
    let seen = RefCell::new(Vec::new());
    let keys = |k: &str| {
        seen.borrow_mut().push(k.to_owned());
        !k.contains("hidden")
    };
    let seen_prefixes = RefCell::new(Vec::new());
    let prefixes = |p: &str| {
        seen_prefixes.borrow_mut().push(p.to_owned());
        true
    };
    let mut fields = v2_fields("a b/", None);
    fields.push(Field {
        name: "StartAfter",
        value: FieldValue::Key("a&b".into()),
    });
    let (out, up) = run_with(URL_V2, "team one/", &keys, &prefixes, shown(fields)).unwrap();
    assert_eq!(
        *seen.borrow(),
        [
            "team one/a b+c.txt",
            "team one/한글.txt",
            "team one/hidden?.txt"
        ]
    );
    assert_eq!(*seen_prefixes.borrow(), ["team one/run books/"]);
    assert_eq!(
        texts(&out, "ListBucketResult/Contents/Key"),
        ["a%20b%2Bc.txt", "%ED%95%9C%EA%B8%80.txt"]
    );
    assert_eq!(
        texts(&out, "ListBucketResult/CommonPrefixes/Prefix"),
        ["run%20books/"]
    );
    // Key-like fields are encoded like the keys.
    assert_eq!(texts(&out, "ListBucketResult/Prefix"), ["a%20b/"]);
    assert_eq!(texts(&out, "ListBucketResult/StartAfter"), ["a%26b"]);
    assert_eq!(texts(&out, "ListBucketResult/KeyCount"), ["3"]);
    assert_eq!(texts(&out, "ListBucketResult/EncodingType"), ["url"]);
    // Opaque tokens are reported as they came, and never shown.
    assert_eq!(up.next_continuation_token.as_deref(), Some("team one/zzz"));
    assert!(texts(&out, "ListBucketResult/NextContinuationToken").is_empty());
    assert!(!out.contains("zzz") && !out.contains("team"));
}

#[test]
fn without_encoding_type_percent_signs_are_literal() {
    let body = URL_V2.replace("<EncodingType>url</EncodingType>", "");
    let out = run(&body, "team+one/", &all, &all).unwrap();
    assert_eq!(
        texts(&out, "ListBucketResult/Contents/Key"),
        ["a+b%2Bc.txt", "%ED%95%9C%EA%B8%80.txt", "hidden%3F.txt"]
    );
}

#[test]
fn multipart_uploads_are_filtered_and_markers_read() {
    let keys = |k: &str| !k.starts_with("tenants/acme/private/");
    let prefixes = |p: &str| p != "tenants/acme/private/";
    let page = shown(vec![
        Field {
            name: "KeyMarker",
            value: FieldValue::Key("".into()),
        },
        Field {
            name: "UploadIdMarker",
            value: FieldValue::Plain("".into()),
        },
    ]);
    let (out, up) = run_with(RGW_UPLOADS, "tenants/acme/", &keys, &prefixes, page).unwrap();
    let root = "ListMultipartUploadsResult";
    assert_eq!(texts(&out, &format!("{root}/Bucket")), ["photos"]);
    assert_eq!(texts(&out, &format!("{root}/Upload/Key")), ["video.mp4"]);
    assert_eq!(texts(&out, &format!("{root}/Upload/UploadId")), ["2~vid"]);
    assert_eq!(texts(&out, &format!("{root}/KeyMarker")), [""]);
    assert_eq!(texts(&out, &format!("{root}/UploadIdMarker")), [""]);
    assert!(texts(&out, &format!("{root}/NextKeyMarker")).is_empty());
    assert!(texts(&out, &format!("{root}/Prefix")).is_empty());
    assert_eq!(
        up.next_key_marker.as_deref(),
        Some("tenants/acme/video.mp4")
    );
    assert_eq!(up.next_upload_id_marker.as_deref(), Some("2~vid"));
    assert_eq!(up.entries, 3);
    assert!(texts(&out, &format!("{root}/CommonPrefixes/Prefix")).is_empty());
    assert!(!out.contains("dump"));
    assert!(!out.contains("tenants"));
}

#[test]
fn list_parts_gets_bucket_and_key_rewritten() {
    let out =
        String::from_utf8(rewrite_parts(RGW_PARTS.as_bytes(), "photos", "tenants/acme/").unwrap())
            .unwrap();
    assert_eq!(texts(&out, "ListPartsResult/Bucket"), ["photos"]);
    assert_eq!(texts(&out, "ListPartsResult/Key"), ["video.mp4"]);
    assert_eq!(texts(&out, "ListPartsResult/Part/Size"), ["5242880"]);
    let expected = RGW_PARTS
        .replace("tenants/acme/", "")
        .replace("shared-data", "photos");
    assert_eq!(out, expected);
    assert!(matches!(
        rewrite_parts(S3S_V2.as_bytes(), "photos", ""),
        Err(ListingError::UnexpectedRoot(_))
    ));
}

#[test]
fn entries_outside_the_prefix_or_without_a_key_are_dropped() {
    let body = concat!(
        "<ListBucketResult><Name>b</Name><Marker>other/m</Marker><KeyCount>6</KeyCount>",
        "<Contents><Key>other/leak.txt</Key></Contents>",
        "<Contents><Key>p/</Key></Contents>",
        "<Contents><Size>1</Size></Contents>",
        "<Contents><Key>p/a</Key><Key>p/b</Key></Contents>",
        "<Contents/>",
        "<Contents><Key>p/ok</Key></Contents>",
        "<CommonPrefixes><Prefix>other/</Prefix></CommonPrefixes>",
        "</ListBucketResult>"
    );
    let out = run(body, "p/", &all, &all).unwrap();
    assert_eq!(texts(&out, "ListBucketResult/Contents/Key"), ["ok"]);
    assert!(texts(&out, "ListBucketResult/CommonPrefixes/Prefix").is_empty());
    assert_eq!(texts(&out, "ListBucketResult/KeyCount"), ["1"]);
    // The upstream's marker is not the client's: it is not shown.
    assert!(!out.contains("other"));
}

#[test]
fn empty_prefix_filters_but_does_not_touch_keys() {
    let page = shown(v2_fields("tenants/", None));
    let (out, _) = run_with(S3S_V2, "", &|k| k.ends_with(".txt"), &|_| false, page).unwrap();
    assert_eq!(
        texts(&out, "ListBucketResult/Contents/Key"),
        ["tenants/acme/readme.txt", "tenants/acme/private.txt"]
    );
    assert_eq!(texts(&out, "ListBucketResult/Prefix"), ["tenants/"]);
    assert_eq!(texts(&out, "ListBucketResult/KeyCount"), ["2"]);
}

#[test]
fn a_collapsed_page_shows_only_its_common_prefix() {
    let page = PageFields {
        fields: v2_fields("", Some("/")),
        entries: false,
        common_prefix: Some("tenants/acme/run books/".into()),
    };
    let (out, up) = run_with(URL_V2, "tenants/acme/", &all, &all, page.clone()).unwrap();
    assert_eq!(up.entries, 4);
    assert!(texts(&out, "ListBucketResult/Contents/Key").is_empty());
    // URL_V2 is URL-encoded: so is the common prefix.
    assert_eq!(
        texts(&out, "ListBucketResult/CommonPrefixes/Prefix"),
        ["run%20books/"]
    );
    assert_eq!(texts(&out, "ListBucketResult/KeyCount"), ["1"]);
    // A common prefix outside the alias is never shown.
    let page = PageFields {
        common_prefix: Some("elsewhere/".into()),
        ..page
    };
    let (out, _) = run_with(S3S_V2, "tenants/acme/", &all, &all, page).unwrap();
    assert!(texts(&out, "ListBucketResult/CommonPrefixes/Prefix").is_empty());
    assert_eq!(texts(&out, "ListBucketResult/KeyCount"), ["0"]);
}

#[test]
fn escaped_keys_are_unescaped_for_the_predicate_and_escaped_again() {
    let body = concat!(
        "<ListBucketResult><Name>a&amp;b</Name>",
        "<Contents><Key>p/x&amp;y&lt;z&#13;&#x1;'\"</Key></Contents>",
        "<Contents><Key><![CDATA[p/<cdata>]]></Key></Contents>",
        "</ListBucketResult>"
    );
    let seen = RefCell::new(Vec::new());
    let keys = |k: &str| {
        seen.borrow_mut().push(k.to_owned());
        true
    };
    let page = shown(v2_fields("<&>\r", None));
    let (out, _) = run_with(body, "p/", &keys, &all, page).unwrap();
    assert_eq!(*seen.borrow(), ["p/x&y<z\r\u{1}'\"", "p/<cdata>"]);
    assert_eq!(
        texts(&out, "ListBucketResult/Contents/Key"),
        ["x&y<z\r\u{1}'\"", "<cdata>"]
    );
    assert!(out.contains("<Key>x&amp;y&lt;z&#xD;&#x1;&apos;&quot;</Key>"));
    assert_eq!(texts(&out, "ListBucketResult/Prefix"), ["<&>\r"]);
}

#[test]
fn namespace_prefixes_and_empty_elements_are_handled() {
    let body = concat!(
        r#"<s3:ListBucketResult xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/">"#,
        "<s3:Name/><s3:Prefix>p/</s3:Prefix><s3:KeyCount/>",
        "<s3:Contents><s3:Key>p/a</s3:Key></s3:Contents>",
        "</s3:ListBucketResult>"
    );
    let (out, _) = run_with(body, "p/", &all, &all, shown(v2_fields("", None))).unwrap();
    assert_eq!(
        out,
        concat!(
            r#"<s3:ListBucketResult xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/">"#,
            "<s3:Name>photos</s3:Name><s3:Prefix></s3:Prefix><s3:KeyCount>1</s3:KeyCount>",
            "<s3:Contents><s3:Key>a</s3:Key></s3:Contents>",
            "</s3:ListBucketResult>"
        )
    );
    // No server answers with an empty root: there is no room for the page's fields.
    for empty in [
        "<ListBucketResult/>",
        "<ListBucketResult></ListBucketResult>",
    ] {
        assert!(matches!(
            run(empty, "p/", &all, &all),
            Err(ListingError::Malformed(_))
        ));
    }
    // Without a bucket name, the fields come first.
    let out = run(
        "<ListBucketResult><Contents><Key>p/a</Key></Contents></ListBucketResult>",
        "p/",
        &all,
        &all,
    )
    .unwrap();
    assert_eq!(
        out,
        "<ListBucketResult><KeyCount>1</KeyCount><Contents><Key>a</Key></Contents></ListBucketResult>"
    );
}

#[test]
fn unexpected_roots_are_errors() {
    for (body, root) in [
        (
            "<ListVersionsResult><Version><Key>p/a</Key></Version></ListVersionsResult>",
            "ListVersionsResult",
        ),
        ("<Error><Code>NoSuchBucket</Code></Error>", "Error"),
        ("<ListAllMyBucketsResult/>", "ListAllMyBucketsResult"),
        (
            "<ListPartsResult><Key>p/a</Key></ListPartsResult>",
            "ListPartsResult",
        ),
    ] {
        let err = run(body, "p/", &all, &all).unwrap_err();
        assert_eq!(err, ListingError::UnexpectedRoot(root.to_owned()));
        assert!(err.to_string().contains(root), "{err}");
    }
}

#[test]
fn malformed_bodies_are_errors() {
    for body in [
        "",
        "   ",
        "not xml at all",
        "<ListBucketResult>",
        "<ListBucketResult><Contents><Key>p/a</Key></ListBucketResult>",
        "<ListBucketResult></ListBucketResult><ListBucketResult/>",
        "<ListBucketResult/>trailing",
        "text<ListBucketResult/>",
        "<ListBucketResult><Contents><Key>p/a<b/></Key></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>p/&bogus;</Key></Contents></ListBucketResult>",
        "<ListBucketResult><Prefix>p/&#0;</Prefix></ListBucketResult>",
        "<ListBucketResult><Name>a & b</Name></ListBucketResult>",
        "<ListBucketResult><EncodingType>u<x/>rl</EncodingType></ListBucketResult>",
    ] {
        let err = run(body, "p/", &all, &all).unwrap_err();
        assert!(
            matches!(err, ListingError::Malformed(_)),
            "{body:?}: {err:?}"
        );
        assert!(err.to_string().starts_with("malformed S3 listing XML: "));
    }
    let not_utf8 = b"<ListBucketResult><Name>\xff</Name></ListBucketResult>";
    let view = ListingView {
        client_bucket: "c",
        key_prefix: "p/",
        visible_key: &all,
        visible_prefix: &all,
    };
    assert!(matches!(
        rewrite_listing(not_utf8, &view, &|_| PageFields::default()),
        Err(ListingError::Malformed(_))
    ));
    assert!(matches!(
        rewrite_parts(b"<ListPartsResult>", "c", "p/"),
        Err(ListingError::Malformed(_))
    ));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let body = format!(
        "<ListBucketResult>{}{}</ListBucketResult>",
        "<a>".repeat(10_000),
        "</a>".repeat(10_000)
    );
    assert!(run(&body, "p/", &all, &all).is_err());
}

#[test]
fn garbage_never_panics() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let view = ListingView {
        client_bucket: "c",
        key_prefix: "tenants/acme/",
        visible_key: &|k| k.len().is_multiple_of(2),
        visible_prefix: &|p| !p.len().is_multiple_of(3),
    };
    let decide = |up: &UpstreamPage| PageFields {
        fields: v2_fields("x&y", Some("/")),
        entries: up.entries.is_multiple_of(2),
        common_prefix: up.last_entry.clone(),
    };
    let mut oks = 0;
    for round in 0..3000 {
        let body = match round % 6 {
            0 => (0..rng.below(200)).map(|_| rng.next() as u8).collect(),
            1 => mutate(&mut rng, S3S_V2.as_bytes()),
            2 => mutate(&mut rng, RGW_V1.as_bytes()),
            3 => mutate(&mut rng, URL_V2.as_bytes()),
            4 => mutate(&mut rng, RGW_UPLOADS.as_bytes()),
            _ => mutate(&mut rng, RGW_PARTS.as_bytes()),
        };
        if rewrite_listing(&body, &view, &decide).is_ok() {
            oks += 1;
        }
        let _ = rewrite_parts(&body, "c", "tenants/acme/");
    }
    // Some mutations leave a valid document; the point is that none panicked.
    assert!(oks > 0);
}

/// Random listings of awkward keys: the client sees exactly the visible keys under the
/// prefix, stripped, and the output is well-formed XML.
#[test]
fn random_listings_show_exactly_the_visible_keys() {
    const CHARS: [&str; 14] = [
        "a", "Z", "0", "/", " ", "+", "%", "&", "<", ">", "\"", "'", "é", "\r",
    ];
    let aws_encode = |s: &str| {
        percent_encoding::utf8_percent_encode(s, URL_ENCODE)
            .to_string()
            .replace("%20", "+")
    };
    let mut rng = XorShift(0x5EED_1234_ABCD_0001);
    for _ in 0..300 {
        let url = rng.below(2) == 0;
        let prefix = ["t/", "t a/", "t&+/", ""][rng.below(4)];
        let mut keys = Vec::new();
        for _ in 0..rng.below(8) {
            let under = rng.below(4) != 0;
            let mut key = if under {
                prefix.to_owned()
            } else {
                "other/".to_owned()
            };
            for _ in 0..=rng.below(6) {
                key.push_str(CHARS[rng.below(CHARS.len())]);
            }
            keys.push(key);
        }
        let hidden = |k: &str| k.len().is_multiple_of(3);
        let mut body = String::from("<ListBucketResult");
        if rng.below(2) == 0 {
            body.push_str(r#" xmlns="http://s3.amazonaws.com/doc/2006-03-01/""#);
        }
        body.push_str("><Name>up</Name><KeyCount>99</KeyCount>");
        for key in &keys {
            let text = if url { aws_encode(key) } else { key.clone() };
            body.push_str(&format!(
                "<Contents><Key>{}</Key><Size>1</Size></Contents>",
                escape_text(&text)
            ));
        }
        if url {
            body.push_str("<EncodingType>url</EncodingType>");
        }
        body.push_str("</ListBucketResult>");

        let out = run(&body, prefix, &|k| !hidden(k), &all).unwrap();
        let expected: Vec<String> = keys
            .iter()
            .filter(|k| !hidden(k))
            .filter_map(|k| k.strip_prefix(prefix))
            .filter(|k| !k.is_empty())
            .map(|k| {
                if url && prefix.is_empty() {
                    // Nothing to strip: the key stays exactly as the upstream encoded it.
                    aws_encode(k)
                } else if url {
                    percent_encoding::utf8_percent_encode(k, URL_ENCODE).to_string()
                } else {
                    k.to_owned()
                }
            })
            .collect();
        assert_eq!(
            texts(&out, "ListBucketResult/Contents/Key"),
            expected,
            "{body}"
        );
        assert_eq!(
            texts(&out, "ListBucketResult/KeyCount"),
            [expected.len().to_string()]
        );
    }
}

/// A truncated V1 page without NextMarker reports its last upstream entry, even when it is
/// filtered out: the next page starts after it, not after the last key the client saw (which
/// would fetch the same page forever).
#[test]
fn truncated_v1_pages_report_their_last_entry() {
    let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>data</Name><Prefix></Prefix><Marker></Marker><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated><Contents><Key>a/1</Key><Size>1</Size></Contents><Contents><Key>b/2</Key><Size>1</Size></Contents></ListBucketResult>"#;
    let only_a = |k: &str| k.starts_with("a/");
    let (out, up) = run_with(body, "", &only_a, &all, shown(Vec::new())).unwrap();
    assert_eq!(texts(&out, "ListBucketResult/Contents/Key"), ["a/1"]);
    assert!(up.truncated);
    assert_eq!(up.next_marker, None);
    assert_eq!(up.last_entry.as_deref(), Some("b/2"));
    let done = body.replace("<IsTruncated>true", "<IsTruncated>false");
    let (_, up) = run_with(&done, "", &only_a, &all, shown(Vec::new())).unwrap();
    assert!(!up.truncated);
}
