//! Measurement behind `parapet eval`: labelled rows in, precision, recall,
//! false-positive rate, ROC and precision/recall curves, threshold sweeps and
//! latency out, rendered as terminal tables, JSON or one self-contained HTML file.
//!
//! The caller reads the data ([`read_jsonl`]), runs the policy over every row and
//! hands one [`Record`] per evaluated row to [`Report::build`]. Everything here is
//! pure computation and rendering: no policy, classifier or file system access
//! beyond the reader it is given.
//!
//! Conventions: a decision or a score flags a row when `score >= threshold` (as the
//! policy does). Benign rows are the only negatives; for a classifier label, rows
//! that are harmful for some other reason are left out of its metrics.

pub mod data;
mod html;
mod json;
pub mod latency;
pub mod metrics;
pub mod progress;
pub mod record;
pub mod report;
mod svg;
mod table;
mod text;

pub use data::{read_jsonl, Row};
pub use latency::LatencyStats;
pub use metrics::{Confusion, Suggestion, SweepRow, Truth};
pub use progress::Progress;
pub use record::{LabelSpec, Record};
pub use report::{Counts, LabelStats, Report, RuleStats, TagStats};

/// The evaluation boundary's error.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The data could not be read.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// The file as named by the user.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A data line is malformed (`file:line: message`).
    #[error("{path}:{line}: {message}")]
    Data {
        /// The file as named by the user.
        path: String,
        /// 1-based line number.
        line: usize,
        /// Lowercase, offending value in backticks.
        message: String,
    },
    /// The file holds no rows.
    #[error("`{path}` has no data rows")]
    Empty {
        /// The file as named by the user.
        path: String,
    },
    /// A record does not fit the rows or label specs it was built with.
    #[error("record {index}: {message}")]
    Record {
        /// Index of the record.
        index: usize,
        /// What is wrong.
        message: String,
    },
}
