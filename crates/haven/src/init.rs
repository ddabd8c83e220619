//! `haven init` and `haven recover`: a new data directory with a working configuration, the
//! store, the first administrator and a one-time recovery code; and the break-glass reset that
//! code allows. Both are recorded in the sign-in audit log.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use haven_accounts::{Clock, PasswordPolicy, Permission, Role, RoleSet, SystemClock, hash_password, recovery, verify_password};
use haven_config::Config;
use haven_store::{AuthEvent, NewAccount, Store};

/// `haven init` options.
#[derive(clap::Args)]
pub struct InitArgs {
    /// The data directory to create (it must not hold a haven.toml yet).
    pub dir: PathBuf,
    /// Username of the first administrator.
    #[arg(long, default_value = "admin")]
    pub admin: String,
    /// The administrator's full name.
    #[arg(long, default_value = "Haven administrator")]
    pub name: String,
    /// Read the administrator's password from this file (first line) instead of prompting.
    #[arg(long)]
    pub password_file: Option<PathBuf>,
    /// The school's name, shown in the console.
    #[arg(long, default_value = "Haven")]
    pub school: String,
    /// The console's listen address.
    #[arg(long, default_value = "0.0.0.0:8443")]
    pub listen: String,
}

/// `haven recover` options.
#[derive(clap::Args)]
pub struct RecoverArgs {
    /// The account to reset (default: the oldest account that can manage accounts).
    #[arg(long)]
    pub username: Option<String>,
    /// Read the recovery code from this file instead of prompting.
    #[arg(long)]
    pub code_file: Option<PathBuf>,
    /// Read the new password from this file (first line) instead of prompting.
    #[arg(long)]
    pub password_file: Option<PathBuf>,
}

/// The actor name audit entries carry for these commands.
const INIT_ACTOR: &str = "haven init";
const RECOVER_ACTOR: &str = "haven recover";

fn read_secret_file(path: &Path, what: &str) -> Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading the {what} from {}", path.display()))?;
    let line = text.lines().next().unwrap_or("").trim_end_matches('\r').to_owned();
    if line.is_empty() {
        bail!("{}: the first line (the {what}) is empty", path.display());
    }
    Ok(line)
}

/// A new password from a file, or typed twice at the terminal; checked against the policy.
fn new_password(file: Option<&Path>, policy: &PasswordPolicy, context: &[&str]) -> Result<String> {
    let pw = match file {
        Some(f) => read_secret_file(f, "password")?,
        None => {
            eprintln!("{}", policy.describe());
            let a = rpassword::prompt_password("New password: ").context("reading the password from the terminal")?;
            let b = rpassword::prompt_password("Same password again: ").context("reading the password from the terminal")?;
            if a != b {
                bail!("the two passwords differ; nothing was changed");
            }
            a
        }
    };
    policy.check(&pw, context).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(pw)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")
}

/// The configuration `haven init` writes: the default policy in full (so the school edits its
/// own copy), the store in the data directory, and the console over TLS.
fn config_text(school: &str, listen: &str) -> String {
    let school = school.replace('\\', "\\\\").replace('"', "\\\"");
    format!(
        "# Haven configuration written by `haven init`. haven.example.toml documents every key.\n\
         # The policy below is Haven's default (the St John's acceptable-use table); edit it here.\n\
         base_policy = \"none\"\n\n\
         {policy}\n\
         # The activity log, accounts and people directory (relative to this file).\n\
         [store]\n\
         url = \"sqlite://data/haven.db\"\n\n\
         # The web console. Without tls_cert/tls_key files Haven made a self-signed pair here.\n\
         [console]\n\
         listen = \"{listen}\"\n\
         school = \"{school}\"\n\
         tls_cert = \"console-cert.pem\"\n\
         tls_key = \"console-key.pem\"\n\n\
         [console.password]\n\
         min_length = 8\n\
         require_upper = true\n\
         require_lower = true\n\
         require_digit = true\n\
         change_after_days = 365\n",
        policy = haven_config::DEFAULT_POLICY.trim_end(),
    )
}

