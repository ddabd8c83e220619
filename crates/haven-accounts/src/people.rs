//! The people directory's rows and their CSV import: pupils, staff, governors, volunteers and
//! visitors, read from Wonde, SIMS, Arbor or a plain CSV with a header, each row checked and
//! mapped to a filtering group. A bad row is reported with its row number and field; the good
//! rows still go in.

use std::fmt;

/// What kind of person a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PersonKind {
    /// A pupil on roll.
    Pupil,
    /// A member of staff.
    Staff,
    /// A governor or trustee.
    Governor,
    /// A volunteer.
    Volunteer,
    /// A visitor (supply, contractor, guest speaker).
    Visitor,
}

impl PersonKind {
    /// Every kind.
    pub const ALL: [PersonKind; 5] = [PersonKind::Pupil, PersonKind::Staff, PersonKind::Governor, PersonKind::Volunteer, PersonKind::Visitor];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            PersonKind::Pupil => "pupil",
            PersonKind::Staff => "staff",
            PersonKind::Governor => "governor",
            PersonKind::Volunteer => "volunteer",
            PersonKind::Visitor => "visitor",
        }
    }

    /// Parse a stored or typed kind (`student` means pupil).
    pub fn parse(s: &str) -> Option<PersonKind> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "pupil" | "student" => PersonKind::Pupil,
            "staff" | "teacher" | "employee" => PersonKind::Staff,
            "governor" | "trustee" => PersonKind::Governor,
            "volunteer" => PersonKind::Volunteer,
            "visitor" | "guest" | "contractor" => PersonKind::Visitor,
            _ => return None,
        })
    }
}

impl fmt::Display for PersonKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One person, checked, as an import proposes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Kind.
    pub kind: PersonKind,
    /// The matching key across imports: the UPN for pupils, the email otherwise (lower case).
    pub key: String,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// National curriculum year: -1 nursery, 0 reception, 1-14.
    pub year_group: Option<i32>,
    /// Tutor or registration group.
    pub tutor_group: Option<String>,
    /// Date of birth, ISO 8601.
    pub date_of_birth: Option<String>,
    /// Unique Pupil Number.
    pub upn: Option<String>,
    /// School email.
    pub email: Option<String>,
    /// Job title (staff).
    pub job_title: Option<String>,
    /// Roles (staff: `teacher`, `dsl`, ...), as written.
    pub roles: Option<String>,
    /// The filtering group this person's traffic is decided under.
    pub filter_group: String,
}

impl Person {
    /// "Given Family".
    pub fn full_name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
    }
}

/// Which export a CSV came from, so its column names are understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    /// Wonde's students or employees export.
    Wonde,
    /// A SIMS report export.
    Sims,
    /// An Arbor export.
    Arbor,
    /// Haven's own columns (see [`PLAIN_COLUMNS`]).
    Plain,
}

