//! Roles and permissions: the one table that says who may do what in the console and API.
//!
//! **Invariant:** every console page and API route names exactly one [`Permission`] (or is
//! public / self-service), and [`Role::grants`] is the only place a role is turned into
//! permissions. Governors get aggregates only: no permission that reveals a pupil's name.
//!
//! **Alerts (decided here):** the DSL, deputy DSL and headteacher work alerts
//! ([`Permission::ManageAlerts`]: the inbox, the evidence, outcomes and exclusions) and edit the
//! alert rules ([`Permission::ManageAlertRules`]). The IT administrator gets neither: an alert's
//! evidence is a named pupil's searches and browsing, and what counts as a safeguarding alert is
//! the DSL's decision, not a technical setting (the IT admin still sees the raw activity log,
//! which records every search naming a person). Governors and the DSL team get
//! [`Permission::ViewAlertQuality`]: open-alert counts and the quality report, which name nobody.

use std::fmt;

/// A console role, as the school assigns them (an account may hold several).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Headteacher or another member of the senior leadership team.
    Headteacher,
    /// Designated Safeguarding Lead.
    Dsl,
    /// Deputy Designated Safeguarding Lead.
    DeputyDsl,
    /// The school's IT administrator or provider.
    ItAdmin,
    /// A teacher or other member of staff.
    Staff,
    /// A governor: aggregate reports only, never a pupil's name.
    Governor,
    /// An auditor: reads the audit log, changes nothing.
    Auditor,
}

/// Something a signed-in account may do; every route requires one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    /// See the dashboard with aggregate counts (no names).
    ViewDashboard,
    /// See people by name: the directory, its search and its detail pages.
    ViewPeople,
    /// Import and edit the people directory.
    ManagePeople,
    /// Create, change, unlock and disable console accounts.
    ManageAccounts,
    /// Read the sign-in audit log.
    ViewAuthAudit,
    /// See who is on which network address now and where that came from; sign an address out.
    ViewNetwork,
    /// Register devices and set pupils' network passwords.
    ManageDevices,
    /// Approve or decline guests who name you as their sponsor.
    SponsorGuests,
    /// Log a concern and see the concerns one has logged (every member of staff).
    RecordConcern,
    /// Work safeguarding records: the DSL inbox, triage, chronology, search, export (each record
    /// still checked against `haven_records::access`).
    ManageRecords,
    /// Change filtering: site entries, category rules, time windows (every change with a reason).
    ManagePolicy,
    /// Read the policy change log (pupils appear as "a pupil" without `ViewPeople`).
    ViewPolicyChanges,
    /// Ask for a site to be unblocked, and see one's own requests.
    RequestUnblock,
    /// Approve or decline any unblock request.
    ApproveUnblock,
    /// See every unblock request (the DSL's oversight).
    ViewUnblockRequests,
    /// Search the activity log (searches naming a person are recorded with a reason).
    SearchActivity,
    /// Read the record of who searched whose activity.
    ViewActivitySearches,
    /// Work alerts: the inbox, each alert's evidence (every view recorded), acknowledging and
    /// recording outcomes, exclusions (DSL team and headteacher; never the IT admin).
    ManageAlerts,
    /// Change the alert rules, each change with a reason in the rule change log.
    ManageAlertRules,
    /// See alert counts and the alert quality report: aggregates without names (governors too).
    ViewAlertQuality,
}

impl Role {
    /// Every role, in the order the console lists them.
    pub const ALL: [Role; 7] =
        [Role::Headteacher, Role::Dsl, Role::DeputyDsl, Role::ItAdmin, Role::Staff, Role::Governor, Role::Auditor];

