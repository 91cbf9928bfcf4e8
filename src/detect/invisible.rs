//! Invisible format characters removed by the normaliser, and the rules
//! deciding which removals count as hidden text (see
//! [`super::Normalized::had_hidden_chars`]).

/// How a removed character affects [`Normalized::had_hidden_chars`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Invisible {
    /// Always suspicious: zero-width space, word joiner, bidi controls, ...
    Hard,
    /// U+FEFF: fine only at the very start.
    Bom,
    /// ZWJ/ZWNJ: fine between two non-ASCII characters.
    Joiner,
    /// Variation selectors: fine alone, suspicious in runs.
    Selector,
    /// Tag characters: fine only inside an emoji tag sequence.
    Tag,
    /// Removed without comment (soft hyphen, fillers, ...).
    Silent,
}

/// Classifies characters removed from the normalised text.
pub(crate) fn invisible(c: char) -> Option<Invisible> {
    let kind = match c {
        '\u{200B}'
        | '\u{2060}'..='\u{2064}'
        | '\u{206A}'..='\u{206F}'
        | '\u{061C}'
        | '\u{200E}'
        | '\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}'
        | '\u{180E}'
        | '\u{3164}'
        | '\u{FFA0}'
        | '\u{FFF9}'..='\u{FFFB}' => Invisible::Hard,
        '\u{FEFF}' => Invisible::Bom,
        '\u{200C}' | '\u{200D}' => Invisible::Joiner,
        '\u{FE00}'..='\u{FE0F}'
        | '\u{E0100}'..='\u{E01EF}'
        | '\u{180B}'..='\u{180D}'
        | '\u{180F}' => Invisible::Selector,
        '\u{E0000}'..='\u{E007F}' => Invisible::Tag,
        '\u{00AD}'
        | '\u{034F}'
        | '\u{115F}'
        | '\u{1160}'
        | '\u{17B4}'
        | '\u{17B5}'
        | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}' => Invisible::Silent,
        _ => return None,
    };
    Some(kind)
}

/// True when a well-formed emoji tag sequence (tag letters/digits then
/// CANCEL TAG, at most seven) starts at the beginning of `rest`.
fn is_emoji_tag_run(rest: &str) -> bool {
    let mut count = 0;
    for c in rest.chars() {
        match c {
            '\u{E007F}' => return count > 0,
            '\u{E0030}'..='\u{E0039}' | '\u{E0061}'..='\u{E007A}' if count < 7 => count += 1,
            _ => return false,
        }
    }
    false
}

/// Whether removing `kind` at byte `pos` of `src` (after `prev`) counts as
/// hidden text.
pub(crate) fn is_suspicious(kind: Invisible, src: &str, pos: usize, prev: Option<char>) -> bool {
    let here = src.get(pos..).unwrap_or_default();
    let next = here.chars().nth(1);
    let is = |c: Option<char>, k: Invisible| c.is_some_and(|c| invisible(c) == Some(k));
    match kind {
        Invisible::Hard => true,
        Invisible::Silent => false,
        Invisible::Bom => pos != 0,
        Invisible::Joiner => [prev, next]
            .iter()
            .any(|&n| n.is_none_or(|c| c.is_ascii()) || is(n, Invisible::Joiner)),
        Invisible::Selector => prev.is_none() || is(prev, Invisible::Selector),
        Invisible::Tag => match prev {
            _ if is(prev, Invisible::Tag) => false,
            Some('\u{1F3F4}') => !is_emoji_tag_run(here),
            _ => true,
        },
    }
}
