//! Page templates (askama, in `templates/`) and the layout every page shares: header with the
//! school's name, a navigation list filtered by what the viewer may do, and the sign-out form.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use haven_accounts::Permission;

use crate::ConsoleState;
use crate::guard::Principal;
pub use crate::alerts_view::*;
pub use crate::policy_view::*;

/// One navigation link.
pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
}

/// What the shared layout needs.
pub struct Layout {
    pub title: String,
    pub school: String,
    pub user: Option<String>,
    pub csrf: String,
    pub nav: Vec<NavLink>,
    pub current: String,
}

impl Layout {
    /// The layout for a page titled `title` at `current`, seen by `who`.
    pub fn new(state: &ConsoleState, who: Option<&Principal>, title: &str, current: &str) -> Layout {
        let mut nav = Vec::new();
        if let Some(p) = who.filter(|p| p.session.as_ref().is_some_and(|s| s.stage == haven_accounts::session::Stage::Full)) {
            nav.push(NavLink { href: "/", label: "Dashboard" });
            if p.can(Permission::ViewPeople) {
                nav.push(NavLink { href: "/people", label: "People" });
            }
            if p.can(Permission::ManagePeople) {
                nav.push(NavLink { href: "/people/import", label: "Import" });
            }
            if p.can(Permission::ManageAccounts) {
                nav.push(NavLink { href: "/accounts", label: "Accounts" });
            }
            if p.can(Permission::ViewAuthAudit) {
                nav.push(NavLink { href: "/audit", label: "Sign-in log" });
            }
            if p.can(Permission::ViewNetwork) {
                nav.push(NavLink { href: "/network", label: "Network" });
            }
            if p.can(Permission::ManageDevices) {
                nav.push(NavLink { href: "/network/passwords", label: "Network passwords" });
            }
            if p.can(Permission::ManagePolicy) {
                nav.push(NavLink { href: "/policy", label: "Filtering" });
            }
            if p.can(Permission::ViewPolicyChanges) {
                nav.push(NavLink { href: "/policy/changes", label: "Change log" });
            }
            if p.can(Permission::RequestUnblock) {
                nav.push(NavLink { href: "/unblock/requests", label: "Unblock requests" });
            }
            if p.can(Permission::ManageRecords) {
                nav.push(NavLink { href: "/records", label: "Safeguarding" });
            } else if p.can(Permission::RecordConcern) {
                nav.push(NavLink { href: "/records/mine", label: "My concerns" });
            }
            if p.can(Permission::RecordConcern) {
                nav.push(NavLink { href: "/records/new", label: "Log a concern" });
            }
            if p.can(Permission::SearchActivity) {
                nav.push(NavLink { href: "/activity", label: "Activity" });
            }
            if p.can(Permission::ManageAlerts) {
                nav.push(NavLink { href: "/alerts", label: "Alerts" });
            }
            if p.can(Permission::ManageAlertRules) {
                nav.push(NavLink { href: "/alerts/rules", label: "Alert rules" });
            }
            if p.can(Permission::ViewAlertQuality) {
                nav.push(NavLink { href: "/alerts/quality", label: "Alert quality" });
            }
            if p.can(Permission::ViewActivitySearches) {
                nav.push(NavLink { href: "/activity/searches", label: "Activity searches" });
            }
            nav.push(NavLink { href: "/account/password", label: "Password" });
            nav.push(NavLink { href: "/account/two-factor", label: "Two-factor" });
            nav.push(NavLink { href: "/account/tokens", label: "API tokens" });
        }
        Layout {
            title: title.to_owned(),
            school: state.settings.school.clone(),
            user: who.map(|p| p.account.display_name.clone()),
            csrf: who.map(|p| p.csrf().to_owned()).unwrap_or_default(),
            nav,
            current: current.to_owned(),
        }
    }
}

/// Render a template into a response with `status`, or a plain 500 if rendering fails.
pub fn render<T: Template>(status: StatusCode, t: &T) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub layout: Layout,
    pub status: u16,
    pub message: String,
}

/// An error page with a status and a sentence saying what to do.
pub fn error_page(state: &ConsoleState, who: Option<&Principal>, status: StatusCode, message: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    render(status, &ErrorPage { layout: Layout::new(state, who, title, ""), status: status.as_u16(), message: message.to_owned() })
}

#[derive(Template)]
#[template(path = "sign_in.html")]
pub struct SignInPage {
    pub layout: Layout,
    pub sign_in_csrf: String,
    pub username: String,
    pub error: Option<String>,
    pub notice: Option<String>,
}

#[derive(Template)]
#[template(path = "totp.html")]
pub struct TotpPage {
    pub layout: Layout,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "enrol.html")]
pub struct EnrolPage {
    pub layout: Layout,
    pub required: bool,
    pub enrolled: bool,
    pub secret: String,
    pub uri: String,
    pub qr_svg: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "password.html")]
pub struct PasswordPage {
    pub layout: Layout,
    pub forced: bool,
    pub rules: String,
    pub errors: Vec<String>,
    pub done: bool,
}

