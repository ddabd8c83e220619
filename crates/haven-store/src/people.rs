//! The people directory (schema version 5): imports as adds, changes and leavers, planned
//! first (the dry run shows exactly this plan) and then applied in one transaction.

use haven_accounts::people::{Person, PersonKind};
use jiff::Timestamp;
use sqlx::Row;

use crate::error::RecordError;
use crate::sql::{on_read, ts};
use crate::store::{Db, Store};

/// A person as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRecord {
    /// Row id.
    pub id: i64,
    /// The person as last imported.
    pub person: Person,
    /// False once they have left; they are never deleted.
    pub active: bool,
    /// When they were marked as left.
    pub left: Option<Timestamp>,
    /// Which import last wrote them (file name and format).
    pub source: String,
    /// Last change.
    pub updated: Timestamp,
}

/// One change an import would make to an existing person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonChange {
    /// Existing row id.
    pub id: i64,
    /// The new values.
    pub person: Person,
    /// Which fields change (`year group`, `tutor group`, `rejoined`, ...).
    pub fields: Vec<&'static str>,
}

/// What an import does: the dry run shows it, the real run applies it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportPlan {
    /// New people.
    pub adds: Vec<Person>,
    /// Existing people whose details change.
    pub changes: Vec<PersonChange>,
    /// Active people of the imported kinds missing from the file: marked as left.
    pub leavers: Vec<PersonRecord>,
    /// People already up to date.
    pub unchanged: usize,
}

/// Filters for listing people.
#[derive(Debug, Clone, Default)]
pub struct PeopleQuery {
    /// Only this kind.
    pub kind: Option<PersonKind>,
    /// Include people who have left.
    pub include_left: bool,
    /// Name, email, UPN or tutor group containing this (case-insensitive).
    pub search: Option<String>,
    /// Most rows (1000 when 0).
    pub limit: u32,
}

pub(crate) const COLUMNS: &str = "id, kind, person_key, given_name, family_name, year_group, tutor_group, date_of_birth, upn, email, \
                       job_title, roles, filter_group, active, left_ms, source, updated_ms";

macro_rules! person_row {
    ($r:expr) => {{
        let r = $r;
        Ok::<_, sqlx::Error>((
            r.try_get::<String, _>("kind")?,
            PersonRecord {
                id: r.try_get("id")?,
                person: Person {
                    kind: PersonKind::Pupil,
                    key: r.try_get("person_key")?,
                    given_name: r.try_get("given_name")?,
                    family_name: r.try_get("family_name")?,
                    year_group: r.try_get::<Option<i64>, _>("year_group")?.and_then(|y| i32::try_from(y).ok()),
                    tutor_group: r.try_get("tutor_group")?,
                    date_of_birth: r.try_get("date_of_birth")?,
                    upn: r.try_get("upn")?,
                    email: r.try_get("email")?,
                    job_title: r.try_get("job_title")?,
                    roles: r.try_get("roles")?,
                    filter_group: r.try_get("filter_group")?,
                },
                active: r.try_get("active")?,
                left: r.try_get::<Option<i64>, _>("left_ms")?.map(ts),
                source: r.try_get("source")?,
                updated: ts(r.try_get("updated_ms")?),
            },
        ))
    }};
}

pub(crate) fn finish((kind, mut p): (String, PersonRecord)) -> Result<PersonRecord, RecordError> {
    p.person.kind = PersonKind::parse(&kind).ok_or(RecordError::Corrupt { table: "people", id: p.id, field: "kind", value: kind })?;
    Ok(p)
}

pub(crate) use person_row;

fn differences(old: &Person, new: &Person, active: bool) -> Vec<&'static str> {
    let mut f = Vec::new();
    if !active {
        f.push("rejoined");
    }
    if (&old.given_name, &old.family_name) != (&new.given_name, &new.family_name) {
        f.push("name");
    }
    if old.year_group != new.year_group {
        f.push("year group");
    }
    if old.tutor_group != new.tutor_group {
        f.push("tutor group");
    }
    if old.date_of_birth != new.date_of_birth {
        f.push("date of birth");
    }
    if old.upn != new.upn {
        f.push("UPN");
    }
    if old.email != new.email {
        f.push("email");
    }
    if (&old.job_title, &old.roles) != (&new.job_title, &new.roles) {
        f.push("job");
    }
    if old.filter_group != new.filter_group {
        f.push("filtering group");
    }
    f
}