    /// The permissions this role grants: the permission table.
    pub fn grants(self) -> &'static [Permission] {
        use Permission::*;
        match self {
            Role::Headteacher => &[
                ViewDashboard,
                ViewPeople,
                ManagePeople,
                ManageAccounts,
                ViewAuthAudit,
                ViewNetwork,
                ManageDevices,
                SponsorGuests,
                RecordConcern,
                ManageRecords,
                ManagePolicy,
                ViewPolicyChanges,
                RequestUnblock,
                ApproveUnblock,
                ViewUnblockRequests,
                SearchActivity,
                ManageAlerts,
                ManageAlertRules,
                ViewAlertQuality,
            ],
            Role::Dsl | Role::DeputyDsl => &[
                ViewDashboard,
                ViewPeople,
                ViewNetwork,
                SponsorGuests,
                RecordConcern,
                ManageRecords,
                ViewPolicyChanges,
                RequestUnblock,
                ViewUnblockRequests,
                SearchActivity,
                ViewActivitySearches,
                ManageAlerts,
                ManageAlertRules,
                ViewAlertQuality,
            ],
            Role::ItAdmin => &[
                ViewDashboard,
                ViewPeople,
                ManagePeople,
                ManageAccounts,
                ViewAuthAudit,
                ViewNetwork,
                ManageDevices,
                SponsorGuests,
                RecordConcern,
                ManagePolicy,
                ViewPolicyChanges,
                RequestUnblock,
                ApproveUnblock,
                ViewUnblockRequests,
                SearchActivity,
            ],
            Role::Staff => &[ViewDashboard, SponsorGuests, RecordConcern, RequestUnblock],
            Role::Governor => &[ViewDashboard, ViewPolicyChanges, ViewAlertQuality],
            Role::Auditor => &[ViewDashboard, ViewAuthAudit, ViewPolicyChanges],
        }
    }

    /// Whether holders must use a second factor (DSL, deputy DSL, IT admin; and SLT, who can
    /// manage accounts).
    pub fn requires_mfa(self) -> bool {
        matches!(self, Role::Dsl | Role::DeputyDsl | Role::ItAdmin | Role::Headteacher)
    }

    /// The stored and API name (`dsl`, `it_admin`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Headteacher => "headteacher",
            Role::Dsl => "dsl",
            Role::DeputyDsl => "deputy_dsl",
            Role::ItAdmin => "it_admin",
            Role::Staff => "staff",
            Role::Governor => "governor",
            Role::Auditor => "auditor",
        }
    }

    /// The name people read.
    pub fn label(self) -> &'static str {
        match self {
            Role::Headteacher => "Headteacher / SLT",
            Role::Dsl => "Designated Safeguarding Lead",
            Role::DeputyDsl => "Deputy DSL",
            Role::ItAdmin => "IT administrator",
            Role::Staff => "Teacher / staff",
            Role::Governor => "Governor",
            Role::Auditor => "Auditor",
        }
    }

    /// Parse a stored or typed role name (`dsl`, `deputy-dsl`, `IT admin`, `slt`, ...).
    pub fn parse(s: &str) -> Option<Role> {
        let key: String = s.trim().to_ascii_lowercase().chars().map(|c| if c == '-' || c == ' ' { '_' } else { c }).collect();
        Some(match key.as_str() {
            "headteacher" | "head" | "slt" | "senior_leader" => Role::Headteacher,
            "dsl" => Role::Dsl,
            "deputy_dsl" | "ddsl" => Role::DeputyDsl,
            "it_admin" | "itadmin" | "it" => Role::ItAdmin,
            "staff" | "teacher" => Role::Staff,
            "governor" => Role::Governor,
            "auditor" => Role::Auditor,
            _ => return None,
        })
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Permission {
    /// Every permission, for API token scopes and the OpenAPI document.
    pub const ALL: [Permission; 20] = [
        Permission::ViewDashboard,
        Permission::ViewPeople,
        Permission::ManagePeople,
        Permission::ManageAccounts,
        Permission::ViewAuthAudit,
        Permission::ViewNetwork,
        Permission::ManageDevices,
        Permission::SponsorGuests,
        Permission::RecordConcern,
        Permission::ManageRecords,
        Permission::ManagePolicy,
        Permission::ViewPolicyChanges,
        Permission::RequestUnblock,
        Permission::ApproveUnblock,
        Permission::ViewUnblockRequests,
        Permission::SearchActivity,
        Permission::ViewActivitySearches,
        Permission::ManageAlerts,
        Permission::ManageAlertRules,
        Permission::ViewAlertQuality,
    ];

    /// The scope name used by API tokens (`people:read`, ...).
    pub fn scope(self) -> &'static str {
        match self {
            Permission::ViewDashboard => "dashboard:read",
            Permission::ViewPeople => "people:read",
            Permission::ManagePeople => "people:write",
            Permission::ManageAccounts => "accounts:write",
            Permission::ViewAuthAudit => "audit:read",
            Permission::ViewNetwork => "network:sessions",
            Permission::ManageDevices => "devices:write",
            Permission::SponsorGuests => "guests:sponsor",
            Permission::RecordConcern => "concerns:write",
            Permission::ManageRecords => "records:manage",
            Permission::ManagePolicy => "policy:write",
            Permission::ViewPolicyChanges => "policy-changes:read",
            Permission::RequestUnblock => "unblock:request",
            Permission::ApproveUnblock => "unblock:approve",
            Permission::ViewUnblockRequests => "unblock:read",
            Permission::SearchActivity => "activity:read",
            Permission::ViewActivitySearches => "activity-searches:read",
            Permission::ManageAlerts => "alerts:manage",
            Permission::ManageAlertRules => "alert-rules:write",
            Permission::ViewAlertQuality => "alert-quality:read",
        }
    }

    /// Parse a scope name.
    pub fn from_scope(s: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.scope() == s.trim())
    }

    /// What the scope allows, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Permission::ViewDashboard => "read the dashboard's aggregate counts",
            Permission::ViewPeople => "read the people directory, with names",
            Permission::ManagePeople => "import and change the people directory",
            Permission::ManageAccounts => "create, change, unlock and disable console accounts",
            Permission::ViewAuthAudit => "read the sign-in audit log",
            Permission::ViewNetwork => "see who is on which network address and sign an address out",
            Permission::ManageDevices => "register devices and set network passwords",
            Permission::SponsorGuests => "approve or decline guests who name you as sponsor",
            Permission::RecordConcern => "log a concern and read the concerns one logged",
            Permission::ManageRecords => "work safeguarding records (DSL team), each record checked against its access rule",
            Permission::ManagePolicy => "change filtering: site entries, category rules and time windows",
            Permission::ViewPolicyChanges => "read the policy change log",
            Permission::RequestUnblock => "ask for sites to be unblocked",
            Permission::ApproveUnblock => "approve or decline unblock requests",
            Permission::ViewUnblockRequests => "see every unblock request",
            Permission::SearchActivity => "search the activity log",
            Permission::ViewActivitySearches => "read the record of activity searches",
            Permission::ManageAlerts => "work alerts: the inbox, their evidence, outcomes and exclusions",
            Permission::ManageAlertRules => "change the alert rules (each change with a reason)",
            Permission::ViewAlertQuality => "read alert counts and the alert quality report (no names)",
        }
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// The roles an account holds: a small bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct RoleSet(u8);

