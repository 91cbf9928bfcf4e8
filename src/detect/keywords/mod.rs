//! Named keyword lists compiled into Aho-Corasick automata.
//!
//! Behaviour, decided once here:
//!
//! * **Items are normalised like the text**: each item goes through
//!   [`Normalized::new`] (so a list may contain `ﬁle`, fullwidth or
//!   look-alike letters and still match), then its whitespace is trimmed and
//!   every internal run of whitespace becomes one space. An item that is empty
//!   after that is [`DetectError::EmptyKeyword`].
//! * **Whitespace in multi-word items** (`project falcon`) matches any run of
//!   Unicode whitespace in the text (`project \n falcon`); the span then
//!   covers the whole run. Other separators (`project-falcon`) do not match.
//! * **Word mode** ([`WordMode::Word`]): at each end of the item whose edge
//!   character is a word character (Unicode alphanumeric or combining mark),
//!   the neighbouring text character must not be one. So `kill` does not
//!   match `skill` or `killer`, does match `kill_switch` (`_` is not a word
//!   character), and an item such as `c++` is only checked on its left side.
//! * **Case-insensitive lists** match a case-folded view of the text: Unicode
//!   lowercase ([`char::to_lowercase`]) plus the full case folds `ß`/`ẞ` →
//!   `ss`, final `ς` → `σ` and `İ` → `i`. So `STRASSE`, `Straße` and
//!   `STRAẞE` all match each other. ASCII text is searched in place with an
//!   ASCII-case-insensitive automaton; other text gets a folded copy whose
//!   offsets map back, and a match that covers only part of a multi-character
//!   fold (one `s` of `ß`) is dropped.
//! * **Overlaps**: every item of every list is reported at every position
//!   where it occurs (overlapping matches included); the same item listed
//!   twice in one list (after normalisation and folding) is reported once,
//!   under its first index. Results are sorted by span, then list, then item.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use unicode_normalization::char::is_combining_mark;

mod view;

use super::offsets::OffsetMap;
use super::{DetectError, Normalized};
use view::{build_view, fold_case, has_irregular_whitespace};

/// Total pattern bytes up to which the automaton is built as a DFA.
const DFA_MAX_PATTERN_BYTES: usize = 16 * 1024;

/// Where a keyword may match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WordMode {
    /// Only as a whole word (see the module docs for the boundary rule).
    Word,
    /// Anywhere, including inside longer words.
    Substring,
}

/// One keyword occurrence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeywordMatch {
    /// The list id given to [`KeywordSetBuilder::add_list`].
    pub list_id: usize,
    /// Index of the matched item within its list.
    pub item: usize,
    /// Byte range in the searched (normalised) text.
    pub span: Range<usize>,
}

/// Owner of a pattern: which list item it came from and how to check it.
#[derive(Debug, Clone, Copy)]
struct Owner {
    list_id: usize,
    item: usize,
    /// Word mode, left edge needs a boundary.
    left: bool,
    /// Word mode, right edge needs a boundary.
    right: bool,
}

/// Patterns collected for one automaton.
#[derive(Debug, Default)]
struct PatternTable {
    patterns: Vec<String>,
    index: HashMap<String, usize>,
    owners: Vec<Vec<Owner>>,
    multiword: bool,
}

impl PatternTable {
    fn add(&mut self, pattern: String, owner: Owner) {
        self.multiword |= pattern.contains(' ');
        let id = match self.index.get(&pattern) {
            Some(&id) => id,
            None => {
                let id = self.patterns.len();
                self.index.insert(pattern.clone(), id);
                self.patterns.push(pattern);
                self.owners.push(Vec::new());
                id
            }
        };
        if let Some(owners) = self.owners.get_mut(id) {
            if !owners.iter().any(|o| o.list_id == owner.list_id) {
                owners.push(owner);
            }
        }
    }

    fn build(self, case_insensitive: bool) -> Result<Option<Automaton>, DetectError> {
        if self.patterns.is_empty() {
            return Ok(None);
        }
        let mut builder = AhoCorasickBuilder::new();
        builder
            .match_kind(MatchKind::Standard)
            .ascii_case_insensitive(case_insensitive);
        // A DFA is the fastest to search (no failure transitions) and the
        // crate only picks it by itself for up to 100 patterns; take it
        // while the patterns are small enough for its memory to stay modest
        // (roughly states x byte classes x 4 bytes), else let it choose.
        let total: usize = self.patterns.iter().map(String::len).sum();
        let dfa = (total <= DFA_MAX_PATTERN_BYTES)
            .then(|| {
                builder
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(&self.patterns)
                    .ok()
            })
            .flatten();
        let ac = match dfa {
            Some(ac) => ac,
            None => builder
                .kind(None)
                .build(&self.patterns)
                .map_err(|e| DetectError::Automaton(e.to_string()))?,
        };
        Ok(Some(Automaton {
            ac,
            owners: self.owners,
            collapse: self.multiword,
            fold: case_insensitive,
        }))
    }
}

/// Collects keyword lists; [`Self::build`] compiles them.
#[derive(Debug, Default)]
pub struct KeywordSetBuilder {
    lists: HashSet<usize>,
    exact: PatternTable,
    folded: PatternTable,
}