macro_rules! apply_plan {
    ($tx:expr, $plan:expr, $source:expr, $ms:expr) => {{
        let tx = $tx;
        for p in &$plan.adds {
            sqlx::query(
                "INSERT INTO people (kind, person_key, given_name, family_name, year_group, tutor_group, date_of_birth, upn, email, \
                 job_title, roles, filter_group, active, source, created_ms, updated_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, TRUE, $13, $14, $14)",
            )
            .bind(p.kind.as_str())
            .bind(&p.key)
            .bind(&p.given_name)
            .bind(&p.family_name)
            .bind(p.year_group.map(i64::from))
            .bind(&p.tutor_group)
            .bind(&p.date_of_birth)
            .bind(&p.upn)
            .bind(&p.email)
            .bind(&p.job_title)
            .bind(&p.roles)
            .bind(&p.filter_group)
            .bind($source)
            .bind($ms)
            .execute(&mut *tx)
            .await?;
        }
        for c in &$plan.changes {
            let p = &c.person;
            sqlx::query(
                "UPDATE people SET given_name = $2, family_name = $3, year_group = $4, tutor_group = $5, date_of_birth = $6, upn = $7, \
                 email = $8, job_title = $9, roles = $10, filter_group = $11, active = TRUE, left_ms = NULL, source = $12, updated_ms = $13 \
                 WHERE id = $1",
            )
            .bind(c.id)
            .bind(&p.given_name)
            .bind(&p.family_name)
            .bind(p.year_group.map(i64::from))
            .bind(&p.tutor_group)
            .bind(&p.date_of_birth)
            .bind(&p.upn)
            .bind(&p.email)
            .bind(&p.job_title)
            .bind(&p.roles)
            .bind(&p.filter_group)
            .bind($source)
            .bind($ms)
            .execute(&mut *tx)
            .await?;
        }
        for l in &$plan.leavers {
            sqlx::query("UPDATE people SET active = FALSE, left_ms = $2, updated_ms = $2 WHERE id = $1").bind(l.id).bind($ms).execute(&mut *tx).await?;
        }
        Ok::<(), sqlx::Error>(())
    }};
}

impl Store {
    /// People, by family then given name.
    pub async fn people(&self, q: &PeopleQuery) -> Result<Vec<PersonRecord>, RecordError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM people WHERE ($1 IS NULL OR kind = $1) AND ($2 OR active) AND ($3 IS NULL OR \
             LOWER(given_name || ' ' || family_name || ' ' || COALESCE(email, '') || ' ' || COALESCE(upn, '') || ' ' || COALESCE(tutor_group, '')) LIKE $3) \
             ORDER BY family_name, given_name, id LIMIT $4"
        );
        let search = q.search.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(|s| format!("%{}%", s.to_lowercase()));
        let limit = i64::from(if q.limit == 0 { 1000 } else { q.limit });
        let rows = on_read!(self, "list people", |pool| {
            sqlx::query(&sql)
                .bind(q.kind.map(PersonKind::as_str))
                .bind(q.include_left)
                .bind(search.as_deref())
                .bind(limit)
                .fetch_all(pool)
                .await
                .and_then(|rows| rows.iter().map(|r| person_row!(r)).collect::<Result<Vec<_>, _>>())
        })?;
        rows.into_iter().map(finish).collect()
    }

    /// One person by id (network sign-ins and device owners point here).
    pub async fn person(&self, id: i64) -> Result<Option<PersonRecord>, RecordError> {
        let sql = format!("SELECT {COLUMNS} FROM people WHERE id = $1");
        let row = on_read!(self, "read a person", |pool| {
            sqlx::query(&sql).bind(id).fetch_optional(pool).await.and_then(|r| r.as_ref().map(|r| person_row!(r)).transpose())
        })?;
        row.map(finish).transpose()
    }

    /// Active people per filtering group and kind: the aggregate governors may see.
    pub async fn people_counts(&self) -> Result<Vec<(String, String, i64)>, RecordError> {
        let sql = "SELECT filter_group, kind, COUNT(*) AS n FROM people WHERE active GROUP BY filter_group, kind ORDER BY filter_group, kind";
        Ok(on_read!(self, "count people", |pool| {
            sqlx::query(sql)
                .fetch_all(pool)
                .await
                .and_then(|rows| rows.iter().map(|r| Ok((r.try_get("filter_group")?, r.try_get("kind")?, r.try_get("n")?))).collect::<Result<Vec<_>, sqlx::Error>>())
        })?)
    }

    /// What importing `people` would do. Leavers are active people of `kinds` not in the file.
    pub async fn plan_people_import(&self, people: &[Person], kinds: &[PersonKind]) -> Result<ImportPlan, RecordError> {
        let existing = self.people(&PeopleQuery { include_left: true, limit: u32::MAX, ..Default::default() }).await?;
        let by_key: std::collections::HashMap<(PersonKind, &str), &PersonRecord> = existing.iter().map(|r| ((r.person.kind, r.person.key.as_str()), r)).collect();
        let mut plan = ImportPlan::default();
        let mut present = std::collections::HashSet::new();
        for p in people {
            present.insert((p.kind, p.key.as_str()));
            match by_key.get(&(p.kind, p.key.as_str())) {
                None => plan.adds.push(p.clone()),
                Some(r) => {
                    let fields = differences(&r.person, p, r.active);
                    if fields.is_empty() {
                        plan.unchanged += 1;
                    } else {
                        plan.changes.push(PersonChange { id: r.id, person: p.clone(), fields });
                    }
                }
            }
        }
        plan.leavers = existing.iter().filter(|r| r.active && kinds.contains(&r.person.kind) && !present.contains(&(r.person.kind, r.person.key.as_str()))).cloned().collect();
        Ok(plan)
    }

    /// Apply a plan in one transaction: all of it or none.
    pub async fn apply_people_import(&self, plan: &ImportPlan, source: &str, at: Timestamp) -> Result<(), RecordError> {
        let ms = at.as_millisecond();
        let r = match &self.inner.db {
            Db::Sqlite(s) => async {
                let mut tx = s.write.begin().await?;
                apply_plan!(&mut *tx, plan, source, ms)?;
                tx.commit().await
            }
            .await,
            Db::Postgres(p) => async {
                let mut tx = p.begin().await?;
                apply_plan!(&mut *tx, plan, source, ms)?;
                tx.commit().await
            }
            .await,
        };
        r.map_err(|e| self.db_error("import people", e).into())
    }
}
