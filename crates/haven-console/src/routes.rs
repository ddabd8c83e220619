//! The route table: every page and API route, its method, path and the access it requires.
//!
//! **Invariant: every route has a permission entry.** The router is built only from
//! [`RouteId::ALL`], each [`RouteId::spec`] is an exhaustive `match` (a new variant without an
//! entry does not compile), and [`crate::guard`] refuses any matched path it cannot find here.
//! The RBAC matrix test walks every route as every role.

use axum::Router;
use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, post};
use haven_accounts::Permission;
use haven_accounts::session::Stage;

use crate::{ConsoleState, activity, api, guard, network, pages, people, policy, portal, records, records_dsl, unblock};

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not (the sign-in form, the stylesheet, the OpenAPI document).
    Public,
    /// A session part-way through sign-in, at one of these stages (or fully signed in, when
    /// [`Stage::Full`] is listed).
    Stages(&'static [Stage]),
    /// Any fully signed-in account or valid token, whatever its roles (self-service pages).
    SignedIn,
    /// A fully signed-in account (or token) whose roles grant this permission.
    Requires(Permission),
}

/// Whether a route is a console page (session cookie + CSRF) or an API route (bearer token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// A server-rendered page or form post.
    Page,
    /// A JSON API route under `/api/v1`.
    Api,
}

/// One route of the console or API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // Each variant is described by its `spec`.
pub enum RouteId {
    Healthy,
    Stylesheet,
    SignInForm,
    SignIn,
    TotpForm,
    Totp,
    EnrolForm,
    Enrol,
    PasswordForm,
    Password,
    SignOut,
    Dashboard,
    Accounts,
    CreateAccount,
    AccountDetail,
    UpdateAccount,
    UnlockAccount,
    ResetAccount,
    Audit,
    Tokens,
    CreateToken,
    RevokeToken,
    People,
    ImportForm,
    Import,
    ApiOpenApi,
    ApiMe,
    ApiDashboard,
    ApiAccounts,
    ApiCreateAccount,
    ApiAudit,
    ApiTokens,
    ApiRevokeToken,
    ApiPeople,
    ApiImport,
    PortalForm,
    Portal,
    PortalSignOut,
    Network,
    NetworkSignOut,
    NetworkPasswords,
    GenerateNetworkPasswords,
    ApiBindings,
    ApiNetworkSignOut,
    PolicyPage,
    PolicyAddSite,
    PolicyRemoveSite,
    PolicyRule,
    PolicyChanges,
    UnblockForm,
    UnblockSubmit,
    UnblockStaffForm,
    UnblockStaffSubmit,
    UnblockRequests,
    UnblockApprove,
    UnblockDecline,
    Activity,
    ActivitySearches,
    ApiPolicySites,
    ApiPolicyAddSite,
    ApiPolicyRemoveSite,
    ApiPolicyChanges,
    ApiUnblockRequests,
    ApiUnblockCreate,
    ApiUnblockApprove,
    ApiUnblockDecline,
    ApiActivity,
    RecordsScript,
    RecordsBlank,
    WorryForm,
    WorrySubmit,
    RecordNewForm,
    RecordCreate,
    RecordsMine,
    RecordsInbox,
    RecordSearch,
    RecordStepUp,
    RecordView,
    RecordAddEntry,
    RecordAttachment,
    PupilChronology,
    PupilFrontSheet,
    PupilPrint,
    PupilAccess,
}

const PENDING_TOTP: &[Stage] = &[Stage::NeedsTotp];
const ENROLMENT: &[Stage] = &[Stage::NeedsEnrolment, Stage::Full];
const PASSWORD_CHANGE: &[Stage] = &[Stage::NeedsPasswordChange, Stage::Full];
const ANY_STAGE: &[Stage] = &[Stage::NeedsTotp, Stage::NeedsEnrolment, Stage::NeedsPasswordChange, Stage::Full];