impl KeywordSetBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds list `list_id` with its `items`; on error nothing is added.
    ///
    /// Fails with [`DetectError::EmptyKeyword`] for an item that is empty
    /// after normalisation and trimming, and [`DetectError::DuplicateList`]
    /// when `list_id` was already added.
    pub fn add_list(
        &mut self,
        list_id: usize,
        items: &[String],
        mode: WordMode,
        case_insensitive: bool,
    ) -> Result<(), DetectError> {
        if self.lists.contains(&list_id) {
            return Err(DetectError::DuplicateList { list_id });
        }
        let mut prepared = Vec::with_capacity(items.len());
        for (item, raw) in items.iter().enumerate() {
            let pattern = prepare(raw, case_insensitive);
            if pattern.is_empty() {
                return Err(DetectError::EmptyKeyword { list_id, item });
            }
            prepared.push(pattern);
        }
        self.lists.insert(list_id);
        let table = if case_insensitive {
            &mut self.folded
        } else {
            &mut self.exact
        };
        let word = mode == WordMode::Word;
        for (item, pattern) in prepared.into_iter().enumerate() {
            let owner = Owner {
                list_id,
                item,
                left: word && pattern.chars().next().is_some_and(is_word_char),
                right: word && pattern.chars().next_back().is_some_and(is_word_char),
            };
            table.add(pattern, owner);
        }
        Ok(())
    }

    /// Compiles the lists (at most two automata: case-sensitive and folded).
    pub fn build(self) -> Result<KeywordSet, DetectError> {
        Ok(KeywordSet {
            exact: self.exact.build(false)?,
            folded: self.folded.build(true)?,
        })
    }
}

/// Compiled keyword lists; cheap to share, searched with [`Self::find_all`].
#[derive(Debug, Clone)]
pub struct KeywordSet {
    exact: Option<Automaton>,
    folded: Option<Automaton>,
}

impl KeywordSet {
    /// Appends to `out` all matches in `text` (the normalised text), for every
    /// list, overlapping ones included; spans are byte ranges in `text`.
    /// The appended part is sorted by span start, span end, list, item.
    pub fn find_all(&self, text: &str, out: &mut Vec<KeywordMatch>) {
        let base = out.len();
        for automaton in [&self.exact, &self.folded].into_iter().flatten() {
            automaton.search(text, out);
        }
        if let Some(found) = out.get_mut(base..) {
            found.sort_unstable_by(|a, b| {
                (a.span.start, a.span.end, a.list_id, a.item).cmp(&(
                    b.span.start,
                    b.span.end,
                    b.list_id,
                    b.item,
                ))
            });
        }
    }

    /// True when no list has any item.
    pub fn is_empty(&self) -> bool {
        self.exact.is_none() && self.folded.is_none()
    }
}

/// One compiled automaton and the owners of each of its patterns.
#[derive(Debug, Clone)]
struct Automaton {
    ac: AhoCorasick,
    owners: Vec<Vec<Owner>>,
    /// Some pattern contains a space: search a whitespace-collapsed view.
    collapse: bool,
    /// Patterns are case-folded: search a case-folded view.
    fold: bool,
}

impl Automaton {
    fn search(&self, text: &str, out: &mut Vec<KeywordMatch>) {
        let collapse = self.collapse && has_irregular_whitespace(text);
        let fold = self.fold && !text.is_ascii();
        if !collapse && !fold {
            self.scan(text, None, text, out);
        } else {
            let (view, map) = build_view(text, collapse, fold);
            self.scan(&view, Some(&map), text, out);
        }
    }

    fn scan(&self, hay: &str, map: Option<&OffsetMap>, text: &str, out: &mut Vec<KeywordMatch>) {
        for m in self.ac.find_overlapping_iter(hay) {
            let span = match map {
                None => m.range(),
                Some(map) => match map.map_exact(m.range()) {
                    Some(span) => span,
                    None => continue,
                },
            };
            let Some(owners) = self.owners.get(m.pattern().as_usize()) else {
                continue;
            };
            for o in owners {
                if (o.left && prev_char(text, span.start).is_some_and(is_word_char))
                    || (o.right && next_char(text, span.end).is_some_and(is_word_char))
                {
                    continue;
                }
                out.push(KeywordMatch {
                    list_id: o.list_id,
                    item: o.item,
                    span: span.clone(),
                });
            }
        }
    }
}

/// Word character for [`WordMode::Word`] boundaries.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c)
}

fn prev_char(text: &str, at: usize) -> Option<char> {
    text.get(..at)?.chars().next_back()
}

fn next_char(text: &str, at: usize) -> Option<char> {
    text.get(at..)?.chars().next()
}

/// Normalises, trims and whitespace-collapses an item; case-folds it if asked.
fn prepare(item: &str, case_insensitive: bool) -> String {
    let normalized = Normalized::new(item).text;
    let mut out = String::with_capacity(normalized.len());
    for word in normalized.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        if case_insensitive {
            word.chars().for_each(|c| fold_case(c, &mut out));
        } else {
            out.push_str(word);
        }
    }
    out
}
