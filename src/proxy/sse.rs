//! Incremental Server-Sent Events (`text/event-stream`) framing.
//!
//! The proxy receives an upstream SSE stream in arbitrary reads: a chunk may
//! end inside a line, inside a UTF-8 character, between the `\r` and `\n` of a
//! CRLF, or inside the blank line that terminates an event. [`SseParser`]
//! turns that stream back into whole events ([`SseEvent`]) as soon as each one
//! is complete, keeping the exact bytes the upstream sent (for byte-for-byte
//! forwarding) next to the parsed `data` / `event` / `id` fields (for the
//! policy layer).
//!
//! # Design
//!
//! * The parser owns one [`BytesMut`] that always starts at the first byte of
//!   the *current, incomplete* event. When an event completes, its bytes are
//!   cut off the front with [`BytesMut::split_to`] and frozen, so
//!   [`SseEvent::raw`] is a cheap handle into the receive buffer, not a copy.
//! * Lines are found with `memchr2(b'\n', b'\r')`. The parser remembers where
//!   the current line starts (`line_start`) and how far it has already looked
//!   for a line end (`search_pos`), so every input byte is scanned once no
//!   matter how finely the stream is chunked: a push costs O(chunk), never
//!   O(buffer).
//! * Field values are recorded as byte ranges relative to the event start and
//!   resolved when the event is dispatched. A single `data` line therefore
//!   becomes a zero-copy [`Bytes::slice`] of `raw`; only events with several
//!   `data` lines allocate, to join the values with `"\n"`.
//! * Parsing follows the WHATWG EventSource rules: lines end with `\r\n`,
//!   `\n` or `\r`; an empty line ends an event; lines starting with `:` are
//!   comments; `name:value` drops one optional space after the colon; a line
//!   without a colon is a field name with an empty value; only `data`,
//!   `event` and `id` are reported (`retry` and unknown fields are ignored,
//!   as is an `id` containing NUL). A UTF-8 BOM at the very start of the
//!   stream is skipped for parsing but stays in the first event's `raw`.
//!
//! # Byte accounting
//!
//! No input byte is ever dropped or duplicated: the concatenation of every
//! emitted [`SseEvent::raw`] followed by [`SseParser::finish`] equals the
//! concatenation of all pushed chunks. Consequences of that rule:
//!
//! * Comment-only blocks (`: keep-alive\n\n`) and even bare blank lines
//!   (a stray `\n` between two events) are returned as events of their own
//!   with `data`, `event` and `id` all `None` (see
//!   [`SseEvent::is_keepalive`]), so they are forwarded promptly instead of
//!   being glued onto the next event. Comment lines *inside* an event block
//!   are part of that event's `raw`.
//! * A `\r` that ends a chunk may be the first half of a `\r\n`. For an
//!   ordinary line this does not matter: the line is processed immediately
//!   and a `\n` at the start of the next chunk is recognised as the rest of
//!   the same line ending (never as an extra blank line). For the *blank line
//!   that ends an event* it decides where `raw` ends, so:
//!   - if the most recent fully seen line ending in the stream was a lone
//!     `\r` (a CR-only stream), the event is emitted at once, and a `\n` that
//!     unexpectedly follows is kept at the front of the next event's `raw`
//!     (and still treated as the rest of that line ending);
//!   - otherwise (LF / CRLF streams) the event is held until the next byte
//!     arrives, which for a CRLF stream is the `\n` already in flight. This
//!     makes `raw` boundaries independent of how the stream was chunked. At
//!     end of stream such a held event is returned by
//!     [`SseParser::finish_into`] (or as raw bytes by [`SseParser::finish`]).
//!
//! # Limits and errors
//!
//! An event whose raw size exceeds `max_event_bytes` (counting comments,
//! the BOM and the terminating blank line) yields
//! [`SseError::EventTooLarge`]; it is detected as soon as the buffered,
//! still incomplete event grows past the limit. Events completed earlier in
//! the same chunk are still appended to `out`. After an error the parser
//! refuses further input until [`SseParser::finish`] resets it. Many small
//! events never trigger the limit, whatever their total size.
//!
//! Nothing in this module panics on any input.

use std::fmt;
use std::ops::Range;

use bytes::{BufMut, Bytes, BytesMut};
use memchr::{memchr, memchr2};

/// UTF-8 byte order mark, skipped (for parsing only) at the start of a stream.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The OpenAI end-of-stream marker event, `data: [DONE]` followed by a blank line.
pub const DONE_EVENT: &[u8] = b"data: [DONE]\n\n";

/// A comment-only event that clients ignore; useful to keep an idle connection alive.
pub const KEEPALIVE_EVENT: &[u8] = b": keep-alive\n\n";

/// Error returned by [`SseParser::push`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SseError {
    /// A single event (raw bytes, including comments and the terminating
    /// blank line) grew beyond the configured limit.
    EventTooLarge {
        /// The configured `max_event_bytes`.
        limit: usize,
    },
}

impl fmt::Display for SseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SseError::EventTooLarge { limit } => {
                write!(f, "server-sent event exceeds the limit of {limit} bytes")
            }
        }
    }
}

impl std::error::Error for SseError {}

/// One complete server-sent event, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// Exact bytes of the event as received, including its terminating blank
    /// line (and any comment lines / BOM that preceded it within the same
    /// event block).
    pub raw: Bytes,
    /// The `data` field: the values of all `data` lines joined with `"\n"`
    /// per the WHATWG spec; `None` if the event had no data line (e.g. only
    /// comments such as `: keep-alive`). A bare `data` or `data:` line gives
    /// `Some` of an empty value. Zero-copy (a slice of `raw`) when the event
    /// has exactly one data line.
    pub data: Option<Bytes>,
    /// The `event` field if present (e.g. Responses API:
    /// `event: response.output_text.delta`); the last one wins.
    pub event: Option<Bytes>,
    /// The `id` field if present (the last one wins; values containing NUL
    /// are ignored as the spec requires).
    pub id: Option<Bytes>,
}

impl SseEvent {
    /// True if `data` is the OpenAI end marker `[DONE]` (surrounding ASCII
    /// whitespace tolerated).
    #[must_use]
    pub fn is_done(&self) -> bool {
        matches!(&self.data, Some(d) if d.trim_ascii() == b"[DONE]")
    }

