//! Sign-in names of people (schema version 10): which person a RADIUS User-Name or a directory
//! login means. The LDAP sync records each person's uid, sAMAccountName and userPrincipalName;
//! people imported from CSV are found by their school email (whole, or the part before `@`).

use haven_accounts::people::{Person, PersonKind};
use jiff::Timestamp;
use sqlx::Row;

use crate::error::RecordError;
use crate::people::{COLUMNS, PersonRecord, finish, person_row};
use crate::sql::{on_read, ts};
use crate::store::{Db, Store};

/// The sign-in names one person is known by, as a directory sync found them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonLogin {
    /// The person's kind (with `key`, how people are matched across imports).
    pub kind: PersonKind,
    /// The person's matching key.
    pub key: String,
    /// Their sign-in names (stored lower case).
    pub logins: Vec<String>,
}

macro_rules! write_logins {
    ($tx:expr, $logins:expr, $source:expr, $ms:expr) => {{
        let tx = $tx;
        let mut written = 0u64;
        for l in $logins {
            let id: Option<i64> = sqlx::query("SELECT id FROM people WHERE kind = $1 AND person_key = $2")
                .bind(l.kind.as_str())
                .bind(&l.key)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get("id"))
                .transpose()?;
            let Some(id) = id else { continue };
            sqlx::query("DELETE FROM person_logins WHERE person_id = $1 AND source = $2").bind(id).bind($source).execute(&mut *tx).await?;
            for name in &l.logins {
                let name = name.trim().to_lowercase();
                if name.is_empty() {
                    continue;
                }
                sqlx::query(
                    "INSERT INTO person_logins (login, person_id, source, updated_ms) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (login) DO UPDATE SET person_id = excluded.person_id, source = excluded.source, updated_ms = excluded.updated_ms",
                )
                .bind(&name)
                .bind(id)
                .bind($source)
                .bind($ms)
                .execute(&mut *tx)
                .await?;
                written += 1;
            }
        }
        Ok::<u64, sqlx::Error>(written)
    }};
}

impl Store {
    /// Record the sign-in names a directory sync found, replacing those the same source recorded
    /// before for each person; people not in the directory are skipped. Returns names written.
    pub async fn set_person_logins(&self, logins: &[PersonLogin], source: &str, at: Timestamp) -> Result<u64, RecordError> {
        let ms = at.as_millisecond();
        let r = match &self.inner.db {
            Db::Sqlite(s) => {
                async {
                    let mut tx = s.write.begin().await?;
                    let n = write_logins!(&mut *tx, logins, source, ms)?;
                    tx.commit().await.map(|()| n)
                }
                .await
            }
            Db::Postgres(p) => {
                async {
                    let mut tx = p.begin().await?;
                    let n = write_logins!(&mut *tx, logins, source, ms)?;
                    tx.commit().await.map(|()| n)
                }
                .await
            }
        };
        r.map_err(|e| self.db_error("record sign-in names", e).into())
    }

    /// The active person a sign-in name means: a recorded login first, then the whole school
    /// email, then the part of the email before `@` when exactly one active person has it.
    pub async fn person_for_login(&self, login: &str) -> Result<Option<PersonRecord>, RecordError> {
        let login = login.trim().to_lowercase();
        if login.is_empty() {
            return Ok(None);
        }
        let prefixed = COLUMNS.split(", ").map(|c| format!("p.{c}")).collect::<Vec<_>>().join(", ");
        let by_login =
            format!("SELECT {prefixed} FROM person_logins l JOIN people p ON p.id = l.person_id WHERE l.login = $1 AND p.active");
        let by_email = format!("SELECT {COLUMNS} FROM people WHERE active AND LOWER(email) = $1 ORDER BY id LIMIT 2");
        let by_local = format!("SELECT {COLUMNS} FROM people WHERE active AND LOWER(email) LIKE $1 ESCAPE '\\' ORDER BY id LIMIT 2");
        let pattern = format!("{}@%", login.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        for (sql, arg) in [(&by_login, &login), (&by_email, &login), (&by_local, &pattern)] {
            let rows = on_read!(self, "find a person by sign-in name", |pool| {
                sqlx::query(sql)
                    .bind(arg)
                    .fetch_all(pool)
                    .await
                    .and_then(|rows| rows.iter().map(|r| person_row!(r)).collect::<Result<Vec<_>, _>>())
            })?;
            match rows.len() {
                0 => continue,
                1 => return rows.into_iter().next().map(finish).transpose(),
                // Two people answer to the name: guessing could filter a pupil as staff.
                _ => return Ok(None),
            }
        }
        Ok(None)
    }
}
