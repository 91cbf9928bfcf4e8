//! Normalised matching copy of a text, with offsets back to the original.
//!
//! [`Normalized::new`] produces the text that keyword, regex and PII rules
//! match against:
//!
//! 1. invisible characters are removed: zero-width space/joiners (U+200B..U+200D),
//!    word joiner and invisible operators (U+2060..U+2064), deprecated format
//!    controls (U+206A..U+206F), BOM/ZWNBSP (U+FEFF), bidi controls (U+061C,
//!    U+200E, U+200F, U+202A..U+202E, U+2066..U+2069), tag characters
//!    (U+E0000..U+E007F), variation selectors (U+FE00..U+FE0F,
//!    U+E0100..U+E01EF, Mongolian U+180B..U+180F), interlinear annotation
//!    controls (U+FFF9..U+FFFB), soft hyphen (U+00AD), combining grapheme
//!    joiner (U+034F), Hangul fillers (U+115F, U+1160, U+3164, U+FFA0), Khmer
//!    inherent vowels (U+17B4, U+17B5) and musical formatting controls
//!    (U+1D173..U+1D17A);
//! 2. the rest is put in NFKC (fullwidth forms, ligatures such as `ﬁ`,
//!    mathematical alphanumerics, superscripts, ... become plain letters);
//! 3. common look-alikes of ASCII letters are folded to ASCII (see
//!    `confusables.rs` for the exact scope).
//!
//! Nothing else changes: whitespace is kept as is and case is preserved, so
//! matchers decide about case and spans stay intuitive.
//!
//! [`Normalized::had_hidden_chars`] reports removed characters that are used
//! to hide or reorder text. To stay quiet on ordinary emoji and scripts it
//! ignores: soft hyphens and the other silent fillers above; a BOM at the very
//! start; ZWJ/ZWNJ whose neighbours are both non-ASCII and not themselves
//! joiners (emoji sequences, Indic and Persian text); a single variation
//! selector (runs of two or more are flagged, as used to smuggle bytes); and a
//! well-formed emoji tag sequence (U+1F3F4 followed by at most seven tag
//! letters/digits and U+E007F, i.e. subdivision flags).

use std::iter;
use std::ops::Range;

use unicode_normalization::char::{canonical_combining_class, decompose_compatible};
use unicode_normalization::{is_nfc_quick, is_nfkc_quick, IsNormalized, UnicodeNormalization};

use super::confusables;
use super::invisible::{invisible, is_suspicious, Invisible};
use super::offsets::OffsetMap;

/// Normalised copy of a text plus the map back to the original's bytes.
#[derive(Debug, Clone)]
pub struct Normalized {
    /// The normalised text that matchers run on.
    pub text: String,
    /// `None` when `text` equals the original (identity mapping).
    map: Option<OffsetMap>,
    hidden: bool,
}

impl Normalized {
    /// Normalises `original`: removes invisible format characters, applies
    /// NFKC and folds common confusable look-alikes to ASCII (see the module
    /// docs). ASCII input is copied without building an offset map.
    pub fn new(original: &str) -> Normalized {
        if original.is_ascii() {
            return Normalized {
                text: original.to_owned(),
                map: None,
                hidden: false,
            };
        }
        Builder::new(original).run()
    }

    /// Maps a byte range of [`Self::text`] back to the byte range of the
    /// original that produced it.
    ///
    /// Out-of-bounds ends are clamped and ends inside a character are widened
    /// to the whole character. A character produced from several original
    /// characters (NFKC composition, a base with its removed combining marks)
    /// maps to all of them; removed invisible characters strictly inside the
    /// range are included, those just outside it are not. The result always
    /// lies on UTF-8 character boundaries of the original and is monotonic in
    /// both ends.
    pub fn to_original(&self, range: Range<usize>) -> Range<usize> {
        let len = self.text.len();
        let mut start = range.start.min(len);
        let mut end = range.end.min(len).max(start);
        while !self.text.is_char_boundary(start) {
            start -= 1;
        }
        while !self.text.is_char_boundary(end) {
            end += 1;
        }
        match &self.map {
            None => start..end,
            Some(map) => map.map_range(start..end),
        }
    }

    /// True when the normalised text is byte-for-byte the original, so
    /// [`Self::to_original`] is the identity.
    pub fn is_identity(&self) -> bool {
        self.map.is_none()
    }

