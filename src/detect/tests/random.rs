//! Randomised property tests: no panics, spans in bounds and on character
//! boundaries, monotonic offset mapping, idempotent normalisation.

use crate::detect::{KeywordSetBuilder, Normalized, PiiDetector, PiiKind, WordMode};

/// Small deterministic xorshift generator (no extra dependencies).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Characters that exercise every normalisation path.
const PALETTE: &[&str] = &[
    "a",
    "Z",
    "0",
    "9",
    " ",
    "  ",
    "\n",
    "\t",
    ".",
    "-",
    "@",
    "+",
    ":",
    "(",
    ")",
    "_",
    "\u{200B}",
    "\u{200C}",
    "\u{200D}",
    "\u{FEFF}",
    "\u{00AD}",
    "\u{202E}",
    "\u{2066}",
    "\u{E0041}",
    "\u{E007F}",
    "\u{1F3F4}",
    "\u{FE0F}",
    "\u{E0100}",
    "\u{3164}",
    "\u{1160}",
    "\u{0301}",
    "\u{0308}",
    "\u{0328}",
    "\u{0345}",
    "\u{0F73}",
    "\u{0F71}",
    "\u{0B47}",
    "\u{0B3E}",
    "é",
    "e\u{0301}",
    "ß",
    "ẞ",
    "İ",
    "ς",
    "Σ",
    "ﬁ",
    "ﬃ",
    "ｐ",
    "Ａ",
    "１",
    "²",
    "㎏",
    "℡",
    "а",
    "р",
    "о",
    "ԁ",
    "З",
    "ο",
    "α",
    "Ρ",
    "𝐁",
    "𝛐",
    "\u{1100}",
    "\u{1161}",
    "\u{11A8}",
    "한",
    "東",
    "👍",
    "👨",
    "\u{2003}",
    "\u{3000}",
    "\u{00A0}",
    "\u{0085}",
    "ǅ",
    "ﷺ",
    "\u{FDFA}",
];

fn random_text(rng: &mut Rng, max_parts: usize) -> String {
    let parts = rng.below(max_parts + 1);
    let mut s = String::new();
    for _ in 0..parts {
        match rng.below(10) {
            0 => {
                // Any Unicode scalar value.
                let c = char::from_u32((rng.next() % 0x11_0000) as u32).unwrap_or('\u{FFFD}');
                s.push(c);
            }
            1 => s.push_str(&String::from_utf8_lossy(&rng.next().to_le_bytes())),
            _ => s.push_str(PALETTE[rng.below(PALETTE.len())]),
        }
    }
    s
}

fn boundaries(s: &str) -> Vec<usize> {
    (0..=s.len()).filter(|&i| s.is_char_boundary(i)).collect()
}

fn check_range(original: &str, r: &std::ops::Range<usize>) {
    assert!(
        r.start <= r.end && r.end <= original.len(),
        "{r:?} for {original:?}"
    );
    assert!(original.is_char_boundary(r.start) && original.is_char_boundary(r.end));
}

#[test]
fn to_original_is_bounded_on_boundaries_and_monotonic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..4000 {
        let original = random_text(&mut rng, 24);
        let n = Normalized::new(&original);
        let len = n.text.len();
        let cuts = boundaries(&n.text);
        let (mut last_start, mut last_end) = (0, 0);
        for &b in &cuts {
            let start = n.to_original(b..len).start;
            let end = n.to_original(0..b).end;
            assert!(
                start >= last_start && end >= last_end,
                "not monotonic in {original:?}"
            );
            (last_start, last_end) = (start, end);
        }
        for _ in 0..30 {
            // Arbitrary (even out-of-bounds, reversed, mid-char) ranges.
            let (a, b) = (rng.below(len + 3), rng.below(len + 3));
            let outer = n.to_original(a.min(b)..a.max(b));
            check_range(&original, &outer);
            check_range(&original, &n.to_original(a..b));
            // A sub-range maps inside the range's image.
            let (lo, hi) = (a.min(b).min(len), a.max(b).min(len));
            let (c, d) = (lo + rng.below(hi - lo + 1), lo + rng.below(hi - lo + 1));
            let inner = n.to_original(c.min(d)..c.max(d));
            if c != d {
                assert!(
                    outer.start <= inner.start && inner.end <= outer.end,
                    "{original:?}"
                );
            }
        }
        // Every normalised character comes from some original bytes.
        for w in cuts.windows(2) {
            assert!(!n.to_original(w[0]..w[1]).is_empty(), "{original:?}");
        }
        if n.is_identity() {
            assert_eq!(n.text, original);
        }
    }
}

