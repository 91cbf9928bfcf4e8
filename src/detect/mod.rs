//! Text detectors for policy rules: normalisation, keyword lists and PII.
//!
//! Rules match a [`Normalized`] copy of the text (invisible characters
//! removed, NFKC, confusables folded) so Unicode tricks do not bypass them;
//! every span found in the normalised text maps back to the original with
//! [`Normalized::to_original`], which is what redaction rewrites.
//!
//! Everything expensive (automata, regexes) is compiled once by
//! [`KeywordSetBuilder::build`] and [`PiiDetector::new`]; the per-request
//! calls ([`Normalized::new`], [`KeywordSet::find_all`],
//! [`PiiDetector::find_all`]) only scan. All three types are `Send + Sync +
//! Clone`; no call panics on any input.
//!
//! # Behaviour choices (details in each submodule's docs)
//!
//! * Normalisation removes invisible format characters, applies NFKC and
//!   folds a hand-written table of Cyrillic/Greek/Armenian/Latin look-alikes
//!   of ASCII letters; it keeps whitespace and case. ASCII input is copied
//!   without an offset map. `had_hidden_chars` ignores emoji ZWJ sequences,
//!   single variation selectors, a leading BOM, soft hyphens and subdivision
//!   flag tag sequences.
//! * Keyword items are normalised like the text; word mode checks a boundary
//!   (no alphanumeric or combining mark next to it) at each item edge that is
//!   itself a word character; `_` is not a word character. Whitespace inside
//!   an item matches any run of whitespace. Case-insensitive lists use
//!   Unicode lowercase plus `ß`→`ss`, `ς`→`σ`, `İ`→`i`.
//! * PII: cards need Luhn + issuer prefix + length; IBANs a known country
//!   length + mod 97; SSNs need `-` or space separators (bare nine digits are
//!   not reported) and exclude never-issued ranges; phones are `+` numbers
//!   with 8-15 digits or North American numbers with separators (bare digit
//!   runs are not phones); overlapping matches keep the more specific kind.

mod confusables;
mod invisible;
pub mod keywords;
pub mod normalize;
mod offsets;
pub mod pii;

#[cfg(test)]
mod tests;

use std::fmt;

pub use keywords::{KeywordMatch, KeywordSet, KeywordSetBuilder, WordMode};
pub use normalize::Normalized;
pub use pii::{PiiDetector, PiiKind, PiiMatch};

/// Errors from building detectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DetectError {
    /// A keyword item is empty once normalised and trimmed.
    EmptyKeyword {
        /// The list the item belongs to.
        list_id: usize,
        /// Index of the item within its list.
        item: usize,
    },
    /// The same list id was added twice to one builder.
    DuplicateList {
        /// The repeated list id.
        list_id: usize,
    },
    /// The keyword automaton could not be built (e.g. too large).
    Automaton(String),
}

impl fmt::Display for DetectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The caller names the list; `list_id` is only its index.
            DetectError::EmptyKeyword { item, .. } => {
                write!(f, "keyword list item {item} is empty")
            }
            DetectError::DuplicateList { list_id } => {
                write!(f, "keyword list {list_id} was added twice")
            }
            DetectError::Automaton(msg) => write!(f, "cannot build keyword automaton: {msg}"),
        }
    }
}

impl std::error::Error for DetectError {}
