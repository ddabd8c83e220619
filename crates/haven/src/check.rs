//! `haven check`: decide one name or URL and print the decision with its reason.

use std::net::IpAddr;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use haven_config::Config;
use haven_policy::{DecidedBy, Snapshot, What, Who};
use jiff::Timestamp;
use jiff::civil::DateTime;

/// Arguments of `haven check`.
#[derive(Args)]
pub struct CheckArgs {
    /// Domain name (`www.bet365.com`) or URL (`http://example.com/page`).
    target: String,
    /// Decide for this group (e.g. ks3).
    #[arg(long, conflicts_with_all = ["user"])]
    group: Option<String>,
    /// Decide for this user (their group comes from the directory).
    #[arg(long)]
    user: Option<String>,
    /// Decide for this client address (device, then network, then the fallback group).
    #[arg(long)]
    client: Option<IpAddr>,
    /// Device name, for the record.
    #[arg(long)]
    device: Option<String>,
    /// When: RFC 3339 (`2026-10-26T12:30:00Z`) or school-local time (`2026-10-26T12:30`). Default: now.
    #[arg(long)]
    at: Option<String>,
    /// Print JSON for machines.
    #[arg(long)]
    json: bool,
}

/// Exit status for a blocked decision, distinct from errors (1) so scripts can test a site.
const EXIT_BLOCKED: u8 = 3;

/// Run `haven check`: exit 0 when allowed, 3 when blocked.
pub fn run(config: &Config, args: &CheckArgs) -> Result<ExitCode> {
    let built = match crate::build(config) {
        Ok(b) => b,
        Err(code) => return Ok(code),
    };
    let snap = &built.snapshot;
    if let Some(g) = &args.group
        && snap.policy().group_idx(g).is_none()
    {
        let ids: Vec<&str> = snap.policy().groups().iter().map(|g| &*g.id).collect();
        bail!("group `{g}` is not defined; groups are: {}", ids.join(", "));
    }
    let at = parse_time(args.at.as_deref(), snap)?;
    let what = What::parse(&args.target).with_context(|| format!("cannot check `{}`", args.target))?;
    let who = Who { user: args.user.as_deref(), group: args.group.as_deref(), device: args.device.as_deref(), client: args.client };
    let d = snap.decide(&who, &what, at);
    let local = at.to_zoned(snap.time_zone().clone());
    let category = d.category.map(|c| snap.taxonomy().get(c));
    let categories: Vec<&str> = d.categories.iter().map(|c| &*snap.taxonomy().get(c).id).collect();
    let (site_reason, site_author) = match d.decided_by {
        DecidedBy::SiteEntry(e) => (Some(&*e.reason), Some(&*e.author)),
        _ => (None, None),
    };
    if args.json {
        let v = serde_json::json!({
            "target": args.target,
            "action": d.action.as_str(),
            "reason": snap.sentence(&d),
            "reference": snap.reference(&d),
            "decided_by": decided_by_word(&d.decided_by),
            "group": &*d.group.id,
            "group_title": &*d.group.title,
            "identity": d.identity.as_str(),
            "category": category.map(|c| &*c.id),
            "category_title": category.map(|c| &*c.title),
            "kcsie": category.map(|c| c.four_cs.names()),
            "categories": categories,
            "list_source": d.hit.map(|h| &*h.source.name),
            "list_entry": d.hit.map(|h| h.entry),
            "site_reason": site_reason,
            "site_author": site_author,
            "at": at.to_string(),
            "local_time": local.strftime("%Y-%m-%d %H:%M %Z").to_string(),
        });
        println!("{v}");
    } else {
        println!("{}  {}", d.action.as_str().to_uppercase(), args.target);
        println!("  {}", snap.sentence(&d));
        println!("  group:     {} ({}, found by {})", d.group.title, d.group.id, d.identity.as_str());
        if let Some(c) = category {
            println!("  category:  {} ({}; {}; KCSIE {})", c.id, c.title, c.kind.as_str(), c.four_cs.names().join(", "));
        }
        if categories.len() > 1 {
            println!("  all:       {}", categories.join(", "));
        }
        println!("  rule:      {}", snap.reference(&d));
        if let Some(h) = d.hit {
            println!("  list:      {} (entry `{}`)", h.source.name, h.entry);
        }
        println!("  time:      {}", local.strftime("%a %Y-%m-%d %H:%M %Z (%Q)"));
    }
    Ok(if d.is_blocked() { ExitCode::from(EXIT_BLOCKED) } else { ExitCode::SUCCESS })
}

fn decided_by_word(d: &DecidedBy<'_>) -> &'static str {
    match d {
        DecidedBy::IllegalFloor => "illegal_floor",
        DecidedBy::SiteEntry(_) => "site_entry",
        DecidedBy::Category(_) => "category",
        DecidedBy::GroupDefault => "group_default",
    }
}

/// An instant from RFC 3339, or a wall-clock time in the school's zone.
fn parse_time(text: Option<&str>, snap: &Snapshot) -> Result<Timestamp> {
    let Some(t) = text else { return Ok(Timestamp::now()) };
    parse_instant(t, snap.time_zone())
}

/// An instant from RFC 3339 (`2026-10-26T12:30:00Z`) or school-local wall-clock time (`2026-10-26T12:30`).
pub fn parse_instant(t: &str, tz: &jiff::tz::TimeZone) -> Result<Timestamp> {
    if let Ok(ts) = t.parse::<Timestamp>() {
        return Ok(ts);
    }
    let civil: DateTime = t.parse().with_context(|| format!("--at `{t}`: use 2026-10-26T12:30 (school time) or 2026-10-26T12:30:00Z"))?;
    let zoned = civil.to_zoned(tz.clone()).with_context(|| format!("--at `{t}` is not a valid local time"))?;
    Ok(zoned.timestamp())
}
