//! `haven records ...`: verify the safeguarding-records hash chain and attachments; move a
//! pupil's file between schools as one signed package (`export`, `import`, `confirm-receipt`,
//! `key`); print a pupil's front sheet and chronology as a PDF. Every export, import and print
//! is written to the record-access audit. The school's ed25519 signing key lives next to the
//! configuration (`records-signing.key`, mode 0600, made on first use, never printed).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use haven_accounts::people::PersonKind;
use haven_config::Config;
use haven_records::package::{self, Manifest, PupilRef, Receipt};
use haven_records::pdf::{PrintEntry, PrintHeader};
use haven_store::{PeopleQuery, PersonRecord, RecordAccess, Store, Transfer};
use jiff::Timestamp;

/// The signing key's file name in the data directory.
pub const KEY_FILE: &str = "records-signing.key";

/// `haven records` sub-commands.
#[derive(Subcommand)]
pub enum RecordsCommand {
    /// Check every entry's hash and link, and every attachment's content hash.
    Verify,
    /// Print the school's records signing key (public half) and its fingerprint, making the key on first use.
    Key,
    /// Write a pupil's whole file as one signed package for the school they are moving to.
    Export(ExportArgs),
    /// Verify a package from another school, store it as transferred-in records, and write a signed receipt.
    Import(ImportArgs),
    /// Verify a receipt from the receiving school and record that receipt was confirmed.
    ConfirmReceipt(ConfirmArgs),
    /// Print a pupil's front sheet and chronology as a PDF.
    Print(PrintArgs),
    /// Benchmarks only: add synthetic records and entries to the store.
    #[command(hide = true)]
    SeedBench(crate::records_bench::SeedArgs),
    /// Benchmarks only: time chronology and inbox reads.
    #[command(hide = true)]
    Bench(crate::records_bench::BenchArgs),
}

/// `haven records export`.
#[derive(Args)]
pub struct ExportArgs {
    /// The pupil: their id in the people directory, or their UPN.
    #[arg(long)]
    pupil: String,
    /// Where to write the package.
    #[arg(long)]
    out: PathBuf,
    /// Who is exporting (name and job title), for the access audit and the manifest.
    #[arg(long)]
    by: Option<String>,
}

/// `haven records import`.
#[derive(Args)]
pub struct ImportArgs {
    /// The package file.
    file: PathBuf,
    /// The sending school's public key or fingerprint, checked out of band; the package must be signed by it.
    #[arg(long)]
    expect_key: Option<String>,
    /// The pupil here (id or UPN); by default the pupil with the package's UPN.
    #[arg(long)]
    pupil: Option<String>,
    /// Where to write the receipt (default: the package file name + `.receipt`).
    #[arg(long)]
    receipt: Option<PathBuf>,
    /// Who is importing (name and job title).
    #[arg(long)]
    by: Option<String>,
}

/// `haven records confirm-receipt`.
#[derive(Args)]
pub struct ConfirmArgs {
    /// The receipt file from the receiving school.
    receipt: PathBuf,
    /// The receiving school's public key or fingerprint, checked out of band.
    #[arg(long)]
    expect_key: Option<String>,
    /// Who is confirming.
    #[arg(long)]
    by: Option<String>,
}

/// `haven records print`.
#[derive(Args)]
pub struct PrintArgs {
    /// The pupil: id or UPN.
    #[arg(long)]
    pupil: String,
    /// Where to write the PDF.
    #[arg(long)]
    out: PathBuf,
    /// Who is printing (name and job title), printed on every page.
    #[arg(long)]
    by: Option<String>,
}