/// One count on the dashboard.
pub struct Stat {
    pub key: &'static str,
    pub label: String,
    pub value: i64,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    pub layout: Layout,
    /// New concerns for the DSL team: who raised it, category, link (no content).
    pub concerns: Vec<(String, String, String)>,
    pub can_record: bool,
    pub change_due: bool,
    pub stats: Vec<Stat>,
    pub roles: String,
}

/// One row of the accounts table.
pub struct AccountRow {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub roles: String,
    pub two_factor: bool,
    pub status: String,
    pub last_sign_in: String,
}

/// A role checkbox.
pub struct RoleBox {
    pub name: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "accounts.html")]
pub struct AccountsPage {
    pub layout: Layout,
    pub rows: Vec<AccountRow>,
    pub roles: Vec<RoleBox>,
    pub errors: Vec<String>,
    pub created: Option<(String, String)>,
    pub rules: String,
}

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage {
    pub layout: Layout,
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub roles: Vec<RoleBox>,
    pub disabled: bool,
    pub locked: bool,
    pub two_factor: bool,
    pub notice: Option<String>,
    pub errors: Vec<String>,
    pub temporary_password: Option<String>,
}

/// One audit log line.
pub struct AuditRow {
    pub time: String,
    pub event: String,
    pub username: String,
    pub actor: String,
    pub client: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
pub struct AuditPage {
    pub layout: Layout,
    pub rows: Vec<AuditRow>,
    pub username: String,
    pub event: String,
    pub older: Option<String>,
}

/// One token in the list.
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub hint: String,
    pub scopes: String,
    pub created: String,
    pub last_used: String,
    pub status: String,
    pub active: bool,
}

/// A scope checkbox.
pub struct ScopeBox {
    pub scope: &'static str,
    pub describe: &'static str,
}

#[derive(Template)]
#[template(path = "tokens.html")]
pub struct TokensPage {
    pub layout: Layout,
    pub rows: Vec<TokenRow>,
    pub scopes: Vec<ScopeBox>,
    pub new_secret: Option<String>,
    pub errors: Vec<String>,
}

/// A time as people in a UK school read it (Europe/London).
pub fn when(t: jiff::Timestamp) -> String {
    match jiff::tz::TimeZone::get("Europe/London") {
        Ok(tz) => t.to_zoned(tz).strftime("%a %-d %b %Y %H:%M").to_string(),
        Err(_) => t.to_string(),
    }
}

/// One person in the directory list.
pub struct PersonRow {
    pub name: String,
    pub kind: String,
    pub year: String,
    pub tutor_group: String,
    pub group: String,
    pub status: String,
}

#[derive(Template)]
#[template(path = "people.html")]
pub struct PeoplePage {
    pub layout: Layout,
    pub rows: Vec<PersonRow>,
    pub search: String,
    pub include_left: bool,
}

/// One line of an import's plan.
pub struct PlanLine {
    pub name: String,
    pub detail: String,
}

/// A bad row of an import.
pub struct BadRow {
    pub row: u64,
    pub field: String,
    pub message: String,
}

#[derive(Template)]
#[template(path = "import.html")]
pub struct ImportPage {
    pub layout: Layout,
    pub ran: bool,
    pub dry_run: bool,
    pub file: String,
    pub adds: Vec<PlanLine>,
    pub changes: Vec<PlanLine>,
    pub leavers: Vec<PlanLine>,
    pub unchanged: usize,
    pub bad: Vec<BadRow>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "portal.html")]
pub struct PortalPage {
    pub layout: Layout,
    pub csrf: String,
    pub username: String,
    pub error: Option<String>,
    pub url: String,
    pub address: String,
    pub signed_in: Option<String>,
    pub source: String,
    pub until: String,
    pub can_sign_out: bool,
}

/// One address in "who is on which address now".
pub struct BindingRow {
    pub address: String,
    pub user: String,
    pub group: String,
    pub device: String,
    pub source: String,
    pub since: String,
    pub until: String,
}

/// One start or end from the binding record.
pub struct BindingLogRow {
    pub time: String,
    pub event: String,
    pub address: String,
    pub user: String,
    pub source: String,
    pub actor: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "network.html")]
pub struct NetworkPage {
    pub layout: Layout,
    pub rows: Vec<BindingRow>,
    pub log: Vec<BindingLogRow>,
    pub can_sign_out: bool,
    pub notice: Option<String>,
}

/// A printable slip: shown once.
pub struct Slip {
    pub name: String,
    pub group: String,
    pub username: String,
    pub password: String,
}

/// One network sign-in in the list (never its password).
pub struct NetworkLoginRow {
    pub username: String,
    pub name: String,
    pub set: String,
    pub by: String,
}

#[derive(Template)]
#[template(path = "network_passwords.html")]
pub struct NetworkPasswordsPage {
    pub layout: Layout,
    pub rows: Vec<NetworkLoginRow>,
    pub slips: Vec<Slip>,
    pub errors: Vec<String>,
    pub group: String,
}
