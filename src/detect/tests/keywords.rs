use crate::detect::{
    DetectError, KeywordMatch, KeywordSet, KeywordSetBuilder, Normalized, WordMode,
};

fn items(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn set(lists: &[(usize, &[&str], WordMode, bool)]) -> KeywordSet {
    let mut b = KeywordSetBuilder::new();
    for &(id, list, mode, ci) in lists {
        b.add_list(id, &items(list), mode, ci).unwrap();
    }
    b.build().unwrap()
}

fn find(set: &KeywordSet, text: &str) -> Vec<KeywordMatch> {
    let mut out = Vec::new();
    set.find_all(text, &mut out);
    out
}

fn spans<'a>(set: &KeywordSet, text: &'a str) -> Vec<(usize, &'a str)> {
    find(set, text)
        .into_iter()
        .map(|m| (m.list_id, &text[m.span]))
        .collect()
}

#[test]
fn word_mode_respects_boundaries() {
    let s = set(&[(0, &["kill"], WordMode::Word, false)]);
    assert!(find(&s, "a skill, killer, skills").is_empty());
    assert_eq!(
        spans(&s, "kill it; kill_switch; (kill)"),
        vec![(0, "kill"); 3]
    );
    let sub = set(&[(1, &["kill"], WordMode::Substring, false)]);
    assert_eq!(spans(&sub, "skill killer"), vec![(1, "kill"); 2]);
}

#[test]
fn word_mode_unicode_boundaries_and_symbol_edges() {
    let s = set(&[(0, &["bomb", "c++"], WordMode::Word, false)]);
    assert!(find(&s, "bombé bombа ébomb").is_empty());
    // CJK ideographs are alphanumeric too.
    assert_eq!(spans(&s, "«bomb» 東bomb"), vec![(0, "bomb")]);
    // "c++" checks only its left edge.
    assert_eq!(spans(&s, "use c++ and c++x"), vec![(0, "c++"), (0, "c++")]);
    assert!(find(&s, "abc++").is_empty());
}

#[test]
fn case_sensitivity() {
    let cs = set(&[(0, &["Secret"], WordMode::Word, false)]);
    assert_eq!(spans(&cs, "Secret secret SECRET"), vec![(0, "Secret")]);
    let ci = set(&[(0, &["Secret"], WordMode::Word, true)]);
    assert_eq!(spans(&ci, "Secret secret SECRET").len(), 3);
}

#[test]
fn case_insensitive_non_ascii() {
    let s = set(&[(0, &["straße", "ÉCOLE", "σοφος"], WordMode::Word, true)]);
    assert_eq!(spans(&s, "STRASSE"), vec![(0, "STRASSE")]);
    assert_eq!(spans(&s, "Straße"), vec![(0, "Straße")]);
    assert_eq!(spans(&s, "STRAẞE ok"), vec![(0, "STRAẞE")]);
    assert_eq!(spans(&s, "l'école"), vec![(0, "école")]);
    // Items are normalised (Greek ο folds to o), so the text must be too.
    let text = Normalized::new("ΣΟΦΟΣ σοφος σοφοσ");
    assert_eq!(
        spans(&s, &text.text),
        vec![(0, "ΣOΦOΣ"), (0, "σoφoς"), (0, "σoφoσ")]
    );
    // Matching one "s" of a "ß" is not a match.
    let s = set(&[(1, &["sa"], WordMode::Substring, true)]);
    assert!(find(&s, "ßa").is_empty());
    assert_eq!(spans(&s, "ÄSA"), vec![(1, "SA")]);
}

#[test]
fn multi_word_items_match_any_whitespace_run() {
    let s = set(&[(0, &["  project   falcon "], WordMode::Word, true)]);
    for text in [
        "Project Falcon",
        "project\n\t falcon",
        "project\u{2003}falcon",
        "projéct falcon project  falcon",
    ] {
        let got = spans(&s, text);
        assert_eq!(got.len(), 1, "{text:?}: {got:?}");
        assert!(got[0].1.starts_with("project") || got[0].1.starts_with("Project"));
    }
    assert!(find(&s, "project-falcon").is_empty());
    assert!(find(&s, "projectfalcon").is_empty());
}