/// Run `haven init`.
pub fn init(args: &InitArgs) -> Result<ExitCode> {
    let dir = &args.dir;
    let config_path = dir.join("haven.toml");
    if config_path.exists() {
        bail!("{} already exists; `haven init` never overwrites a configuration (use `haven recover` to regain access)", config_path.display());
    }
    haven_store::normalise_username(&args.admin)
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ".-_@".contains(c))
        .then_some(())
        .context("the admin username may hold only letters, digits, dots, dashes, underscores and @")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o750)).with_context(|| format!("restricting {}", dir.display()))?;
    }
    // Write, then check the configuration exactly as `haven serve` will read it.
    std::fs::write(&config_path, config_text(&args.school, &args.listen)).with_context(|| format!("writing {}", config_path.display()))?;
    let config = match Config::from_file(&config_path) {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_file(&config_path);
            bail!("the configuration Haven wrote was refused (nothing kept): {e}");
        }
    };
    let console = config.console().context("the written configuration has no [console]")?;
    let password = new_password(args.password_file.as_deref(), &console.password, &[&args.admin, &args.name])?;

    let mut cert_line = String::new();
    if let Some(tls) = &console.tls {
        haven_console::tls::load_or_generate(&tls.cert, &tls.key, &tls.names).map_err(|e| anyhow::anyhow!("{e}"))?;
        cert_line = format!(
            "  console certificate: {} (self-signed)\n  SHA-256 fingerprint: {}\n",
            tls.cert.display(),
            haven_console::tls::fingerprint(&tls.cert).map_err(|e| anyhow::anyhow!("{e}"))?
        );
    }
    let code = recovery::generate()?;
    let code_hash = hash_password(&recovery::normalise(&code))?;
    let pw_hash = hash_password(&password)?;
    let store_url = config.service().store_url.clone();
    runtime()?.block_on(async {
        let store = Store::open(&store_url).await.with_context(|| format!("creating the store {store_url}"))?;
        if store.account_count().await? > 0 {
            bail!("the store {store_url} already has accounts; use `haven recover`");
        }
        let now = SystemClock.now();
        let roles = RoleSet::of(&[Role::ItAdmin]);
        let id = store
            .create_account(&NewAccount { username: &args.admin, display_name: &args.name, email: None, roles, password_hash: &pw_hash, must_change_password: false, at: now })
            .await?;
        store.set_recovery_code(&code_hash, now).await?;
        let username = haven_store::normalise_username(&args.admin);
        let base = AuthEvent { username: &username, account_id: Some(id), actor: INIT_ACTOR, ..Default::default() };
        store.append_auth_event(&AuthEvent { event: "account_created", detail: "first administrator (it_admin)", ..base.clone() }, now).await?;
        store.append_auth_event(&AuthEvent { event: "recovery_code_issued", detail: "printed once by haven init", ..base }, now).await?;
        store.close().await;
        Ok(())
    })?;
    let scheme = if console.tls.is_some() { "https" } else { "http" };
    let host = if console.listen.ip().is_unspecified() { "<this server>".to_owned() } else { console.listen.ip().to_string() };
    let mut out = std::io::stdout().lock();
    write!(
        out,
        "Haven is set up in {dir}.\n  configuration: {config}\n  store: {store_url}\n{cert_line}  console: {scheme}://{host}:{port}/ (start it with `haven --config {config} serve`)\n  administrator: {admin} (set up two-factor sign-in at first sign-in)\n\n\
         RECOVERY CODE (shown once; print it and keep it in the school safe):\n\n    {code}\n\n\
         `haven --config {config} recover` with this code resets the administrator if every administrator is locked out.\n",
        dir = dir.display(),
        config = config_path.display(),
        port = console.listen.port(),
        admin = haven_store::normalise_username(&args.admin),
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Run `haven recover`.
pub fn recover(config: &Config, args: &RecoverArgs) -> Result<ExitCode> {
    let policy = config.console().map(|c| c.password.clone()).unwrap_or_default();
    let typed = match &args.code_file {
        Some(f) => read_secret_file(f, "recovery code")?,
        None => rpassword::prompt_password("Recovery code: ").context("reading the recovery code from the terminal")?,
    };
    let store_url = config.service().store_url.clone();
    runtime()?.block_on(async {
        let store = Store::open(&store_url).await.with_context(|| format!("opening the store {store_url}"))?;
        let now = SystemClock.now();
        let failed = |detail: &'static str| AuthEvent { event: "recovery_failed", actor: RECOVER_ACTOR, detail, ..Default::default() };
        let Some((code_id, code_hash)) = store.recovery_code().await? else {
            store.append_auth_event(&failed("no unused recovery code"), now).await?;
            bail!("there is no unused recovery code in {store_url}; it was used already (a new one was printed then)");
        };
        if !verify_password(&code_hash, &recovery::normalise(&typed)) {
            store.append_auth_event(&failed("wrong recovery code"), now).await?;
            bail!("that recovery code is wrong; the attempt has been recorded");
        }
        let accounts = store.accounts().await?;
        let target = match &args.username {
            Some(u) => store.account_by_username(u).await?.with_context(|| format!("there is no account called {u}"))?,
            None => accounts
                .iter()
                .filter(|a| a.roles.allows(Permission::ManageAccounts))
                .min_by_key(|a| (a.created, a.id))
                .cloned()
                .context("no account can manage accounts; name one with --username")?,
        };
        let password = new_password(args.password_file.as_deref(), &policy, &[&target.username, &target.display_name])?;
        if !store.use_recovery_code(code_id, now).await? {
            bail!("the recovery code was used by another `haven recover` at the same moment");
        }
        let mut roles = target.roles;
        roles.insert(Role::ItAdmin);
        store.set_password(target.id, &hash_password(&password)?, now, false).await?;
        store.clear_totp(target.id).await?;
        store.update_account(target.id, &target.display_name, target.email.as_deref(), roles, false).await?;
        store.delete_sessions_of(target.id).await?;
        let next = recovery::generate()?;
        store.set_recovery_code(&hash_password(&recovery::normalise(&next))?, now).await?;
        let base = AuthEvent { username: &target.username, account_id: Some(target.id), actor: RECOVER_ACTOR, ..Default::default() };
        let detail = "recovery code used: password reset, two-factor removed, unlocked, enabled, it_admin; sessions ended";
        store.append_auth_event(&AuthEvent { event: "recovery_used", detail, ..base.clone() }, now).await?;
        store.append_auth_event(&AuthEvent { event: "recovery_code_issued", detail: "printed once by haven recover", ..base }, now).await?;
        store.close().await;
        println!(
            "{} can sign in with the new password and must set up two-factor sign-in again.\n\n\
             NEW RECOVERY CODE (the old one no longer works; shown once):\n\n    {next}\n",
            target.username
        );
        Ok(ExitCode::SUCCESS)
    })
}
