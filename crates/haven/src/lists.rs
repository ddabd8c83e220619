//! `haven lists`: import (load and report), stats (counts, time, memory) and the taxonomy.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use haven_config::Config;
use haven_lists::LoadReport;
use haven_policy::{ListSet, PolicyHandle};

use crate::memory::{self, mib};

/// `haven lists` sub-commands.
#[derive(Subcommand)]
pub enum ListsCommand {
    /// Load every configured list, or one file given here, and report entries and bad lines.
    Import {
        /// A list file, directory or UT1 tarball to load on its own instead of the configured lists.
        path: Option<PathBuf>,
        /// Its format: ut1, domains, hosts, adblock, urls, mixed, expressions.
        #[arg(long, requires = "path")]
        format: Option<String>,
        /// Its Haven category (not for ut1).
        #[arg(long, requires = "path")]
        category: Option<String>,
        /// How many bad lines to show (all are counted).
        #[arg(long, default_value_t = 20)]
        show_bad: usize,
    },
    /// Counts per category, rejected lines, load time and memory.
    Stats {
        /// Print JSON for machines.
        #[arg(long)]
        json: bool,
        /// Also rebuild and swap the snapshot this many times, reporting memory during reloads.
        #[arg(long, default_value_t = 0)]
        reloads: usize,
    },
    /// The category taxonomy: ids, kinds, KCSIE Cs and default severities.
    Categories,
}