    /// True if the event carries no `data`, `event` or `id` field: a
    /// comment-only keep-alive, a stray blank line, or a block of ignored
    /// fields. Such events only need forwarding, not inspection.
    #[must_use]
    pub fn is_keepalive(&self) -> bool {
        self.data.is_none() && self.event.is_none() && self.id.is_none()
    }
}

/// Incremental SSE parser; feed it chunks with [`push`](Self::push).
///
/// See the [module documentation](self) for the framing rules and the
/// byte-accounting guarantee.
#[derive(Debug)]
pub struct SseParser {
    /// Bytes of the current (incomplete or held) event, starting at its first byte.
    buf: BytesMut,
    max_event_bytes: usize,
    /// Offset in `buf` where the current line starts.
    line_start: usize,
    /// Bytes in `line_start..search_pos` are known to contain no `\r` / `\n`.
    search_pos: usize,
    /// Still at stream start, not yet known whether it begins with a BOM.
    bom_pending: bool,
    /// The byte before `line_start` is a `\r` that ended a line; a `\n` at
    /// `line_start` belongs to that same line ending.
    pending_cr: bool,
    /// The line ended by that pending `\r` was the blank line completing the
    /// event in `buf`; dispatch once the next byte is known.
    held: bool,
    /// The most recent fully determined line ending was a lone `\r`.
    last_eol_lone_cr: bool,
    /// Set after an error; cleared by `finish`.
    poisoned: bool,
    /// Value ranges (relative to the event start) of the current event's fields.
    data_lines: Vec<Range<usize>>,
    event: Option<Range<usize>>,
    id: Option<Range<usize>>,
}

impl SseParser {
    /// Creates a parser for a new stream.
    ///
    /// `max_event_bytes`: an event (raw bytes) larger than this is an error
    /// (protects memory).
    #[must_use]
    pub fn new(max_event_bytes: usize) -> Self {
        SseParser {
            buf: BytesMut::new(),
            max_event_bytes,
            line_start: 0,
            search_pos: 0,
            bom_pending: true,
            pending_cr: false,
            held: false,
            last_eol_lone_cr: false,
            poisoned: false,
            data_lines: Vec::new(),
            event: None,
            id: None,
        }
    }

    /// The configured per-event size limit.
    #[must_use]
    pub fn max_event_bytes(&self) -> usize {
        self.max_event_bytes
    }

    /// Feeds the next chunk; appends every event completed by it, in order,
    /// to `out`.
    ///
    /// # Errors
    ///
    /// [`SseError::EventTooLarge`] when an event (complete or still
    /// buffered) exceeds `max_event_bytes`. The events completed before the
    /// offending one are still appended to `out`; the parser then rejects
    /// further input until [`finish`](Self::finish) is called, which returns
    /// the buffered bytes.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if self.poisoned {
            return Err(self.too_large());
        }
        self.buf.extend_from_slice(chunk);
        let result = self.process(out);
        if result.is_err() {
            self.poisoned = true;
        }
        result
    }

    /// End of stream: bytes of a trailing event that never got its
    /// terminating blank line (so the caller can still forward them and
    /// nothing is lost); `None` if the buffer is empty.
    ///
    /// This also returns, as raw bytes, an event that was complete but held
    /// back because it ended with a `\r` that could have been followed by
    /// `\n` (see the module docs); use [`finish_into`](Self::finish_into) to
    /// receive such an event parsed instead. The parser is reset and can be
    /// reused for a new stream.
    pub fn finish(&mut self) -> Option<Bytes> {
        let tail = if self.buf.is_empty() {
            None
        } else {
            Some(self.buf.split().freeze())
        };
        self.reset();
        tail
    }

    /// Like [`finish`](Self::finish), but first appends to `out` a complete
    /// event that was held back waiting for a possible `\n` after its final
    /// `\r`. Returns the remaining unterminated bytes, if any.
    pub fn finish_into(&mut self, out: &mut Vec<SseEvent>) -> Option<Bytes> {
        if self.held && !self.poisoned {
            self.held = false;
            if self.dispatch(out).is_err() {
                // Unreachable in practice (the size was checked by `push`);
                // the bytes are still returned below.
                self.poisoned = true;
            }
        }
        self.finish()
    }

    /// Bytes currently buffered (incomplete event).
    #[must_use]
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    fn reset(&mut self) {
        self.buf.clear();
        self.line_start = 0;
        self.search_pos = 0;
        self.bom_pending = true;
        self.pending_cr = false;
        self.held = false;
        self.last_eol_lone_cr = false;
        self.poisoned = false;
        self.clear_fields();
    }

    fn clear_fields(&mut self) {
        self.data_lines.clear();
        self.event = None;
        self.id = None;
    }

    fn too_large(&self) -> SseError {
        SseError::EventTooLarge {
            limit: self.max_event_bytes,
        }
    }

    fn process(&mut self, out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if self.bom_pending {
            if self.buf.len() < BOM.len() && BOM.starts_with(&self.buf) {
                // Could still become a BOM: wait for more bytes.
                return self.check_buffered();
            }
            self.bom_pending = false;
            if self.buf.starts_with(BOM) {
                self.line_start = BOM.len();
                self.search_pos = BOM.len();
            }
        }

        loop {
            if self.pending_cr {
                let Some(&next) = self.buf.get(self.line_start) else {
                    break;
                };
                self.pending_cr = false;
                if next == b'\n' {
                    self.line_start += 1;
                    self.last_eol_lone_cr = false;
                } else {
                    self.last_eol_lone_cr = true;
                }
                self.search_pos = self.line_start;
                if self.held {
                    self.held = false;
                    self.dispatch(out)?;
                }
            }

            let found = self
                .buf
                .get(self.search_pos..)
                .and_then(|hay| memchr2(b'\n', b'\r', hay));
            let Some(rel) = found else {
                self.search_pos = self.buf.len();
                break;
            };
            let eol = self.search_pos + rel;
            let blank = eol == self.line_start;
            if !blank {
                self.process_line(self.line_start, eol);
            }
            let mut next = eol + 1;
            if self.buf.get(eol) == Some(&b'\r') {
                match self.buf.get(next) {
                    Some(b'\n') => {
                        next += 1;
                        self.last_eol_lone_cr = false;
                    }
                    Some(_) => self.last_eol_lone_cr = true,
                    None => self.pending_cr = true,
                }
            } else {
                self.last_eol_lone_cr = false;
            }
            self.line_start = next;
            self.search_pos = next;

            if blank {
                if self.pending_cr && !self.last_eol_lone_cr {
                    // Event complete, but a `\n` may still belong to it.
                    self.held = true;
                    break;
                }
                self.dispatch(out)?;
            }
        }
        self.check_buffered()
    }

    fn check_buffered(&self) -> Result<(), SseError> {
        if self.buf.len() > self.max_event_bytes {
            Err(self.too_large())
        } else {
            Ok(())
        }
    }

    /// Interprets the non-empty line `buf[start..end]` (without its line ending).
    fn process_line(&mut self, start: usize, end: usize) {
        let Some(line) = self.buf.get(start..end) else {
            return;
        };
        if line.first() == Some(&b':') {
            return; // comment
        }
        let (name_len, value_off) = match memchr(b':', line) {
            Some(colon) => {
                let value_off = if line.get(colon + 1) == Some(&b' ') {
                    colon + 2
                } else {
                    colon + 1
                };
                (colon, value_off)
            }
            None => (line.len(), line.len()),
        };
        let name = line.get(..name_len).unwrap_or_default();
        let value = (start + value_off)..end;
        match name {
            b"data" => self.data_lines.push(value),
            b"event" => self.event = Some(value),
            b"id" => {
                let has_nul = line
                    .get(value_off..)
                    .is_some_and(|v| memchr(0, v).is_some());
                if !has_nul {
                    self.id = Some(value);
                }
            }
            _ => {} // `retry` and unknown fields: nothing to report
        }
    }

    /// Emits `buf[..line_start]` as an event and resets per-event state.
    fn dispatch(&mut self, out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        let end = self.line_start;
        if end > self.max_event_bytes {
            return Err(self.too_large());
        }
        if end > self.buf.len() {
            // Defensive: cannot happen, `line_start` never passes the buffer end.
            self.line_start = self.buf.len();
            return self.dispatch(out);
        }
        let raw = self.buf.split_to(end).freeze();
        let data = match self.data_lines.as_slice() {
            [] => None,
            [single] => Some(slice_of(&raw, single)),
            many => {
                let len = many.iter().map(ExactSizeIterator::len).sum::<usize>() + many.len() - 1;
                let mut joined = Vec::with_capacity(len);
                for (i, r) in many.iter().enumerate() {
                    if i > 0 {
                        joined.push(b'\n');
                    }
                    joined.extend_from_slice(raw.get(r.clone()).unwrap_or_default());
                }
                Some(Bytes::from(joined))
            }
        };
        let event = self.event.as_ref().map(|r| slice_of(&raw, r));
        let id = self.id.as_ref().map(|r| slice_of(&raw, r));
        out.push(SseEvent {
            raw,
            data,
            event,
            id,
        });
        self.line_start = 0;
        self.search_pos = self.search_pos.saturating_sub(end);
        self.clear_fields();
        Ok(())
    }
}