/// Run a `haven records` command.
pub fn run(config: &Config, command: RecordsCommand) -> Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    let store_url = config.service().store_url.clone();
    match command {
        RecordsCommand::Verify => rt.block_on(async {
            let store = open_store(&store_url).await?;
            let started = Instant::now();
            let report = store.verify_records().await?;
            store.close().await;
            let took = started.elapsed().as_secs_f64();
            match report.first_break {
                None => {
                    println!(
                        "records intact: {} entries and {} attachments verified in {took:.2} s; {} entries received from other schools match their hashes; chain head {}",
                        report.entries, report.attachments, report.received, report.head
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Some(b) => {
                    eprintln!("haven: records do not verify: {b}");
                    eprintln!("haven: {} entries before it matched; last good hash {}", report.entries, report.head);
                    Ok(ExitCode::from(1))
                }
            }
        }),
        RecordsCommand::Key => {
            let key = signing_key(config)?;
            let public = public_bytes(&key)?;
            println!("records signing key: {}", key_path(config)?.display());
            println!("public key: {}", package::public_key_hex(&key));
            println!("fingerprint: {}", package::key_fingerprint(&public));
            println!("Give the receiving school the fingerprint by phone or letter; they pass it to `haven records import --expect-key`.");
            Ok(ExitCode::SUCCESS)
        }
        RecordsCommand::Export(args) => rt.block_on(async {
            let key = signing_key(config)?;
            let store = open_store(&store_url).await?;
            let r = export(config, &store, &args, &key).await;
            store.close().await;
            r
        }),
        RecordsCommand::Import(args) => rt.block_on(async {
            let bytes = std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
            // Every check runs before the store is even opened: nothing is stored from a package that fails one.
            let pkg = package::read_package(&bytes, args.expect_key.as_deref()).map_err(|e| anyhow!("package refused, nothing stored: {e}"))?;
            let key = signing_key(config)?;
            let store = open_store(&store_url).await?;
            let r = import(config, &store, &args, pkg, &key).await;
            store.close().await;
            r
        }),
        RecordsCommand::ConfirmReceipt(args) => rt.block_on(async {
            let bytes = std::fs::read(&args.receipt).with_context(|| format!("reading {}", args.receipt.display()))?;
            let verified = package::read_receipt(&bytes, args.expect_key.as_deref()).map_err(|e| anyhow!("receipt refused, nothing recorded: {e}"))?;
            let key = signing_key(config)?;
            let own = package::public_key_hex(&key);
            if verified.receipt.sender_key != own {
                bail!("receipt refused, nothing recorded: it is for a package signed by {}, not by this school's key {own}", verified.receipt.sender_key);
            }
            let store = open_store(&store_url).await?;
            let r = confirm(&store, &args, &verified).await;
            store.close().await;
            r
        }),
        RecordsCommand::Print(args) => rt.block_on(async {
            let store = open_store(&store_url).await?;
            let r = print(config, &store, &args).await;
            store.close().await;
            r
        }),
        RecordsCommand::SeedBench(args) => rt.block_on(async {
            let store = open_store(&store_url).await?;
            let r = crate::records_bench::seed(&store, &args).await;
            store.close().await;
            r
        }),
        RecordsCommand::Bench(args) => rt.block_on(async {
            let store = open_store(&store_url).await?;
            let r = crate::records_bench::bench(&store, &args).await;
            store.close().await;
            r
        }),
    }
}

async fn open_store(url: &str) -> Result<Store> {
    Store::open(url).await.with_context(|| format!("opening the store {url}"))
}

/// The school's name as the console shows it.
fn school(config: &Config) -> String {
    config.console().map_or_else(|| config.service().proxy.school_name.clone(), |c| c.school.clone())
}

/// Who is acting: `--by`, or the operating-system user running the command.
fn actor(by: Option<&str>) -> String {
    match by.map(str::trim).filter(|b| !b.is_empty()) {
        Some(b) => b.to_owned(),
        None => format!("haven command line ({})", std::env::var("USER").unwrap_or_else(|_| "unknown user".into())),
    }
}

fn key_path(config: &Config) -> Result<PathBuf> {
    let origin = Path::new(config.origin());
    if !origin.is_file() {
        bail!("records commands need --config: the signing key is kept in the data directory next to haven.toml");
    }
    Ok(origin.parent().unwrap_or(Path::new(".")).join(KEY_FILE))
}

fn public_bytes(secret: &[u8; 32]) -> Result<[u8; 32]> {
    let hex = package::public_key_hex(secret);
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)?;
    }
    Ok(out)
}

