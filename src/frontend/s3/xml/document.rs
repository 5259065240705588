//! A document split into the root's top-level children, rewritten item by item.
//!
//! S3 result documents are flat lists under one root, and the fields that steer a rewrite may
//! come before or after the entries they concern (s3s puts `KeyCount` first and `EncodingType`
//! last). So the whole body is read first, each top-level child kept as its own list of events
//! (borrowed from the body), and then written back with one [`Action`] per child: everything
//! not rewritten goes out byte for byte as it came.

use quick_xml::events::{BytesStart, BytesText, Event};
use quick_xml::{Reader, Writer};

use super::text::{escape_text, is_blank, local_is, name_of, push_text, MAX_DEPTH};

/// What happens to one top-level item of the root element.
pub(super) enum Action {
    /// Written as it came.
    Keep,
    /// An entry that stays as it came (no prefix to strip); counted in `KeyCount`.
    KeptEntry,
    /// Left out, with the white space before it.
    Drop,
    /// The element's text is replaced.
    Text(String),
    /// An entry whose key child (events `start..=end` of the entry) gets the text `text`.
    EntryKey {
        start: usize,
        end: usize,
        text: String,
    },
    /// A count (`KeyCount`): its text becomes the number of kept entries.
    KeyCount,
}

/// One top-level child element of the root.
pub(super) struct Element<'a> {
    /// Its start tag (a copy of the first event).
    pub(super) start: BytesStart<'a>,
    /// All its events: `Empty`, or `Start` .. matching `End`.
    pub(super) events: Vec<Event<'a>>,
}

/// One top-level item inside the root element.
pub(super) enum Item<'a> {
    /// Text, comment, reference or processing instruction between elements.
    Node(Event<'a>),
    /// A child element with everything inside it.
    Element(Element<'a>),
}

/// The parsed document: what comes before the root, the root, its children, what follows.
pub(super) struct Doc<'a> {
    prolog: Vec<Event<'a>>,
    pub(super) root: BytesStart<'a>,
    root_empty: bool,
    pub(super) items: Vec<Item<'a>>,
    epilog: Vec<Event<'a>>,
}

