//! The `parapet` command line.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use parapet::config::{Config, FileConfig, Overrides};
use tokio::net::TcpListener;

mod commands;

/// A guardrail proxy for OpenAI-compatible LLM endpoints.
#[derive(Parser)]
#[command(name = "parapet", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the proxy in front of an OpenAI-compatible upstream.
    ///
    /// Settings come from flags, then `PARAPET_*` environment variables, then the
    /// config file, then defaults. The upstream API key is read only from
    /// `PARAPET_UPSTREAM_API_KEY` or the config file, never from a flag.
    Serve(ServeArgs),
    /// Validate policy files: every diagnostic at once; exit 1 on any error.
    ///
    /// `classifier:` references are checked against the model manifests when a model
    /// directory is found (no model is run).
    Check {
        /// Policy files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Model directory [default: ./classifiers, then the installed models].
        #[arg(long, env = "PARAPET_CLASSIFIERS", value_name = "DIR")]
        classifiers: Option<PathBuf>,
    },
    /// Run the inline tests of policy files; the last line is "N passed, N failed".
    ///
    /// Classifier and topic scores are the tests' pinned `scores` (unpinned: 0), unless
    /// `--real-classifiers` runs the models.
    Test {
        /// Policy files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Also list rules that no test expects to fire.
        #[arg(long)]
        coverage: bool,
        /// Score texts with the real models instead of the pinned scores.
        #[arg(long)]
        real_classifiers: bool,
        /// Model directory [default: ./classifiers, then the installed models].
        #[arg(long, env = "PARAPET_CLASSIFIERS", value_name = "DIR")]
        classifiers: Option<PathBuf>,
    },
    /// Print the classifier scores of a text as JSON, and with --policy the rules that fire.
    Classify(commands::classify::ClassifyArgs),
    /// Measure a policy on labelled texts (JSONL: `text`, `label`): precision, recall,
    /// false-positive rate and latency per rule and per classifier label.
    Eval(commands::eval::EvalArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// YAML config file (unknown keys are errors).
    #[arg(long, env = "PARAPET_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Proxy listen address [default: 127.0.0.1:8080].
    #[arg(long, env = "PARAPET_LISTEN", value_name = "ADDR")]
    listen: Option<String>,
    /// Upstream base URL as an OpenAI SDK takes it, e.g. https://api.openai.com/v1;
    /// a request to /v1/X goes to {upstream}/X.
    #[arg(long, env = "PARAPET_UPSTREAM", value_name = "URL")]
    upstream: Option<String>,
    /// Admin listen address for /metrics, /healthz, /readyz [default: 127.0.0.1:9464].
    #[arg(long, env = "PARAPET_ADMIN_LISTEN", value_name = "ADDR")]
    admin_listen: Option<String>,
    /// Requests handled at once; beyond it Parapet answers 503 with Retry-After [default: 1024].
    #[arg(long, env = "PARAPET_MAX_CONCURRENCY", value_name = "N")]
    max_concurrency: Option<usize>,
    /// Refuse (404) paths under /v1 that Parapet does not know instead of passing them through.
    #[arg(long, env = "PARAPET_DENY_UNKNOWN_ROUTES", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    deny_unknown_routes: Option<bool>,
    /// Policy file or directory (repeatable; PARAPET_POLICY takes a comma-separated list)
    /// [default: the built-in policies/default.yaml].
    #[arg(
        long = "policy",
        env = "PARAPET_POLICY",
        value_name = "PATH",
        value_delimiter = ','
    )]
    policies: Vec<PathBuf>,
    /// Model directory for classifier and topic rules [default: ./classifiers, then the
    /// installed models].
    #[arg(long, env = "PARAPET_CLASSIFIERS", value_name = "DIR")]
    classifiers: Option<PathBuf>,
    /// Log format [default: text on a terminal, json otherwise]; the level is set by PARAPET_LOG (default info).
    #[arg(long, env = "PARAPET_LOG_FORMAT", value_enum)]
    log_format: Option<LogFormat>,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Check { paths, classifiers } => {
            std::process::exit(commands::check(&paths, classifiers)?)
        }
        Command::Test {
            paths,
            coverage,
            real_classifiers,
            classifiers,
        } => std::process::exit(commands::test(
            &paths,
            coverage,
            real_classifiers,
            classifiers,
        )?),
        Command::Classify(args) => std::process::exit(commands::classify::run(args)?),
        Command::Eval(args) => std::process::exit(commands::eval::run(args)?),
    }
}

fn init_logging(format: Option<LogFormat>) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PARAPET_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = match format {
        Some(LogFormat::Json) => true,
        Some(LogFormat::Text) => false,
        None => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let overrides = Overrides {
        listen: args.listen,
        admin_listen: args.admin_listen,
        upstream: args.upstream,
        upstream_api_key: std::env::var("PARAPET_UPSTREAM_API_KEY").ok(),
        max_concurrency: args.max_concurrency,
        deny_unknown_routes: args.deny_unknown_routes,
        policies: args.policies,
        classifiers_dir: args.classifiers,
    };
    let config = Config::resolve(file, overrides)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run(config))
}

async fn run(config: Config) -> anyhow::Result<()> {
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let admin = TcpListener::bind(config.admin_listen)
        .await
        .with_context(|| format!("cannot listen on {} (admin)", config.admin_listen))?;
    let upstream = config.upstream.url();
    let app = parapet::app(config)?;
    tracing::info!("parapet listening on {}", listener.local_addr()?);
    tracing::info!("admin listening on {}", admin.local_addr()?);
    tracing::info!(upstream = %upstream, "forwarding to upstream");
    let admin_task = tokio::spawn(parapet::server::serve_admin(app.clone(), admin));
    let reload_task = tokio::spawn(parapet::policy::reload::watch(app.clone()));
    parapet::server::serve(app, listener, shutdown_signal()).await;
    admin_task.abort();
    reload_task.abort();
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C will stop parapet");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
    }
}
