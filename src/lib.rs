//! Parapet: a guardrail proxy for OpenAI-compatible LLM endpoints.
//!
//! [`app`] builds the whole proxy from a [`Config`] as a tower service, so tests
//! drive it in-process; [`server::serve`] runs it on a listener.

#![warn(missing_docs)]

pub mod classify;
pub mod config;
pub mod detect;
pub mod eval;
pub mod metrics;
pub mod policy;
pub mod proxy;
pub mod server;

pub use config::Config;
pub use proxy::{app, App, AppError};