/// `raw.slice(r)` without the panic on an out-of-range `r`.
fn slice_of(raw: &Bytes, r: &Range<usize>) -> Bytes {
    if r.start <= r.end && r.end <= raw.len() {
        raw.slice(r.clone())
    } else {
        Bytes::new()
    }
}

/// Calls `f` for every line of `value`, split at `\r\n`, `\n` or `\r`.
/// An empty value, or a trailing line break, yields a final empty line.
fn for_each_line(value: &[u8], mut f: impl FnMut(&[u8])) {
    let mut rest = value;
    loop {
        match memchr2(b'\n', b'\r', rest) {
            None => {
                f(rest);
                return;
            }
            Some(i) => {
                let (line, tail) = rest.split_at(i);
                f(line);
                let eol_len = if tail.starts_with(b"\r\n") { 2 } else { 1 };
                rest = tail.get(eol_len..).unwrap_or_default();
            }
        }
    }
}

/// Appends `name: <line>\n` for every line of `value` (line breaks in the
/// value become separate field lines, so the framing cannot be broken).
fn put_field(buf: &mut BytesMut, name: &[u8], value: &[u8]) {
    for_each_line(value, |line| {
        buf.put_slice(name);
        buf.put_slice(b": ");
        buf.put_slice(line);
        buf.put_u8(b'\n');
    });
}

/// Builds `data: <payload>\n\n`.
///
/// If `payload` contains line breaks (`\r\n`, `\n` or `\r`), each line is
/// written as its own `data:` line, so a client re-joins them with `"\n"` and
/// the event framing cannot be broken by the payload. JSON produced by a
/// serializer never contains raw line breaks and takes the single-line path.
#[must_use]
pub fn data_event(payload: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(payload.len() + 8);
    put_field(&mut buf, b"data", payload);
    buf.put_u8(b'\n');
    buf.freeze()
}