impl ImportFormat {
    /// Parse `wonde`, `sims`, `arbor`, `plain`.
    pub fn parse(s: &str) -> Option<ImportFormat> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "wonde" => ImportFormat::Wonde,
            "sims" => ImportFormat::Sims,
            "arbor" => ImportFormat::Arbor,
            "plain" | "csv" => ImportFormat::Plain,
            _ => return None,
        })
    }

    /// The column headings this format uses for each field, first the field's own name.
    fn aliases(self, field: Field) -> &'static [&'static str] {
        use Field::*;
        match (self, field) {
            (_, Kind) => &["kind", "type", "person type"],
            (ImportFormat::Wonde, Given) => &["forename", "first name", "legal forename"],
            (ImportFormat::Wonde, Family) => &["surname", "last name", "legal surname"],
            (ImportFormat::Wonde, Year) => &["year group", "year"],
            (ImportFormat::Wonde, Tutor) => &["registration group", "form group", "tutor group"],
            (ImportFormat::Wonde, Email) => &["email", "email address", "school email"],
            (ImportFormat::Sims, Given) => &["forename", "legal forename", "preferred forename"],
            (ImportFormat::Sims, Family) => &["legal surname", "surname", "preferred surname"],
            (ImportFormat::Sims, Year) => &["year", "year group", "ncyear actual"],
            (ImportFormat::Sims, Tutor) => &["reg", "reg group", "registration group"],
            (ImportFormat::Sims, Email) => &["email", "primary email", "email address"],
            (ImportFormat::Arbor, Given) => &["first name", "legal first name", "preferred first name"],
            (ImportFormat::Arbor, Family) => &["last name", "legal last name", "preferred last name"],
            (ImportFormat::Arbor, Year) => &["year", "year group"],
            (ImportFormat::Arbor, Tutor) => &["registration form", "reg form", "tutor group"],
            (ImportFormat::Arbor, Email) => &["email address", "email", "school email address"],
            (ImportFormat::Plain, Given) => &["given_name", "first_name", "forename"],
            (ImportFormat::Plain, Family) => &["family_name", "last_name", "surname"],
            (ImportFormat::Plain, Year) => &["year_group", "year"],
            (ImportFormat::Plain, Tutor) => &["tutor_group", "form", "registration_group"],
            (ImportFormat::Plain, Email) => &["email"],
            (_, Dob) => &["date_of_birth", "date of birth", "dob", "birth date"],
            (_, Upn) => &["upn", "unique pupil number"],
            (_, JobTitle) => &["job_title", "job title", "role title", "post"],
            (_, Roles) => &["roles", "staff roles"],
        }
    }
}

/// The plain format's columns (a header row is required; order does not matter).
pub const PLAIN_COLUMNS: &str = "kind, given_name, family_name, year_group, tutor_group, date_of_birth, upn, email, job_title, roles";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Kind,
    Given,
    Family,
    Year,
    Tutor,
    Dob,
    Upn,
    Email,
    JobTitle,
    Roles,
}

impl Field {
    const ALL: [Field; 10] = [Field::Kind, Field::Given, Field::Family, Field::Year, Field::Tutor, Field::Dob, Field::Upn, Field::Email, Field::JobTitle, Field::Roles];

    fn name(self) -> &'static str {
        match self {
            Field::Kind => "kind",
            Field::Given => "given name",
            Field::Family => "family name",
            Field::Year => "year group",
            Field::Tutor => "tutor group",
            Field::Dob => "date of birth",
            Field::Upn => "UPN",
            Field::Email => "email",
            Field::JobTitle => "job title",
            Field::Roles => "roles",
        }
    }
}

/// Which filtering group each kind and year goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMap {
    /// (first year, last year, group): nursery is -1, reception 0.
    pub years: Vec<(i32, i32, String)>,
    /// Group for staff.
    pub staff: String,
    /// Group for governors, volunteers and visitors.
    pub guests: String,
}

impl Default for GroupMap {
    /// The default policy's groups: Reception-Year 2, KS2, KS3, KS4, Sixth Form, Staff, Guests.
    fn default() -> Self {
        GroupMap {
            years: vec![
                (-1, 2, "reception_ks1".into()),
                (3, 6, "ks2".into()),
                (7, 9, "ks3".into()),
                (10, 11, "ks4".into()),
                (12, 14, "sixth_form".into()),
            ],
            staff: "staff".into(),
            guests: "guests".into(),
        }
    }
}

impl GroupMap {
    /// The group for a person of `kind` in `year`; `None` for a pupil whose year maps nowhere.
    pub fn group_for(&self, kind: PersonKind, year: Option<i32>) -> Option<&str> {
        match kind {
            PersonKind::Pupil => {
                let y = year?;
                self.years.iter().find(|(lo, hi, _)| (*lo..=*hi).contains(&y)).map(|(_, _, g)| g.as_str())
            }
            PersonKind::Staff => Some(&self.staff),
            _ => Some(&self.guests),
        }
    }