#[test]
fn multiple_lists_share_items() {
    let s = set(&[
        (0, &["alpha", "beta"], WordMode::Word, false),
        (7, &["beta", "gamma"], WordMode::Substring, true),
        (3, &["BETA", "beta"], WordMode::Word, true),
    ]);
    let got = find(&s, "beta Gamma");
    let ids: Vec<(usize, usize)> = got.iter().map(|m| (m.list_id, m.item)).collect();
    assert_eq!(ids, vec![(0, 1), (3, 0), (7, 0), (7, 1)]);
    assert!(got.iter().take(3).all(|m| m.span == (0..4)));
}

#[test]
fn overlapping_items_are_all_reported() {
    let s = set(&[(0, &["he", "hers", "she"], WordMode::Substring, false)]);
    let got: Vec<&str> = spans(&s, "ushers").into_iter().map(|(_, t)| t).collect();
    assert_eq!(got, vec!["she", "he", "hers"]);
}

#[test]
fn items_are_normalised_like_text() {
    let s = set(&[(0, &["ｆｉｌｅ", "раss"], WordMode::Word, false)]);
    let text = Normalized::new("the ﬁle has a pass");
    assert_eq!(spans(&s, &text.text), vec![(0, "file"), (0, "pass")]);
}

#[test]
fn match_spans_map_back_through_normalisation() {
    let s = set(&[(0, &["password"], WordMode::Word, true)]);
    let original = "my ＰＡ\u{200B}ＳＳword is";
    let n = Normalized::new(original);
    let got = find(&s, &n.text);
    assert_eq!(got.len(), 1);
    assert_eq!(
        &original[n.to_original(got[0].span.clone())],
        "ＰＡ\u{200B}ＳＳword"
    );
}

#[test]
fn errors() {
    let mut b = KeywordSetBuilder::new();
    let err = b
        .add_list(4, &items(&["ok", "x", " \t ", "y"]), WordMode::Word, false)
        .unwrap_err();
    assert_eq!(
        err,
        DetectError::EmptyKeyword {
            list_id: 4,
            item: 2
        }
    );
    assert_eq!(err.to_string(), "keyword list item 2 is empty");
    let err = b
        .add_list(5, &items(&["\u{200B}"]), WordMode::Word, true)
        .unwrap_err();
    assert_eq!(
        err,
        DetectError::EmptyKeyword {
            list_id: 5,
            item: 0
        }
    );
    // A failed add leaves nothing behind; the id can be used again.
    b.add_list(4, &items(&["ok"]), WordMode::Word, false)
        .unwrap();
    let err = b
        .add_list(4, &items(&["again"]), WordMode::Word, false)
        .unwrap_err();
    assert_eq!(err.to_string(), "keyword list 4 was added twice");
    let s = b.build().unwrap();
    assert_eq!(spans(&s, "ok x y"), vec![(4, "ok")]);
}

#[test]
fn empty_set_finds_nothing() {
    let s = KeywordSetBuilder::new().build().unwrap();
    assert!(s.is_empty());
    assert!(find(&s, "anything at all").is_empty());
}

#[test]
fn collapsed_and_folded_view_together() {
    let s = set(&[(2, &["Grüße aus", "kill"], WordMode::Word, true)]);
    let text = "ok GRÜSSE\n\n  AUS berlin; KİLL";
    // Dotted capital I folds to plain i.
    assert_eq!(spans(&s, text), vec![(2, "GRÜSSE\n\n  AUS"), (2, "KİLL")]);
    let text = "grüße\u{3000}aus, Kill.";
    assert_eq!(spans(&s, text), vec![(2, "grüße\u{3000}aus"), (2, "Kill")]);
}

#[test]
fn find_all_appends() {
    let s = set(&[(0, &["a"], WordMode::Word, false)]);
    let mut out = vec![KeywordMatch {
        list_id: 9,
        item: 9,
        span: 0..0,
    }];
    s.find_all("a b a", &mut out);
    assert_eq!(out.len(), 3);
    assert_eq!(out[0].list_id, 9);
    assert_eq!(out[2].span, 4..5);
}

#[test]
fn detectors_are_shareable() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<KeywordSet>();
    assert_send_sync::<crate::detect::PiiDetector>();
    assert_send_sync::<Normalized>();
}
