//! Any bytes as an upstream SSE stream, cut into reads at fuzzer-chosen points.
//!
//! Input layout: `flags` byte, then `flags & 0x0f` chunk lengths (one byte each; the
//! lengths are used in turn until the stream is consumed, a 0 pushes an empty read
//! first), then, if `flags & 0x80`, one byte selecting a small event-size limit
//! (`4 * b + 1`), then the stream itself.
//!
//! Invariants:
//! - byte accounting: every `raw` of every event, then the tail of `finish_into`,
//!   concatenated, equal the bytes that were accepted (all of them unless the size
//!   limit tripped; then everything up to and including the read that tripped it);
//! - the same stream pushed in one read gives the same events (data, event, id of
//!   every non-keep-alive event) when no limit trips;
//! - `StreamAccumulator`, for every endpoint, never panics on any event's data, and
//!   what a chunk reports as appended is exactly what the choice's text grew by, on
//!   char boundaries (the stream guard slices the text with those ranges).
#![no_main]

use libfuzzer_sys::fuzz_target;
use parapet::proxy::openai::{Endpoint, StreamAccumulator};
use parapet::proxy::sse::{SseEvent, SseParser};

const ENDPOINTS: [Endpoint; 4] = [
    Endpoint::ChatCompletions,
    Endpoint::Completions,
    Endpoint::Embeddings,
    Endpoint::Responses,
];

struct Input<'a> {
    lengths: &'a [u8],
    limit: usize,
    stream: &'a [u8],
}

fn split(data: &[u8]) -> Option<Input<'_>> {
    let (&flags, rest) = data.split_first()?;
    let n = usize::from(flags & 0x0f);
    let lengths = rest.get(..n)?;
    let mut rest = &rest[n..];
    let mut limit = 1 << 20;
    if flags & 0x80 != 0 {
        let (&b, r) = rest.split_first()?;
        limit = 4 * usize::from(b) + 1;
        rest = r;
    }
    Some(Input {
        lengths,
        limit,
        stream: rest,
    })
}

/// Pushes `stream` in reads; returns the events, the tail, the accepted bytes and
/// whether the limit tripped.
fn parse(input: &Input<'_>, one_read: bool) -> (Vec<SseEvent>, Vec<u8>, usize, bool) {
    let mut parser = SseParser::new(input.limit);
    let mut events = Vec::new();
    let mut at = 0;
    let mut failed = false;
    let mut turn = 0;
    while at < input.stream.len() && !failed {
        let len = if one_read || input.lengths.is_empty() {
            input.stream.len() - at
        } else {
            let l = usize::from(input.lengths[turn % input.lengths.len()]);
            turn += 1;
            if l == 0 {
                // An empty read must be harmless.
                if parser.push(&[], &mut events).is_err() {
                    failed = true;
                    break;
                }
            }
            l.max(1).min(input.stream.len() - at)
        };
        let chunk = &input.stream[at..at + len];
        at += len;
        if parser.push(chunk, &mut events).is_err() {
            failed = true;
            // A poisoned parser refuses everything until `finish`.
            assert!(parser.push(b"data: x\n\n", &mut events).is_err());
        }
    }
    let tail = if failed {
        parser.finish()
    } else {
        parser.finish_into(&mut events)
    };
    assert_eq!(parser.buffered(), 0, "finish leaves the parser empty");
    (
        events,
        tail.map(|t| t.to_vec()).unwrap_or_default(),
        at,
        failed,
    )
}

/// `data`, `event` and `id` of one event.
type Fields<'a> = (Option<&'a [u8]>, Option<&'a [u8]>, Option<&'a [u8]>);

fn fields(events: &[SseEvent]) -> Vec<Fields<'_>> {
    events
        .iter()
        .filter(|e| !e.is_keepalive())
        .map(|e| (e.data.as_deref(), e.event.as_deref(), e.id.as_deref()))
        .collect()
}

fn accumulate(events: &[SseEvent]) {
    for endpoint in ENDPOINTS {
        let mut acc = StreamAccumulator::new(endpoint);
        for ev in events {
            let Some(data) = ev.data.as_deref() else {
                continue;
            };
            if ev.is_done() {
                continue;
            }
            let name = ev
                .event
                .as_deref()
                .and_then(|e| std::str::from_utf8(e).ok());
            let before: Vec<(u32, usize)> = acc
                .choices()
                .iter()
                .map(|c| (c.index, c.text.len()))
                .collect();
            match acc.push_event(name, data) {
                Ok(delta) => {
                    for ch in acc.choices() {
                        let old = before
                            .iter()
                            .find(|(i, _)| *i == ch.index)
                            .map_or(0, |&(_, l)| l);
                        let grew = ch.text.len() - old;
                        let told: usize = delta
                            .appended
                            .iter()
                            .filter(|(i, _)| *i == ch.index)
                            .map(|&(_, n)| n)
                            .sum();
                        assert_eq!(grew, told, "appended misreports choice {}", ch.index);
                    }
                    for &(c, n) in &delta.appended {
                        let ch = acc
                            .choices()
                            .iter()
                            .find(|ch| ch.index == c)
                            .expect("an appended choice exists");
                        assert!(ch.text.is_char_boundary(ch.text.len() - n));
                    }
                }
                // The stream is broken: start over, as the relay would not go on.
                Err(_) => acc = StreamAccumulator::new(endpoint),
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = split(data) else {
        return;
    };
    let (events, tail, accepted, failed) = parse(&input, false);
    let mut joined = Vec::with_capacity(accepted);
    for ev in &events {
        assert!(!ev.raw.is_empty(), "an event has no bytes");
        joined.extend_from_slice(&ev.raw);
    }
    joined.extend_from_slice(&tail);
    assert!(
        joined == input.stream[..accepted],
        "raw bytes + tail differ from the input"
    );
    if !failed {
        assert_eq!(accepted, input.stream.len());
        let (whole, _, _, whole_failed) = parse(&input, true);
        if !whole_failed {
            assert_eq!(
                fields(&events),
                fields(&whole),
                "events depend on how the stream was cut"
            );
        }
    }
    accumulate(&events);
});
