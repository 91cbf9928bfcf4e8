//! Glob patterns for model and tenant names: `*` matches any run of characters,
//! `?` exactly one; everything else is literal and case-sensitive.

/// A compiled set of globs; matches if any glob matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Globs(Vec<String>);

impl Globs {
    /// Builds the set.
    pub fn new<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Self {
        Self(patterns.into_iter().map(str::to_owned).collect())
    }

    /// Whether `name` matches one of the globs.
    pub fn matches(&self, name: &str) -> bool {
        self.0
            .iter()
            .any(|g| glob_match(g.as_bytes(), name.as_bytes()))
    }
}

/// Iterative wildcard matching with single backtracking point (linear-ish, no recursion).
fn glob_match(pat: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pat.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match() {
        let g = Globs::new(["gpt-4o*", "llama-?"]);
        assert!(g.matches("gpt-4o"));
        assert!(g.matches("gpt-4o-mini"));
        assert!(g.matches("llama-3"));
        assert!(!g.matches("llama-31"));
        assert!(!g.matches("gpt-4"));
        assert!(Globs::new(["*"]).matches(""));
        assert!(Globs::new(["a*b*c"]).matches("aXXbYYc"));
        assert!(!Globs::new(["a*b*c"]).matches("aXXbYY"));
    }
}
