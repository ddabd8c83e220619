//! `[directory]`: LDAP / Active Directory sync. Where the server is and how the connection is
//! protected, the service account (its password inline or in a file, never printed), where
//! people and groups live, which attributes hold what, and which groups make pupils of which
//! year or staff. A plain `ldap://` connection to anything but loopback is refused unless the
//! school says the network is trusted, because the bind password would cross it in clear.

use std::path::{Path, PathBuf};
use std::time::Duration;

use haven_accounts::people::PersonKind;
use haven_policy::PolicyError;
use serde::Deserialize;

use crate::err;

/// `[directory]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDirectory {
    /// `ldaps://dc1.school.local` or `ldap://host:389`.
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS before binding.
    pub starttls: Option<bool>,
    /// PEM file of the CA that signed the directory's certificate (default: public CAs).
    pub ca_file: Option<String>,
    /// Allow plain `ldap://` to a non-loopback server (a trusted management network only).
    pub allow_plain: Option<bool>,
    /// The service account's DN.
    pub bind_dn: String,
    /// Its password, inline.
    pub bind_password: Option<String>,
    /// A file holding its password (first line), relative to the configuration file.
    pub bind_password_file: Option<String>,
    /// Where users and groups are searched from.
    pub base_dn: String,
    /// Which entries are people.
    pub user_filter: Option<String>,
    /// Which entries are groups.
    pub group_filter: Option<String>,
    /// Minutes between syncs inside `haven serve` (0: only `haven people sync`).
    pub sync_minutes: Option<u64>,
    /// Connect and operation timeout in seconds.
    pub timeout_seconds: Option<u64>,
    /// Refuse a sync that would mark more than this share of people as left.
    pub max_leavers_percent: Option<u32>,
    /// Let people sign in at the captive portal with their directory password.
    pub portal_sign_in: Option<bool>,
    /// Attribute names.
    #[serde(default)]
    pub attributes: RawDirectoryAttributes,
    /// The groups that bring people in, in order.
    #[serde(default)]
    pub groups: Vec<RawDirectoryGroup>,
}

/// `[directory.attributes]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDirectoryAttributes {
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// School email.
    pub email: Option<String>,
    /// Unique Pupil Number.
    pub upn: Option<String>,
    /// Year group.
    pub year_group: Option<String>,
    /// Tutor group.
    pub tutor_group: Option<String>,
    /// Date of birth.
    pub date_of_birth: Option<String>,
    /// Job title.
    pub job_title: Option<String>,
    /// Sign-in names.
    pub logins: Option<Vec<String>>,
}

/// `[[directory.groups]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDirectoryGroup {
    /// The group's DN.
    pub dn: String,
    /// pupil, staff, governor, volunteer or visitor.
    pub kind: String,
    /// Year group of its pupils (-1 nursery, 0 reception, 1-14).
    pub year: Option<i32>,
    /// Tutor group of its pupils, when the group is a form.
    pub tutor_group: Option<String>,
    /// Roles of its staff as written (`teacher`, `dsl`).
    pub roles: Option<String>,
}

/// A bind password; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct DirectoryPassword(String);

impl DirectoryPassword {
    /// The password, for the bind only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DirectoryPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DirectoryPassword(***)")
    }
}

/// How the connection is protected, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectoryTransport {
    /// Plain LDAP.
    Plain,
    /// StartTLS on `ldap://`.
    StartTls,
    /// `ldaps://`.
    Tls,
}

/// One configured group, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryGroupSettings {
    /// DN.
    pub dn: String,
    /// Kind of its members.
    pub kind: PersonKind,
    /// Year of its pupils.
    pub year: Option<i32>,
    /// Tutor group.
    pub tutor_group: Option<String>,
    /// Roles.
    pub roles: Option<String>,
}

/// Attribute names, checked (defaults filled in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryAttributeNames {
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Email.
    pub email: String,
    /// UPN.
    pub upn: String,
    /// Year group.
    pub year_group: Option<String>,
    /// Tutor group.
    pub tutor_group: Option<String>,
    /// Date of birth.
    pub date_of_birth: Option<String>,
    /// Job title.
    pub job_title: Option<String>,
    /// Sign-in names.
    pub logins: Vec<String>,
}

