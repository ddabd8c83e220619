//! `haven`: the one binary. A thin layer of clap sub-commands over the library crates.

mod activity;
mod alerts;
mod check;
mod console;
mod directory;
mod identity;
mod init;
mod lists;
mod memory;
mod people;
mod radius;
mod records;
mod records_bench;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use haven_config::{Config, ConfigError};

/// Haven: online safety for schools.
#[derive(Parser)]
#[command(name = "haven", version, about = "Haven: open-source online safety for schools")]
struct Cli {
    /// Configuration file (TOML). Without it Haven runs on its embedded defaults.
    #[arg(long, short, global = true, env = "HAVEN_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load, inspect and measure category lists.
    Lists {
        #[command(subcommand)]
        command: lists::ListsCommand,
    },
    /// Decide one name or URL for a group, user or client address, and say why.
    Check(check::CheckArgs),
    /// Check the configuration file and report every problem.
    Config,
    /// Run the filtering DNS service and the activity log until stopped (SIGTERM or Ctrl-C).
    Serve,
    /// Ask the running service to reload lists and policy (as SIGHUP does).
    Reload,
    /// Search the activity log.
    Activity(activity::ActivityArgs),
    /// Create a data directory: configuration, default policy, store, first administrator,
    /// self-signed console certificate and a one-time recovery code.
    Init(init::InitArgs),
    /// Break glass: reset an administrator with the recovery code `haven init` printed.
    Recover(init::RecoverArgs),
    /// The people directory: import MIS exports, list people.
    People {
        #[command(subcommand)]
        command: people::PeopleCommand,
    },
    /// Monitoring alerts: list them, print the weekly DSL digest.
    Alerts {
        #[command(subcommand)]
        command: alerts::AlertsCommand,
    },
    /// Safeguarding records: verify the chain, move a pupil's file between schools, print it.
    Records {
        #[command(subcommand)]
        command: records::RecordsCommand,
    },
    /// Print a proxy users-file line for USER, reading the password from standard input.
    ProxyUser {
        /// The user name, as the policy's directory knows it (`j.smith`).
        user: String,
    },
}

/// `haven proxy-user`: hash a password read from standard input into a users-file line.
fn proxy_user(user: &str) -> Result<ExitCode> {
    if user.is_empty() || user.contains(':') || user.contains(char::is_whitespace) {
        anyhow::bail!("a user name must be non-empty, with no `:` and no spaces");
    }
    let mut password = String::new();
    std::io::stdin().read_line(&mut password).context("reading the password from standard input")?;
    let password = password.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        anyhow::bail!("no password on standard input");
    }
    let hash = haven_proxy::hash_password(password).map_err(anyhow::Error::msg)?;
    println!("{user}:{hash}");
    Ok(ExitCode::SUCCESS)
}

/// Exit codes per stage, so scripts can tell a bad configuration from a failed load.
pub(crate) const EXIT_CONFIG: u8 = 64;
const EXIT_LOAD: u8 = 66;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("haven: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    if let Command::Init(args) = &cli.command {
        return init::init(args);
    }
    let config = match load_config(cli.config.as_deref()) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    match cli.command {
        Command::Serve => serve::run(cli.config.clone(), config),
        Command::Reload => serve::request_reload(config.service()),
        Command::Activity(args) => activity::run(&config, &args),
        Command::ProxyUser { user } => proxy_user(&user),
        Command::Lists { command } => lists::run(&config, command),
        Command::Check(args) => check::run(&config, &args),
        Command::Init(args) => init::init(&args),
        Command::Recover(args) => init::recover(&config, &args),
        Command::People { command } => people::run(&config, command),
        Command::Records { command } => records::run(&config, command),
        Command::Alerts { command } => alerts::run(&config, command),
        Command::Config => {
            println!("ok: {config}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Parse and check the configuration before anything else happens; report every problem.
fn load_config(path: Option<&std::path::Path>) -> std::result::Result<Config, ExitCode> {
    let loaded = match path {
        Some(p) => Config::from_file(p),
        None => Config::embedded(),
    };
    loaded.map_err(|e| {
        report_config_error(&e);
        ExitCode::from(EXIT_CONFIG)
    })
}

/// Print a configuration error and record any attempt on the illegal floor in the audit log.
pub(crate) fn report_config_error(e: &ConfigError) {
    eprintln!("haven: configuration refused:\n{e}");
    let overrides = e.floor_overrides();
    if overrides.is_empty() {
        return;
    }
    if let Some(path) = e.audit_path() {
        match record_floor_overrides(path, &overrides) {
            Ok(()) => eprintln!("haven: {} attempt(s) to change the illegal-content floor recorded in {}", overrides.len(), path.display()),
            Err(err) => eprintln!("haven: could not record floor override attempt in {}: {err}", path.display()),
        }
    }
}

fn record_floor_overrides(path: &std::path::Path, overrides: &[&haven_policy::PolicyError]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    let at = jiff::Timestamp::now();
    for o in overrides {
        let line = serde_json::json!({
            "time": at.to_string(),
            "event": "illegal_floor_override_refused",
            "field": o.field,
            "message": o.message,
            "actor": std::env::var("SUDO_USER").or_else(|_| std::env::var("USER")).unwrap_or_default(),
        });
        writeln!(f, "{line}")?;
    }
    f.sync_all()
}

/// Build the snapshot, reporting a failed load with its own exit code.
pub(crate) fn build(config: &Config) -> std::result::Result<haven_config::Built, ExitCode> {
    config.build().map_err(|e| {
        match &e {
            ConfigError::Lists(_) => eprintln!("haven: lists not loaded: {e}"),
            other => report_config_error(other),
        }
        ExitCode::from(if matches!(e, ConfigError::Lists(_)) { EXIT_LOAD } else { EXIT_CONFIG })
    })
}
