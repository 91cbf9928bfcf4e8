//! Classifier and topic references compiled against a catalog, and topic scoring.

use super::compile::{ClassifierCatalog, CompileEnv};
use super::model::{ScoreSource, Topic};
use super::{check_source, Checked};

/// Two models; `shared` is a label both have. Embeds every phrase as a unit vector on
/// the axis given by its first letter (a..c), so similarities are exact.
struct Fake;

impl ClassifierCatalog for Fake {
    fn models(&self) -> Vec<(String, Vec<String>)> {
        vec![
            (
                "harm".into(),
                vec!["any".into(), "violence".into(), "shared".into()],
            ),
            (
                "injection".into(),
                vec!["injection".into(), "shared".into()],
            ),
        ]
    }

    /// The flattened position, as the real catalog numbers labels; None if ambiguous.
    fn label_index(&self, model: Option<&str>, label: &str) -> Option<usize> {
        let flat: Vec<(String, String)> = self
            .models()
            .into_iter()
            .flat_map(|(m, ls)| ls.into_iter().map(move |l| (m.clone(), l)))
            .collect();
        let mut hits = flat
            .iter()
            .enumerate()
            .filter(|(_, (m, l))| l == label && model.is_none_or(|w| w == m));
        match (hits.next(), hits.next()) {
            (Some((i, _)), None) => Some(i),
            _ => None,
        }
    }

    fn embed(&self, texts: &[&str]) -> Option<Result<Vec<Vec<f32>>, String>> {
        Some(Ok(texts
            .iter()
            .map(|t| {
                let mut v = vec![0.0; 3];
                v[(t.as_bytes()[0] - b'a') as usize % 3] = 1.0;
                v
            })
            .collect()))
    }
}

fn check(when: &str) -> Checked {
    let yaml = format!(
        "version: 1\nid: t\ntopics:\n  billing: {{examples: [a bill], counter_examples: [b fraud]}}\nrules:\n  - id: r\n    when: {when}\n    action: block\n"
    );
    let env = CompileEnv {
        classifiers: true,
        catalog: Some(&Fake),
    };
    check_source("t.yaml", yaml, env)
}

fn only_error(c: &Checked) -> String {
    assert_eq!(c.errors(), 1, "{}", c.render());
    c.render()
}

#[test]
fn labels_resolve_to_their_index_in_the_flattened_table() {
    for (when, index) in [
        (
            "{classifier: {model: harm, label: violence, threshold: 0.5}}",
            1,
        ),
        ("{classifier: {label: injection, threshold: 0.5}}", 3),
        (
            "{classifier: {model: injection, label: shared, threshold: 0.5}}",
            4,
        ),
    ] {
        let c = check(when);
        let p = c
            .policy
            .as_ref()
            .unwrap_or_else(|| panic!("{}", c.render()));
        assert_eq!(
            p.score_keys[0].source,
            ScoreSource::Label(Some(index)),
            "{when}"
        );
        assert!(p.rules[0].uses_scores);
    }
}

#[test]
fn unknown_model_and_label_suggest_the_nearest() {
    let e = only_error(&check(
        "{classifier: {model: harn, label: any, threshold: 0.5}}",
    ));
    assert!(
        e.contains("unknown classifier model `harn`") && e.contains("did you mean `harm`?"),
        "{e}"
    );
    let e = only_error(&check(
        "{classifier: {model: harm, label: violense, threshold: 0.5}}",
    ));
    assert!(
        e.contains("model `harm` has no label `violense`") && e.contains("`violence`"),
        "{e}"
    );
    let e = only_error(&check("{classifier: {label: injecton, threshold: 0.5}}"));
    assert!(
        e.contains("no loaded classifier has a label `injecton`"),
        "{e}"
    );
}

#[test]
fn a_label_two_models_have_needs_its_model() {
    let e = only_error(&check("{classifier: {label: shared, threshold: 0.5}}"));
    assert!(
        e.contains("label `shared` is ambiguous") && e.contains("`harm`, `injection`"),
        "{e}"
    );
}

#[test]
fn topics_are_embedded_when_the_policy_compiles() {
    let c = check("{topic: {name: billing, threshold: 0.5}}");
    let p = c
        .policy
        .as_ref()
        .unwrap_or_else(|| panic!("{}", c.render()));
    assert_eq!(p.topics[0].examples, vec![vec![1.0, 0.0, 0.0]]);
    assert_eq!(p.topics[0].counter_examples, vec![vec![0.0, 1.0, 0.0]]);
    assert_eq!(p.score_keys[0].source, ScoreSource::Topic(0));
}

#[test]
fn topic_score_is_the_best_example_unless_a_counter_example_is_as_close() {
    let t = Topic {
        name: "t".into(),
        examples: vec![vec![1.0, 0.0], vec![0.6, 0.8]],
        counter_examples: vec![vec![0.0, 1.0]],
    };
    let near_example: [&[f32]; 1] = [&[0.8, 0.6]];
    assert!((t.score(&near_example) - 0.96).abs() < 1e-6);
    let near_counter: [&[f32]; 1] = [&[0.0, 1.0]];
    assert_eq!(t.score(&near_counter), 0.0);
    // Windows: the best one counts.
    let windows: [&[f32]; 2] = [&[-1.0, 0.0], &[1.0, 0.0]];
    assert!((t.score(&windows) - 1.0).abs() < 1e-6);
    let opposite: [&[f32]; 1] = [&[-1.0, 0.0]];
    assert_eq!(
        Topic {
            counter_examples: vec![],
            ..t.clone()
        }
        .score(&opposite),
        0.0
    );
    assert_eq!(Topic::default().score(&opposite), 0.0);
}