impl<'a> Doc<'a> {
    /// Splits `body` into its parts; `Err` says why it is not a well-formed document.
    pub(super) fn parse(body: &'a [u8]) -> Result<Doc<'a>, String> {
        std::str::from_utf8(body).map_err(|e| format!("body is not UTF-8: {e}"))?;
        let mut reader = Reader::from_reader(body);
        let mut prolog = Vec::new();
        let mut root: Option<(BytesStart<'a>, bool)> = None;
        let mut closed = false;
        let mut items = Vec::new();
        let mut epilog = Vec::new();
        let mut current: Vec<Event<'a>> = Vec::new();
        let mut depth = 0usize; // element depth below the root

        loop {
            let event = reader
                .read_event()
                .map_err(|e| format!("at byte {}: {e}", reader.error_position()))?;
            if let Event::Eof = event {
                return match root {
                    None => Err("no root element".to_owned()),
                    Some(_) if !closed => Err("document ends inside an element".to_owned()),
                    Some((root, root_empty)) => Ok(Doc {
                        prolog,
                        root,
                        root_empty,
                        items,
                        epilog,
                    }),
                };
            }
            if root.is_none() {
                match event {
                    Event::Start(s) => root = Some((s, false)),
                    Event::Empty(s) => {
                        root = Some((s, true));
                        closed = true;
                    }
                    Event::Text(ref t) if is_blank(t) => prolog.push(event),
                    Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {
                        prolog.push(event)
                    }
                    _ => return Err("content before the root element".to_owned()),
                }
            } else if closed {
                match event {
                    Event::Text(ref t) if is_blank(t) => epilog.push(event),
                    Event::Comment(_) | Event::PI(_) => epilog.push(event),
                    _ => return Err("content after the root element".to_owned()),
                }
            } else if depth == 0 {
                match event {
                    Event::Start(_) => {
                        current.push(event);
                        depth = 1;
                    }
                    Event::Empty(ref s) => items.push(Item::Element(Element {
                        start: s.clone(),
                        events: vec![event],
                    })),
                    Event::End(_) => closed = true,
                    _ => items.push(Item::Node(event)),
                }
            } else {
                match event {
                    Event::Start(_) => depth += 1,
                    Event::End(_) => depth -= 1,
                    _ => {}
                }
                if depth > MAX_DEPTH {
                    return Err(format!("elements nested deeper than {MAX_DEPTH}"));
                }
                current.push(event);
                if depth == 0 {
                    let events = std::mem::take(&mut current);
                    if let Some(Event::Start(start)) = events.first() {
                        let start = start.clone();
                        items.push(Item::Element(Element { start, events }));
                    }
                }
            }
        }
    }

    /// Writes the document back, each top-level item as `actions` (one per item) says.
    pub(super) fn write(&self, actions: &[Action], kept_entries: usize) -> Result<Vec<u8>, String> {
        let mut out = Out(Writer::new(Vec::with_capacity(1024)));
        for event in &self.prolog {
            out.event(event.borrow())?;
        }
        if self.root_empty {
            out.event(Event::Empty(self.root.borrow()))?;
        } else {
            out.event(Event::Start(self.root.borrow()))?;
            // White space waits until it is known whether the element after it is dropped.
            let mut blank: Vec<&Event<'_>> = Vec::new();
            for (item, action) in self.items.iter().zip(actions) {
                let (start, events) = match item {
                    Item::Node(event @ Event::Text(t)) if is_blank(t) => {
                        blank.push(event);
                        continue;
                    }
                    Item::Node(event) => {
                        for event in blank.drain(..) {
                            out.event(event.borrow())?;
                        }
                        out.event(event.borrow())?;
                        continue;
                    }
                    Item::Element(Element { start, events }) => (start, events.as_slice()),
                };
                if let Action::Drop = action {
                    blank.clear();
                    continue;
                }
                for event in blank.drain(..) {
                    out.event(event.borrow())?;
                }
                match action {
                    Action::Keep | Action::KeptEntry | Action::Drop => out.events(events)?,
                    Action::Text(text) => out.text_element(start, text)?,
                    Action::KeyCount => out.text_element(start, &kept_entries.to_string())?,
                    Action::EntryKey {
                        start: key_start,
                        end: key_end,
                        text,
                    } => match events.get(*key_start) {
                        Some(Event::Start(key) | Event::Empty(key)) => {
                            out.events(events.get(..*key_start).unwrap_or_default())?;
                            out.text_element(key, text)?;
                            out.events(events.get(key_end + 1..).unwrap_or_default())?;
                        }
                        // Never written as it came: that would leak the upstream key.
                        _ => return Err("lost the key element".to_owned()),
                    },
                }
            }
            for event in blank {
                out.event(event.borrow())?;
            }
            out.event(Event::End(self.root.to_end()))?;
        }
        for event in &self.epilog {
            out.event(event.borrow())?;
        }
        Ok(out.0.into_inner())
    }
}

/// The output document.
struct Out(Writer<Vec<u8>>);

impl Out {
    fn event(&mut self, event: Event<'_>) -> Result<(), String> {
        self.0
            .write_event(event)
            .map_err(|e| format!("cannot write the output: {e}"))
    }

    fn events(&mut self, events: &[Event<'_>]) -> Result<(), String> {
        events.iter().try_for_each(|e| self.event(e.borrow()))
    }

    /// Writes the element `start` (its name and attributes) with the text `text`, escaped.
    fn text_element(&mut self, start: &BytesStart<'_>, text: &str) -> Result<(), String> {
        self.event(Event::Start(start.borrow()))?;
        self.event(Event::Text(BytesText::from_escaped(escape_text(text))))?;
        self.event(Event::End(start.to_end()))
    }
}

/// The character data of a text-only element given as its events.
pub(super) fn element_text(events: &[Event<'_>]) -> Result<String, String> {
    let mut out = String::new();
    if let Some(Event::Start(start)) = events.first() {
        let inner = events
            .get(1..events.len().saturating_sub(1))
            .unwrap_or_default();
        for event in inner {
            push_text(&mut out, event).map_err(|e| format!("in <{}>: {e}", name_of(start)))?;
        }
    }
    Ok(out)
}

/// The span (`start..=end`, indexes into `events`) of the one direct child element named
/// `name` of the element `events`; `None` if there is no such child or more than one.
pub(super) fn only_child(events: &[Event<'_>], name: &str) -> Option<(usize, usize)> {
    let mut found = None;
    let mut count = 0;
    let mut depth = 0usize;
    let mut open = None;
    let inner = events.len().saturating_sub(1);
    for (i, event) in events.iter().enumerate().take(inner).skip(1) {
        match event {
            Event::Start(s) => {
                if depth == 0 && local_is(s, name) {
                    open = Some(i);
                }
                depth += 1;
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    if let Some(start) = open.take() {
                        found = Some((start, i));
                        count += 1;
                    }
                }
            }
            Event::Empty(s) if depth == 0 && local_is(s, name) => {
                found = Some((i, i));
                count += 1;
            }
            _ => {}
        }
    }
    if count == 1 {
        found
    } else {
        None
    }
}
