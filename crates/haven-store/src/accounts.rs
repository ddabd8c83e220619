//! Console accounts, sessions, API tokens, the recovery code and the append-only sign-in audit
//! log (schema version 4). The rules (lockout, expiry, roles) live in `haven-accounts`; this
//! module only keeps and finds rows.

use haven_accounts::role::PermissionSet;
use haven_accounts::session::Stage;
use haven_accounts::RoleSet;
use jiff::Timestamp;
use sqlx::Row;

use crate::error::RecordError;
use crate::sql::{is_unique_violation, on_read, on_write, ts};
use crate::store::Store;

/// A console account as stored; `Debug` leaves out the password hash and TOTP secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    /// Row id.
    pub id: i64,
    /// Sign-in name, lower case, unique.
    pub username: String,
    /// The name shown in the console and audit log.
    pub display_name: String,
    /// Where notices go.
    pub email: Option<String>,
    /// The roles held.
    pub roles: RoleSet,
    /// argon2id PHC string.
    pub password_hash: String,
    /// When the password was last set, for change reminders.
    pub password_changed: Timestamp,
    /// Set when an administrator chose the password: the holder must replace it at sign-in.
    pub must_change_password: bool,
    /// The confirmed TOTP secret (base32), once enrolled.
    pub totp_secret: Option<String>,
    /// A secret shown for enrolment and not yet confirmed with a code.
    pub totp_pending: Option<String>,
    /// The time step of the last accepted code (replay protection).
    pub totp_last_step: Option<i64>,
    /// Consecutive failed sign-ins since the last success or lock.
    pub failed_sign_ins: u32,
    /// Locked until then, if locked.
    pub locked_until: Option<Timestamp>,
    /// Disabled accounts cannot sign in or use tokens; they are never deleted.
    pub disabled: bool,
    /// When the account was created.
    pub created: Timestamp,
    /// When it last completed a sign-in.
    pub last_sign_in: Option<Timestamp>,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("roles", &self.roles.to_list())
            .field("totp_enrolled", &self.totp_secret.is_some())
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// What creating an account needs.
#[derive(Debug, Clone)]
pub struct NewAccount<'a> {
    /// Sign-in name (stored lower case).
    pub username: &'a str,
    /// Display name.
    pub display_name: &'a str,
    /// Email, if any.
    pub email: Option<&'a str>,
    /// Roles.
    pub roles: RoleSet,
    /// argon2id hash of the first password.
    pub password_hash: &'a str,
    /// Whether the holder must choose a new password at first sign-in.
    pub must_change_password: bool,
    /// Creation time.
    pub at: Timestamp,
}

/// A console session as stored (the token itself is only ever in the browser's cookie).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// SHA-256 of the session token.
    pub token_hash: String,
    /// Whose session.
    pub account_id: i64,
    /// How far through sign-in it is.
    pub stage: Stage,
    /// The synchroniser token every form in this session must carry.
    pub csrf_token: String,
    /// Issued at.
    pub created: Timestamp,
    /// Last request.
    pub last_seen: Timestamp,
    /// Client address and user agent, for the account's session list.
    pub client: String,
}

/// An API token as stored (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenRecord {
    /// Row id (used to revoke).
    pub id: i64,
    /// Owner.
    pub account_id: i64,
    /// What the owner called it.
    pub name: String,
    /// The first characters, so it can be recognised.
    pub hint: String,
    /// What it may do (further limited by the owner's roles at use).
    pub scopes: PermissionSet,
    /// Created at.
    pub created: Timestamp,
    /// Stops working then, if set.
    pub expires: Option<Timestamp>,
    /// Last used at.
    pub last_used: Option<Timestamp>,
    /// Revoked at, if revoked.
    pub revoked: Option<Timestamp>,
}

/// What creating an API token stores.
#[derive(Debug, Clone)]
pub struct NewApiToken<'a> {
    /// Owner.
    pub account_id: i64,
    /// What the owner calls it.
    pub name: &'a str,
    /// SHA-256 of the secret.
    pub token_hash: &'a str,
    /// The secret's first characters.
    pub hint: &'a str,
    /// What it may do.
    pub scopes: PermissionSet,
    /// Created at.
    pub at: Timestamp,
    /// Stops working then.
    pub expires: Option<Timestamp>,
}