impl RouteId {
    /// Every route; the router is built from this list alone.
    pub const ALL: [RouteId; 84] = [
        RouteId::Healthy,
        RouteId::Stylesheet,
        RouteId::SignInForm,
        RouteId::SignIn,
        RouteId::TotpForm,
        RouteId::Totp,
        RouteId::EnrolForm,
        RouteId::Enrol,
        RouteId::PasswordForm,
        RouteId::Password,
        RouteId::SignOut,
        RouteId::Dashboard,
        RouteId::Accounts,
        RouteId::CreateAccount,
        RouteId::AccountDetail,
        RouteId::UpdateAccount,
        RouteId::UnlockAccount,
        RouteId::ResetAccount,
        RouteId::Audit,
        RouteId::Tokens,
        RouteId::CreateToken,
        RouteId::RevokeToken,
        RouteId::People,
        RouteId::ImportForm,
        RouteId::Import,
        RouteId::ApiOpenApi,
        RouteId::ApiMe,
        RouteId::ApiDashboard,
        RouteId::ApiAccounts,
        RouteId::ApiCreateAccount,
        RouteId::ApiAudit,
        RouteId::ApiTokens,
        RouteId::ApiRevokeToken,
        RouteId::ApiPeople,
        RouteId::ApiImport,
        RouteId::PortalForm,
        RouteId::Portal,
        RouteId::PortalSignOut,
        RouteId::Network,
        RouteId::NetworkSignOut,
        RouteId::NetworkPasswords,
        RouteId::GenerateNetworkPasswords,
        RouteId::ApiBindings,
        RouteId::ApiNetworkSignOut,
        RouteId::PolicyPage,
        RouteId::PolicyAddSite,
        RouteId::PolicyRemoveSite,
        RouteId::PolicyRule,
        RouteId::PolicyChanges,
        RouteId::UnblockForm,
        RouteId::UnblockSubmit,
        RouteId::UnblockStaffForm,
        RouteId::UnblockStaffSubmit,
        RouteId::UnblockRequests,
        RouteId::UnblockApprove,
        RouteId::UnblockDecline,
        RouteId::Activity,
        RouteId::ActivitySearches,
        RouteId::ApiPolicySites,
        RouteId::ApiPolicyAddSite,
        RouteId::ApiPolicyRemoveSite,
        RouteId::ApiPolicyChanges,
        RouteId::ApiUnblockRequests,
        RouteId::ApiUnblockCreate,
        RouteId::ApiUnblockApprove,
        RouteId::ApiUnblockDecline,
        RouteId::ApiActivity,
        RouteId::RecordsScript,
        RouteId::RecordsBlank,
        RouteId::WorryForm,
        RouteId::WorrySubmit,
        RouteId::RecordNewForm,
        RouteId::RecordCreate,
        RouteId::RecordsMine,
        RouteId::RecordsInbox,
        RouteId::RecordSearch,
        RouteId::RecordStepUp,
        RouteId::RecordView,
        RouteId::RecordAddEntry,
        RouteId::RecordAttachment,
        RouteId::PupilChronology,
        RouteId::PupilFrontSheet,
        RouteId::PupilPrint,
        RouteId::PupilAccess,
    ];