    /// Every group named, to check against the policy.
    pub fn groups(&self) -> Vec<&str> {
        let mut g: Vec<&str> = self.years.iter().map(|(_, _, g)| g.as_str()).collect();
        g.push(&self.staff);
        g.push(&self.guests);
        g
    }
}

/// One refused row: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The row number as a spreadsheet shows it (the header is row 1).
    pub row: u64,
    /// The field at fault.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {}: {}: {}", self.row, self.field, self.message)
    }
}

/// A whole file refused: it has no header, or lacks a column every row needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// The CSV could not be read at all.
    #[error("the file is not readable CSV: {0}")]
    Csv(String),
    /// A required column is missing from the header.
    #[error("the header has no {field} column (looked for: {looked_for})")]
    MissingColumn {
        /// The field.
        field: &'static str,
        /// The headings accepted for it.
        looked_for: String,
    },
}

/// What a file holds: the good rows (with their row numbers) and the bad ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedImport {
    /// Checked people, with the row each came from.
    pub people: Vec<(u64, Person)>,
    /// Refused rows.
    pub errors: Vec<RowError>,
}

/// Read a CSV export. `default_kind` applies to rows without a kind column (an MIS pupil
/// export). Excel's UTF-8 byte-order mark, ragged rows and stray spaces are tolerated.
pub fn parse_csv(text: &str, format: ImportFormat, default_kind: PersonKind, groups: &GroupMap) -> Result<ParsedImport, ImportError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers: Vec<String> = reader.headers().map_err(|e| ImportError::Csv(e.to_string()))?.iter().map(|h| h.to_ascii_lowercase()).collect();
    let column = |f: Field| format.aliases(f).iter().find_map(|a| headers.iter().position(|h| h == a));
    let cols: Vec<(Field, Option<usize>)> = Field::ALL.iter().map(|f| (*f, column(*f))).collect();
    for required in [Field::Given, Field::Family] {
        if column(required).is_none() {
            return Err(ImportError::MissingColumn { field: required.name(), looked_for: format.aliases(required).join(", ") });
        }
    }
    let mut out = ParsedImport::default();
    let mut seen = std::collections::HashMap::new();
    for (i, record) in reader.records().enumerate() {
        let row = i as u64 + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                out.errors.push(RowError { row, field: "row".into(), message: format!("unreadable: {e}") });
                continue;
            }
        };
        if record.iter().all(str::is_empty) {
            continue;
        }
        let get = |f: Field| -> Option<String> {
            let idx = cols.iter().find(|(ff, _)| *ff == f).and_then(|(_, i)| *i)?;
            record.get(idx).map(str::to_owned).filter(|v| !v.is_empty())
        };
        match check_row(&get, default_kind, groups) {
            Ok(p) => {
                if let Some(first) = seen.insert((p.kind, p.key.clone()), row) {
                    out.errors.push(RowError { row, field: if p.kind == PersonKind::Pupil { "UPN".into() } else { "email".into() }, message: format!("{} appears again (first on row {first})", p.key) });
                } else {
                    out.people.push((row, p));
                }
            }
            Err((field, message)) => out.errors.push(RowError { row, field: field.into(), message }),
        }
    }
    Ok(out)
}