    /// True when characters used to hide or reorder text (tag characters,
    /// zero-width characters, bidi controls, variation-selector runs) were
    /// removed; see the module docs for the exemptions.
    pub fn had_hidden_chars(&self) -> bool {
        self.hidden
    }
}

/// Normalisation properties of one non-ASCII character.
#[derive(Clone, Copy)]
struct Props {
    /// Removed from the normalised text, and how it affects the flag.
    invisible: Option<Invisible>,
    /// [`boundary_before`].
    boundary: bool,
    /// NFKC leaves the character alone when it stands by itself.
    stable: bool,
    /// ASCII look-alike from the confusables table.
    fold: Option<char>,
}

impl Props {
    fn of(c: char) -> Props {
        let invisible = invisible(c);
        let stable = invisible.is_none()
            && is_nfkc_quick(iter::once(c)) == IsNormalized::Yes
            && canonical_combining_class(c) == 0;
        Props {
            invisible,
            // A stable starter has itself as decomposition and does not
            // combine backwards, so it is a boundary.
            boundary: invisible.is_none() && (stable || boundary_before(c)),
            stable,
            fold: confusables::fold(c),
        }
    }
}

/// Slots in the per-call cache of [`Props`] (text is usually in a few
/// scripts, so a small direct-mapped cache catches most repeats).
const CACHE_SLOTS: usize = 128;

/// True when normalisation never interacts across a boundary before `c`
/// (its NFKD starts with a starter that cannot combine backwards), so the
/// text before `c` and the text from `c` on can be normalised separately.
fn boundary_before(c: char) -> bool {
    if c.is_ascii() {
        return true;
    }
    let mut first = None;
    decompose_compatible(c, |d| {
        first.get_or_insert(d);
    });
    let first = first.unwrap_or(c);
    canonical_combining_class(first) == 0 && is_nfc_quick(iter::once(first)) != IsNormalized::Maybe
}

/// Incremental normaliser: splits the source into normalisation segments
/// (a boundary character plus everything up to the next boundary) and emits
/// each one either unchanged (linear) or normalised (atomic).
struct Builder<'a> {
    src: &'a str,
    text: String,
    map: OffsetMap,
    changed: bool,
    hidden: bool,
    /// Characters of the open segment, removed characters excluded.
    seg: Vec<char>,
    seg_start: usize,
    seg_end: usize,
    /// A removed character sits inside the open segment.
    seg_gap: bool,
    /// Removed characters were seen after the segment's last character.
    pending_gap: bool,
    /// The open segment's first character is left alone by NFKC ...
    seg_stable: bool,
    /// ... and this is its confusable fold.
    seg_fold: Option<char>,
    /// Scratch buffer for the slow path.
    buf: Vec<char>,
    /// Direct-mapped cache of [`Props`] by code point.
    cache: [(char, Props); CACHE_SLOTS],
}

impl<'a> Builder<'a> {
    fn new(src: &'a str) -> Self {
        Builder {
            src,
            text: String::with_capacity(src.len()),
            map: OffsetMap::with_capacity(16),
            changed: false,
            hidden: false,
            seg: Vec::with_capacity(8),
            seg_start: 0,
            seg_end: 0,
            seg_gap: false,
            pending_gap: false,
            seg_stable: false,
            seg_fold: None,
            buf: Vec::new(),
            cache: [('\0', Props::of('\0')); CACHE_SLOTS],
        }
    }

    /// [`Props::of`] through the cache (`'\0'` marks an empty slot; it is
    /// ASCII and never looked up).
    fn props(&mut self, c: char) -> Props {
        let slot = c as usize % CACHE_SLOTS;
        match self.cache.get(slot) {
            Some(&(k, p)) if k == c => p,
            _ => {
                let p = Props::of(c);
                if let Some(entry) = self.cache.get_mut(slot) {
                    *entry = (c, p);
                }
                p
            }
        }
    }

