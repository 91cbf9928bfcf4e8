//! `parapet eval`: a policy measured on labelled texts.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::ValueEnum;
use parapet::classify::{Classifiers, ScoreTable};
use parapet::eval::{read_jsonl, LabelSpec, Progress, Record, Report};
use parapet::policy::model::{Cond, ScoreSource};
use parapet::policy::{Decision, Policy, Text};

use super::classify::Side;

/// `parapet eval` arguments.
#[derive(clap::Args)]
pub struct EvalArgs {
    /// The policy file to measure.
    #[arg(long, value_name = "PATH")]
    policy: PathBuf,
    /// Labelled texts, one JSON object per line: `text` and `label` (`benign`, or the
    /// harm's tags such as `injection` or `["harm", "violence"]`).
    #[arg(long, value_name = "FILE.jsonl")]
    data: PathBuf,
    /// Also print a threshold table per classifier label.
    #[arg(long)]
    sweep: bool,
    /// Write an HTML report with ROC and precision/recall curves to this file.
    #[arg(long, value_name = "FILE.html")]
    html: Option<PathBuf>,
    /// Print the report as JSON instead of tables.
    #[arg(long)]
    json: bool,
    /// Which decision counts as flagging a text.
    #[arg(long, value_enum, default_value = "block")]
    flag: Flag,
    /// Judge the texts as prompts (`input`) or completions (`output`).
    #[arg(long, value_enum, default_value = "input")]
    direction: Side,
    /// Texts classified per model run (1 measures one text at a time, as a lone request).
    #[arg(long, default_value_t = 32, value_name = "N")]
    batch: usize,
    /// Model directory [default: ./classifiers, then the installed models].
    #[arg(long, env = "PARAPET_CLASSIFIERS", value_name = "DIR")]
    classifiers: Option<PathBuf>,
}

/// What counts as flagged.
#[derive(Clone, Copy, ValueEnum)]
enum Flag {
    /// The policy blocks the text.
    Block,
    /// The policy does anything but allow (block, redact or annotate).
    Any,
}

/// Runs the evaluation; prints the report; returns the exit code.
pub fn run(args: EvalArgs) -> anyhow::Result<i32> {
    let path = args.data.display().to_string();
    let file = File::open(&args.data).with_context(|| format!("cannot open {path}"))?;
    let rows = read_jsonl(BufReader::new(file), &path)?;
    let models = super::load_models(args.classifiers)?;
    let policy = super::load_policies(std::slice::from_ref(&args.policy), &models)?
        .pop()
        .context("no policy loaded")?;
    let specs = label_specs(&policy, &models);
    let role = args.direction.direction_role().1;
    let req = args.direction.request();
    let progress = Progress::new("eval", Some(rows.len() as u64));
    let mut records = Vec::with_capacity(rows.len());
    for (start, chunk) in (0..rows.len())
        .step_by(args.batch.max(1))
        .map(|s| (s, &rows[s..(s + args.batch.max(1)).min(rows.len())]))
    {
        let texts: Vec<&str> = chunk.iter().map(|r| r.text.as_str()).collect();
        let t = Instant::now();
        let scored = models.classify_blocking(&texts)?;
        let per_text = t.elapsed() / chunk.len() as u32;
        for (k, (row, s)) in chunk.iter().zip(scored).enumerate() {
            let t = Instant::now();
            let text = [Text {
                text: &row.text,
                role,
                latest: true,
                joined: false,
            }];
            let table = ScoreTable::build(1, &[0], vec![s.clone()], 1, &[]);
            let v = policy.evaluate(&req, &text, &table);
            let latency = per_text + t.elapsed();
            let flagged = match args.flag {
                Flag::Block => v.decision == Decision::Block,
                Flag::Any => v.decision != Decision::Allow,
            };
            records.push(Record {
                row: start + k,
                flagged,
                fired: v
                    .fired
                    .iter()
                    .filter(|f| !f.monitor)
                    .map(|f| policy.rules[f.rule].id.clone())
                    .collect(),
                scores: specs
                    .iter()
                    .map(|(_, i)| s.scores.get(*i).map_or(f64::NAN, |v| f64::from(*v)))
                    .collect(),
                latency,
            });
        }
        progress.inc(chunk.len() as u64);
    }
    progress.finish();
    let labels: Vec<LabelSpec> = specs.into_iter().map(|(s, _)| s).collect();
    let rule_ids: Vec<String> = policy.rules.iter().map(|r| r.id.clone()).collect();
    let report = Report::build(&rows, &records, &labels, &rule_ids)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print!("{}", report.render_text(args.sweep));
        println!(
            "latency per text: classification amortised over batches of {}, plus policy evaluation",
            args.batch.max(1)
        );
    }
    if let Some(html) = &args.html {
        let title = format!("parapet eval: {} on {}", policy.label(), path);
        std::fs::write(html, report.render_html(&title))
            .with_context(|| format!("cannot write {}", html.display()))?;
        eprintln!("wrote {}", html.display());
    }
    Ok(0)
}

/// Every label of every model, with its index in the score table and the threshold it
/// is measured at: the lowest one the policy's rules use for it, else the one its
/// manifest recommends (the model card's), else none.
fn label_specs(policy: &Policy, models: &Classifiers) -> Vec<(LabelSpec, usize)> {
    let mut out = Vec::new();
    let mut index = 0;
    for (model, labels) in models.models() {
        let recommended = models.catalog().model(&model).map(|m| &m.thresholds);
        for label in &labels {
            let mut threshold: Option<f64> = None;
            for rule in &policy.rules {
                thresholds_for(policy, &rule.when, index, &mut threshold);
            }
            threshold = threshold.or_else(|| recommended?.get(label).copied());
            out.push((
                LabelSpec {
                    model: model.clone(),
                    label: label.clone(),
                    threshold,
                },
                index,
            ));
            index += 1;
        }
    }
    out
}

fn thresholds_for(policy: &Policy, cond: &Cond, index: usize, lowest: &mut Option<f64>) {
    match cond {
        Cond::Any(v) | Cond::All(v) => v
            .iter()
            .for_each(|c| thresholds_for(policy, c, index, lowest)),
        Cond::Not(c) => thresholds_for(policy, c, index, lowest),
        Cond::Score { key, threshold }
            if policy.score_keys[*key].source == ScoreSource::Label(Some(index)) =>
        {
            *lowest = Some(lowest.map_or(*threshold, |l| l.min(*threshold)));
        }
        _ => {}
    }
}
