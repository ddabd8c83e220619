//! `haven activity`: search the activity log by person, device, group, category, decision, name
//! and time, and print a table, CSV or JSON.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use haven_config::Config;
use haven_store::{Action, ActivityQuery, Store, StoredEvent};
use jiff::{SignedDuration, Timestamp};

/// Output formats.
#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// Comma-separated values with a header, for spreadsheets.
    Csv,
    /// One JSON object per line.
    Json,
}

/// Arguments of `haven activity`.
#[derive(Args)]
pub struct ActivityArgs {
    /// Only this user.
    #[arg(long)]
    user: Option<String>,
    /// Only this device.
    #[arg(long)]
    device: Option<String>,
    /// Only this group.
    #[arg(long)]
    group: Option<String>,
    /// Only this category id.
    #[arg(long)]
    category: Option<String>,
    /// Only allowed or only blocked requests.
    #[arg(long, value_parser = ["allow", "block"])]
    decision: Option<String>,
    /// Names containing this text, or matching a pattern such as `*.tiktok.com`.
    #[arg(long)]
    name: Option<String>,
    /// From this time: RFC 3339, or school-local `2026-11-23T09:00`.
    #[arg(long)]
    since: Option<String>,
    /// Until this time (exclusive).
    #[arg(long)]
    until: Option<String>,
    /// The last stretch of time, such as `24h` or `7d` (instead of --since).
    #[arg(long, conflicts_with = "since")]
    last: Option<String>,
    /// Most rows to show.
    #[arg(long, default_value_t = 100)]
    limit: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Run `haven activity`.
pub fn run(config: &Config, args: &ActivityArgs) -> Result<ExitCode> {
    let tz = haven_policy::london();
    let now = Timestamp::now();
    let until = match &args.until {
        Some(t) => crate::check::parse_instant(t, &tz)?,
        None => now,
    };
    let since = match (&args.since, &args.last) {
        (Some(t), _) => Some(crate::check::parse_instant(t, &tz)?),
        (None, Some(l)) => Some(until.checked_sub(parse_span(l)?).context("--last reaches too far back")?),
        (None, None) => None,
    };
    let mut q = ActivityQuery::new().limit(args.limit);
    if let Some(u) = &args.user {
        q = q.user(u);
    }
    if let Some(d) = &args.device {
        q = q.device(d);
    }
    if let Some(g) = &args.group {
        q = q.group(g);
    }
    if let Some(c) = &args.category {
        q = q.category(c);
    }
    if let Some(d) = &args.decision {
        q = q.action(if d == "block" { Action::Block } else { Action::Allow });
    }
    if let Some(n) = &args.name {
        q = q.name(n);
    }
    q = q.between(since.unwrap_or(Timestamp::UNIX_EPOCH), until);
    let url = config.service().store_url.clone();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let rows = runtime.block_on(async {
        let store = Store::open(&url).await.with_context(|| format!("opening the activity store {}", crate::serve::redact(&url)))?;
        let rows = store.query(&q).await.context("searching the activity log")?;
        store.close().await;
        anyhow::Ok(rows)
    })?;
    print_rows(&rows, args.format, &tz);
    Ok(ExitCode::SUCCESS)
}

/// `24h`, `7d`, `90m`, `2w`.
fn parse_span(text: &str) -> Result<SignedDuration> {
    let t = text.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: i64 = num.parse().with_context(|| format!("--last `{text}`: use a number and a unit, such as 24h or 7d"))?;
    let hours = match unit {
        "m" => return Ok(SignedDuration::from_mins(n)),
        "h" => n,
        "d" => n * 24,
        "w" => n * 24 * 7,
        _ => bail!("--last `{text}`: the unit must be m, h, d or w"),
    };
    Ok(SignedDuration::from_hours(hours))
}

const COLUMNS: [&str; 19] = [
    "time",
    "client",
    "device",
    "user",
    "group",
    "name",
    "type",
    "decision",
    "category",
    "rule",
    "list_source",
    "list_entry",
    "flags",
    "upstream",
    "channel",
    "sni",
    "status",
    "bytes_up",
    "bytes_down",
];

fn fields(e: &StoredEvent, tz: &jiff::tz::TimeZone) -> [String; 19] {
    let ev = &e.event;
    let mut flags = Vec::new();
    for (f, word) in [
        (haven_activity::Flags::BYPASS, "bypass"),
        (haven_activity::Flags::SAFE_SEARCH, "safe_search"),
        (haven_activity::Flags::ILLEGAL, "illegal"),
        (haven_activity::Flags::CACHED, "cached"),
        (haven_activity::Flags::HOST_ONLY, "host_only"),
    ] {
        if ev.flags.contains(f) {
            flags.push(word);
        }
    }
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    [
        ev.time.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M:%S%.3f %Z").to_string(),
        ev.client.to_string(),
        opt(&ev.device),
        opt(&ev.user),
        ev.group.clone(),
        ev.name.clone(),
        ev.qtype.clone(),
        ev.action.clone(),
        opt(&ev.category),
        ev.rule.clone(),
        opt(&ev.list_source),
        opt(&ev.list_entry),
        flags.join("+"),
        opt(&ev.upstream),
        ev.channel.as_str().to_string(),
        ev.web.as_ref().and_then(|w| w.sni.clone()).unwrap_or_default(),
        ev.web.as_ref().map(|w| w.status.to_string()).unwrap_or_default(),
        ev.web.as_ref().map(|w| w.bytes_up.to_string()).unwrap_or_default(),
        ev.web.as_ref().map(|w| w.bytes_down.to_string()).unwrap_or_default(),
    ]
}

fn print_rows(rows: &[StoredEvent], format: Format, tz: &jiff::tz::TimeZone) {
    match format {
        Format::Json => {
            for r in rows {
                let f = fields(r, tz);
                let mut obj = serde_json::Map::new();
                obj.insert("id".into(), r.id.into());
                obj.insert("time_utc".into(), r.event.time.to_string().into());
                for (k, v) in COLUMNS.iter().zip(f) {
                    obj.insert((*k).into(), v.into());
                }
                obj.insert("latency_us".into(), r.event.latency_us.into());
                println!("{}", serde_json::Value::Object(obj));
            }
        }
        Format::Csv => {
            println!("{}", COLUMNS.join(","));
            for r in rows {
                let f = fields(r, tz);
                let cells: Vec<String> = f.iter().map(|c| csv_cell(c)).collect();
                println!("{}", cells.join(","));
            }
        }
        Format::Table => {
            let shown = [0usize, 1, 2, 3, 4, 5, 6, 7, 8, 9];
            let table: Vec<[String; 19]> = rows.iter().map(|r| fields(r, tz)).collect();
            let widths: Vec<usize> =
                shown.iter().map(|&i| table.iter().map(|f| f[i].len()).max().unwrap_or(0).max(COLUMNS[i].len())).collect();
            let line = |cells: Vec<&str>| {
                let parts: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
                println!("{}", parts.join("  ").trim_end());
            };
            line(shown.iter().map(|&i| COLUMNS[i]).collect());
            for f in &table {
                line(shown.iter().map(|&i| f[i].as_str()).collect());
            }
            println!("{} rows", rows.len());
        }
    }
}

/// Quote a CSV cell when needed, and defuse spreadsheet formulas (`=`, `+`, `-`, `@` first).
fn csv_cell(c: &str) -> String {
    let c = if c.starts_with(['=', '+', '-', '@']) { format!("'{c}") } else { c.to_string() };
    if c.contains([',', '"', '\n']) { format!("\"{}\"", c.replace('"', "\"\"")) } else { c }
}