/// `[directory]`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectorySettings {
    /// Server URL.
    pub url: String,
    /// Protection.
    pub transport: DirectoryTransport,
    /// CA file for the server's certificate.
    pub ca_file: Option<PathBuf>,
    /// Service account DN.
    pub bind_dn: String,
    /// Service account password.
    pub bind_password: DirectoryPassword,
    /// Search base.
    pub base_dn: String,
    /// User filter (`None`: the built-in one for OpenLDAP and AD).
    pub user_filter: Option<String>,
    /// Group filter.
    pub group_filter: Option<String>,
    /// Time between syncs in `haven serve` (`None`: on demand only).
    pub sync_every: Option<Duration>,
    /// Timeout.
    pub timeout: Duration,
    /// Leaver guard.
    pub max_leavers_percent: u32,
    /// Directory passwords accepted at the captive portal.
    pub portal_sign_in: bool,
    /// Attribute names.
    pub attributes: DirectoryAttributeNames,
    /// Groups, in order.
    pub groups: Vec<DirectoryGroupSettings>,
}

fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = if let Some(h) = host.strip_prefix('[') { h.split(']').next().unwrap_or("") } else { host.split(':').next().unwrap_or("") };
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|a| a.is_loopback())
}

/// Check `[directory]`; `None` when the section is absent.
pub fn directory_settings(raw: Option<&RawDirectory>, base: &Path, errors: &mut Vec<PolicyError>) -> Option<DirectorySettings> {
    let raw = raw?;
    let scheme = raw.url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    let starttls = raw.starttls.unwrap_or(false);
    let transport = match (scheme.as_deref(), starttls) {
        (Some("ldaps"), false) => DirectoryTransport::Tls,
        (Some("ldaps"), true) => {
            errors.push(err("directory.starttls", "is for ldap:// URLs; ldaps:// is already TLS"));
            DirectoryTransport::Tls
        }
        (Some("ldap"), true) => DirectoryTransport::StartTls,
        (Some("ldap"), false) => {
            if !is_loopback_url(&raw.url) && !raw.allow_plain.unwrap_or(false) {
                errors.push(err(
                    "directory.url",
                    format!(
                        "`{}` is plain LDAP to another machine, so the bind password would cross the network in clear; use ldaps://, or starttls = true, or allow_plain = true on a trusted management network",
                        raw.url
                    ),
                ));
            }
            DirectoryTransport::Plain
        }
        _ => {
            errors.push(err("directory.url", format!("`{}` must start with ldap:// or ldaps://", raw.url)));
            DirectoryTransport::Plain
        }
    };
    let ca_file = raw.ca_file.as_ref().map(|f| base.join(f));
    if let Some(f) = &ca_file
        && !f.is_file()
    {
        errors.push(err("directory.ca_file", format!("{} does not exist", f.display())));
    }
    let password = match (&raw.bind_password, &raw.bind_password_file) {
        (Some(p), None) => p.clone(),
        (None, Some(f)) => {
            let path = base.join(f);
            match std::fs::read_to_string(&path) {
                Ok(t) => t.lines().next().unwrap_or("").trim_end().to_owned(),
                Err(e) => {
                    errors.push(err("directory.bind_password_file", format!("cannot read {}: {e}", path.display())));
                    String::new()
                }
            }
        }
        (Some(_), Some(_)) => {
            errors.push(err("directory", "give `bind_password` or `bind_password_file`, not both"));
            String::new()
        }
        (None, None) => {
            if !raw.bind_dn.is_empty() {
                errors.push(err("directory.bind_dn", "needs a `bind_password` or a `bind_password_file`"));
            }
            String::new()
        }
    };
    if raw.base_dn.trim().is_empty() {
        errors.push(err("directory.base_dn", "is empty; give the DN people and groups are under, such as DC=school,DC=local"));
    }
    let mut groups = Vec::new();
    for (i, g) in raw.groups.iter().enumerate() {
        let field = format!("directory.groups[{i}]");
        let Some(kind) = PersonKind::parse(&g.kind) else {
            errors.push(err(format!("{field}.kind"), format!("`{}` must be pupil, staff, governor, volunteer or visitor", g.kind)));
            continue;
        };
        if g.dn.trim().is_empty() || !g.dn.contains('=') {
            errors.push(err(format!("{field}.dn"), format!("`{}` is not a DN such as CN=Year 7,OU=Groups,DC=school,DC=local", g.dn)));
            continue;
        }
        if let Some(y) = g.year
            && !(-1..=14).contains(&y)
        {
            errors.push(err(format!("{field}.year"), format!("{y} is not a year group (-1 nursery, 0 reception, 1 to 14)")));
            continue;
        }
        if g.year.is_some() && kind != PersonKind::Pupil {
            errors.push(err(format!("{field}.year"), "only pupils have a year group"));
            continue;
        }
        groups.push(DirectoryGroupSettings { dn: g.dn.trim().to_owned(), kind, year: g.year, tutor_group: g.tutor_group.clone(), roles: g.roles.clone() });
    }
    if raw.groups.is_empty() {
        errors.push(err("directory.groups", "no groups: add [[directory.groups]] entries naming which groups hold pupils (with their year) and staff"));
    }
    let a = &raw.attributes;
    let attributes = DirectoryAttributeNames {
        given_name: a.given_name.clone().unwrap_or_else(|| "givenName".into()),
        family_name: a.family_name.clone().unwrap_or_else(|| "sn".into()),
        email: a.email.clone().unwrap_or_else(|| "mail".into()),
        upn: a.upn.clone().unwrap_or_else(|| "employeeNumber".into()),
        year_group: a.year_group.clone(),
        tutor_group: a.tutor_group.clone(),
        date_of_birth: a.date_of_birth.clone(),
        job_title: Some(a.job_title.clone().unwrap_or_else(|| "title".into())),
        logins: a.logins.clone().unwrap_or_else(|| vec!["uid".into(), "sAMAccountName".into(), "userPrincipalName".into()]),
    };
    let percent = raw.max_leavers_percent.unwrap_or(20);
    if percent > 100 {
        errors.push(err("directory.max_leavers_percent", format!("{percent} is more than 100")));
    }
    let timeout = raw.timeout_seconds.unwrap_or(10);
    if timeout == 0 {
        errors.push(err("directory.timeout_seconds", "must be at least 1"));
    }
    let minutes = raw.sync_minutes.unwrap_or(60);
    Some(DirectorySettings {
        url: raw.url.clone(),
        transport,
        ca_file,
        bind_dn: raw.bind_dn.clone(),
        bind_password: DirectoryPassword(password),
        base_dn: raw.base_dn.trim().to_owned(),
        user_filter: raw.user_filter.clone(),
        group_filter: raw.group_filter.clone(),
        sync_every: (minutes > 0).then(|| Duration::from_secs(minutes * 60)),
        timeout: Duration::from_secs(timeout.max(1)),
        max_leavers_percent: percent.min(100),
        portal_sign_in: raw.portal_sign_in.unwrap_or(true),
        attributes,
        groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(toml_text: &str) -> (Option<DirectorySettings>, Vec<PolicyError>) {
        let raw: RawDirectory = toml::from_str(toml_text).unwrap();
        let mut errors = Vec::new();
        let s = directory_settings(Some(&raw), Path::new("."), &mut errors);
        (s, errors)
    }

    const GROUPS: &str = "[[groups]]\ndn = \"cn=Year 7,ou=groups,dc=s\"\nkind = \"pupil\"\nyear = 7\n";

    #[test]
    fn plain_ldap_off_the_machine_is_refused() {
        let (_, e) = check(&format!("url = \"ldap://dc1.school.local\"\nbind_dn = \"cn=h\"\nbind_password = \"p\"\nbase_dn = \"dc=s\"\n{GROUPS}"));
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].field, "directory.url");
        let (s, e) = check(&format!("url = \"ldap://127.0.0.1:3389\"\nbind_dn = \"cn=h\"\nbind_password = \"p\"\nbase_dn = \"dc=s\"\n{GROUPS}"));
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(s.unwrap().transport, DirectoryTransport::Plain);
        let (s, e) = check(&format!("url = \"ldap://dc1\"\nstarttls = true\nbind_dn = \"cn=h\"\nbind_password = \"p\"\nbase_dn = \"dc=s\"\n{GROUPS}"));
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(s.unwrap().transport, DirectoryTransport::StartTls);
    }

    #[test]
    fn bad_groups_name_their_field_and_the_password_never_shows() {
        let (s, e) = check(
            "url = \"ldaps://dc1\"\nbind_dn = \"cn=h\"\nbind_password = \"hunter22\"\nbase_dn = \"dc=s\"\n\
             [[groups]]\ndn = \"cn=a,dc=s\"\nkind = \"pupils!\"\n[[groups]]\ndn = \"cn=b,dc=s\"\nkind = \"staff\"\nyear = 7\n[[groups]]\ndn = \"cn=c,dc=s\"\nkind = \"pupil\"\nyear = 20\n",
        );
        let fields: Vec<&str> = e.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(fields, ["directory.groups[0].kind", "directory.groups[1].year", "directory.groups[2].year"]);
        assert!(!format!("{s:?}").contains("hunter22"));
    }
}