/// One entry to append to the sign-in audit log.
#[derive(Debug, Clone, Default)]
pub struct AuthEvent<'a> {
    /// What happened: `sign_in`, `sign_in_failed`, `locked`, `totp_enrolled`, ...
    pub event: &'a str,
    /// The username concerned (as typed, for failures naming no account).
    pub username: &'a str,
    /// The account concerned, when there is one.
    pub account_id: Option<i64>,
    /// Who did it, when not the account holder (an administrator, `haven recover`).
    pub actor: &'a str,
    /// Client address.
    pub client: &'a str,
    /// Plain-language detail; never a password, code or token.
    pub detail: &'a str,
}

/// One entry read back from the sign-in audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthAuditRecord {
    /// Row id, increasing.
    pub id: i64,
    /// When.
    pub time: Timestamp,
    /// What happened.
    pub event: String,
    /// Username concerned.
    pub username: String,
    /// Account concerned.
    pub account_id: Option<i64>,
    /// Who did it.
    pub actor: String,
    /// Client address.
    pub client: String,
    /// Detail.
    pub detail: String,
}

/// Filters for reading the audit log, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuthAuditQuery {
    /// Only this username.
    pub username: Option<String>,
    /// Only this event.
    pub event: Option<String>,
    /// Only entries older than this id (paging).
    pub before_id: Option<i64>,
    /// Most entries returned (capped at 1000; 100 when 0).
    pub limit: u32,
}

const ACCOUNT_COLUMNS: &str = "id, username, display_name, email, roles, password_hash, password_changed_ms, \
    must_change_password, totp_secret, totp_pending, totp_last_step, failed_sign_ins, locked_until_ms, disabled, \
    created_ms, last_sign_in_ms";

macro_rules! account_row {
    ($r:expr) => {{
        let r = $r;
        let id: i64 = r.try_get("id")?;
        let roles: String = r.try_get("roles")?;
        let failed: i64 = r.try_get("failed_sign_ins")?;
        Ok::<_, sqlx::Error>((
            roles,
            Account {
                id,
                username: r.try_get("username")?,
                display_name: r.try_get("display_name")?,
                email: r.try_get("email")?,
                roles: RoleSet::EMPTY,
                password_hash: r.try_get("password_hash")?,
                password_changed: ts(r.try_get("password_changed_ms")?),
                must_change_password: r.try_get("must_change_password")?,
                totp_secret: r.try_get("totp_secret")?,
                totp_pending: r.try_get("totp_pending")?,
                totp_last_step: r.try_get("totp_last_step")?,
                failed_sign_ins: u32::try_from(failed).unwrap_or(u32::MAX),
                locked_until: r.try_get::<Option<i64>, _>("locked_until_ms")?.map(ts),
                disabled: r.try_get("disabled")?,
                created: ts(r.try_get("created_ms")?),
                last_sign_in: r.try_get::<Option<i64>, _>("last_sign_in_ms")?.map(ts),
            },
        ))
    }};
}

fn finish_account((roles, mut a): (String, Account)) -> Result<Account, RecordError> {
    a.roles = RoleSet::parse(&roles).map_err(|_| RecordError::Corrupt { table: "accounts", id: a.id, field: "roles", value: roles })?;
    Ok(a)
}

macro_rules! session_row {
    ($r:expr) => {{
        let r = $r;
        Ok::<_, sqlx::Error>((
            r.try_get::<String, _>("stage")?,
            SessionRecord {
                token_hash: r.try_get("token_hash")?,
                account_id: r.try_get("account_id")?,
                stage: Stage::Full,
                csrf_token: r.try_get("csrf_token")?,
                created: ts(r.try_get("created_ms")?),
                last_seen: ts(r.try_get("last_seen_ms")?),
                client: r.try_get("client")?,
            },
        ))
    }};
}

macro_rules! token_row {
    ($r:expr) => {{
        let r = $r;
        Ok::<_, sqlx::Error>((
            r.try_get::<String, _>("scopes")?,
            ApiTokenRecord {
                id: r.try_get("id")?,
                account_id: r.try_get("account_id")?,
                name: r.try_get("name")?,
                hint: r.try_get("hint")?,
                scopes: PermissionSet::default(),
                created: ts(r.try_get("created_ms")?),
                expires: r.try_get::<Option<i64>, _>("expires_ms")?.map(ts),
                last_used: r.try_get::<Option<i64>, _>("last_used_ms")?.map(ts),
                revoked: r.try_get::<Option<i64>, _>("revoked_ms")?.map(ts),
            },
        ))
    }};
}

