//! The DeleteObjects request body (`POST /bucket?delete`), as a client sends it:
//! `frontend::s3::xml::parse_delete`.
//!
//! Properties:
//! - no panic;
//! - an accepted document names 1 to 1000 objects, each with a non-empty key;
//! - what bucketgate sends upstream reads back as what it checked: the keys, re-written by the
//!   frontend's `delete_body_xml` and by the internal client's `s3::results::delete_xml`,
//!   parse back to exactly the same keys (a key that changed on the way would be deleted
//!   without having been authorised). As in `frontend::s3::multi_delete`, only keys that pass
//!   `check_key` go upstream (and version ids without control characters are compared).
#![no_main]

use bucketgate::frontend::s3::xml::{delete_body_xml, parse_delete, MAX_DELETE_OBJECTS};
use bucketgate::s3::key::check_key;
use bucketgate::s3::results::delete_xml;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = parse_delete(data) else {
        return;
    };
    assert!(!parsed.objects.is_empty() && parsed.objects.len() <= MAX_DELETE_OBJECTS);
    assert!(parsed.objects.iter().all(|o| !o.key.is_empty()));
    let sendable = parsed.objects.iter().all(|o| {
        check_key(&o.key).is_ok()
            && !o
                .version_id
                .as_deref()
                .unwrap_or_default()
                .chars()
                .any(char::is_control)
    });
    if !sendable {
        return;
    }

    let keys: Vec<(String, Option<String>)> = parsed
        .objects
        .iter()
        .map(|o| (o.key.clone(), o.version_id.clone()))
        .collect();
    let upstream = delete_body_xml(parsed.quiet, &keys);
    let again = parse_delete(upstream.as_bytes()).unwrap_or_else(|e| {
        panic!("delete_body_xml wrote a body parse_delete refuses: {e}\n{upstream}")
    });
    assert_eq!(
        again, parsed,
        "delete_body_xml changed the request\n{upstream}"
    );

    let names: Vec<&str> = parsed.objects.iter().map(|o| o.key.as_str()).collect();
    let client_body = delete_xml(&names, parsed.quiet);
    let again = parse_delete(client_body.as_bytes()).unwrap_or_else(|e| {
        panic!("results::delete_xml wrote a body parse_delete refuses: {e}\n{client_body}")
    });
    let got: Vec<&str> = again.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(
        got, names,
        "results::delete_xml changed the keys\n{client_body}"
    );
    assert_eq!(again.quiet, parsed.quiet);
});
