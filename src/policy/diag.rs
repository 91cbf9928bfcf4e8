//! Diagnostics: every problem found while loading or compiling a policy, collected
//! all at once and rendered like a compiler's (lowercase message, user input in
//! backticks, `--> file:line:col`, the source line with a `^^^` underline, `help`).

use super::raw::Span;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// The policy cannot be used.
    Error,
    /// The policy works but something is probably wrong.
    Warning,
}

/// One problem in a policy file.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// Error or warning.
    pub level: Level,
    /// Lowercase, with user input in backticks.
    pub message: String,
    /// Where (absent for whole-file problems).
    pub span: Option<Span>,
    /// Text under the underline (e.g. "unknown key").
    pub label: Option<String>,
    /// `= help: ...` line (e.g. "did you mean `severity`?").
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn error(message: impl Into<String>, span: Span) -> Self {
        Self {
            level: Level::Error,
            message: message.into(),
            span: Some(span),
            label: None,
            help: None,
        }
    }

    /// A warning at `span`.
    pub fn warning(message: impl Into<String>, span: Span) -> Self {
        Self {
            level: Level::Warning,
            ..Self::error(message, span)
        }
    }

    /// Adds the underline label.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Adds the help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.level == Level::Error
    }
}

/// Renders a diagnostic like rustc does, without colours:
///
/// ```text
/// error: unknown key `sevrity` in rule `block-prompt-injection`
///   --> policies/acme.yaml:13:5
///    |
/// 13 |     sevrity: high
///    |     ^^^^^^^ unknown key
///    = help: did you mean `severity`?
/// ```
///
/// Warnings start with `warning:`. A diagnostic without a span has no `-->` and no
/// source lines; one whose line is not in `source` has a `-->` but no source lines.
/// Tabs in the source line are shown as four spaces; columns are counted after a
/// leading byte-order mark, as [`super::load::load`] counts them. The result ends with a newline;
/// separate several diagnostics with an empty line.
pub fn render(d: &Diagnostic, path: &str, source: &str) -> String {
    let mut out = String::new();
    let level = match d.level {
        Level::Error => "error",
        Level::Warning => "warning",
    };
    out.push_str(&format!("{level}: {}\n", d.message));
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let mut pad = "  ".to_string();
    if let Some(span) = d.span {
        let number = span.line.to_string();
        pad = " ".repeat(number.len());
        out.push_str(&format!("{pad}--> {path}:{}:{}\n", span.line, span.col));
        let text = (span.line as usize)
            .checked_sub(1)
            .and_then(|i| source.split('\n').nth(i));
        if let Some(text) = text {
            let text = text.strip_suffix('\r').unwrap_or(text);
            let (shown, start, width) = underline(text, span);
            let label = d.label.as_deref().unwrap_or("");
            out.push_str(&format!("{pad} |\n"));
            out.push_str(format!("{number} | {shown}").trim_end());
            out.push('\n');
            let marks = format!("{}{} {label}", " ".repeat(start), "^".repeat(width));
            out.push_str(format!("{pad} | {marks}").trim_end());
            out.push('\n');
        }
    }
    if let Some(help) = &d.help {
        out.push_str(&format!("{pad} = help: {help}\n"));
    }
    out
}

/// The source line as displayed (tabs expanded), the display column where the
/// underline starts and its width (at least 1).
fn underline(text: &str, span: super::raw::Span) -> (String, usize, usize) {
    let first = (span.col as usize).saturating_sub(1);
    let last = first.saturating_add((span.len as usize).max(1));
    let (mut shown, mut start, mut width) = (String::new(), None, 0);
    for (i, c) in text.chars().enumerate() {
        if i == first {
            start = Some(shown.chars().count());
        }
        let before = shown.chars().count();
        match c {
            '\t' => shown.push_str("    "),
            c if c.is_control() => shown.push(' '),
            c => shown.push(c),
        }
        if (first..last).contains(&i) {
            width += shown.chars().count() - before;
        }
    }
    let start = start.unwrap_or_else(|| shown.chars().count());
    (shown, start, width.max(1))
}

/// The candidate closest to `word` by edit distance (case-insensitive, a swap of two
/// adjacent characters counting as one edit), if it is close enough to be a likely
/// typo: at most a third of the word's length (and at least 1) edits away. Ties go
/// to the earliest candidate; an exact case-insensitive match wins outright.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word: Vec<char> = word.to_lowercase().chars().collect();
    let max = (word.len() / 3).max(1);
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        let lower: Vec<char> = candidate.to_lowercase().chars().collect();
        if lower.len().abs_diff(word.len()) > max {
            continue;
        }
        let d = distance(&word, &lower);
        if d == 0 {
            return Some(candidate);
        }
        if d <= max && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
fn distance(a: &[char], b: &[char]) -> usize {
    let mut before: Vec<usize> = Vec::new();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            cur[j] = d;
        }
        before = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_are_close_matches_only() {
        let keys = ["id", "severity", "tags", "scope", "when", "action"];
        assert_eq!(did_you_mean("sevrity", keys), Some("severity"));
        assert_eq!(did_you_mean("sevreity", keys), Some("severity"));
        assert_eq!(did_you_mean("ACTION", keys), Some("action"));
        assert_eq!(did_you_mean("flavour", keys), None);
        assert_eq!(did_you_mean("", keys), None);
        assert_eq!(
            did_you_mean("codename", ["banned", "codenames"]),
            Some("codenames")
        );
        assert_eq!(
            did_you_mean("enforced", ["enforce", "monitor"]),
            Some("enforce")
        );
        assert_eq!(did_you_mean("x", std::iter::empty()), None);
    }

    #[test]
    fn renders_warnings_spanless_and_out_of_range() {
        let source = "a: 1\n\tb:  2\n";
        let w = Diagnostic::warning(
            "unused list `x`",
            Span {
                line: 2,
                col: 6,
                len: 1,
            },
        )
        .with_label("here")
        .with_help("remove it");
        let expected = "warning: unused list `x`\n --> p.yaml:2:6\n  |\n2 |     b:  2\n  |         ^ here\n  = help: remove it\n";
        assert_eq!(render(&w, "p.yaml", source), expected);
        let mut e = Diagnostic::error("look-around is not supported", Span::default());
        e.span = None;
        let e = e.with_help("express exclusions with `not:`");
        let expected =
            "error: look-around is not supported\n   = help: express exclusions with `not:`\n";
        assert_eq!(render(&e, "p.yaml", source), expected);
        let far = Diagnostic::error(
            "end of file",
            Span {
                line: 40,
                col: 1,
                len: 3,
            },
        );
        assert_eq!(
            render(&far, "p.yaml", source),
            "error: end of file\n  --> p.yaml:40:1\n"
        );
    }
}