fn finish_token((scopes, mut t): (String, ApiTokenRecord)) -> Result<ApiTokenRecord, RecordError> {
    t.scopes = PermissionSet::parse_scopes(&scopes).map_err(|_| RecordError::Corrupt { table: "api_tokens", id: t.id, field: "scopes", value: scopes })?;
    Ok(t)
}

macro_rules! audit_row {
    ($r:expr) => {{
        let r = $r;
        Ok::<_, sqlx::Error>(AuthAuditRecord {
            id: r.try_get("id")?,
            time: ts(r.try_get("time_ms")?),
            event: r.try_get("event")?,
            username: r.try_get("username")?,
            account_id: r.try_get("account_id")?,
            actor: r.try_get("actor")?,
            client: r.try_get("client")?,
            detail: r.try_get("detail")?,
        })
    }};
}

const TOKEN_COLUMNS: &str = "id, account_id, name, hint, scopes, created_ms, expires_ms, last_used_ms, revoked_ms";

/// Normalise a username as stored and looked up: trimmed, lower case.
pub fn normalise_username(username: &str) -> String {
    username.trim().to_lowercase()
}

impl Store {
    /// Create an account; a taken username is [`RecordError::Conflict`].
    pub async fn create_account(&self, a: &NewAccount<'_>) -> Result<i64, RecordError> {
        let username = normalise_username(a.username);
        let sql = "INSERT INTO accounts (username, display_name, email, roles, password_hash, password_changed_ms, \
                   must_change_password, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $6) RETURNING id";
        let r: Result<i64, _> = on_write!(self, "create account", |pool| {
            sqlx::query_scalar(sql)
                .bind(&username)
                .bind(a.display_name.trim())
                .bind(a.email.map(str::trim).filter(|e| !e.is_empty()))
                .bind(a.roles.to_list())
                .bind(a.password_hash)
                .bind(a.at.as_millisecond())
                .bind(a.must_change_password)
                .fetch_one(pool)
                .await
        });
        r.map_err(|e| if is_unique_violation(&e) { RecordError::Conflict { what: "username", value: username } } else { e.into() })
    }