    /// Method, path (axum syntax) and access: the permission table.
    pub fn spec(self) -> (Method, &'static str, Access) {
        use Access::*;
        use Permission::*;
        use RouteId::*;
        match self {
            Healthy => (Method::GET, "/-/healthy", Public),
            Stylesheet => (Method::GET, "/static/haven.css", Public),
            SignInForm => (Method::GET, "/sign-in", Public),
            SignIn => (Method::POST, "/sign-in", Public),
            TotpForm => (Method::GET, "/sign-in/totp", Stages(PENDING_TOTP)),
            Totp => (Method::POST, "/sign-in/totp", Stages(PENDING_TOTP)),
            EnrolForm => (Method::GET, "/account/two-factor", Stages(ENROLMENT)),
            Enrol => (Method::POST, "/account/two-factor", Stages(ENROLMENT)),
            PasswordForm => (Method::GET, "/account/password", Stages(PASSWORD_CHANGE)),
            Password => (Method::POST, "/account/password", Stages(PASSWORD_CHANGE)),
            SignOut => (Method::POST, "/sign-out", Stages(ANY_STAGE)),
            Dashboard => (Method::GET, "/", Requires(ViewDashboard)),
            Accounts => (Method::GET, "/accounts", Requires(ManageAccounts)),
            CreateAccount => (Method::POST, "/accounts", Requires(ManageAccounts)),
            AccountDetail => (Method::GET, "/accounts/{id}", Requires(ManageAccounts)),
            UpdateAccount => (Method::POST, "/accounts/{id}", Requires(ManageAccounts)),
            UnlockAccount => (Method::POST, "/accounts/{id}/unlock", Requires(ManageAccounts)),
            ResetAccount => (Method::POST, "/accounts/{id}/reset", Requires(ManageAccounts)),
            Audit => (Method::GET, "/audit", Requires(ViewAuthAudit)),
            Tokens => (Method::GET, "/account/tokens", SignedIn),
            CreateToken => (Method::POST, "/account/tokens", SignedIn),
            RevokeToken => (Method::POST, "/account/tokens/{id}/revoke", SignedIn),
            People => (Method::GET, "/people", Requires(ViewPeople)),
            ImportForm => (Method::GET, "/people/import", Requires(ManagePeople)),
            Import => (Method::POST, "/people/import", Requires(ManagePeople)),
            ApiOpenApi => (Method::GET, "/api/v1/openapi.json", Public),
            ApiMe => (Method::GET, "/api/v1/me", SignedIn),
            ApiDashboard => (Method::GET, "/api/v1/dashboard", Requires(ViewDashboard)),
            ApiAccounts => (Method::GET, "/api/v1/accounts", Requires(ManageAccounts)),
            ApiCreateAccount => (Method::POST, "/api/v1/accounts", Requires(ManageAccounts)),
            ApiAudit => (Method::GET, "/api/v1/audit", Requires(ViewAuthAudit)),
            ApiTokens => (Method::GET, "/api/v1/tokens", SignedIn),
            ApiRevokeToken => (Method::DELETE, "/api/v1/tokens/{id}", SignedIn),
            ApiPeople => (Method::GET, "/api/v1/people", Requires(ViewPeople)),
            ApiImport => (Method::POST, "/api/v1/people/import", Requires(ManagePeople)),
            PortalForm => (Method::GET, "/portal", Public),
            Portal => (Method::POST, "/portal", Public),
            PortalSignOut => (Method::POST, "/portal/sign-out", Public),
            Network => (Method::GET, "/network", Requires(ViewNetwork)),
            NetworkSignOut => (Method::POST, "/network/sign-out", Requires(ViewNetwork)),
            NetworkPasswords => (Method::GET, "/network/passwords", Requires(ManageDevices)),
            GenerateNetworkPasswords => (Method::POST, "/network/passwords", Requires(ManageDevices)),
            ApiBindings => (Method::GET, "/api/v1/network/bindings", Requires(ViewNetwork)),
            ApiNetworkSignOut => (Method::POST, "/api/v1/network/sign-out", Requires(ViewNetwork)),
            PolicyPage => (Method::GET, "/policy", Requires(ManagePolicy)),
            PolicyAddSite => (Method::POST, "/policy/sites", Requires(ManagePolicy)),
            PolicyRemoveSite => (Method::POST, "/policy/sites/{id}/remove", Requires(ManagePolicy)),
            PolicyRule => (Method::POST, "/policy/rules", Requires(ManagePolicy)),
            PolicyChanges => (Method::GET, "/policy/changes", Requires(ViewPolicyChanges)),
            UnblockForm => (Method::GET, "/unblock", Public),
            UnblockSubmit => (Method::POST, "/unblock", Public),
            UnblockStaffForm => (Method::GET, "/unblock/staff", Requires(RequestUnblock)),
            UnblockStaffSubmit => (Method::POST, "/unblock/staff", Requires(RequestUnblock)),
            UnblockRequests => (Method::GET, "/unblock/requests", Requires(RequestUnblock)),
            UnblockApprove => (Method::POST, "/unblock/requests/{id}/approve", Requires(RequestUnblock)),
            UnblockDecline => (Method::POST, "/unblock/requests/{id}/decline", Requires(RequestUnblock)),
            Activity => (Method::GET, "/activity", Requires(SearchActivity)),
            ActivitySearches => (Method::GET, "/activity/searches", Requires(ViewActivitySearches)),
            ApiPolicySites => (Method::GET, "/api/v1/policy/sites", Requires(ManagePolicy)),
            ApiPolicyAddSite => (Method::POST, "/api/v1/policy/sites", Requires(ManagePolicy)),
            ApiPolicyRemoveSite => (Method::POST, "/api/v1/policy/sites/{id}/remove", Requires(ManagePolicy)),
            ApiPolicyChanges => (Method::GET, "/api/v1/policy/changes", Requires(ViewPolicyChanges)),
            ApiUnblockRequests => (Method::GET, "/api/v1/unblock-requests", Requires(RequestUnblock)),
            ApiUnblockCreate => (Method::POST, "/api/v1/unblock-requests", Requires(RequestUnblock)),
            ApiUnblockApprove => (Method::POST, "/api/v1/unblock-requests/{id}/approve", Requires(RequestUnblock)),
            ApiUnblockDecline => (Method::POST, "/api/v1/unblock-requests/{id}/decline", Requires(RequestUnblock)),
            ApiActivity => (Method::GET, "/api/v1/activity", Requires(SearchActivity)),
            RecordsScript => (Method::GET, "/static/records.js", Public),
            RecordsBlank => (Method::GET, "/blank", Public),
            WorryForm => (Method::GET, "/worry", Public),
            WorrySubmit => (Method::POST, "/worry", Public),
            RecordNewForm => (Method::GET, "/records/new", Requires(RecordConcern)),
            RecordCreate => (Method::POST, "/records/new", Requires(RecordConcern)),
            RecordsMine => (Method::GET, "/records/mine", Requires(RecordConcern)),
            RecordsInbox => (Method::GET, "/records", Requires(ManageRecords)),
            RecordSearch => (Method::GET, "/records/search", Requires(ManageRecords)),
            RecordStepUp => (Method::POST, "/records/search/step-up", Requires(ManageRecords)),
            RecordView => (Method::GET, "/records/{id}", Requires(RecordConcern)),
            RecordAddEntry => (Method::POST, "/records/{id}/entries", Requires(RecordConcern)),
            RecordAttachment => (Method::GET, "/records/{id}/attachments/{sha}", Requires(RecordConcern)),
            PupilChronology => (Method::GET, "/records/pupil/{id}", Requires(ManageRecords)),
            PupilFrontSheet => (Method::POST, "/records/pupil/{id}/front-sheet", Requires(ManageRecords)),
            PupilPrint => (Method::GET, "/records/pupil/{id}/print", Requires(ManageRecords)),
            PupilAccess => (Method::GET, "/records/pupil/{id}/access", Requires(ManageRecords)),
        }
    }