/// Load the signing key, making it (mode 0600) on first use. Refuses a key others can read.
fn signing_key(config: &Config) -> Result<[u8; 32]> {
    let path = key_path(config)?;
    if !path.exists() {
        let secret = haven_accounts::random::bytes::<32>().map_err(|e| anyhow!("making the signing key: {e}"))?;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        use std::io::Write;
        let mut f = opts.open(&path).with_context(|| format!("creating {}", path.display()))?;
        f.write_all(&secret).and_then(|()| f.sync_all()).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("haven: made this school's records signing key in {}", path.display());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).with_context(|| format!("reading {}", path.display()))?.permissions().mode();
        if mode & 0o077 != 0 {
            bail!("{} can be read by others (mode {:o}); `chmod 600` it, and make a new key if it may have been copied", path.display(), mode & 0o777);
        }
    }
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    bytes.try_into().map_err(|b: Vec<u8>| anyhow!("{} holds {} bytes, not a 32-byte ed25519 key", path.display(), b.len()))
}

/// A pupil by id or UPN.
async fn find_pupil(store: &Store, who: &str) -> Result<PersonRecord> {
    let who = who.trim();
    if let Ok(id) = who.parse::<i64>() {
        let p = store.person(id).await?.with_context(|| format!("--pupil: no person with id {id}"))?;
        if p.person.kind != PersonKind::Pupil {
            bail!("--pupil: person {id} is not a pupil");
        }
        return Ok(p);
    }
    let q = PeopleQuery { kind: Some(PersonKind::Pupil), include_left: true, search: Some(who.to_owned()), limit: 50 };
    let mut found: Vec<PersonRecord> = store.people(&q).await?.into_iter().filter(|p| p.person.upn.as_deref().is_some_and(|u| u.eq_ignore_ascii_case(who))).collect();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => bail!("--pupil: no pupil with id or UPN {who}"),
        n => bail!("--pupil: {n} pupils have UPN {who}; give the id instead"),
    }
}

fn pupil_ref(p: &PersonRecord) -> PupilRef {
    PupilRef { name: p.person.full_name(), upn: p.person.upn.clone(), date_of_birth: p.person.date_of_birth.clone(), sender_id: Some(p.id) }
}

/// Write a file only its owner can read (a package or PDF holds a child's safeguarding file).
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    use std::io::Write;
    let mut f = opts.open(path).with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes).and_then(|()| f.sync_all()).with_context(|| format!("writing {}", path.display()))
}

fn access<'a>(actor: &'a str, action: &'a str, pupil: i64, detail: &'a str) -> RecordAccess<'a> {
    RecordAccess { account_id: None, actor, action, record_id: None, pupil_id: Some(pupil), detail, client: "command line" }
}

async fn export(config: &Config, store: &Store, args: &ExportArgs, key: &[u8; 32]) -> Result<ExitCode> {
    let pupil = find_pupil(store, &args.pupil).await?;
    let by = actor(args.by.as_deref());
    let now = Timestamp::now();
    let (records, attachments) = store.pupil_file(pupil.id).await?;
    if records.records.is_empty() {
        bail!("{} has no safeguarding records to send", pupil.person.full_name());
    }
    let manifest = Manifest {
        format: String::new(),
        version: 0,
        school: school(config),
        created: now.to_string(),
        created_by: by.clone(),
        public_key: String::new(),
        pupil: pupil_ref(&pupil),
        files: vec![],
    };
    let bytes = package::write_package(manifest, &records, &attachments, key)?;
    let sha = haven_records::content_hash(&bytes);
    let entries: usize = records.records.iter().map(|r| r.entries.len()).sum();
    let detail = format!("package {sha} written to {}: {} records, {entries} entries, {} attachments", args.out.display(), records.records.len(), attachments.len());
    // The audit line is written before the file: an export that cannot be recorded does not happen.
    store.log_record_access(&access(&by, "export", pupil.id, &detail), now).await?;
    let t = Transfer {
        direction: "sent".into(),
        package_sha256: sha.clone(),
        pupil_id: Some(pupil.id),
        school: school(config),
        public_key: package::public_key_hex(key),
        actor: by.clone(),
        records: records.records.len() as i64,
        entries: entries as i64,
        attachments: attachments.len() as i64,
        at: now,
    };
    store.log_transfer(&t).await?;
    write_private(&args.out, &bytes)?;
    println!("exported {}: {} records, {entries} entries, {} attachments", pupil.person.full_name(), records.records.len(), attachments.len());
    println!("package {} (SHA-256 {sha})", args.out.display());
    println!("signed by fingerprint {}", package::key_fingerprint(&public_bytes(key)?));
    Ok(ExitCode::SUCCESS)
}

