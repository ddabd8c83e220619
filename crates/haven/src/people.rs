//! `haven people import|sync|list`: the people directory from the command line. An import prints
//! its plan (adds, changes, leavers) and every bad row with its row number and field; with
//! `--dry-run` nothing is written, otherwise the good rows go in and leavers are disabled.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use haven_accounts::people::{GroupMap, ImportFormat, PersonKind, parse_csv};
use haven_accounts::{Clock, SystemClock};
use haven_config::Config;
use haven_store::{AuthEvent, PeopleQuery, Store};

/// `haven people` sub-commands.
#[derive(Subcommand)]
pub enum PeopleCommand {
    /// Import a CSV export (Wonde, SIMS, Arbor, or plain with a header).
    Import {
        /// The CSV file.
        file: PathBuf,
        /// Which export it is: wonde, sims, arbor or plain.
        #[arg(long, default_value = "plain")]
        format: String,
        /// Kind of person for rows without a kind column: pupil, staff, governor, volunteer, visitor.
        #[arg(long, default_value = "pupil")]
        kind: String,
        /// Show what would change and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Do not mark people missing from the file as left (for a partial file).
        #[arg(long)]
        no_leavers: bool,
    },
    /// Sync people from LDAP / Active Directory (`[directory]`): adds, changes and leavers,
    /// mapped by group membership (nested groups included).
    Sync {
        /// Show what would change and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Apply even when more than `directory.max_leavers_percent` would be marked as left.
        #[arg(long)]
        allow_mass_leavers: bool,
    },
    /// List people in the directory.
    List {
        /// Only names, emails, UPNs or tutor groups containing this.
        #[arg(long)]
        search: Option<String>,
        /// Include people who have left.
        #[arg(long)]
        all: bool,
    },
}

/// The group map, checked against the policy's groups.
pub fn group_map(config: &Config) -> Result<GroupMap> {
    let map = GroupMap::default();
    let known: Vec<&str> = config.policy().groups.iter().map(|g| g.id.as_str()).collect();
    for g in map.groups() {
        if !known.contains(&g) {
            bail!("people are mapped to the filtering group `{g}`, which the policy in {} does not define", config.origin());
        }
    }
    Ok(map)
}

/// Run a `haven people` command.
pub fn run(config: &Config, command: PeopleCommand) -> Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    let store_url = config.service().store_url.clone();
    match command {
        PeopleCommand::Sync { dry_run, allow_mass_leavers } => crate::directory::run_sync(config, group_map(config)?, dry_run, allow_mass_leavers),
        PeopleCommand::Import { file, format, kind, dry_run, no_leavers } => {
            let fmt = ImportFormat::parse(&format).with_context(|| format!("--format {format:?}: use wonde, sims, arbor or plain"))?;
            let default_kind = PersonKind::parse(&kind).with_context(|| format!("--kind {kind:?}: use pupil, staff, governor, volunteer or visitor"))?;
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let text = String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{}: not UTF-8 text (save the export as CSV UTF-8)", file.display()))?;
            let parsed = parse_csv(&text, fmt, default_kind, &group_map(config)?).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            for e in &parsed.errors {
                eprintln!("{}: {e}", file.display());
            }
            let people: Vec<_> = parsed.people.iter().map(|(_, p)| p.clone()).collect();
            let mut kinds: Vec<PersonKind> = people.iter().map(|p| p.kind).collect();
            kinds.sort();
            kinds.dedup();
            if no_leavers {
                kinds.clear();
            }
            rt.block_on(async {
                let store = Store::open(&store_url).await.with_context(|| format!("opening the store {store_url}"))?;
                let plan = store.plan_people_import(&people, &kinds).await?;
                for p in &plan.adds {
                    println!("add     {} ({}, {})", p.full_name(), p.kind, p.filter_group);
                }
                for c in &plan.changes {
                    println!("change  {} ({})", c.person.full_name(), c.fields.join(", "));
                }
                for l in &plan.leavers {
                    println!("leaver  {} ({})", l.person.full_name(), l.person.kind);
                }
                let summary = format!(
                    "{} to add, {} to change, {} leaving, {} unchanged, {} bad row(s)",
                    plan.adds.len(),
                    plan.changes.len(),
                    plan.leavers.len(),
                    plan.unchanged,
                    parsed.errors.len()
                );
                if dry_run {
                    println!("dry run: {summary}; nothing written");
                } else {
                    let now = SystemClock.now();
                    let source = format!("{} ({format})", file.display());
                    store.apply_people_import(&plan, &source, now).await?;
                    let actor = std::env::var("SUDO_USER").or_else(|_| std::env::var("USER")).unwrap_or_default();
                    let detail = format!("{source}: {summary}");
                    store.append_auth_event(&AuthEvent { event: "people_imported", actor: &actor, detail: &detail, ..Default::default() }, now).await?;
                    println!("imported: {summary}");
                }
                store.close().await;
                Ok::<_, anyhow::Error>(())
            })?;
            // Exit 2 when some rows were refused, so scripts notice; the good rows still went in.
            Ok(if parsed.errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(2) })
        }
        PeopleCommand::List { search, all } => rt.block_on(async {
            let store = Store::open(&store_url).await.with_context(|| format!("opening the store {store_url}"))?;
            for r in store.people(&PeopleQuery { search, include_left: all, ..Default::default() }).await? {
                let p = &r.person;
                let year = p.year_group.map(|y| format!("Y{y}")).unwrap_or_default();
                let left = if r.active { "" } else { " (left)" };
                println!("{}\t{}\t{}\t{}\t{}{left}", p.full_name(), p.kind, year, p.tutor_group.as_deref().unwrap_or(""), p.filter_group);
            }
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }),
    }
}