    /// Whether this is a page or an API route.
    pub fn surface(self) -> Surface {
        if self.spec().1.starts_with("/api/") { Surface::Api } else { Surface::Page }
    }

    /// The route registered for a method and matched path (HEAD counts as GET).
    pub fn find(method: &Method, path: &str) -> Option<RouteId> {
        let method = if method == Method::HEAD { &Method::GET } else { method };
        RouteId::ALL.into_iter().find(|r| {
            let (m, p, _) = r.spec();
            m == *method && p == path
        })
    }

    fn handler(self) -> MethodRouter<ConsoleState> {
        use RouteId::*;
        match self {
            Healthy => get(pages::healthy),
            Stylesheet => get(pages::stylesheet),
            SignInForm => get(pages::sign_in_form),
            SignIn => post(pages::sign_in),
            TotpForm => get(pages::totp_form),
            Totp => post(pages::totp),
            EnrolForm => get(pages::enrol_form),
            Enrol => post(pages::enrol),
            PasswordForm => get(pages::password_form),
            Password => post(pages::password),
            SignOut => post(pages::sign_out),
            Dashboard => get(pages::dashboard),
            Accounts => get(pages::accounts),
            CreateAccount => post(pages::create_account),
            AccountDetail => get(pages::account_detail),
            UpdateAccount => post(pages::update_account),
            UnlockAccount => post(pages::unlock_account),
            ResetAccount => post(pages::reset_account),
            Audit => get(pages::audit_page),
            Tokens => get(pages::tokens),
            CreateToken => post(pages::create_token),
            RevokeToken => post(pages::revoke_token),
            People => get(people::list),
            ImportForm => get(people::import_form),
            Import => post(people::import),
            ApiOpenApi => get(api::openapi),
            ApiMe => get(api::me),
            ApiDashboard => get(api::dashboard),
            ApiAccounts => get(api::accounts),
            ApiCreateAccount => post(api::create_account),
            ApiAudit => get(api::audit),
            ApiTokens => get(api::tokens),
            ApiRevokeToken => delete(api::revoke_token),
            ApiPeople => get(people::api_list),
            ApiImport => post(people::api_import),
            PortalForm => get(portal::form),
            Portal => post(portal::sign_in),
            PortalSignOut => post(portal::sign_out),
            Network => get(network::page),
            NetworkSignOut => post(network::sign_out),
            NetworkPasswords => get(network::passwords),
            GenerateNetworkPasswords => post(network::generate),
            ApiBindings => get(network::api_bindings),
            ApiNetworkSignOut => post(network::api_sign_out),
            PolicyPage => get(policy::page),
            PolicyAddSite => post(policy::add_site),
            PolicyRemoveSite => post(policy::remove),
            PolicyRule => post(policy::rule),
            PolicyChanges => get(policy::changes),
            UnblockForm => get(unblock::public_form),
            UnblockSubmit => post(unblock::public_submit),
            UnblockStaffForm => get(unblock::staff_form),
            UnblockStaffSubmit => post(unblock::staff_submit),
            UnblockRequests => get(unblock::list),
            UnblockApprove => post(unblock::approve),
            UnblockDecline => post(unblock::decline),
            Activity => get(activity::page),
            ActivitySearches => get(activity::searches),
            ApiPolicySites => get(policy::api_sites),
            ApiPolicyAddSite => post(policy::api_add_site),
            ApiPolicyRemoveSite => post(policy::api_remove_site),
            ApiPolicyChanges => get(policy::api_changes),
            ApiUnblockRequests => get(unblock::api_list),
            ApiUnblockCreate => post(unblock::api_create),
            ApiUnblockApprove => post(unblock::api_approve),
            ApiUnblockDecline => post(unblock::api_decline),
            ApiActivity => get(activity::api_search),
            RecordsScript => get(records::script),
            RecordsBlank => get(records::blank),
            WorryForm => get(records::worry_form),
            WorrySubmit => post(records::worry_submit),
            RecordNewForm => get(records::new_form),
            RecordCreate => post(records::create),
            RecordsMine => get(records::mine),
            RecordsInbox => get(records_dsl::inbox),
            RecordSearch => get(records_dsl::search),
            RecordStepUp => post(records_dsl::step_up),
            RecordView => get(records_dsl::record),
            RecordAddEntry => post(records_dsl::add_entry),
            RecordAttachment => get(records::attachment),
            PupilChronology => get(records_dsl::pupil),
            PupilFrontSheet => post(records_dsl::front_sheet),
            PupilPrint => get(records_dsl::print),
            PupilAccess => get(records_dsl::access),
        }
    }
}

/// Most bytes a request body may have (a school's whole-roll CSV fits comfortably).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// The router: every route in [`RouteId::ALL`], the permission guard, security headers.
pub fn build(state: ConsoleState) -> Router {
    let mut router = Router::new();
    for r in RouteId::ALL {
        router = router.route(r.spec().1, r.handler());
    }
    router
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), guard::check))
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn(guard::security_headers))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