type Bad = (&'static str, String);

fn check_row(get: &dyn Fn(Field) -> Option<String>, default_kind: PersonKind, groups: &GroupMap) -> Result<Person, Bad> {
    let kind = match get(Field::Kind) {
        Some(k) => PersonKind::parse(&k).ok_or(("kind", format!("{k:?} is not pupil, staff, governor, volunteer or visitor")))?,
        None => default_kind,
    };
    let given_name = get(Field::Given).ok_or(("given name", "is empty".to_owned()))?;
    let family_name = get(Field::Family).ok_or(("family name", "is empty".to_owned()))?;
    let year_group = get(Field::Year).map(|y| parse_year(&y).ok_or(("year group", format!("{y:?} is not a year group (Nursery, Reception, Year 1 to Year 14)")))).transpose()?;
    let date_of_birth = get(Field::Dob).map(|d| parse_date(&d).ok_or(("date of birth", format!("{d:?} is not a date (2012-09-01 or 01/09/2012)")))).transpose()?;
    let upn = get(Field::Upn).map(|u| check_upn(&u).map_err(|m| ("UPN", m))).transpose()?;
    let email = get(Field::Email)
        .map(|e| {
            let e = e.to_lowercase();
            let ok = e.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !e.contains(char::is_whitespace));
            if ok { Ok(e) } else { Err(("email", format!("{e:?} is not an email address"))) }
        })
        .transpose()?;
    let key = match kind {
        PersonKind::Pupil => {
            if year_group.is_none() {
                return Err(("year group", "a pupil needs a year group".into()));
            }
            upn.clone().ok_or(("UPN", "a pupil needs a UPN".to_owned()))?
        }
        _ => email.clone().ok_or(("email", format!("a {kind} needs an email address to be matched across imports")))?,
    };
    let filter_group = groups
        .group_for(kind, year_group)
        .ok_or(("year group", format!("year {} maps to no filtering group", year_group.unwrap_or_default())))?
        .to_owned();
    Ok(Person {
        kind,
        key,
        given_name,
        family_name,
        year_group,
        tutor_group: get(Field::Tutor),
        date_of_birth,
        upn,
        email,
        job_title: get(Field::JobTitle),
        roles: get(Field::Roles),
        filter_group,
    })
}

/// `Year 7`, `Y7`, `7`, `Yr 7`, `R`, `Reception`, `N`, `Nursery` -> the year number.
pub fn parse_year(s: &str) -> Option<i32> {
    let t = s.trim().to_ascii_lowercase();
    match t.as_str() {
        "r" | "yr" | "rec" | "reception" => return Some(0),
        "n" | "nursery" | "n1" | "n2" => return Some(-1),
        _ => {}
    }
    let digits = t.trim_start_matches("year").trim_start_matches("yr").trim_start_matches('y').trim();
    digits.parse::<i32>().ok().filter(|y| (1..=14).contains(y))
}

/// `2012-09-01` or UK `01/09/2012` -> ISO 8601, checked as a real date.
pub fn parse_date(s: &str) -> Option<String> {
    let s = s.trim();
    let d = jiff::civil::Date::strptime("%Y-%m-%d", s).or_else(|_| jiff::civil::Date::strptime("%d/%m/%Y", s)).ok()?;
    (1900..=2100).contains(&d.year()).then(|| d.to_string())
}

const UPN_LETTERS: &[u8; 23] = b"ABCDEFGHJKLMNPQRTUVWXYZ";

/// Check a Unique Pupil Number (13 characters, DfE check letter first; a temporary UPN ends in
/// a letter). Returns it upper case.
pub fn check_upn(s: &str) -> Result<String, String> {
    let u = s.trim().to_ascii_uppercase();
    let b = u.as_bytes();
    if b.len() != 13 {
        return Err(format!("{u:?} has {} characters; a UPN has 13", b.len()));
    }
    if !b[1..12].iter().all(u8::is_ascii_digit) || !(b[12].is_ascii_digit() || UPN_LETTERS.contains(&b[12])) {
        return Err(format!("{u:?} is not a UPN: after the check letter come 11 digits and a digit or letter"));
    }
    let mut sum = 0usize;
    for (i, c) in b[1..].iter().enumerate() {
        let v = if c.is_ascii_digit() { usize::from(c - b'0') } else { UPN_LETTERS.iter().position(|l| l == c).unwrap_or(0) };
        sum += v * (i + 2);
    }
    if UPN_LETTERS[sum % 23] != b[0] {
        return Err(format!("{u:?} fails the UPN check letter (a typing error?)"));
    }
    Ok(u)
}
