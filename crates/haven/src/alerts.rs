//! `haven alerts`: list alerts from the store (JSON lines for scripts) and print the weekly DSL
//! digest for any ISO week. The digest carries counts, ids and links, never pupil names.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use haven_config::Config;
use haven_monitor::digest::{self, DigestAlert, Week};
use haven_store::{AlertQuery, AlertRecord, Store};

/// `haven alerts` sub-commands.
#[derive(Subcommand)]
pub enum AlertsCommand {
    /// List alerts, newest first, one JSON object a line.
    List {
        /// Only alerts without an outcome.
        #[arg(long)]
        open: bool,
        /// At most this many.
        #[arg(long, default_value_t = 500)]
        limit: u32,
    },
    /// Print the weekly DSL digest (default: last complete week, school time).
    Digest {
        /// ISO week, such as 2026-W48.
        #[arg(long)]
        week: Option<String>,
    },
}

/// The digest's view of a stored alert (no person).
pub fn digest_alert(a: &AlertRecord) -> DigestAlert {
    DigestAlert {
        id: a.id,
        raised: a.raised,
        severity: a.severity.clone(),
        category: a.category.clone(),
        group: a.group.clone(),
        rule: a.rule.clone(),
        state: a.state.as_str().to_owned(),
        outcome: a.outcome.map(|o| o.as_str().to_owned()),
        ack_at: a.ack_at,
        outcome_at: a.outcome_at,
    }
}

/// The digest text for a week, read from the store.
pub async fn digest_text(store: &Store, week: Week, tz: &jiff::tz::TimeZone, console_url: &str) -> Result<String> {
    let (from, to) = week.bounds(tz);
    let mut alerts = store.alerts(&AlertQuery { from: Some(from), to: Some(to), limit: 100_000, ..AlertQuery::default() }).await?;
    alerts.extend(store.alerts(&AlertQuery { open_only: true, to: Some(to), limit: 100_000, ..AlertQuery::default() }).await?);
    let items: Vec<DigestAlert> = alerts.iter().map(digest_alert).collect();
    Ok(digest::render_text(&digest::build(week, tz, &items), tz, console_url))
}

/// Run a `haven alerts` command.
pub fn run(config: &Config, command: AlertsCommand) -> Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    let store_url = config.service().store_url.clone();
    rt.block_on(async {
        let store = Store::open(&store_url).await.with_context(|| format!("opening the store {}", crate::serve::redact(&store_url)))?;
        let out = match command {
            AlertsCommand::List { open, limit } => {
                for a in store.alerts(&AlertQuery { open_only: open, limit, ..AlertQuery::default() }).await? {
                    let v = serde_json::json!({
                        "id": a.id, "raised": a.raised.to_string(), "last": a.last.to_string(), "hits": a.hits,
                        "rule": a.rule, "severity": a.severity, "category": a.category, "group": a.group,
                        "state": a.state.as_str(), "outcome": a.outcome.map(|o| o.as_str()),
                    });
                    println!("{v}");
                }
                ExitCode::SUCCESS
            }
            AlertsCommand::Digest { week } => {
                let tz = config.timezone();
                let week = match week {
                    Some(w) => Week::parse(&w)?,
                    None => Week::containing(jiff::Timestamp::now(), tz).previous(tz),
                };
                print!("{}", digest_text(&store, week, tz, &config.monitor().console_url).await?);
                ExitCode::SUCCESS
            }
        };
        store.close().await;
        Ok(out)
    })
}
