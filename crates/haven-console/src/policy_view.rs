//! Templates for the policy, change-log, unblock and activity pages (re-exported by `view`).

use askama::Template;

use crate::policy::{ChangeRow, Preview};
use crate::view::Layout;

/// A console site entry on the policy page.
pub struct SiteRow {
    pub id: i64,
    pub reference: String,
    pub live: bool,
    pub expires: String,
    pub group: String,
    pub action: String,
    pub site: String,
    pub scope: String,
    pub reason: String,
    pub author: String,
}

/// One illegal-floor source.
pub struct FloorRow {
    pub name: String,
    pub origin: String,
    pub entries: u64,
    pub age: String,
    pub stale: bool,
}

#[derive(Template)]
#[template(path = "policy.html")]
pub struct PolicyPage {
    pub layout: Layout,
    pub groups: Vec<(String, String)>,
    pub sites: Vec<SiteRow>,
    pub base_sites: Vec<(String, String, String, String)>,
    pub rules: Vec<(String, String, String, String, String)>,
    pub floor: Vec<FloorRow>,
    pub stale: bool,
    pub message: Option<String>,
    pub error: Option<String>,
    pub before: Option<Preview>,
    pub after: Option<Preview>,
    pub form_group: String,
    pub form_site: String,
    pub form_action: String,
    pub form_users: String,
    pub form_expires: String,
    pub form_reason: String,
}

#[derive(Template)]
#[template(path = "changes.html")]
pub struct ChangesPage {
    pub layout: Layout,
    pub rows: Vec<ChangeRow>,
    pub q: String,
    pub older: Option<String>,
}

#[derive(Template)]
#[template(path = "unblock_form.html")]
pub struct UnblockFormPage {
    pub layout: Layout,
    pub csrf: String,
    pub site: String,
    pub url: String,
    pub reference: String,
    pub category: String,
    pub message: Option<String>,
    pub error: Option<String>,
    pub staff: bool,
}

/// One unblock request in the list.
pub struct UnblockRow {
    pub id: i64,
    pub created: String,
    pub can_decide: bool,
    pub requester: String,
    pub site: String,
    pub scope: String,
    pub expires: String,
    pub reason: String,
    pub route_to: String,
    pub status: String,
}

#[derive(Template)]
#[template(path = "unblock_requests.html")]
pub struct UnblockListPage {
    pub layout: Layout,
    pub rows: Vec<UnblockRow>,
    pub median: String,
    pub p90: String,
    pub decided: usize,
    pub message: Option<String>,
    pub error: Option<String>,
}

/// One activity event in the results.
pub struct ActivityRow {
    pub id: i64,
    pub records: Vec<String>,
    pub time: String,
    pub user: String,
    pub device: String,
    pub client: String,
    pub group: String,
    pub name: String,
    pub action: String,
    pub category: String,
    pub rule: String,
}

#[derive(Template)]
#[template(path = "activity.html")]
pub struct ActivityPage {
    pub can_raise: bool,
    pub show_records: bool,
    pub layout: Layout,
    pub rows: Vec<ActivityRow>,
    pub searched: bool,
    pub error: Option<String>,
    pub older: Option<String>,
    pub user: String,
    pub device: String,
    pub group: String,
    pub category: String,
    pub decision: String,
    pub name: String,
    pub from: String,
    pub to: String,
    pub reason: String,
    pub csv_href: String,
}

/// One recorded search.
pub struct SearchRow {
    pub time: String,
    pub actor: String,
    pub person: String,
    pub filters: String,
    pub reason: String,
    pub client: String,
}

#[derive(Template)]
#[template(path = "activity_searches.html")]
pub struct SearchesPage {
    pub layout: Layout,
    pub rows: Vec<SearchRow>,
    pub older: Option<String>,
}