/// A role name that is not one of Haven's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a role; roles are headteacher, dsl, deputy_dsl, it_admin, staff, governor, auditor")]
pub struct UnknownRole(pub String);

impl RoleSet {
    /// No roles.
    pub const EMPTY: RoleSet = RoleSet(0);

    /// A set of the given roles.
    pub fn of(roles: &[Role]) -> RoleSet {
        RoleSet(roles.iter().fold(0, |acc, r| acc | r.bit()))
    }

    /// Parse a comma-separated list (`dsl,staff`), as stored and as typed in forms and CSV.
    pub fn parse(list: &str) -> Result<RoleSet, UnknownRole> {
        let mut set = RoleSet::EMPTY;
        for part in list.split([',', ';']).map(str::trim).filter(|p| !p.is_empty()) {
            set.insert(Role::parse(part).ok_or_else(|| UnknownRole(part.to_owned()))?);
        }
        Ok(set)
    }

    /// Add a role.
    pub fn insert(&mut self, role: Role) {
        self.0 |= role.bit();
    }

    /// Whether the set holds `role`.
    pub fn contains(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The roles, in [`Role::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL.into_iter().filter(move |r| self.contains(*r))
    }

    /// Whether any role in the set grants `permission`.
    pub fn allows(self, permission: Permission) -> bool {
        self.permissions().contains(permission)
    }

    /// The union of the roles' permissions.
    pub fn permissions(self) -> PermissionSet {
        PermissionSet(self.iter().flat_map(|r| r.grants().iter()).fold(0, |acc, p| acc | p.bit()))
    }

    /// Whether any role requires a second factor.
    pub fn requires_mfa(self) -> bool {
        self.iter().any(Role::requires_mfa)
    }

    /// The stored form: comma-separated names.
    pub fn to_list(self) -> String {
        self.iter().map(Role::as_str).collect::<Vec<_>>().join(",")
    }
}

/// A set of permissions: what a role set grants, or what an API token is scoped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct PermissionSet(u32);

impl PermissionSet {
    /// A set of the given permissions.
    pub fn of(perms: &[Permission]) -> PermissionSet {
        PermissionSet(perms.iter().fold(0, |acc, p| acc | p.bit()))
    }

    /// Parse a space- or comma-separated scope list (`people:read audit:read`).
    pub fn parse_scopes(list: &str) -> Result<PermissionSet, String> {
        let mut set = 0;
        for part in list.split([',', ' ']).map(str::trim).filter(|p| !p.is_empty()) {
            set |= Permission::from_scope(part).ok_or_else(|| format!("{part:?} is not a scope"))?.bit();
        }
        Ok(PermissionSet(set))
    }

    /// Whether the set holds `p`.
    pub fn contains(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }

    /// Both sets at once: a token's scopes limited by its owner's current roles.
    pub fn intersect(self, other: PermissionSet) -> PermissionSet {
        PermissionSet(self.0 & other.0)
    }

    /// Whether every permission here is also in `other`.
    pub fn is_subset(self, other: PermissionSet) -> bool {
        self.0 & !other.0 == 0
    }

    /// The permissions, in [`Permission::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL.into_iter().filter(move |p| self.contains(*p))
    }

    /// The stored form: space-separated scope names.
    pub fn to_scopes(self) -> String {
        self.iter().map(Permission::scope).collect::<Vec<_>>().join(" ")
    }
}
