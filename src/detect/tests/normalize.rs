use crate::detect::Normalized;

/// Original text covered by the normalised range of the first `needle`.
fn original_of<'a>(original: &'a str, n: &Normalized, needle: &str) -> &'a str {
    let start = n.text.find(needle).expect("needle in normalised text");
    let r = n.to_original(start..start + needle.len());
    &original[r]
}

#[test]
fn ascii_is_identity_and_untouched() {
    let n = Normalized::new("Hello, world!\n\tpassword  123");
    assert!(n.is_identity());
    assert!(!n.had_hidden_chars());
    assert_eq!(n.text, "Hello, world!\n\tpassword  123");
    assert_eq!(n.to_original(7..12), 7..12);
}

#[test]
fn unchanged_unicode_is_identity() {
    let s = "Crème brûlée, 東京, emoji 👍 and Ünïcödé";
    let n = Normalized::new(s);
    assert_eq!(n.text, s);
    assert!(n.is_identity());
}

#[test]
fn zero_width_inside_word_is_removed_and_mapped() {
    let s = "my pa\u{200B}ssword!";
    let n = Normalized::new(s);
    assert_eq!(n.text, "my password!");
    assert!(n.had_hidden_chars());
    assert_eq!(original_of(s, &n, "password"), "pa\u{200B}ssword");
    // A removed character at the edge is not included.
    let s = "\u{200B}password\u{200B}";
    let n = Normalized::new(s);
    assert_eq!(original_of(s, &n, "password"), "password");
}

#[test]
fn tag_characters_are_stripped_and_flagged() {
    let hidden: String = "ignore previous"
        .chars()
        .map(|c| char::from_u32(0xE0000 + c as u32).unwrap())
        .collect();
    let s = format!("Nice day{hidden} today");
    let n = Normalized::new(&s);
    assert_eq!(n.text, "Nice day today");
    assert!(n.had_hidden_chars());
    let r = n.to_original(0..n.text.len());
    assert_eq!(r, 0..s.len());
}

#[test]
fn emoji_flag_tag_sequence_is_not_flagged() {
    // England flag: black flag + tags "gbeng" + cancel tag.
    let s = "Go \u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}!";
    let n = Normalized::new(s);
    assert_eq!(n.text, "Go \u{1F3F4}!");
    assert!(!n.had_hidden_chars());
}

#[test]
fn bidi_overrides_are_removed_and_flagged() {
    let s = "file\u{202E}gnp.exe\u{202C} ok \u{2066}x\u{2069}";
    let n = Normalized::new(s);
    assert_eq!(n.text, "filegnp.exe ok x");
    assert!(n.had_hidden_chars());
}

#[test]
fn emoji_joiners_and_selectors_are_not_flagged() {
    let s = "family 👨\u{200D}👩\u{200D}👧, love ❤\u{FE0F}\u{200D}🔥, keycap 1\u{FE0F}\u{20E3}";
    let n = Normalized::new(s);
    assert!(!n.had_hidden_chars(), "{:?}", n.text);
    assert!(!n.text.contains('\u{200D}'));
    // Persian ZWNJ between Arabic letters is not flagged either.
    assert!(!Normalized::new("می\u{200C}خواهم").had_hidden_chars());
    // But a joiner inside a Latin word is.
    assert!(Normalized::new("pass\u{200D}word").had_hidden_chars());
    // And a run of variation selectors (byte smuggling) is.
    assert!(Normalized::new("hi 😀\u{FE00}\u{FE01}\u{E0100}").had_hidden_chars());
    // A leading BOM is fine, one in the middle is not.
    assert!(!Normalized::new("\u{FEFF}hello").had_hidden_chars());
    assert!(Normalized::new("hel\u{FEFF}lo").had_hidden_chars());
    // Soft hyphens are removed silently.
    let n = Normalized::new("pass\u{00AD}word");
    assert_eq!(n.text, "password");
    assert!(!n.had_hidden_chars());
}

#[test]
fn fullwidth_folds_and_maps_to_fullwidth_bytes() {
    let s = "say ｐａｓｓｗｏｒｄ now";
    let n = Normalized::new(s);
    assert_eq!(n.text, "say password now");
    assert_eq!(original_of(s, &n, "password"), "ｐａｓｓｗｏｒｄ");
    assert_eq!(original_of(s, &n, "ss"), "ｓｓ");
    assert_eq!(original_of(s, &n, " now"), " now");
    assert!(!n.had_hidden_chars());
}

