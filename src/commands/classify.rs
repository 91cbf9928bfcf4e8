//! `parapet classify`: the scores of one text, and the rules of a policy that fire.

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::ValueEnum;
use parapet::classify::ScoreTable;
use parapet::policy::raw::Direction;
use parapet::policy::{RequestInfo, Text};
use parapet::proxy::openai::Role;
use parapet::proxy::route::Route;
use serde_json::{json, Map, Value};

/// `parapet classify` arguments.
#[derive(clap::Args)]
pub struct ClassifyArgs {
    /// The text, or `-` (the default) to read it from standard input.
    #[arg(default_value = "-")]
    text: String,
    /// Also evaluate this policy file and list the rules that fire.
    #[arg(long, value_name = "PATH")]
    policy: Option<PathBuf>,
    /// Judge the text as a prompt (`input`) or a completion (`output`).
    #[arg(long, value_enum, default_value = "input")]
    direction: Side,
    /// Model directory [default: ./classifiers, then the installed models].
    #[arg(long, env = "PARAPET_CLASSIFIERS", value_name = "DIR")]
    classifiers: Option<PathBuf>,
}

/// Which side of the exchange a text is on.
#[derive(Clone, Copy, ValueEnum)]
pub enum Side {
    /// A user prompt.
    Input,
    /// An assistant completion.
    Output,
}

impl Side {
    /// The policy direction and the role the text is written by.
    pub fn direction_role(self) -> (Direction, Role) {
        match self {
            Side::Input => (Direction::Input, Role::User),
            Side::Output => (Direction::Output, Role::Assistant),
        }
    }

    /// A lone text's request, as the offline commands judge it: a chat completion with no
    /// model or tenant.
    pub fn request(self) -> RequestInfo<'static> {
        RequestInfo {
            direction: self.direction_role().0,
            route: Route::ChatCompletions,
            model: None,
            tenant: None,
            opaque_inputs: 0,
            token_inputs: 0,
        }
    }
}

/// Prints the JSON report; returns the exit code.
pub fn run(args: ClassifyArgs) -> anyhow::Result<i32> {
    let text = if args.text == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("cannot read the text from standard input")?;
        s
    } else {
        args.text
    };
    let models = super::load_models(args.classifiers)?;
    let scored = models
        .classify_blocking(&[text.as_str()])?
        .pop()
        .context("the classifier returned no scores")?;
    let mut scores = Map::new();
    let mut i = 0;
    for (model, labels) in models.models() {
        if labels.is_empty() {
            continue; // an encoder: its embedding feeds heads and topics
        }
        let mut m = Map::new();
        for label in labels {
            let s = scored.scores.get(i).copied().unwrap_or(f32::NAN);
            m.insert(label, json!(round(f64::from(s))));
            i += 1;
        }
        scores.insert(model, Value::Object(m));
    }
    let mut out = json!({
        "chars": text.chars().count(),
        "windows": scored.windows,
        "truncated": scored.truncated,
        "scores": scores,
    });
    if let Some(path) = &args.policy {
        let policy = super::load_policies(std::slice::from_ref(path), &models)?
            .pop()
            .context("no policy loaded")?;
        let role = args.direction.direction_role().1;
        let texts = [Text {
            text: &text,
            role,
            latest: true,
            joined: false,
        }];
        let req = args.direction.request();
        let table = ScoreTable::build(1, &[0], vec![scored.clone()], 1, &[]);
        let verdict = policy.evaluate(&req, &texts, &table);
        let topics: Map<String, Value> = policy
            .topics
            .iter()
            .map(|t| (t.name.clone(), json!(round(t.score(&scored.embeddings)))))
            .collect();
        let rules: Vec<Value> = verdict
            .fired
            .iter()
            .map(|f| {
                json!({
                    "id": policy.rules[f.rule].id,
                    "action": f.action.as_str(),
                    "monitor": f.monitor,
                })
            })
            .collect();
        out["policy"] = json!(policy.label());
        out["topics"] = Value::Object(topics);
        out["decision"] = json!(verdict.decision.as_str());
        out["rules"] = Value::Array(rules);
    }
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = writeln!(stdout, "{}", serde_json::to_string_pretty(&out)?);
    Ok(0)
}

/// Scores to 4 decimals: enough to read, stable to diff.
fn round(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}
