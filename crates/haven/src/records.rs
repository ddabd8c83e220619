//! `haven records verify`: check the whole safeguarding-records hash chain and every attachment,
//! and name the first entry or attachment that does not match (exit 1), so tampering done
//! directly in the database is found.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Subcommand;
use haven_config::Config;
use haven_store::Store;

/// `haven records` sub-commands.
#[derive(Subcommand)]
pub enum RecordsCommand {
    /// Check every entry's hash and link, and every attachment's content hash.
    Verify,
}

/// Run a `haven records` command.
pub fn run(config: &Config, command: RecordsCommand) -> Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    let store_url = config.service().store_url.clone();
    match command {
        RecordsCommand::Verify => rt.block_on(async {
            let store = Store::open(&store_url).await.with_context(|| format!("opening the store {store_url}"))?;
            let started = Instant::now();
            let report = store.verify_records().await?;
            store.close().await;
            let took = started.elapsed().as_secs_f64();
            match report.first_break {
                None => {
                    println!("records intact: {} entries and {} attachments verified in {took:.2} s; chain head {}", report.entries, report.attachments, report.head);
                    Ok(ExitCode::SUCCESS)
                }
                Some(b) => {
                    eprintln!("haven: records do not verify: {b}");
                    eprintln!("haven: {} entries before it matched; last good hash {}", report.entries, report.head);
                    Ok(ExitCode::from(1))
                }
            }
        }),
    }
}