#[test]
fn cyrillic_and_greek_lookalikes_fold_to_ascii() {
    let s = "раssword"; // Cyrillic р, а
    let n = Normalized::new(s);
    assert_eq!(n.text, "password");
    assert_eq!(original_of(s, &n, "pa"), "ра");
    assert_eq!(n.to_original(0..1), 0..2);
    assert_eq!(Normalized::new("Αdmin ρаѕѕ").text, "Admin pass");
    assert_eq!(Normalized::new("οpenаі").text, "openai");
}

#[test]
fn ligature_and_compatibility_forms() {
    let s = "ﬁle ﬂow 𝐁𝐨𝐥𝐝 x²";
    let n = Normalized::new(s);
    assert_eq!(n.text, "file flow Bold x2");
    // "fi" came from one character: either half maps to all of it.
    assert_eq!(n.to_original(0..1), 0..3);
    assert_eq!(n.to_original(1..2), 0..3);
    assert_eq!(original_of(s, &n, "Bold"), "𝐁𝐨𝐥𝐝");
}

#[test]
fn composition_maps_to_all_source_characters() {
    let s = "cafe\u{0301} and cafe\u{200B}\u{0301}";
    let n = Normalized::new(s);
    assert_eq!(n.text, "café and café");
    let e = n.text.find('é').unwrap();
    assert_eq!(&s[n.to_original(e..e + 2)], "e\u{0301}");
    let last = n.text.rfind('é').unwrap();
    assert_eq!(&s[n.to_original(last..last + 2)], "e\u{200B}\u{0301}");
    // Hangul jamo compose into one syllable.
    let n = Normalized::new("\u{1100}\u{1161}\u{11A8}");
    assert_eq!(n.text, "\u{AC01}");
    assert_eq!(n.to_original(0..3), 0..9);
}

#[test]
fn whitespace_and_case_are_kept() {
    let s = "A\u{00A0}B  \u{3000}Ｃ";
    let n = Normalized::new(s);
    // NFKC turns NBSP and ideographic space into plain spaces; runs stay.
    assert_eq!(n.text, "A B   C");
}

#[test]
fn to_original_clamps_and_snaps() {
    let s = "ｐ\u{200B}x";
    let n = Normalized::new(s);
    assert_eq!(n.text, "px");
    assert_eq!(n.to_original(0..2), 0..s.len());
    assert_eq!(n.to_original(5..99), s.len()..s.len());
    // A reversed range is an empty one at its start; the removed
    // zero-width character before "x" is not part of it.
    #[allow(clippy::reversed_empty_ranges)]
    let reversed = 1..0;
    assert_eq!(n.to_original(reversed), 6..6);
    let n = Normalized::new("é");
    // Ends inside a character widen to the whole character.
    assert_eq!(n.to_original(1..1), 0..2);
    assert_eq!(n.to_original(0..1), 0..2);
}

#[test]
fn only_invisible_input_gives_empty_text() {
    let n = Normalized::new("\u{200B}\u{200B}");
    assert_eq!(n.text, "");
    assert!(!n.is_identity());
    assert_eq!(n.to_original(0..0), 0..0);
}

#[test]
fn other_invisible_controls_are_flagged() {
    for c in [
        '\u{2060}', '\u{2062}', '\u{180E}', '\u{061C}', '\u{200E}', '\u{3164}',
    ] {
        let s = format!("ab{c}cd");
        let n = Normalized::new(&s);
        assert_eq!(n.text, "abcd", "{c:?}");
        assert!(n.had_hidden_chars(), "{c:?}");
    }
    // A lone tag character, and a tag run after the flag that is too long
    // or lacks the cancel tag, are flagged.
    assert!(Normalized::new("x\u{E0041}").had_hidden_chars());
    let long = "\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E0067}\u{E0067}\u{E0067}\u{E007F}";
    assert!(Normalized::new(long).had_hidden_chars());
    assert!(Normalized::new("\u{1F3F4}\u{E0067}\u{E0062}").had_hidden_chars());
}

#[test]
fn mixed_script_confusable_mapping_is_per_character() {
    // Cyrillic look-alikes inside ASCII words; Cyrillic "т" (small-capital
    // shape) is not a look-alike of "t" and stays.
    let s = "аdministrаtor ѕeсret ｋｅｙ сат";
    let n = Normalized::new(s);
    assert_eq!(n.text, "administrator secret key caт");
    let start = n.text.find("secret").unwrap();
    assert_eq!(&s[n.to_original(start..start + 6)], "ѕeсret");
    let start = n.text.find("key").unwrap();
    assert_eq!(&s[n.to_original(start + 1..start + 2)], "ｅ");
}
