//! Tokenising texts into model windows.
//!
//! The tokenizer's own truncation and padding are switched off: a text is
//! tokenised once without special tokens, cut into windows of
//! `max_tokens - specials` word pieces overlapping by [`OVERLAP`] (less for
//! small models), and each window gets the special tokens of the tokenizer's
//! single-sequence template (`[CLS] … [SEP]` for BERT). Scores are the max over
//! windows. At most `max_windows` windows are kept: beyond, the first and last
//! halves, and the text is marked truncated. Huge texts are only tokenised at
//! their head and tail (see [`TextTokenizer::windows`]).

use std::ops::Range;
use std::path::Path;

use tokenizers::Tokenizer;

/// Word pieces shared by consecutive windows.
pub const OVERLAP: usize = 32;

/// Bytes of text tokenised per window kept, at most (head and tail of huge
/// texts); generous: word pieces average 4-5 bytes of English.
const BYTES_PER_WINDOW_TOKEN: usize = 16;

/// The windows of one text, special tokens included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Windows {
    /// Token ids per window.
    pub windows: Vec<Vec<u32>>,
    /// Whether part of the text was not scored.
    pub truncated: bool,
}

/// A tokenizer with its window settings.
#[derive(Debug)]
pub struct TextTokenizer {
    tokenizer: Tokenizer,
    prefix: Vec<u32>,
    suffix: Vec<u32>,
    width: usize,
    overlap: usize,
    max_windows: usize,
}

impl TextTokenizer {
    /// Loads `tokenizer.json`; windows hold `max_tokens` ids, specials included.
    pub fn load(path: &Path, max_tokens: usize, max_windows: usize) -> Result<Self, String> {
        let mut tokenizer = Tokenizer::from_file(path).map_err(|e| e.to_string())?;
        tokenizer.with_truncation(None).map_err(|e| e.to_string())?;
        tokenizer.with_padding(None);
        let (prefix, suffix) = special_template(&tokenizer)?;
        let specials = prefix.len() + suffix.len();
        if max_tokens <= specials {
            return Err(format!(
                "max_tokens {max_tokens} leaves no room beside {specials} special tokens"
            ));
        }
        let width = max_tokens - specials;
        Ok(Self {
            tokenizer,
            prefix,
            suffix,
            width,
            overlap: OVERLAP.min(width / 2),
            max_windows: max_windows.max(1),
        })
    }

    /// Word pieces of `text` without special tokens.
    pub fn ids(&self, text: &str) -> Result<Vec<u32>, String> {
        let encoding = self
            .tokenizer
            .encode_fast(text, false)
            .map_err(|e| e.to_string())?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Cuts `text` into windows. Texts longer than the bytes needed to fill
    /// every window are tokenised only at their head and tail (the middle is
    /// dropped and the text marked truncated), so cost is bounded.
    pub fn windows(&self, text: &str) -> Result<Windows, String> {
        let budget = self.max_windows * self.width * BYTES_PER_WINDOW_TOKEN;
        if text.len() <= budget {
            let ids = self.ids(text)?;
            let (ranges, truncated) =
                split_windows(ids.len(), self.width, self.overlap, self.max_windows);
            let windows = ranges.into_iter().map(|r| self.wrap(&ids[r])).collect();
            return Ok(Windows { windows, truncated });
        }
        let half = budget / 2;
        let head = &text[..floor_char_boundary(text, half)];
        let tail = &text[ceil_char_boundary(text, text.len() - half)..];
        let first = self.max_windows.div_ceil(2);
        let last = self.max_windows / 2;
        let head_ids = self.ids(head)?;
        let tail_ids = self.ids(tail)?;
        let (head_ranges, _) = split_windows(head_ids.len(), self.width, self.overlap, usize::MAX);
        let (tail_ranges, _) = split_windows(tail_ids.len(), self.width, self.overlap, usize::MAX);
        let skip = tail_ranges.len().saturating_sub(last);
        let windows = head_ranges
            .into_iter()
            .take(first)
            .map(|r| self.wrap(&head_ids[r]))
            .chain(
                tail_ranges
                    .into_iter()
                    .skip(skip)
                    .map(|r| self.wrap(&tail_ids[r])),
            )
            .collect();
        Ok(Windows {
            windows,
            truncated: true,
        })
    }

    fn wrap(&self, ids: &[u32]) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.prefix.len() + ids.len() + self.suffix.len());
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(ids);
        out.extend_from_slice(&self.suffix);
        out
    }
}

