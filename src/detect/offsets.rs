//! Byte-offset map from a derived text back to the text it was derived from.
//!
//! Both the normaliser ([`super::Normalized`]) and the keyword matcher's
//! search views build a derived string piece by piece and record, for every
//! piece, which source bytes produced it. Pieces are either *linear* (the
//! derived bytes line up one-to-one with the source bytes, so character
//! boundaries coincide and offsets translate by a constant) or *atomic* (the
//! derived bytes were produced from the source range as a whole, so any
//! overlap maps to the whole source range). Source bytes that produced
//! nothing (removed characters) belong to no unit; they fall between units
//! and are therefore included only when a mapped range spans across them.

use std::ops::Range;

/// One derived piece and the source range that produced it.
#[derive(Debug, Clone, Copy)]
struct Unit {
    /// Start of the piece in the derived text (its end is the next unit's start).
    derived: usize,
    /// Source range that produced the piece.
    src_start: usize,
    src_end: usize,
    /// Whether derived offsets translate linearly into the source range.
    linear: bool,
}

/// Offset map; units are contiguous in the derived text and ordered in both.
#[derive(Debug, Clone, Default)]
pub(crate) struct OffsetMap {
    units: Vec<Unit>,
    derived_len: usize,
}

impl OffsetMap {
    /// Empty map with room for `units` units.
    pub(crate) fn with_capacity(units: usize) -> Self {
        OffsetMap {
            units: Vec::with_capacity(units),
            derived_len: 0,
        }
    }

    /// Records `src.len()` derived bytes that line up one-to-one with `src`
    /// (same length, same character boundaries).
    pub(crate) fn push_linear(&mut self, src: Range<usize>) {
        let len = src.end.saturating_sub(src.start);
        if len == 0 {
            return;
        }
        if let Some(last) = self.units.last_mut() {
            if last.linear && last.src_end == src.start {
                last.src_end = src.end;
                self.derived_len += len;
                return;
            }
        }
        self.units.push(Unit {
            derived: self.derived_len,
            src_start: src.start,
            src_end: src.end,
            linear: true,
        });
        self.derived_len += len;
    }

    /// Records `derived_len` derived bytes produced by `src` as a whole.
    pub(crate) fn push_atomic(&mut self, src: Range<usize>, derived_len: usize) {
        if derived_len == 0 {
            return;
        }
        self.units.push(Unit {
            derived: self.derived_len,
            src_start: src.start,
            src_end: src.end,
            linear: false,
        });
        self.derived_len += derived_len;
    }

    /// Index of the unit holding derived byte `pos` (`pos < derived_len`).
    fn unit_at(&self, pos: usize) -> Option<(Unit, usize)> {
        let idx = self
            .units
            .partition_point(|u| u.derived <= pos)
            .checked_sub(1)?;
        let unit = *self.units.get(idx)?;
        let end = self
            .units
            .get(idx + 1)
            .map_or(self.derived_len, |next| next.derived);
        Some((unit, end))
    }

    /// Source offset where the derived character starting at `pos` begins.
    fn start_of(&self, pos: usize) -> Option<(usize, bool)> {
        let (u, _) = self.unit_at(pos)?;
        if u.linear {
            Some((u.src_start + (pos - u.derived), true))
        } else {
            Some((u.src_start, pos == u.derived))
        }
    }

    /// Source offset where the derived character ending at `end` ends.
    fn end_of(&self, end: usize) -> Option<(usize, bool)> {
        let (u, unit_end) = self.unit_at(end.checked_sub(1)?)?;
        if u.linear {
            Some((u.src_start + (end - u.derived), true))
        } else {
            Some((u.src_end, end == unit_end))
        }
    }

    /// Maps a derived range (on character boundaries, within bounds) to the
    /// source range that produced it, expanding over atomic units.
    pub(crate) fn map_range(&self, r: Range<usize>) -> Range<usize> {
        if r.start >= r.end {
            let p = if r.start >= self.derived_len {
                self.units.last().map_or(0, |u| u.src_end)
            } else {
                self.start_of(r.start).map_or(0, |(s, _)| s)
            };
            return p..p;
        }
        let start = self.start_of(r.start).map_or(0, |(s, _)| s);
        let end = self.end_of(r.end).map_or(start, |(e, _)| e);
        start..end.max(start)
    }

    /// Like [`Self::map_range`], but `None` when either end of `r` falls
    /// strictly inside an atomic unit (a match on part of an expansion).
    pub(crate) fn map_exact(&self, r: Range<usize>) -> Option<Range<usize>> {
        let (start, s_ok) = self.start_of(r.start)?;
        let (end, e_ok) = self.end_of(r.end)?;
        (s_ok && e_ok && start <= end).then_some(start..end)
    }
}