async fn import(config: &Config, store: &Store, args: &ImportArgs, pkg: package::Package, key: &[u8; 32]) -> Result<ExitCode> {
    let pupil = match &args.pupil {
        Some(p) => find_pupil(store, p).await?,
        None => {
            let upn = pkg.manifest.pupil.upn.clone().context("the package names no UPN: give --pupil")?;
            find_pupil(store, &upn).await.map_err(|e| anyhow!("{e}; add the pupil to the people directory first, or give --pupil"))?
        }
    };
    let by = actor(args.by.as_deref());
    let now = Timestamp::now();
    let report = store.import_pupil_file(&pkg, pupil.id, &pupil.person.full_name(), &by, now).await?;
    let detail = format!("package {} from {}: {} records, {} entries, {} attachments", pkg.sha256, pkg.manifest.school, report.records, report.entries, report.attachments);
    store.log_record_access(&access(&by, "import", pupil.id, &detail), now).await?;
    let receipt = Receipt {
        package_sha256: pkg.sha256.clone(),
        sender_school: pkg.manifest.school.clone(),
        sender_key: pkg.manifest.public_key.clone(),
        pupil: pkg.manifest.pupil.clone(),
        records: report.records,
        entries: report.entries,
        attachments: report.attachments,
    };
    let manifest = Manifest {
        format: String::new(),
        version: 0,
        school: school(config),
        created: now.to_string(),
        created_by: by,
        public_key: String::new(),
        pupil: pupil_ref(&pupil),
        files: vec![],
    };
    let bytes = package::write_receipt(manifest, &receipt, key)?;
    let out = args.receipt.clone().unwrap_or_else(|| {
        let mut p = args.file.clone().into_os_string();
        p.push(".receipt");
        PathBuf::from(p)
    });
    write_private(&out, &bytes)?;
    println!(
        "imported {}'s file from {}: {} records, {} entries, {} attachments; every signature and hash checked",
        pupil.person.full_name(),
        pkg.manifest.school,
        report.records,
        report.entries,
        report.attachments
    );
    println!("receipt {} — send it back to {}", out.display(), pkg.manifest.school);
    Ok(ExitCode::SUCCESS)
}

async fn confirm(store: &Store, args: &ConfirmArgs, v: &package::VerifiedReceipt) -> Result<ExitCode> {
    let sha = &v.receipt.package_sha256;
    let log = store.transfers(sha).await?;
    let Some(sent) = log.iter().find(|t| t.direction == "sent") else {
        bail!("receipt refused, nothing recorded: this school has no record of sending package {sha}");
    };
    if let Some(done) = log.iter().find(|t| t.direction == "receipt_confirmed") {
        println!("receipt for package {sha} was already confirmed on {} by {}", done.at, done.actor);
        return Ok(ExitCode::SUCCESS);
    }
    let by = actor(args.by.as_deref());
    let now = Timestamp::now();
    let t = Transfer {
        direction: "receipt_confirmed".into(),
        package_sha256: sha.clone(),
        pupil_id: sent.pupil_id,
        school: v.manifest.school.clone(),
        public_key: v.manifest.public_key.clone(),
        actor: by.clone(),
        records: v.receipt.records as i64,
        entries: v.receipt.entries as i64,
        attachments: v.receipt.attachments as i64,
        at: now,
    };
    store.log_transfer(&t).await?;
    if let Some(p) = sent.pupil_id {
        let detail = format!("receipt of package {sha} confirmed: {} holds {} records, {} entries", v.manifest.school, v.receipt.records, v.receipt.entries);
        store.log_record_access(&access(&by, "receipt_confirmed", p, &detail), now).await?;
    }
    if (v.receipt.records, v.receipt.entries) != (sent.records as u64, sent.entries as u64) {
        eprintln!("haven: warning: the receipt counts {} records and {} entries; {} and {} were sent", v.receipt.records, v.receipt.entries, sent.records, sent.entries);
    }
    println!("receipt confirmed: {} received package {sha} ({} records, {} entries), signed by fingerprint {}", v.manifest.school, v.receipt.records, v.receipt.entries, v.manifest.public_key);
    Ok(ExitCode::SUCCESS)
}