    /// One account by id.
    pub async fn account(&self, id: i64) -> Result<Option<Account>, RecordError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1");
        let row = on_read!(self, "read account", |pool| {
            sqlx::query(&sql).bind(id).fetch_optional(pool).await.and_then(|r| r.as_ref().map(|r| account_row!(r)).transpose())
        })?;
        row.map(finish_account).transpose()
    }

    /// One account by username (any case).
    pub async fn account_by_username(&self, username: &str) -> Result<Option<Account>, RecordError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE username = $1");
        let name = normalise_username(username);
        let row = on_read!(self, "read account", |pool| {
            sqlx::query(&sql).bind(&name).fetch_optional(pool).await.and_then(|r| r.as_ref().map(|r| account_row!(r)).transpose())
        })?;
        row.map(finish_account).transpose()
    }

    /// Every account, by username.
    pub async fn accounts(&self) -> Result<Vec<Account>, RecordError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY username");
        let rows = on_read!(self, "list accounts", |pool| {
            sqlx::query(&sql).fetch_all(pool).await.and_then(|rows| rows.iter().map(|r| account_row!(r)).collect::<Result<Vec<_>, _>>())
        })?;
        rows.into_iter().map(finish_account).collect()
    }

    /// How many accounts exist (`haven init` refuses to create a second first administrator).
    pub async fn account_count(&self) -> Result<i64, RecordError> {
        Ok(on_read!(self, "count accounts", |pool| sqlx::query_scalar("SELECT COUNT(*) FROM accounts").fetch_one(pool).await)?)
    }

    /// Change the profile an administrator edits: name, email, roles, disabled.
    pub async fn update_account(&self, id: i64, display_name: &str, email: Option<&str>, roles: RoleSet, disabled: bool) -> Result<(), RecordError> {
        let sql = "UPDATE accounts SET display_name = $2, email = $3, roles = $4, disabled = $5 WHERE id = $1";
        let n = on_write!(self, "update account", |pool| {
            sqlx::query(sql)
                .bind(id)
                .bind(display_name.trim())
                .bind(email.map(str::trim).filter(|e| !e.is_empty()))
                .bind(roles.to_list())
                .bind(disabled)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        found(n, "account", id)
    }

    /// Set a new password hash; clears any lock and failure count.
    pub async fn set_password(&self, id: i64, hash: &str, at: Timestamp, must_change: bool) -> Result<(), RecordError> {
        let sql = "UPDATE accounts SET password_hash = $2, password_changed_ms = $3, must_change_password = $4, \
                   failed_sign_ins = 0, locked_until_ms = NULL WHERE id = $1";
        let n = on_write!(self, "set password", |pool| {
            sqlx::query(sql).bind(id).bind(hash).bind(at.as_millisecond()).bind(must_change).execute(pool).await.map(|r| r.rows_affected())
        })?;
        found(n, "account", id)
    }

    /// Store the failure count after a failed sign-in, and the lock if it locked.
    pub async fn record_sign_in_failure(&self, id: i64, failures: u32, locked_until: Option<Timestamp>) -> Result<(), RecordError> {
        let sql = "UPDATE accounts SET failed_sign_ins = $2, locked_until_ms = COALESCE($3, locked_until_ms) WHERE id = $1";
        on_write!(self, "record sign-in failure", |pool| {
            sqlx::query(sql).bind(id).bind(i64::from(failures)).bind(locked_until.map(|t| t.as_millisecond())).execute(pool).await.map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// Reset the failure count after a completed sign-in and note when it happened.
    pub async fn record_sign_in_success(&self, id: i64, at: Timestamp) -> Result<(), RecordError> {
        let sql = "UPDATE accounts SET failed_sign_ins = 0, locked_until_ms = NULL, last_sign_in_ms = $2 WHERE id = $1";
        on_write!(self, "record sign-in", |pool| sqlx::query(sql).bind(id).bind(at.as_millisecond()).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Lift a lock and clear the failure count (an administrator's action).
    pub async fn unlock_account(&self, id: i64) -> Result<(), RecordError> {
        let sql = "UPDATE accounts SET failed_sign_ins = 0, locked_until_ms = NULL WHERE id = $1";
        let n = on_write!(self, "unlock account", |pool| sqlx::query(sql).bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
        found(n, "account", id)
    }

    /// Keep a secret shown for enrolment until it is confirmed (or `None` to abandon it).
    pub async fn set_totp_pending(&self, id: i64, secret: Option<&str>) -> Result<(), RecordError> {
        let sql = "UPDATE accounts SET totp_pending = $2 WHERE id = $1";
        let n = on_write!(self, "start TOTP enrolment", |pool| sqlx::query(sql).bind(id).bind(secret).execute(pool).await.map(|r| r.rows_affected()))?;
        found(n, "account", id)
    }

    /// Make the pending secret the account's second factor, recording the confirming code's step.
    pub async fn confirm_totp(&self, id: i64, secret: &str, step: i64) -> Result<(), RecordError> {
        let sql = "UPDATE accounts SET totp_secret = $2, totp_pending = NULL, totp_last_step = $3 WHERE id = $1";
        let n = on_write!(self, "confirm TOTP", |pool| sqlx::query(sql).bind(id).bind(secret).bind(step).execute(pool).await.map(|r| r.rows_affected()))?;
        found(n, "account", id)
    }

    /// Remove the second factor (an administrator's reset, or `haven recover`).
    pub async fn clear_totp(&self, id: i64) -> Result<(), RecordError> {
        let sql = "UPDATE accounts SET totp_secret = NULL, totp_pending = NULL, totp_last_step = NULL WHERE id = $1";
        let n = on_write!(self, "clear TOTP", |pool| sqlx::query(sql).bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
        found(n, "account", id)
    }

    /// Use up a TOTP step: true only if `step` is newer than the last one used, atomically, so two
    /// requests racing with the same code cannot both succeed.
    pub async fn claim_totp_step(&self, id: i64, step: i64) -> Result<bool, RecordError> {
        let sql = "UPDATE accounts SET totp_last_step = $2 WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)";
        let n = on_write!(self, "use TOTP step", |pool| sqlx::query(sql).bind(id).bind(step).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Store a new session.
    pub async fn insert_session(&self, s: &SessionRecord) -> Result<(), RecordError> {
        let sql = "INSERT INTO sessions (token_hash, account_id, stage, csrf_token, created_ms, last_seen_ms, client) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7)";
        on_write!(self, "create session", |pool| {
            sqlx::query(sql)
                .bind(&s.token_hash)
                .bind(s.account_id)
                .bind(s.stage.as_str())
                .bind(&s.csrf_token)
                .bind(s.created.as_millisecond())
                .bind(s.last_seen.as_millisecond())
                .bind(&s.client)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// A session by the hash of its token.
    pub async fn session(&self, token_hash: &str) -> Result<Option<SessionRecord>, RecordError> {
        let sql = "SELECT token_hash, account_id, stage, csrf_token, created_ms, last_seen_ms, client FROM sessions WHERE token_hash = $1";
        let row = on_read!(self, "read session", |pool| {
            sqlx::query(sql).bind(token_hash).fetch_optional(pool).await.and_then(|r| r.as_ref().map(|r| session_row!(r)).transpose())
        })?;
        row.map(|(stage, mut s)| {
            s.stage = Stage::parse(&stage).ok_or(RecordError::Corrupt { table: "sessions", id: s.account_id, field: "stage", value: stage })?;
            Ok(s)
        })
        .transpose()
    }

    /// Note a request on a session (idle expiry counts from here).
    pub async fn touch_session(&self, token_hash: &str, at: Timestamp) -> Result<(), RecordError> {
        let sql = "UPDATE sessions SET last_seen_ms = $2 WHERE token_hash = $1";
        on_write!(self, "touch session", |pool| sqlx::query(sql).bind(token_hash).bind(at.as_millisecond()).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// End one session.
    pub async fn delete_session(&self, token_hash: &str) -> Result<(), RecordError> {
        on_write!(self, "end session", |pool| sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// End every session of an account (password change, disable, role change, recovery).
    pub async fn delete_sessions_of(&self, account_id: i64) -> Result<u64, RecordError> {
        let n = on_write!(self, "end sessions", |pool| sqlx::query("DELETE FROM sessions WHERE account_id = $1").bind(account_id).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(n)
    }

    /// Delete sessions whose last use was before `idle_before` or that began before `created_before`.
    pub async fn prune_sessions(&self, idle_before: Timestamp, created_before: Timestamp) -> Result<u64, RecordError> {
        let sql = "DELETE FROM sessions WHERE last_seen_ms < $1 OR created_ms < $2";
        let n = on_write!(self, "prune sessions", |pool| {
            sqlx::query(sql).bind(idle_before.as_millisecond()).bind(created_before.as_millisecond()).execute(pool).await.map(|r| r.rows_affected())
        })?;
        Ok(n)
    }

    /// Store a new API token (its hash) and return its id.
    pub async fn insert_api_token(&self, t: &NewApiToken<'_>) -> Result<i64, RecordError> {
        let sql = "INSERT INTO api_tokens (account_id, name, token_hash, hint, scopes, created_ms, expires_ms) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";
        Ok(on_write!(self, "create API token", |pool| {
            sqlx::query_scalar(sql)
                .bind(t.account_id)
                .bind(t.name.trim())
                .bind(t.token_hash)
                .bind(t.hint)
                .bind(t.scopes.to_scopes())
                .bind(t.at.as_millisecond())
                .bind(t.expires.map(|e| e.as_millisecond()))
                .fetch_one(pool)
                .await
        })?)
    }

    /// An API token by the hash of its secret (revoked and expired ones too: the caller decides).
    pub async fn api_token_by_hash(&self, token_hash: &str) -> Result<Option<ApiTokenRecord>, RecordError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1");
        let row = on_read!(self, "read API token", |pool| {
            sqlx::query(&sql).bind(token_hash).fetch_optional(pool).await.and_then(|r| r.as_ref().map(|r| token_row!(r)).transpose())
        })?;
        row.map(finish_token).transpose()
    }

    /// An account's API tokens, newest first (`None`: everyone's).
    pub async fn api_tokens(&self, account_id: Option<i64>) -> Result<Vec<ApiTokenRecord>, RecordError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE ($1 IS NULL OR account_id = $1) ORDER BY id DESC");
        let rows = on_read!(self, "list API tokens", |pool| {
            sqlx::query(&sql)
                .bind(account_id)
                .fetch_all(pool)
                .await
                .and_then(|rows| rows.iter().map(|r| token_row!(r)).collect::<Result<Vec<_>, _>>())
        })?;
        rows.into_iter().map(finish_token).collect()
    }

    /// Revoke a token; `owner` limits it to that account's tokens. False if nothing was revoked.
    pub async fn revoke_api_token(&self, id: i64, owner: Option<i64>, at: Timestamp) -> Result<bool, RecordError> {
        let sql = "UPDATE api_tokens SET revoked_ms = $3 WHERE id = $1 AND ($2 IS NULL OR account_id = $2) AND revoked_ms IS NULL";
        let n = on_write!(self, "revoke API token", |pool| sqlx::query(sql).bind(id).bind(owner).bind(at.as_millisecond()).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Note a token's use.
    pub async fn touch_api_token(&self, id: i64, at: Timestamp) -> Result<(), RecordError> {
        let sql = "UPDATE api_tokens SET last_used_ms = $2 WHERE id = $1";
        on_write!(self, "touch API token", |pool| sqlx::query(sql).bind(id).bind(at.as_millisecond()).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Replace the recovery code: older unused codes stop working.
    pub async fn set_recovery_code(&self, code_hash: &str, at: Timestamp) -> Result<(), RecordError> {
        let ms = at.as_millisecond();
        on_write!(self, "retire recovery codes", |pool| {
            sqlx::query("UPDATE recovery_codes SET used_ms = $1 WHERE used_ms IS NULL").bind(ms).execute(pool).await.map(|r| r.rows_affected())
        })?;
        on_write!(self, "store recovery code", |pool| {
            sqlx::query("INSERT INTO recovery_codes (code_hash, created_ms) VALUES ($1, $2)").bind(code_hash).bind(ms).execute(pool).await.map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// The current unused recovery code: its id and hash.
    pub async fn recovery_code(&self) -> Result<Option<(i64, String)>, RecordError> {
        let sql = "SELECT id, code_hash FROM recovery_codes WHERE used_ms IS NULL ORDER BY id DESC LIMIT 1";
        Ok(on_read!(self, "read recovery code", |pool| {
            sqlx::query(sql).fetch_optional(pool).await.and_then(|r| r.map(|r| Ok((r.try_get("id")?, r.try_get("code_hash")?))).transpose())
        })?)
    }

    /// Mark a recovery code used; false if it already was (two racing recoveries).
    pub async fn use_recovery_code(&self, id: i64, at: Timestamp) -> Result<bool, RecordError> {
        let sql = "UPDATE recovery_codes SET used_ms = $2 WHERE id = $1 AND used_ms IS NULL";
        let n = on_write!(self, "use recovery code", |pool| sqlx::query(sql).bind(id).bind(at.as_millisecond()).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Append to the sign-in audit log (the only write it accepts).
    pub async fn append_auth_event(&self, e: &AuthEvent<'_>, at: Timestamp) -> Result<i64, RecordError> {
        let sql = "INSERT INTO auth_audit (time_ms, event, username, account_id, actor, client, detail) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";
        Ok(on_write!(self, "append to the sign-in audit log", |pool| {
            sqlx::query_scalar(sql)
                .bind(at.as_millisecond())
                .bind(e.event)
                .bind(e.username)
                .bind(e.account_id)
                .bind(e.actor)
                .bind(e.client)
                .bind(e.detail)
                .fetch_one(pool)
                .await
        })?)
    }

    /// Read the sign-in audit log, newest first.
    pub async fn auth_audit(&self, q: &AuthAuditQuery) -> Result<Vec<AuthAuditRecord>, RecordError> {
        let limit = i64::from(if q.limit == 0 { 100 } else { q.limit.min(1000) });
        let sql = "SELECT id, time_ms, event, username, account_id, actor, client, detail FROM auth_audit \
                   WHERE ($1 IS NULL OR username = $1) AND ($2 IS NULL OR event = $2) AND ($3 IS NULL OR id < $3) \
                   ORDER BY id DESC LIMIT $4";
        let username = q.username.as_deref().map(normalise_username);
        Ok(on_read!(self, "read the sign-in audit log", |pool| {
            sqlx::query(sql)
                .bind(username.as_deref())
                .bind(q.event.as_deref())
                .bind(q.before_id)
                .bind(limit)
                .fetch_all(pool)
                .await
                .and_then(|rows| rows.iter().map(|r| audit_row!(r)).collect::<Result<Vec<_>, _>>())
        })?)
    }
}

fn found(rows: u64, what: &'static str, id: i64) -> Result<(), RecordError> {
    if rows == 0 { Err(RecordError::NotFound { what, id }) } else { Ok(()) }
}
