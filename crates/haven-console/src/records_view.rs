//! Templates of the safeguarding-records pages: the concern form, the inbox and "my concerns",
//! a record with its entries, a pupil's chronology, its print view and access log, the search
//! behind a step-up, the pupil worry page and the neutral page the blank-screen button opens.

use askama::Template;

use crate::pages::Fields;
use crate::view::Layout;

/// One option of a select.
pub struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

impl Opt {
    /// Options from (value, label) pairs, with `chosen` selected.
    pub fn list<'a>(items: impl IntoIterator<Item = (&'a str, &'a str)>, chosen: &str) -> Vec<Opt> {
        items.into_iter().map(|(v, l)| Opt { value: v.to_owned(), label: l.to_owned(), selected: v == chosen }).collect()
    }
}

/// A category as the form offers it.
pub struct CategoryOpt {
    pub key: String,
    pub label: String,
    pub guidance: String,
    pub banner: String,
    pub selected: bool,
}

/// One body-map row (the no-JavaScript fields a tap also fills).
pub struct MarkRow {
    pub n: usize,
    pub views: Vec<Opt>,
    pub x: String,
    pub y: String,
    pub size: String,
    pub desc: String,
}

/// One "other pupil" row.
pub struct OtherRow {
    pub n: usize,
    pub pupil: String,
    pub roles: Vec<Opt>,
}

/// One outline of the body map.
pub struct Outline {
    pub view: &'static str,
    pub label: &'static str,
    pub src: String,
}

/// The posted values, for re-showing a form after an error.
pub struct FormValues(pub Fields);

impl FormValues {
    /// A field's value ("" when absent).
    pub fn v(&self, name: &str) -> &str {
        crate::pages::field(&self.0, name)
    }
}

#[derive(Template)]
#[template(path = "records_new.html")]
pub struct RecordNewPage {
    pub layout: Layout,
    pub csrf: String,
    pub error: Option<String>,
    pub f: FormValues,
    pub pupils: Vec<String>,
    pub categories: Vec<CategoryOpt>,
    pub sources: Vec<Opt>,
    pub kinds: Vec<Opt>,
    pub dsl_told: Vec<Opt>,
    pub others: Vec<OtherRow>,
    pub outlines: Vec<Outline>,
    pub marks: Vec<MarkRow>,
    pub evidence: Vec<String>,
    pub written: String,
}

/// One record in a list.
pub struct RecordRow {
    pub id: String,
    pub when: String,
    pub record_type: String,
    pub pupil: String,
    pub category: String,
    pub reporter: String,
    pub status: String,
    pub risk: String,
    pub unread: bool,
    pub unacknowledged: bool,
}

#[derive(Template)]
#[template(path = "records_list.html")]
pub struct RecordListPage {
    pub layout: Layout,
    pub rows: Vec<RecordRow>,
    pub dsl: bool,
    pub all: bool,
}

/// One entry as the record page shows it.
pub struct EntryView {
    pub seq: i64,
    pub kind: String,
    pub kind_label: String,
    pub author: String,
    pub occurred: String,
    pub created: String,
    pub hash: String,
    pub fields: Vec<(String, String)>,
    pub outlines: Vec<String>,
    pub attachments: Vec<(String, String)>,
    pub amended_by: Vec<i64>,
    pub amends: Option<i64>,
}

/// One action with its state.
pub struct ActionView {
    pub seq: i64,
    pub description: String,
    pub owner: String,
    pub due: String,
    pub overdue: bool,
    pub done: bool,
}

#[derive(Template)]
#[template(path = "records_record.html")]
pub struct RecordPage {
    pub layout: Layout,
    pub csrf: String,
    pub id: String,
    pub record_type: String,
    pub category: String,
    pub guidance: String,
    pub banner: Option<String>,
    pub pupil_name: String,
    pub pupil_id: Option<i64>,
    pub reporter: String,
    pub status: String,
    pub risk: String,
    pub owner: String,
    pub acknowledged: String,
    pub entries: Vec<EntryView>,
    pub actions: Vec<ActionView>,
    pub dsl: bool,
    pub risks: Vec<Opt>,
    pub owners: Vec<Opt>,
    pub agencies: Vec<Opt>,
    pub outcomes: Vec<Opt>,
    pub statuses: Vec<Opt>,
    pub seqs: Vec<i64>,
    pub error: Option<String>,
    pub notice: Option<String>,
    pub today: String,
}

/// One line of a chronology.
pub struct ChronoRow {
    pub when: String,
    pub kind: String,
    pub summary: String,
    pub author: String,
    pub record_id: String,
    pub role: String,
    pub seq: i64,
    pub hash: String,
}

#[derive(Template)]
#[template(path = "records_pupil.html")]
pub struct PupilPage {
    pub layout: Layout,
    pub csrf: String,
    pub pupil_id: i64,
    pub detail: String,
    pub rows: Vec<ChronoRow>,
    pub designations: Vec<(String, String)>,
    pub agencies: String,
    pub open: usize,
    pub closed: usize,
    pub designation_opts: Vec<Opt>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "records_print.html")]
pub struct PrintPage {
    pub school: String,
    pub pupil_name: String,
    pub detail: String,
    pub rows: Vec<ChronoRow>,
    pub designations: Vec<(String, String)>,
    pub agencies: String,
    pub printed_by: String,
    pub printed_at: String,
}

/// One line of the access log.
pub struct AccessRow {
    pub when: String,
    pub actor: String,
    pub action: String,
    pub record: String,
    pub detail: String,
    pub client: String,
}

#[derive(Template)]
#[template(path = "records_access.html")]
pub struct AccessPage {
    pub layout: Layout,
    pub pupil_id: i64,
    pub pupil_name: String,
    pub rows: Vec<AccessRow>,
}

#[derive(Template)]
#[template(path = "records_search.html")]
pub struct SearchPage {
    pub layout: Layout,
    pub csrf: String,
    pub stepped_up: bool,
    pub q: String,
    pub rows: Vec<RecordRow>,
    pub searched: bool,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "worry.html")]
pub struct WorryPage {
    pub layout: Layout,
    pub csrf: String,
    pub from: Option<String>,
    pub sent: bool,
    pub error: Option<String>,
    pub text: String,
}

#[derive(Template)]
#[template(path = "records_blank.html")]
pub struct BlankPage {
    pub layout: Layout,
}
