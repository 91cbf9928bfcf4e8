//! The searched view of a text: whitespace runs collapsed and/or case
//! folded, with an [`OffsetMap`] back to the text.

use super::super::offsets::OffsetMap;

fn next_char(text: &str, at: usize) -> Option<char> {
    text.get(at..)?.chars().next()
}

/// Appends the case fold of `c` (see the module docs).
pub(super) fn fold_case(c: char, out: &mut String) {
    match c {
        'ß' | 'ẞ' => out.push_str("ss"),
        'ς' => out.push('σ'),
        'İ' => out.push('i'),
        _ => out.extend(c.to_lowercase()),
    }
}

/// True when `text` has whitespace other than isolated ASCII spaces.
pub(super) fn has_irregular_whitespace(text: &str) -> bool {
    let mut prev_space = false;
    for (i, &b) in text.as_bytes().iter().enumerate() {
        let irregular = match b {
            b' ' => prev_space,
            b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => true,
            // Lead bytes of U+0085, U+00A0, U+1680, U+2000..U+205F, U+3000.
            0xc2 | 0xe1 | 0xe2 => next_char(text, i).is_some_and(char::is_whitespace),
            0xe3 => {
                text.as_bytes().get(i + 1) == Some(&0x80)
                    && text.as_bytes().get(i + 2) == Some(&0x80)
            }
            _ => false,
        };
        if irregular {
            return true;
        }
        prev_space = b == b' ';
    }
    false
}

/// Builds the searched view of `text`: whitespace runs collapsed to one
/// space and/or non-ASCII characters case-folded, with offsets back.
pub(super) fn build_view(text: &str, collapse: bool, fold: bool) -> (String, OffsetMap) {
    let mut view = String::with_capacity(text.len() + 8);
    let mut map = OffsetMap::with_capacity(16);
    let mut pos = 0;
    while let Some(rest) = text.get(pos..) {
        let Some(c) = rest.chars().next() else { break };
        let len = c.len_utf8();
        if collapse && c.is_whitespace() {
            let run = rest
                .find(|x: char| !x.is_whitespace())
                .unwrap_or(rest.len());
            view.push(' ');
            if run == 1 && c == ' ' {
                map.push_linear(pos..pos + 1);
            } else {
                map.push_atomic(pos..pos + run, 1);
            }
            pos += run;
        } else if c.is_ascii() {
            let run = rest
                .bytes()
                .position(|b| !b.is_ascii() || (collapse && char::from(b).is_whitespace()))
                .unwrap_or(rest.len());
            view.push_str(rest.get(..run).unwrap_or_default());
            map.push_linear(pos..pos + run);
            pos += run;
        } else {
            let start = view.len();
            let mut lower = c.to_lowercase();
            match lower.next() {
                // One-to-one lowercase (the common case), not a special fold.
                Some(l) if fold && lower.len() == 0 && !matches!(c, 'ß' | 'ẞ' | 'ς' | 'İ') => {
                    view.push(l)
                }
                _ if fold => fold_case(c, &mut view),
                _ => view.push(c),
            }
            let produced = view.get(start..).unwrap_or_default();
            if produced.len() == len && produced.chars().count() == 1 {
                map.push_linear(pos..pos + len);
            } else {
                map.push_atomic(pos..pos + len, produced.len());
            }
            pos += len;
        }
    }
    (view, map)
}
