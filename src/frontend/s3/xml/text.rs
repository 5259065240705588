//! Shared helpers for the S3 XML modules: reading the character data of a text-only element
//! (quick-xml 0.41 hands `&amp;` and `&#10;` over as separate `GeneralRef` events, which have to
//! be resolved by hand) and escaping text so that it reads back as exactly the same string.

use std::borrow::Cow;
use std::fmt::Write as _;

use quick_xml::escape::resolve_xml_entity;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::Reader;

/// Deepest element nesting the parsers accept; S3 documents are at most four levels deep.
pub(super) const MAX_DEPTH: usize = 32;

/// Whether `start` is an element with local name `name` (any namespace prefix).
pub(super) fn local_is(start: &BytesStart<'_>, name: &str) -> bool {
    start.local_name().as_ref() == name.as_bytes()
}

/// The qualified name of `start`, for error messages.
pub(super) fn name_of(start: &BytesStart<'_>) -> String {
    String::from_utf8_lossy(start.name().as_ref()).into_owned()
}

/// Whether raw text is XML white space only (what pretty-printers put between elements).
pub(super) fn is_blank(raw: &[u8]) -> bool {
    raw.iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// Appends the character data of `event`, found inside a text-only element, to `out`.
///
/// Text, CDATA and entity or character references count; comments and processing
/// instructions are skipped; anything else (a child element) is an error.
pub(super) fn push_text(out: &mut String, event: &Event<'_>) -> Result<(), String> {
    match event {
        Event::Text(t) => {
            let s = t
                .xml10_content()
                .map_err(|e| format!("text is not valid UTF-8: {e}"))?;
            out.push_str(&s);
        }
        Event::CData(c) => {
            let s = c
                .xml10_content()
                .map_err(|e| format!("CDATA is not valid UTF-8: {e}"))?;
            out.push_str(&s);
        }
        Event::GeneralRef(r) => push_reference(out, r)?,
        Event::Comment(_) | Event::PI(_) => {}
        Event::Start(s) | Event::Empty(s) => {
            return Err(format!("unexpected element <{}> inside text", name_of(s)))
        }
        Event::End(_) | Event::Decl(_) | Event::DocType(_) | Event::Eof => {
            return Err("unexpected markup inside text".to_owned())
        }
    }
    Ok(())
}

/// Resolves `&name;` (the five predefined XML entities) or `&#N;` / `&#xN;`.
fn push_reference(out: &mut String, r: &BytesRef<'_>) -> Result<(), String> {
    match r.resolve_char_ref() {
        Ok(Some(c)) => {
            out.push(c);
            Ok(())
        }
        Ok(None) => {
            let name = r
                .decode()
                .map_err(|e| format!("entity name is not valid UTF-8: {e}"))?;
            match resolve_xml_entity(&name) {
                Some(s) => {
                    out.push_str(s);
                    Ok(())
                }
                None => Err(format!("unknown entity &{name};")),
            }
        }
        Err(e) => Err(format!("bad character reference: {e}")),
    }
}

/// Reads the rest of the text-only element opened by `start` (already consumed) and returns
/// its character data. An empty element (`<Key/>`) must not be passed here: its text is "".
pub(super) fn read_text(
    reader: &mut Reader<&[u8]>,
    start: &BytesStart<'_>,
) -> Result<String, String> {
    let mut out = String::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("at byte {}: {e}", reader.error_position()))?;
        match event {
            Event::End(_) => return Ok(out),
            Event::Eof => return Err(format!("document ends inside <{}>", name_of(start))),
            other => push_text(&mut out, &other)?,
        }
    }
}

/// Escapes `s` for element text (or an attribute value) so that any XML parser reads back
/// exactly `s`: the five markup characters become entities, and carriage return and the other
/// C0 control characters become character references (a raw `\r` would be turned into `\n`
/// by end-of-line normalization; the others are not allowed raw in XML 1.0, and S3 itself
/// writes them as references).
pub(super) fn escape_text(s: &str) -> Cow<'_, str> {
    let needs = |c: char| matches!(c, '<' | '>' | '&' | '"' | '\'') || needs_char_ref(c);
    if !s.chars().any(needs) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if needs_char_ref(c) => {
                // Writing to a String cannot fail.
                let _ = write!(out, "&#x{:X};", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_char_ref(c: char) -> bool {
    (c < ' ' && c != '\t' && c != '\n') || c == '\u{7F}'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(xml: &str) -> Result<String, String> {
        let mut reader = Reader::from_reader(xml.as_bytes());
        match reader.read_event() {
            Ok(Event::Start(s)) => read_text(&mut reader, &s.into_owned()),
            other => Err(format!("{other:?}")),
        }
    }

    #[test]
    fn references_and_cdata_are_resolved() {
        assert_eq!(
            text_of("<a>x&amp;y&#10;&#x41;&lt;<![CDATA[<&>]]>&quot;&apos;&gt;</a>").unwrap(),
            "x&y\nA<<&>\"'>"
        );
        assert_eq!(text_of("<a></a>").unwrap(), "");
        assert_eq!(text_of("<a>a<!-- c -->b</a>").unwrap(), "ab");
    }

    #[test]
    fn bad_text_is_an_error() {
        assert!(text_of("<a>&foo;</a>").is_err());
        assert!(text_of("<a>&#0;</a>").is_err());
        assert!(text_of("<a>x<b/>y</a>").is_err());
        assert!(text_of("<a>x").is_err());
        assert!(text_of("<a>x</b>").is_err());
    }

    #[test]
    fn escaping_round_trips() {
        let nasty = "a<b>&c\"d'e\r\nf\tg\u{1}h\u{7F}é/ü";
        let escaped = escape_text(nasty);
        assert!(!escaped.contains('<') && !escaped.contains('>'));
        assert!(!escaped.contains('\r'));
        assert_eq!(text_of(&format!("<a>{escaped}</a>")).unwrap(), nasty);
        assert!(matches!(escape_text("plain/key.txt"), Cow::Borrowed(_)));
    }
}