/// The special tokens the tokenizer's post-processor puts before and after a
/// single sequence, found by encoding a probe with and without them.
fn special_template(tokenizer: &Tokenizer) -> Result<(Vec<u32>, Vec<u32>), String> {
    let probe = "hello world";
    let plain = tokenizer
        .encode_fast(probe, false)
        .map_err(|e| e.to_string())?;
    let with = tokenizer
        .encode_fast(probe, true)
        .map_err(|e| e.to_string())?;
    let (plain, with) = (plain.get_ids(), with.get_ids());
    if plain.is_empty() {
        return Err("the tokenizer produces no tokens for a probe text".into());
    }
    let at = with
        .windows(plain.len())
        .position(|w| w == plain)
        .ok_or("the tokenizer's post-processor does not keep the text's tokens together")?;
    Ok((with[..at].to_vec(), with[at + plain.len()..].to_vec()))
}

/// Window ranges over `n` ids: `width` ids each, consecutive windows sharing
/// `overlap`, the last one ending at `n`. Over `max_windows`, the first and
/// last halves are kept and the flag is set. Always at least one window.
pub fn split_windows(
    n: usize,
    width: usize,
    overlap: usize,
    max_windows: usize,
) -> (Vec<Range<usize>>, bool) {
    if n <= width {
        return (std::iter::once(0..n).collect(), false);
    }
    let step = width.saturating_sub(overlap).max(1);
    let count = (n - width).div_ceil(step) + 1;
    let start = |i: usize| (i * step).min(n - width);
    let max_windows = max_windows.max(1);
    let keep: Vec<usize> = if count <= max_windows {
        (0..count).collect()
    } else {
        let first = max_windows.div_ceil(2);
        let last = max_windows / 2;
        (0..first).chain(count - last..count).collect()
    };
    let ranges = keep
        .into_iter()
        .map(|i| start(i)..start(i) + width)
        .collect();
    (ranges, count > max_windows)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_window() {
        for n in [0, 254] {
            let (r, t) = split_windows(n, 254, 32, 32);
            assert_eq!(r.len(), 1);
            assert_eq!(r[0], 0..n);
            assert!(!t);
        }
    }

    #[test]
    fn windows_overlap_and_end_at_the_text_end() {
        // width 10, overlap 3, step 7: starts 0, 7, 14 -> last clamped to 15.
        let (r, t) = split_windows(25, 10, 3, 32);
        assert_eq!(r, vec![0..10, 7..17, 14..24, 15..25]);
        assert!(!t);
        for pair in r.windows(2) {
            assert!(pair[1].start < pair[0].end, "windows must overlap");
        }
        // Exactly two windows when the text is one step past the width.
        assert_eq!(split_windows(17, 10, 3, 32).0, vec![0..10, 7..17]);
    }

    #[test]
    fn cap_keeps_first_and_last_halves() {
        let (all, _) = split_windows(1000, 10, 2, usize::MAX);
        assert_eq!(all.len(), 125);
        let (r, t) = split_windows(1000, 10, 2, 5);
        assert!(t);
        assert_eq!(r.len(), 5);
        assert_eq!(r[..3], all[..3]);
        assert_eq!(r[3..], all[123..]);
        assert_eq!(r.last().unwrap().end, 1000);
    }

    #[test]
    fn char_boundaries() {
        let s = "aé€b";
        assert_eq!(floor_char_boundary(s, 2), 1);
        assert_eq!(ceil_char_boundary(s, 2), 3);
        assert_eq!(ceil_char_boundary(s, 4), 6);
    }
}
