//! Templates for the alert inbox, alert detail, rules, exclusions and quality pages (re-exported
//! by `view`).

use askama::Template;

use crate::view::Layout;

/// One alert in the inbox (and the head of the detail page).
pub struct AlertRow {
    pub id: i64,
    pub raised: String,
    pub age: String,
    pub severity: String,
    pub severity_label: String,
    pub state: String,
    pub state_words: String,
    pub hits: i64,
    pub category: String,
    pub rule: String,
    pub title: String,
    pub who: String,
    pub group: String,
    pub urgent: bool,
}

#[derive(Template)]
#[template(path = "alerts_inbox.html")]
pub struct AlertsPage {
    pub layout: Layout,
    pub levels: Vec<(&'static str, &'static str)>,
    pub rows: Vec<AlertRow>,
    pub error: Option<String>,
    pub severity: String,
    pub state: String,
    pub category: String,
    pub group: String,
}

/// One event of the person's surrounding activity.
pub struct EvidenceRow {
    pub time: String,
    pub channel: String,
    pub name: String,
    pub decision: String,
    pub category: String,
    pub trigger: bool,
}

/// One step of an alert's log.
pub struct LogRow {
    pub time: String,
    pub actor: String,
    pub action: String,
    pub detail: String,
}

/// One notification attempt.
pub struct DeliveryRow {
    pub time: String,
    pub channel: String,
    pub recipient: String,
    pub step: i64,
    pub status: String,
    pub detail: String,
}

/// A keyword library entry that matched.
pub struct KeywordRow {
    pub term: String,
    pub category: String,
    pub severity: String,
    pub rationale: String,
    pub library: String,
}

#[derive(Template)]
#[template(path = "alerts_detail.html")]
pub struct AlertPage {
    pub layout: Layout,
    pub row: AlertRow,
    pub why: String,
    pub rule_words: String,
    pub device: String,
    pub client: String,
    pub last: String,
    pub subject: String,
    pub url: String,
    pub search_engine: String,
    pub terms: Vec<(String, bool)>,
    pub keywords: Vec<KeywordRow>,
    pub evidence: Vec<EvidenceRow>,
    pub evidence_hidden: bool,
    pub log: Vec<LogRow>,
    pub deliveries: Vec<DeliveryRow>,
    pub closed: bool,
    pub acknowledged: bool,
    pub outcome_reason: String,
    pub outcome_by: String,
    pub outcome_at: String,
    pub concern_link: String,
    pub message: Option<String>,
    pub error: Option<String>,
}

/// One rule on the rules page.
pub struct RuleRow {
    pub id: String,
    pub words: String,
    pub severity: String,
    pub keyword: bool,
    pub enabled: bool,
}

/// One change in the rule change log.
pub struct RuleChangeRow {
    pub time: String,
    pub actor: String,
    pub reason: String,
    pub before: String,
    pub after: String,
}

#[derive(Template)]
#[template(path = "alerts_rules.html")]
pub struct AlertRulesPage {
    pub layout: Layout,
    pub rows: Vec<RuleRow>,
    pub text: String,
    pub default: bool,
    pub changes: Vec<RuleChangeRow>,
    pub message: Option<String>,
    pub error: Option<String>,
    pub reason: String,
    pub levels: Vec<(&'static str, &'static str)>,
}

/// One exclusion.
pub struct ExclusionRow {
    pub id: i64,
    pub created: String,
    pub created_at: String,
    pub created_by: String,
    pub scope: String,
    pub until: String,
    pub until_at: String,
    pub active: bool,
    pub reason: String,
    pub from_alert: Option<i64>,
}

#[derive(Template)]
#[template(path = "alerts_exclusions.html")]
pub struct ExclusionsPage {
    pub layout: Layout,
    pub rows: Vec<ExclusionRow>,
}

/// Precision of one rule or category.
pub struct PrecisionRow {
    pub key: String,
    pub closed: u64,
    pub false_positives: u64,
    pub acted_on: u64,
    pub precision: String,
}

#[derive(Template)]
#[template(path = "alerts_quality.html")]
pub struct QualityPage {
    pub layout: Layout,
    pub alerts: usize,
    pub by_rule: Vec<PrecisionRow>,
    pub by_category: Vec<PrecisionRow>,
    pub ack: Option<(String, String)>,
    pub outcome: Option<(String, String)>,
    pub acted_on: String,
    pub goal_met: bool,
    pub critical_due: u64,
    pub critical_in_time: u64,
}
