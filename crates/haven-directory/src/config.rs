//! What the directory sync needs to know: where the server is, how to bind, where people and
//! groups live, which attributes hold what, and which groups make pupils of which year or staff.
//! The binary maps the checked `[directory]` section of haven.toml onto this.

use std::sync::Arc;
use std::time::Duration;

use haven_accounts::people::PersonKind;

/// A bind password; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct BindPassword(String);

impl BindPassword {
    /// Wrap a password read from the configuration or its file.
    pub fn new(p: impl Into<String>) -> BindPassword {
        BindPassword(p.into())
    }

    /// The password, for the bind only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for BindPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BindPassword(***)")
    }
}

/// How the connection is protected.
#[derive(Debug, Clone)]
pub enum Transport {
    /// Plain LDAP (only sensible on loopback or a trusted management network).
    Plain,
    /// `ldap://` upgraded with StartTLS before binding.
    StartTls(Arc<rustls::ClientConfig>),
    /// `ldaps://` (TLS from the first byte).
    Tls(Arc<rustls::ClientConfig>),
}

/// Which attribute holds what (names as the directory spells them; compared case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    /// Given name (`givenName`).
    pub given_name: String,
    /// Family name (`sn`).
    pub family_name: String,
    /// School email (`mail`): the matching key for adults.
    pub email: String,
    /// Unique Pupil Number: the matching key for pupils (often `employeeNumber` or `employeeID`).
    pub upn: String,
    /// Year group, when no configured group gives one (e.g. `departmentNumber`).
    pub year_group: Option<String>,
    /// Tutor or registration group (e.g. `ou` or `physicalDeliveryOfficeName`).
    pub tutor_group: Option<String>,
    /// Date of birth, when the directory holds it.
    pub date_of_birth: Option<String>,
    /// Job title (`title`).
    pub job_title: Option<String>,
    /// Sign-in names, for RADIUS and the portal (`uid`, `sAMAccountName`, `userPrincipalName`).
    pub logins: Vec<String>,
}

impl Default for Attributes {
    fn default() -> Self {
        Attributes {
            given_name: "givenName".into(),
            family_name: "sn".into(),
            email: "mail".into(),
            upn: "employeeNumber".into(),
            year_group: None,
            tutor_group: None,
            date_of_birth: None,
            job_title: Some("title".into()),
            logins: vec!["uid".into(), "sAMAccountName".into(), "userPrincipalName".into()],
        }
    }
}

impl Attributes {
    /// Every attribute a user search asks for.
    pub fn requested(&self) -> Vec<String> {
        let mut v = vec![self.given_name.clone(), self.family_name.clone(), self.email.clone(), self.upn.clone()];
        v.extend(self.year_group.iter().chain(&self.tutor_group).chain(&self.date_of_birth).chain(&self.job_title).cloned());
        v.extend(self.logins.iter().cloned());
        v.sort_by_key(|a| a.to_ascii_lowercase());
        v.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        v
    }
}

/// One directory group that brings people into Haven.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryGroup {
    /// The group's DN.
    pub dn: String,
    /// What its members are.
    pub kind: PersonKind,
    /// Their year group (pupils).
    pub year: Option<i32>,
    /// Their tutor group, when the group is a form.
    pub tutor_group: Option<String>,
    /// Their roles as written (`teacher`, `dsl`), for staff.
    pub roles: Option<String>,
}

/// Everything the sync and the directory sign-in need.
#[derive(Debug, Clone)]
pub struct DirectoryConfig {
    /// `ldap://host:389` or `ldaps://host:636`.
    pub url: String,
    /// How the connection is protected.
    pub transport: Transport,
    /// The service account's DN (empty for an anonymous bind, which few directories allow).
    pub bind_dn: String,
    /// The service account's password.
    pub bind_password: BindPassword,
    /// Where users and groups are searched from.
    pub base_dn: String,
    /// Which entries are people (`(objectClass=inetOrgPerson)`, or `(objectCategory=person)` on AD).
    pub user_filter: String,
    /// Which entries are groups.
    pub group_filter: String,
    /// Attribute names.
    pub attributes: Attributes,
    /// The groups that bring people in, in order: the first containing a person decides.
    pub groups: Vec<DirectoryGroup>,
    /// Connect and operation timeout.
    pub timeout: Duration,
    /// A sync that would mark more than this share of the covered people as left is refused
    /// (a wrong base DN or a half-replicated directory must not disable a year group).
    pub max_leavers_percent: u32,
    /// Page size for paged searches (Active Directory returns at most 1,000 without paging).
    pub page_size: i32,
}

/// The default user filter: people on OpenLDAP (inetOrgPerson) and on Active Directory
/// (objectCategory person, which excludes computers). Each half is "undefined", not false, on
/// the other server, so only an OR of them works on both; a NOT of an unknown class would not.
pub const DEFAULT_USER_FILTER: &str = "(|(objectClass=inetOrgPerson)(objectCategory=person))";
/// The default group filter: AD groups, groupOfNames and groupOfUniqueNames.
pub const DEFAULT_GROUP_FILTER: &str = "(|(objectClass=group)(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))";