/// Run a `haven lists` sub-command.
pub fn run(config: &Config, cmd: ListsCommand) -> Result<ExitCode> {
    match cmd {
        ListsCommand::Import { path, format, category, show_bad } => import(config, path, format, category, show_bad),
        ListsCommand::Stats { json, reloads } => stats(config, json, reloads),
        ListsCommand::Categories => {
            for (_, c) in config.taxonomy().iter() {
                println!("{:<20} {:<9} {:<9} {:<28} {}", c.id, c.kind.as_str(), c.severity.as_str(), c.four_cs.names().join(","), c.title);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn import(config: &Config, path: Option<PathBuf>, format: Option<String>, category: Option<String>, show_bad: usize) -> Result<ExitCode> {
    let config = match path {
        Some(p) => match config.with_single_list(&p, format.as_deref().unwrap_or("domains"), category.as_deref()) {
            Ok(c) => c,
            Err(e) => {
                crate::report_config_error(&e);
                return Ok(ExitCode::from(crate::EXIT_CONFIG));
            }
        },
        None => config.clone(),
    };
    let built = match crate::build(&config) {
        Ok(b) => b,
        Err(code) => return Ok(code),
    };
    let set = built.snapshot.lists();
    for (i, s) in set.sources().iter().enumerate() {
        let c = set.counts(haven_policy::SourceId::from_index(i));
        println!(
            "{:<32} {:<20} {:>9} domains {:>7} urls {:>5} ips {:>3} expressions {:>7} rejected",
            s.name,
            config.taxonomy().get(s.category).id,
            c.domains,
            c.urls,
            c.ips,
            c.expressions,
            c.rejected
        );
    }
    print_report_notes(&built.lists, show_bad);
    println!(
        "loaded {} distinct domains from {} sources in {:.0} ms; {} bad lines skipped",
        set.distinct_domains(),
        set.sources().len(),
        built.elapsed.as_secs_f64() * 1000.0,
        built.lists.total_rejected
    );
    Ok(ExitCode::SUCCESS)
}

fn print_report_notes(report: &LoadReport, show_bad: usize) {
    for (n, bad) in report.bad_lines().enumerate() {
        if n >= show_bad {
            println!("  … and more: {} bad lines in all", report.total_rejected);
            break;
        }
        println!("  bad line: {bad}");
    }
    if !report.not_imported.is_empty() {
        println!("  not imported (the mapping says so): {}", report.not_imported.join(", "));
    }
    if !report.unmapped.is_empty() {
        println!("  UT1 categories with no mapping, skipped (add them to `map`): {}", report.unmapped.join(", "));
    }
    if !report.aliases.is_empty() {
        println!("  alias directories skipped (their targets are loaded once): {}", report.aliases.join(", "));
    }
}

#[derive(Default)]
struct CategoryTotals {
    sources: usize,
    domains: u64,
    urls: u64,
    ips: u64,
    expressions: u64,
    rejected: u64,
}

fn per_category(set: &ListSet, config: &Config) -> BTreeMap<String, CategoryTotals> {
    let mut out: BTreeMap<String, CategoryTotals> = BTreeMap::new();
    for (i, s) in set.sources().iter().enumerate() {
        let c = set.counts(haven_policy::SourceId::from_index(i));
        let t = out.entry(config.taxonomy().get(s.category).id.to_string()).or_default();
        t.sources += 1;
        t.domains += c.domains;
        t.urls += c.urls;
        t.ips += c.ips;
        t.expressions += c.expressions;
        t.rejected += c.rejected;
    }
    out
}

fn stats(config: &Config, json: bool, reloads: usize) -> Result<ExitCode> {
    let before = memory::now();
    let built = match crate::build(config) {
        Ok(b) => b,
        Err(code) => return Ok(code),
    };
    let after = memory::now();
    let set = built.snapshot.lists();
    let distinct = set.distinct_domains();
    let index = set.domain_index_bytes();
    let per_domain = if distinct == 0 { 0.0 } else { index as f64 / distinct as f64 };
    let cats = per_category(set, config);
    let load_ms = built.elapsed.as_secs_f64() * 1000.0;
    let sources = set.sources().len();
    let heap = set.heap_bytes();
    let rejected = built.lists.total_rejected;
    let floor_entries: u64 = built
        .snapshot
        .floor()
        .sources()
        .iter()
        .enumerate()
        .map(|(i, _)| {
            let c = built.snapshot.floor().counts(haven_policy::SourceId::from_index(i));
            c.domains + c.urls + c.hashed
        })
        .sum();

    // Reloads: swap a freshly built snapshot in, as SIGHUP will, and watch resident memory.
    let mut reload_rss = Vec::new();
    let mut reload_peak = 0u64;
    let mut reload_ms = Vec::new();
    let steady = memory::now().rss;
    if reloads > 0 {
        let handle = PolicyHandle::new(built.snapshot);
        // Forget the first build's peak so the reading is the reload's own.
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        for _ in 0..reloads {
            let next = match crate::build(config) {
                Ok(b) => b,
                Err(code) => return Ok(code),
            };
            reload_ms.push(next.elapsed.as_secs_f64() * 1000.0);
            drop(handle.replace(next.snapshot));
            let m = memory::now();
            reload_rss.push(m.rss);
            reload_peak = reload_peak.max(m.peak);
        }
    }

    if json {
        let v = serde_json::json!({
            "distinct_domains": distinct,
            "sources": sources,
            "rejected_lines": rejected,
            "load_ms": load_ms,
            "domain_index_bytes": index,
            "bytes_per_domain": per_domain,
            "list_heap_bytes": heap,
            "rss_before_bytes": before.rss,
            "rss_after_bytes": after.rss,
            "peak_rss_bytes": after.peak,
            "floor_entries": floor_entries,
            "categories": cats.iter().map(|(k, t)| (k.clone(), serde_json::json!({
                "sources": t.sources, "domains": t.domains, "urls": t.urls, "ips": t.ips,
                "expressions": t.expressions, "rejected": t.rejected,
            }))).collect::<serde_json::Map<_, _>>(),
            "reloads": {
                "count": reloads,
                "steady_rss_bytes": steady,
                "rss_after_each_bytes": reload_rss,
                "peak_rss_during_reloads_bytes": reload_peak,
                "build_ms": reload_ms,
            },
        });
        println!("{v}");
        return Ok(ExitCode::SUCCESS);
    }
    println!("{:<22} {:>7} {:>10} {:>8} {:>5} {:>5} {:>9}", "category", "sources", "domains", "urls", "ips", "expr", "rejected");
    for (k, t) in &cats {
        println!("{:<22} {:>7} {:>10} {:>8} {:>5} {:>5} {:>9}", k, t.sources, t.domains, t.urls, t.ips, t.expressions, t.rejected);
    }
    println!();
    println!("distinct domains:   {distinct}");
    println!("rejected lines:     {rejected}");
    println!("illegal floor:      {floor_entries} entries (always checked first)");
    println!("load time:          {load_ms:.0} ms");
    println!("domain table:       {} ({per_domain:.1} bytes per domain)", mib(index as u64));
    println!("all list memory:    {}", mib(heap as u64));
    println!("process RSS:        {} before load, {} after, peak {}", mib(before.rss), mib(after.rss), mib(after.peak));
    if reloads > 0 {
        let last = reload_rss.last().copied().unwrap_or(0);
        println!(
            "reloads:            {reloads}; steady RSS {}, after last reload {}, peak during reloads {} ({:.2}x steady)",
            mib(steady),
            mib(last),
            mib(reload_peak),
            reload_peak as f64 / steady.max(1) as f64
        );
        let ms: Vec<String> = reload_ms.iter().map(|m| format!("{m:.0}")).collect();
        println!("reload build times: {} ms", ms.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}