/// An entry body as printed lines: each top-level field as `field: value`.
fn school_time(t: Timestamp) -> String {
    let tz = jiff::tz::TimeZone::get("Europe/London").unwrap_or(jiff::tz::TimeZone::UTC);
    t.to_zoned(tz).strftime("%Y-%m-%d %H:%M %Z").to_string()
}

async fn print(config: &Config, store: &Store, args: &PrintArgs) -> Result<ExitCode> {
    let pupil = find_pupil(store, &args.pupil).await?;
    let by = actor(args.by.as_deref());
    let now = Timestamp::now();
    let items = store.chronology(pupil.id).await?;
    let summaries = store.pupil_records(pupil.id, 0).await?;
    let head = store.verify_records().await?;
    let entries: Vec<PrintEntry> = items
        .iter()
        .map(|i| match (&i.entry, &i.event) {
            (Some(e), _) => PrintEntry {
                occurred: school_time(e.occurred),
                kind: haven_records::EntryKind::parse(&e.kind).map_or(e.kind.clone(), |k| k.label().to_owned()),
                record_id: e.record_id.clone(),
                author: e.author.clone(),
                text: haven_records::pdf::body_text(&e.body),
                hash: e.hash.clone(),
            },
            (None, Some((id, name, action, category))) => PrintEntry {
                occurred: school_time(i.occurred),
                kind: "Filter event".into(),
                record_id: format!("event {id}"),
                author: String::new(),
                text: format!("{action} {name}{}", category.as_ref().map(|c| format!(" ({c})")).unwrap_or_default()),
                hash: String::new(),
            },
            (None, None) => PrintEntry::default(),
        })
        .collect();
    let open = summaries.iter().filter(|s| s.status != "closed").count();
    let statuses: BTreeSet<&str> = summaries.iter().map(|s| s.status.as_str()).collect();
    let types: BTreeSet<&str> = summaries.iter().map(|s| haven_records::RecordType::parse(&s.record_type).map_or(s.record_type.as_str(), |t| t.label())).collect();
    let header = PrintHeader {
        school: school(config),
        pupil: pupil.person.full_name(),
        upn: pupil.person.upn.clone(),
        date_of_birth: pupil.person.date_of_birth.clone(),
        generated: school_time(now),
        printed_by: by.clone(),
        chain_head: head.head.clone(),
        front_sheet: vec![
            ("Records".into(), summaries.len().to_string()),
            ("Open or closed".into(), if open > 0 { format!("open ({open} open)") } else { "closed".into() }),
            ("Statuses".into(), statuses.into_iter().collect::<Vec<_>>().join(", ")),
            ("Record types".into(), types.into_iter().collect::<Vec<_>>().join(", ")),
            ("Chain".into(), match &head.first_break { None => format!("verified intact at printing ({} entries)", head.entries), Some(b) => format!("DOES NOT VERIFY: {b}") }),
        ],
    };
    let pdf = haven_records::pdf::chronology_pdf(&header, &entries);
    let detail = format!("chronology PDF ({} entries) written to {}", entries.len(), args.out.display());
    store.log_record_access(&access(&by, "print", pupil.id, &detail), now).await?;
    write_private(&args.out, &pdf)?;
    println!("printed {}'s front sheet and chronology ({} entries) to {}", pupil.person.full_name(), entries.len(), args.out.display());
    Ok(ExitCode::SUCCESS)
}