#[test]
fn normalisation_is_idempotent_and_strips_invisibles() {
    let mut rng = Rng(12345);
    for _ in 0..4000 {
        let original = random_text(&mut rng, 24);
        let n = Normalized::new(&original);
        let again = Normalized::new(&n.text);
        assert_eq!(again.text, n.text, "not idempotent for {original:?}");
        assert!(!again.had_hidden_chars());
        for c in [
            '\u{200B}',
            '\u{200D}',
            '\u{202E}',
            '\u{E0041}',
            '\u{FEFF}',
            '\u{FE0F}',
        ] {
            assert!(!n.text.contains(c), "{c:?} left in {:?}", n.text);
        }
    }
}

#[test]
fn keyword_matching_never_panics_and_spans_are_valid() {
    let mut rng = Rng(777);
    let mut builder = KeywordSetBuilder::new();
    for list in 0..6 {
        let items: Vec<String> = (0..8)
            .map(|_| random_text(&mut rng, 3))
            .filter(|s| !Normalized::new(s).text.trim().is_empty())
            .collect();
        let mode = if list % 2 == 0 {
            WordMode::Word
        } else {
            WordMode::Substring
        };
        builder.add_list(list, &items, mode, list % 3 != 0).unwrap();
    }
    let words = ["ss", "a a", "ß", "é", "Σ", "ﬁ", "p", "о"].map(String::from);
    builder
        .add_list(99, &words, WordMode::Substring, true)
        .unwrap();
    let set = builder.build().unwrap();
    let mut out = Vec::new();
    for _ in 0..3000 {
        let original = random_text(&mut rng, 30);
        let n = Normalized::new(&original);
        out.clear();
        set.find_all(&n.text, &mut out);
        for m in &out {
            check_range(&n.text, &m.span);
            check_range(&original, &n.to_original(m.span.clone()));
        }
    }
}

#[test]
fn pii_detection_never_panics_and_spans_are_valid() {
    let d = PiiDetector::new(&PiiKind::ALL);
    let mut rng = Rng(4242);
    // Fragments that push the scanners into their edge cases.
    let fragments = [
        "4111",
        " ",
        "-",
        "1111",
        "+1 ",
        "(415)",
        "555",
        ".",
        "0132",
        "DE89",
        "3704",
        "@",
        "a.b",
        "::",
        "ff",
        "1.2",
        "eyJ",
        "hbGciOiJ",
        "-----BEGIN PRIVATE KEY-----",
        "-----END ",
        "sk-",
        "Bearer ",
        "AKIA",
        "ü",
        "\u{200B}",
        "9",
        "ghp_",
        "xoxb-1",
        "==",
        "\n",
    ];
    let mut out = Vec::new();
    for i in 0..3000 {
        let text = if i % 2 == 0 {
            random_text(&mut rng, 30)
        } else {
            (0..rng.below(40))
                .map(|_| fragments[rng.below(fragments.len())])
                .collect()
        };
        out.clear();
        d.find_all(&text, &mut out);
        for w in out.windows(2) {
            assert!(
                w[0].span.end <= w[1].span.start,
                "overlap in {text:?}: {out:?}"
            );
        }
        for m in &out {
            check_range(&text, &m.span);
            assert!(!m.span.is_empty());
        }
    }
    // Long digit runs and long runs of separators stay linear-time.
    let long = "4".repeat(200_000) + &"1-".repeat(50_000) + &":".repeat(50_000);
    out.clear();
    d.find_all(&long, &mut out);
    assert!(out.is_empty());
}