/// Builds `event: <event>\ndata: <payload>\n\n` (Responses-API style).
///
/// Line breaks in `event` are replaced by spaces (an event type is a single
/// line); `payload` is written as in [`data_event`].
#[must_use]
pub fn typed_data_event(event: &[u8], payload: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(event.len() + payload.len() + 16);
    buf.put_slice(b"event: ");
    buf.extend(
        event
            .iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    buf.put_u8(b'\n');
    put_field(&mut buf, b"data", payload);
    buf.put_u8(b'\n');
    buf.freeze()
}

/// Builds a comment-only event `: <text>\n\n` (each line of `text` becomes
/// its own comment line). Clients ignore it; see also [`KEEPALIVE_EVENT`].
#[must_use]
pub fn comment_event(text: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(text.len() + 4);
    for_each_line(text, |line| {
        buf.put_slice(b": ");
        buf.put_slice(line);
        buf.put_u8(b'\n');
    });
    buf.put_u8(b'\n');
    buf.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BIG: usize = 1 << 20;

    /// Parses `chunks` in order; returns the events and `finish()`.
    fn run(chunks: &[&[u8]]) -> (Vec<SseEvent>, Option<Bytes>) {
        let mut p = SseParser::new(BIG);
        let mut out = Vec::new();
        for c in chunks {
            p.push(c, &mut out).expect("within limit");
        }
        let tail = p.finish();
        assert_eq!(p.buffered(), 0);
        (out, tail)
    }

    fn run_one(input: &[u8]) -> (Vec<SseEvent>, Option<Bytes>) {
        run(&[input])
    }

    fn concat(events: &[SseEvent], tail: &Option<Bytes>) -> Vec<u8> {
        let mut v = Vec::new();
        for e in events {
            v.extend_from_slice(&e.raw);
        }
        if let Some(t) = tail {
            v.extend_from_slice(t);
        }
        v
    }

    fn b(s: &[u8]) -> Option<Bytes> {
        Some(Bytes::copy_from_slice(s))
    }

    fn datas(events: &[SseEvent]) -> Vec<Option<Bytes>> {
        events.iter().map(|e| e.data.clone()).collect()
    }

    const CHAT: &str = concat!(
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n",
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"héllo 世界 🎉\"}}]}\n\n",
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" naïve café — ok\"}}]}\n\n",
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n",
    );

    const RESPONSES: &str = concat!(
        "event: response.created\n",
        "data: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\",\"status\":\"in_progress\"}}\n\n",
        ": keep-alive\n\n",
        "event: response.output_text.delta\n",
        "data: {\"type\":\"response.output_text.delta\",\"delta\":\"Grüße 🌍\"}\n\n",
        "event: response.output_text.delta\n",
        "data: {\"type\":\"response.output_text.delta\",\"delta\":\"日本語\"}\n\n",
        "event: response.completed\n",
        "data: {\"type\":\"response.completed\"}\n\n",
    );

    const CRLF: &str = concat!(
        "\u{feff}: hello\r\n",
        "id: 1\r\n",
        "data: {\"content\":\"héllo 世界 🎉\"}\r\n\r\n",
        "event: ping\r\n\r\n",
        "data: first\r\n",
        "data: second\r\n\r\n",
        "data: [DONE]\r\n\r\n",
    );

    const LONE_CR: &str = concat!(
        "data: {\"content\":\"héllo 世界 🎉\"}\r\r",
        ": comment\r\r",
        "event: e\rdata:x\rdata\r\r",
        "data: [DONE]\r\r",
    );

    const MIXED: &str = concat!(
        "data: a\r\n",
        "\n",
        "data: b\r",
        "\r\n",
        "data: c\n",
        "\r",
        "data: 🎉\r\r",
        "\n",
        "data: d\n\n",
    );

    // ---------------------------------------------------------------- basics

    #[test]
    fn openai_chat_stream() {
        let (events, tail) = run_one(CHAT.as_bytes());
        assert_eq!(tail, None);
        assert_eq!(events.len(), 5);
        let blocks: Vec<&str> = CHAT.split_inclusive("\n\n").collect();
        for (e, block) in events.iter().zip(&blocks) {
            assert_eq!(&e.raw[..], block.as_bytes());
            let expected = block.strip_prefix("data: ").unwrap().strip_suffix("\n\n");
            assert_eq!(e.data.as_deref(), expected.map(str::as_bytes));
            assert_eq!(e.event, None);
            assert_eq!(e.id, None);
            assert!(!e.is_keepalive());
        }
        let flags: Vec<bool> = events.iter().map(SseEvent::is_done).collect();
        assert_eq!(flags, [false, false, false, false, true]);
        assert!(std::str::from_utf8(events[1].data.as_ref().unwrap())
            .unwrap()
            .contains("héllo 世界 🎉"));
    }

    #[test]
    fn responses_api_stream_with_event_lines() {
        let (events, tail) = run_one(RESPONSES.as_bytes());
        assert_eq!(tail, None);
        let kinds: Vec<Option<Bytes>> = events.iter().map(|e| e.event.clone()).collect();
        assert_eq!(
            kinds,
            [
                b(b"response.created"),
                None,
                b(b"response.output_text.delta"),
                b(b"response.output_text.delta"),
                b(b"response.completed"),
            ]
        );
        assert!(events[1].is_keepalive());
        assert_eq!(events[1].data, None);
        assert_eq!(&events[1].raw[..], b": keep-alive\n\n");
        assert_eq!(
            events[2].data,
            b("{\"type\":\"response.output_text.delta\",\"delta\":\"Grüße 🌍\"}".as_bytes())
        );
        assert_eq!(
            &events[4].raw[..],
            b"event: response.completed\ndata: {\"type\":\"response.completed\"}\n\n"
        );
        assert!(events.iter().all(|e| !e.is_done()));
    }

    #[test]
    fn comments_inside_event_are_part_of_raw() {
        let input = b": ping\ndata: x\n: trailing comment\n\n";
        let (events, _) = run_one(input);
        assert_eq!(events.len(), 1);
        assert_eq!(&events[0].raw[..], input);
        assert_eq!(events[0].data, b(b"x"));
    }

    #[test]
    fn crlf_stream() {
        let (events, tail) = run_one(CRLF.as_bytes());
        assert_eq!(tail, None);
        assert_eq!(events.len(), 4);
        assert!(events[0].raw.starts_with(BOM));
        assert_eq!(
            events[0].raw,
            "\u{feff}: hello\r\nid: 1\r\ndata: {\"content\":\"héllo 世界 🎉\"}\r\n\r\n".as_bytes()
        );
        assert_eq!(events[0].id, b(b"1"));
        assert_eq!(
            events[0].data,
            b("{\"content\":\"héllo 世界 🎉\"}".as_bytes())
        );
        assert_eq!(events[1].event, b(b"ping"));
        assert_eq!(events[1].data, None);
        assert_eq!(events[2].data, b(b"first\nsecond"));
        assert_eq!(&events[3].raw[..], b"data: [DONE]\r\n\r\n");
        assert!(events[3].is_done());
    }

    #[test]
    fn lone_cr_stream() {
        let (events, tail) = run_one(LONE_CR.as_bytes());
        assert_eq!(tail, None);
        assert_eq!(
            datas(&events),
            [
                b("{\"content\":\"héllo 世界 🎉\"}".as_bytes()),
                None,
                b(b"x\n"),
                b(b"[DONE]"),
            ]
        );
        assert_eq!(&events[2].raw[..], b"event: e\rdata:x\rdata\r\r");
        assert_eq!(events[2].event, b(b"e"));
        assert!(events[3].is_done());
    }

    #[test]
    fn mixed_line_endings() {
        let (events, tail) = run_one(MIXED.as_bytes());
        assert_eq!(tail, None);
        assert_eq!(
            datas(&events),
            [b(b"a"), b(b"b"), b(b"c"), b("🎉".as_bytes()), b(b"d")]
        );
        let raws: Vec<&[u8]> = events.iter().map(|e| &e.raw[..]).collect();
        assert_eq!(
            raws,
            [
                &b"data: a\r\n\n"[..],
                b"data: b\r\r\n",
                b"data: c\n\r",
                "data: 🎉\r\r\n".as_bytes(),
                b"data: d\n\n",
            ]
        );
    }

    #[test]
    fn multi_line_data_is_joined() {
        let (events, _) = run_one(b"data: {\"a\":\ndata:1}\ndata\ndata: \n\n");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data, b(b"{\"a\":\n1}\n\n"));
    }

    #[test]
    fn single_data_line_is_zero_copy() {
        let (events, _) = run_one(b"event: x\ndata: payload\nid: 7\n\n");
        let e = &events[0];
        let raw = e.raw.as_ptr_range();
        for field in [&e.data, &e.event, &e.id] {
            let f = field.as_ref().unwrap();
            assert!(raw.contains(&f.as_ptr()), "field must point into raw");
            assert!(f.as_ptr_range().end <= raw.end);
        }
        assert_eq!(e.data, b(b"payload"));
        assert_eq!(e.event, b(b"x"));
        assert_eq!(e.id, b(b"7"));
    }

    #[test]
    fn bom_is_skipped_but_kept_in_raw() {
        let input = b"\xEF\xBB\xBFdata: hi\n\ndata: again\n\n";
        let (events, tail) = run_one(input);
        assert_eq!(tail, None);
        assert_eq!(&events[0].raw[..], b"\xEF\xBB\xBFdata: hi\n\n");
        assert_eq!(datas(&events), [b(b"hi"), b(b"again")]);
        // A BOM split over three chunks is still recognised.
        let (events, _) = run(&[b"\xEF", b"\xBB", b"\xBFdata: hi\n\n"]);
        assert_eq!(events[0].data, b(b"hi"));
        assert_eq!(&events[0].raw[..], b"\xEF\xBB\xBFdata: hi\n\n");
    }

    #[test]
    fn bom_only_at_stream_start() {
        // A BOM later on is part of the field name, so the field is ignored.
        let (events, _) = run_one(b"data: a\n\n\xEF\xBB\xBFdata: b\n\n");
        assert_eq!(datas(&events), [b(b"a"), None]);
        // A partial BOM followed by other bytes is ordinary data.
        let (events, tail) = run(&[b"\xEF\xBB", b"x\n\n"]);
        assert_eq!(events.len(), 1);
        assert_eq!(&events[0].raw[..], b"\xEF\xBBx\n\n");
        assert!(events[0].is_keepalive());
        assert_eq!(tail, None);
        // A lone BOM prefix at end of stream is returned by finish().
        let (events, tail) = run(&[b"\xEF\xBB"]);
        assert!(events.is_empty());
        assert_eq!(tail, b(b"\xEF\xBB"));
    }

    #[test]
    fn field_syntax_variants() {
        let (events, _) = run_one(
            b"data:nospace\n\n\
              data:  two spaces\n\n\
              data\n\n\
              data:\n\n\
              data: a:b: c\n\n\
              retry: 3000\nfoo: bar\nDATA: upper\n\n",
        );
        assert_eq!(
            datas(&events),
            [
                b(b"nospace"),
                b(b" two spaces"),
                b(b""),
                b(b""),
                b(b"a:b: c"),
                None,
            ]
        );
        assert!(events[5].is_keepalive());
    }

    #[test]
    fn event_without_data_and_last_value_wins() {
        let (events, _) = run_one(b"event: a\nevent: b\nid: 1\nid: 2\n\n");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data, None);
        assert_eq!(events[0].event, b(b"b"));
        assert_eq!(events[0].id, b(b"2"));
        assert!(!events[0].is_keepalive());
    }

    #[test]
    fn id_with_nul_is_ignored() {
        let (events, _) = run_one(b"id: 5\nid: x\0y\ndata: d\n\n");
        assert_eq!(events[0].id, b(b"5"));
        let (events, _) = run_one(b"id\ndata: d\n\n");
        assert_eq!(events[0].id, b(b""));
    }

    #[test]
    fn blank_lines_between_events_are_their_own_events() {
        let (events, tail) = run_one(b"data: a\n\n\n\r\ndata: b\n\n");
        assert_eq!(tail, None);
        let raws: Vec<&[u8]> = events.iter().map(|e| &e.raw[..]).collect();
        assert_eq!(raws, [&b"data: a\n\n"[..], b"\n", b"\r\n", b"data: b\n\n"]);
        assert!(events[1].is_keepalive() && events[2].is_keepalive());
        assert_eq!(datas(&events), [b(b"a"), None, None, b(b"b")]);
    }

    #[test]
    fn is_done_variants() {
        let ev = |data: Option<&[u8]>| SseEvent {
            raw: Bytes::new(),
            data: data.map(Bytes::copy_from_slice),
            event: None,
            id: None,
        };
        assert!(ev(Some(b"[DONE]")).is_done());
        assert!(ev(Some(b" [DONE]\t")).is_done());
        assert!(!ev(Some(b"[DONE]x")).is_done());
        assert!(!ev(Some(b"[done]")).is_done());
        assert!(!ev(Some(b"")).is_done());
        assert!(!ev(None).is_done());
    }

    // ------------------------------------------------ chunk-boundary handling

    #[test]
    fn cr_then_lf_in_next_chunk_is_one_line_ending() {
        let mut p = SseParser::new(BIG);
        let mut out = Vec::new();
        p.push(b"data: a\r", &mut out).unwrap();
        assert!(out.is_empty());
        p.push(b"\n\r", &mut out).unwrap();
        // CRLF stream: the event is complete but held for a possible `\n`.
        assert!(out.is_empty());
        assert_eq!(p.buffered(), 10);
        p.push(b"\ndata: b\r\n\r\n", &mut out).unwrap();
        let raws: Vec<&[u8]> = out.iter().map(|e| &e.raw[..]).collect();
        assert_eq!(raws, [&b"data: a\r\n\r\n"[..], b"data: b\r\n\r\n"]);
        assert_eq!(p.finish(), None);
    }

    #[test]
    fn held_event_released_by_next_non_lf_byte() {
        let mut p = SseParser::new(BIG);
        let mut out = Vec::new();
        p.push(b"data: a\n\r", &mut out).unwrap();
        assert!(out.is_empty());
        p.push(b"data: b\n\n", &mut out).unwrap();
        assert_eq!(datas(&out), [b(b"a"), b(b"b")]);
        assert_eq!(&out[0].raw[..], b"data: a\n\r");
    }

    #[test]
    fn cr_only_stream_emits_without_waiting() {
        let mut p = SseParser::new(BIG);
        let mut out = Vec::new();
        p.push(b"data: a\r\r", &mut out).unwrap();
        assert_eq!(out.len(), 1, "lone-CR stream must not hold the event");
        assert_eq!(p.buffered(), 0);
        // An unexpected `\n` completes the previous line ending: it goes to
        // the next event's raw and is not a blank line.
        p.push(b"\ndata: b\r\r", &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(&out[1].raw[..], b"\ndata: b\r\r");
        assert_eq!(out[1].data, b(b"b"));
        assert_eq!(p.finish(), None);
    }

    #[test]
    fn partial_line_is_not_rescanned() {
        // White-box: after each push the already-searched prefix is remembered,
        // so a long line arriving in tiny chunks costs O(total), not O(n^2).
        let mut p = SseParser::new(BIG);
        let mut out = Vec::new();
        p.push(b"data: first\n\ndata: ", &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(p.search_pos, p.buffered());
        for _ in 0..1000 {
            p.push(b"xyz", &mut out).unwrap();
            assert_eq!(p.search_pos, p.buffered());
            assert_eq!(p.line_start, 0);
        }
        p.push(b"\n\n", &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].data.as_ref().map(Bytes::len), Some(3000));
        assert_eq!((p.search_pos, p.line_start, p.buffered()), (0, 0, 0));
    }

    #[test]
    fn finish_into_releases_held_event() {
        let mut p = SseParser::new(BIG);
        let mut out = Vec::new();
        p.push(b"data: [DONE]\r\n\r", &mut out).unwrap();
        assert!(out.is_empty());
        assert_eq!(p.finish_into(&mut out), None);
        assert_eq!(out.len(), 1);
        assert!(out[0].is_done());
        assert_eq!(&out[0].raw[..], b"data: [DONE]\r\n\r");

        // finish() hands the same bytes back raw instead.
        let mut p = SseParser::new(BIG);
        let mut out = Vec::new();
        p.push(b"data: [DONE]\r\n\r", &mut out).unwrap();
        assert_eq!(p.finish(), b(b"data: [DONE]\r\n\r"));
        assert!(out.is_empty());
    }

    #[test]
    fn finish_returns_unterminated_tail() {
        let mut p = SseParser::new(BIG);
        let mut out = Vec::new();
        p.push(b"data: one\n\ndata: two\n", &mut out).unwrap();
        assert_eq!(datas(&out), [b(b"one")]);
        assert_eq!(p.buffered(), 10);
        assert_eq!(p.finish(), b(b"data: two\n"));
        assert_eq!(p.buffered(), 0);
        assert_eq!(p.finish(), None);

        // finish_into does not invent an event from an unterminated tail.
        let mut out = Vec::new();
        p.push(b"data: x", &mut out).unwrap();
        assert_eq!(p.finish_into(&mut out), b(b"data: x"));
        assert!(out.is_empty());
    }

    #[test]
    fn parser_is_reusable_after_finish() {
        let mut p = SseParser::new(BIG);
        let mut out = Vec::new();
        p.push(b"data: a\r", &mut out).unwrap();
        assert_eq!(p.finish(), b(b"data: a\r"));
        // New stream: the BOM is recognised again and no stale CR state remains.
        p.push(b"\xEF\xBB\xBF\ndata: b\n\n", &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(&out[0].raw[..], b"\xEF\xBB\xBF\n");
        assert!(out[0].is_keepalive());
        assert_eq!(out[1].data, b(b"b"));
    }

    /// Asserts that two event lists are identical in raw, data, event and id.
    fn assert_same(got: &[SseEvent], want: &[SseEvent], ctx: &str) {
        assert_eq!(got.len(), want.len(), "event count ({ctx})");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert_eq!(g, w, "event {i} ({ctx})");
        }
    }

    /// Every 2-way split, 1-byte chunks, and (for short inputs) every 3-way
    /// split must give the same events as the unsplit parse.
    fn check_split_invariance(input: &[u8], expected_events: usize) {
        let (want, want_tail) = run_one(input);
        assert_eq!(want.len(), expected_events);
        assert_eq!(concat(&want, &want_tail), input);

        for i in 0..=input.len() {
            let (a, c) = input.split_at(i);
            let (got, tail) = run(&[a, c]);
            assert_same(&got, &want, &format!("split at {i}"));
            assert_eq!(tail, want_tail, "tail, split at {i}");
            assert_eq!(concat(&got, &tail), input);
        }

        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        let (got, tail) = run(&bytes);
        assert_same(&got, &want, "1-byte chunks");
        assert_eq!(tail, want_tail);

        if input.len() <= 200 {
            for i in 0..=input.len() {
                for j in i..=input.len() {
                    let (got, tail) = run(&[&input[..i], &input[i..j], &input[j..]]);
                    assert_same(&got, &want, &format!("split at {i},{j}"));
                    assert_eq!(tail, want_tail);
                }
            }
        }
    }

    #[test]
    fn split_invariance_chat() {
        check_split_invariance(CHAT.as_bytes(), 5);
    }

    #[test]
    fn split_invariance_responses() {
        check_split_invariance(RESPONSES.as_bytes(), 5);
    }

    #[test]
    fn split_invariance_crlf_with_bom() {
        check_split_invariance(CRLF.as_bytes(), 4);
    }

    #[test]
    fn split_invariance_lone_cr() {
        check_split_invariance(LONE_CR.as_bytes(), 4);
    }

    #[test]
    fn split_invariance_with_unterminated_tail() {
        let input = "data: {\"x\":\"é🎉\"}\r\n\r\n: c\r\ndata: {\"y\":\"世\"}\r\n".as_bytes();
        check_split_invariance(input, 1);
        let (_, tail) = run_one(input);
        assert_eq!(tail, b(": c\r\ndata: {\"y\":\"世\"}\r\n".as_bytes()));
    }

    #[test]
    fn split_preserves_fields_for_mixed_endings() {
        // In a stream mixing lone CR and CRLF a `\n` may move to the next
        // event's raw (see module docs) but fields and bytes are unaffected.
        let input = MIXED.as_bytes();
        let (want, _) = run_one(input);
        for i in 0..=input.len() {
            let (a, c) = input.split_at(i);
            let (got, tail) = run(&[a, c]);
            assert_eq!(fields(&got), fields(&want), "split at {i}");
            assert_eq!(concat(&got, &tail), input);
        }
    }

    // ----------------------------------------------------------------- limits

    #[test]
    fn event_too_large_in_one_chunk() {
        let mut p = SseParser::new(16);
        let mut out = Vec::new();
        let err = p
            .push(b"data: ok\n\ndata: this one is far too long\n\n", &mut out)
            .unwrap_err();
        assert_eq!(err, SseError::EventTooLarge { limit: 16 });
        // The event before the offending one was still delivered.
        assert_eq!(datas(&out), [b(b"ok")]);
        // Poisoned until finish().
        assert_eq!(p.push(b"data: x\n\n", &mut out), Err(err.clone()));
        assert_eq!(out.len(), 1);
        assert!(p.finish().is_some());
        p.push(b"data: x\n\n", &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(
            err.to_string(),
            "server-sent event exceeds the limit of 16 bytes"
        );
        let _: &dyn std::error::Error = &err;
    }

    #[test]
    fn event_too_large_detected_while_incomplete() {
        let mut p = SseParser::new(64);
        let mut out = Vec::new();
        let line = [b'a'; 10];
        p.push(b"data: ", &mut out).unwrap();
        let mut result = Ok(());
        let mut pushes = 0;
        while result.is_ok() && pushes < 100 {
            result = p.push(&line, &mut out);
            pushes += 1;
        }
        assert_eq!(result, Err(SseError::EventTooLarge { limit: 64 }));
        assert_eq!(pushes, 6, "error as soon as the buffer passes the limit");
        assert!(out.is_empty());
    }

    #[test]
    fn limit_boundary_is_inclusive() {
        let event = b"data: 0123456789\n\n"; // 18 bytes
        let mut p = SseParser::new(event.len());
        let mut out = Vec::new();
        p.push(event, &mut out).unwrap();
        assert_eq!(out.len(), 1);
        let mut p = SseParser::new(event.len() - 1);
        assert!(p.push(event, &mut out).is_err());
        // Same when the event arrives byte by byte.
        let mut p = SseParser::new(event.len() - 1);
        let results: Vec<bool> = event
            .iter()
            .map(|b| p.push(&[*b], &mut out).is_ok())
            .collect();
        assert_eq!(results.iter().filter(|ok| !**ok).count(), 1);
        assert!(!results[event.len() - 1]);
    }

    #[test]
    fn many_small_events_do_not_trip_the_limit() {
        let event = b"data: {\"delta\":\"x\"}\n\n";
        let stream: Vec<u8> = event
            .iter()
            .copied()
            .cycle()
            .take(event.len() * 200)
            .collect();
        let limit = event.len();
        // All at once.
        let mut p = SseParser::new(limit);
        let mut out = Vec::new();
        p.push(&stream, &mut out).unwrap();
        assert_eq!(out.len(), 200);
        // In awkward chunks (each chunk spans more than one event).
        let mut p = SseParser::new(limit);
        let mut out = Vec::new();
        for c in stream.chunks(limit + 7) {
            p.push(c, &mut out).unwrap();
        }
        assert_eq!(out.len(), 200);
        assert_eq!(p.finish(), None);
    }

    // --------------------------------------------------------------- writers

    #[test]
    fn writers_produce_expected_bytes() {
        assert_eq!(&data_event(b"{\"a\":1}")[..], b"data: {\"a\":1}\n\n");
        assert_eq!(&data_event(b"")[..], b"data: \n\n");
        assert_eq!(
            &data_event(b"a\r\nb\rc\n")[..],
            b"data: a\ndata: b\ndata: c\ndata: \n\n"
        );
        assert_eq!(
            &typed_data_event(b"response.output_text.delta", b"{}")[..],
            b"event: response.output_text.delta\ndata: {}\n\n"
        );
        assert_eq!(
            &typed_data_event(b"a\nb", b"x")[..],
            b"event: a b\ndata: x\n\n"
        );
        assert_eq!(&comment_event(b"keep-alive")[..], KEEPALIVE_EVENT);
        assert_eq!(&comment_event(b"a\nb")[..], b": a\n: b\n\n");
    }

    #[test]
    fn writers_round_trip_through_parser() {
        let payload = "{\"content\":\"héllo 世界 🎉\"}".as_bytes();
        let mut stream = Vec::new();
        stream.extend_from_slice(&data_event(payload));
        stream.extend_from_slice(&data_event(b"line1\nline2\n"));
        stream.extend_from_slice(&typed_data_event(b"t", b"p"));
        stream.extend_from_slice(&comment_event(b"x\ny"));
        stream.extend_from_slice(DONE_EVENT);
        let (events, tail) = run_one(&stream);
        assert_eq!(tail, None);
        assert_eq!(
            datas(&events),
            [
                b(payload),
                b(b"line1\nline2\n"),
                b(b"p"),
                None,
                b(b"[DONE]")
            ]
        );
        assert_eq!(events[2].event, b(b"t"));
        assert!(events[3].is_keepalive());
        assert!(events[4].is_done());
    }

    // ------------------------------------------- randomized model comparison

    type Fields = (Option<Bytes>, Option<Bytes>, Option<Bytes>);

    fn fields(events: &[SseEvent]) -> Vec<Fields> {
        events
            .iter()
            .map(|e| (e.data.clone(), e.event.clone(), e.id.clone()))
            .collect()
    }

    /// A straightforward whole-input implementation of the same rules, used
    /// as the oracle: (raw, fields) per event, plus the tail.
    fn reference(input: &[u8]) -> (Vec<(Vec<u8>, Fields)>, Vec<u8>) {
        let mut events = Vec::new();
        let mut pos = if input.starts_with(BOM) { 3 } else { 0 };
        let mut ev_start = 0;
        let mut data: Option<Vec<u8>> = None;
        let mut event: Option<Vec<u8>> = None;
        let mut id: Option<Vec<u8>> = None;
        let mut prev_lone_cr = false;
        while let Some(i) = input[pos..].iter().position(|&c| c == b'\n' || c == b'\r') {
            let eol = pos + i;
            let line = &input[pos..eol];
            let (next, lone_cr, undecided) = match (input[eol], input.get(eol + 1)) {
                (b'\r', Some(b'\n')) => (eol + 2, false, false),
                (b'\r', Some(_)) => (eol + 1, true, false),
                (b'\r', None) => (eol + 1, false, true),
                _ => (eol + 1, false, false),
            };
            if line.is_empty() {
                if undecided && !prev_lone_cr {
                    break; // held: ends up in the tail
                }
                let f = (
                    data.take().map(Bytes::from),
                    event.take().map(Bytes::from),
                    id.take().map(Bytes::from),
                );
                events.push((input[ev_start..next].to_vec(), f));
                ev_start = next;
            } else if line[0] != b':' {
                let (name, mut value) = match line.iter().position(|&c| c == b':') {
                    Some(c) => (&line[..c], &line[c + 1..]),
                    None => (line, &b""[..]),
                };
                if value.first() == Some(&b' ') {
                    value = &value[1..];
                }
                match name {
                    b"data" => match &mut data {
                        Some(d) => {
                            d.push(b'\n');
                            d.extend_from_slice(value);
                        }
                        None => data = Some(value.to_vec()),
                    },
                    b"event" => event = Some(value.to_vec()),
                    b"id" if !value.contains(&0) => id = Some(value.to_vec()),
                    _ => {}
                }
            }
            if !undecided {
                prev_lone_cr = lone_cr;
            }
            pos = next;
        }
        (events, input[ev_start..].to_vec())
    }

    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            // xorshift64*
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// line-ending mode: 0 = LF, 1 = CRLF, 2 = CR, 3 = mixed.
    fn random_stream(rng: &mut Rng, mode: usize) -> Vec<u8> {
        const CONTENT: &[&[u8]] = &[
            b"a",
            b"{\"k\":",
            b"1}",
            b" ",
            b":",
            b"\0",
            "é".as_bytes(),
            "世界".as_bytes(),
            "🎉".as_bytes(),
            b"\xEF\xBB\xBF",
            b"\xFF",
            b"[DONE]",
            b"data",
            b"id",
        ];
        const NAMES: &[&[u8]] = &[
            b"data: ", b"data:", b"data", b"event: ", b"id: ", b"id:", b": ", b":", b"retry: ",
            b"foo: ", b"", b"", b"", b"DATA: ", b" data: ",
        ];
        let mut s = Vec::new();
        if rng.below(4) == 0 {
            s.extend_from_slice(BOM);
        }
        for _ in 0..rng.below(30) {
            s.extend_from_slice(NAMES[rng.below(NAMES.len())]);
            if rng.below(3) != 0 {
                for _ in 0..rng.below(5) {
                    s.extend_from_slice(CONTENT[rng.below(CONTENT.len())]);
                }
            }
            let eol: &[u8] = match if mode == 3 { rng.below(3) } else { mode } {
                0 => b"\n",
                1 => b"\r\n",
                _ => b"\r",
            };
            s.extend_from_slice(eol);
        }
        if rng.below(3) == 0 {
            s.extend_from_slice(b"data: unterminated");
        }
        s
    }

    #[test]
    fn randomized_streams_match_reference() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for round in 0..3000 {
            let mode = round % 4;
            let input = random_stream(&mut rng, mode);
            let (want, want_tail) = reference(&input);
            let want_fields: Vec<Fields> = want.iter().map(|(_, f)| f.clone()).collect();

            // Random chunking, including empty chunks.
            let mut chunks = Vec::new();
            let mut rest = &input[..];
            while !rest.is_empty() {
                let n = rng.below(rest.len().min(12) + 1);
                let (c, r) = rest.split_at(n);
                chunks.push(c);
                rest = r;
            }
            for split in [vec![&input[..]], chunks] {
                let (got, tail) = run(&split);
                assert_eq!(fields(&got), want_fields, "round {round}: {input:?}");
                assert_eq!(concat(&got, &tail), input, "round {round}");
                if mode != 3 {
                    let raws: Vec<&[u8]> = got.iter().map(|e| &e.raw[..]).collect();
                    let want_raws: Vec<&[u8]> = want.iter().map(|(r, _)| &r[..]).collect();
                    assert_eq!(raws, want_raws, "round {round}: {input:?}");
                    assert_eq!(tail.as_deref().unwrap_or_default(), &want_tail[..]);
                }
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_lose_nothing() {
        let mut rng = Rng(42);
        for _ in 0..2000 {
            let len = rng.below(64);
            let input: Vec<u8> = (0..len)
                .map(|_| match rng.below(6) {
                    0 => b'\n',
                    1 => b'\r',
                    2 => b':',
                    _ => rng.next() as u8,
                })
                .collect();
            let limit = rng.below(48);
            let mut p = SseParser::new(limit);
            let mut out = Vec::new();
            let mut failed = false;
            for c in input.chunks(rng.below(8) + 1) {
                if p.push(c, &mut out).is_err() {
                    failed = true;
                    break;
                }
            }
            assert!(out.iter().all(|e| e.raw.len() <= limit));
            if !failed {
                let tail = p.finish();
                assert_eq!(concat(&out, &tail), input);
            }
        }
    }
}