    fn run(mut self) -> Normalized {
        let src = self.src;
        let bytes = src.as_bytes();
        let mut pos = 0;
        let mut prev: Option<char> = None;
        while let Some(rest) = src.get(pos..) {
            let Some(c) = rest.chars().next() else { break };
            if c.is_ascii() {
                // An ASCII run: every character but the last is a complete
                // segment (the next one is a boundary); the last may still
                // take combining marks that follow the run.
                let run = bytes
                    .get(pos..)
                    .and_then(|b| b.iter().position(|b| !b.is_ascii()))
                    .unwrap_or(rest.len());
                let last = pos + run - 1;
                self.flush();
                self.text.push_str(src.get(pos..last).unwrap_or_default());
                self.map.push_linear(pos..last);
                let last_char = char::from(bytes.get(last).copied().unwrap_or(b' '));
                self.open(last, last_char, None);
                prev = Some(last_char);
                pos += run;
                continue;
            }
            let props = self.props(c);
            if let Some(kind) = props.invisible {
                self.note_invisible(kind, prev, pos);
                self.changed = true;
                self.pending_gap = true;
            } else if self.seg.is_empty() || props.boundary {
                self.flush();
                self.open(pos, c, Some(props));
            } else {
                self.seg.push(c);
                self.seg_end = pos + c.len_utf8();
                self.seg_gap |= self.pending_gap;
                self.pending_gap = false;
            }
            prev = Some(c);
            pos += c.len_utf8();
        }
        self.flush();
        Normalized {
            map: self.changed.then_some(self.map),
            text: self.text,
            hidden: self.hidden,
        }
    }

    fn note_invisible(&mut self, kind: Invisible, prev: Option<char>, pos: usize) {
        if !self.hidden {
            self.hidden = is_suspicious(kind, self.src, pos, prev);
        }
    }

    /// Starts a segment at `c`; `props` is `None` for ASCII.
    fn open(&mut self, pos: usize, c: char, props: Option<Props>) {
        self.seg_stable = props.is_none_or(|p| p.stable);
        self.seg_fold = props.and_then(|p| p.fold);
        self.seg.clear();
        self.seg.push(c);
        self.seg_start = pos;
        self.seg_end = pos + c.len_utf8();
        self.seg_gap = false;
        self.pending_gap = false;
    }

    /// Emits the open segment, if any.
    fn flush(&mut self) {
        let src_range = self.seg_start..self.seg_end;
        let single = match self.seg.as_slice() {
            [] => return,
            [c] => Some(*c),
            _ => None,
        };
        match (single, self.seg_fold) {
            (Some(_), Some(a)) if self.seg_stable => {
                self.text.push(a);
                self.map.push_atomic(src_range, 1);
                self.changed = true;
            }
            (Some(c), None) if self.seg_stable => {
                self.text.push(c);
                self.map.push_linear(src_range);
            }
            (Some(c), _) if self.flush_ascii_decomposition(c, src_range.clone()) => {}
            _ => self.flush_general(src_range),
        }
        self.seg.clear();
    }

    /// Fast path for one character whose compatibility decomposition is all
    /// ASCII (fullwidth forms, ligatures, mathematical letters, ...): ASCII
    /// never composes, so that decomposition is the NFKC form. Returns
    /// false, having emitted nothing, for other characters.
    fn flush_ascii_decomposition(&mut self, c: char, src_range: Range<usize>) -> bool {
        let start = self.text.len();
        let mut ascii = true;
        let text = &mut self.text;
        decompose_compatible(c, |d| {
            if d.is_ascii() {
                text.push(d);
            } else {
                ascii = false;
            }
        });
        let produced = self.text.len() - start;
        if !ascii || produced == 0 {
            self.text.truncate(start);
            return false;
        }
        self.changed = true;
        self.map.push_atomic(src_range, produced);
        true
    }

    /// Slow path: confusable folding, NFKC of the whole segment, folding of
    /// what NFKC produced (and NFKC again if that folded anything, so the
    /// result stays in NFKC: `𝛐` + ogonek becomes `ǫ`).
    fn flush_general(&mut self, src_range: Range<usize>) {
        let start = self.text.len();
        let fold = |c: char| confusables::fold(c).unwrap_or(c);
        self.buf.clear();
        self.buf.extend(
            self.seg
                .iter()
                .map(|&c| fold(c))
                .nfkc()
                .filter(|&d| invisible(d).is_none()),
        );
        let mut refolded = false;
        for d in self.buf.iter_mut() {
            if let Some(a) = confusables::fold(*d) {
                *d = a;
                refolded = true;
            }
        }
        if refolded && self.buf.len() > 1 {
            self.text.extend(self.buf.iter().copied().nfkc());
        } else {
            self.text.extend(self.buf.iter());
        }
        let produced = self.text.get(start..).unwrap_or_default();
        let original = self.src.get(src_range.clone()).unwrap_or_default();
        if !self.seg_gap && produced == original {
            self.map.push_linear(src_range);
        } else {
            self.changed = true;
            self.map.push_atomic(src_range, produced.len());
        }
    }
}
