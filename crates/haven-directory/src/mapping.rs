//! How directory entries become people, with no I/O: DNs compared as a directory compares them,
//! nested groups expanded (cycle-safe), and each user entry checked and mapped to a [`Person`]
//! and their sign-in names. A bad entry is reported with its DN and attribute; the good ones
//! still go in.

use std::collections::{BTreeMap, HashMap, HashSet};

use haven_accounts::people::{GroupMap, Person, PersonKind, check_upn, parse_date, parse_year};
use haven_store::PersonLogin;

use crate::config::{Attributes, DirectoryGroup};

/// One entry as the directory returned it: its DN and attributes (names lower case).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    /// The distinguished name, as written by the server.
    pub dn: String,
    /// Attribute values by lower-case attribute name.
    pub attrs: HashMap<String, Vec<String>>,
}

impl Entry {
    /// The first value of an attribute, trimmed; `None` when absent or blank.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.attrs.get(&name.to_ascii_lowercase())?.iter().map(|v| v.trim()).find(|v| !v.is_empty())
    }

    /// Every value of an attribute.
    pub fn all(&self, name: &str) -> &[String] {
        self.attrs.get(&name.to_ascii_lowercase()).map_or(&[], Vec::as_slice)
    }

    /// The entry's sign-in names from the given attributes, lower case, each once, so the sync
    /// and the portal sign-in find a person by the same names.
    pub fn logins(&self, attributes: &[String]) -> Vec<String> {
        let mut logins: Vec<String> = Vec::new();
        for name in attributes {
            for v in self.all(name) {
                let v = v.trim().to_lowercase();
                if !v.is_empty() && !logins.contains(&v) {
                    logins.push(v);
                }
            }
        }
        logins
    }
}

/// A DN in the form two DNs are compared in: RDNs trimmed, attribute types and values lower
/// case (directories compare names case-insensitively), escapes kept.
pub fn normalise_dn(dn: &str) -> String {
    let mut out = String::with_capacity(dn.len());
    let mut rdn = String::new();
    let mut escaped = false;
    let flush = |rdn: &mut String, out: &mut String| {
        let part = match rdn.split_once('=') {
            Some((t, v)) => format!("{}={}", t.trim(), v.trim()),
            None => rdn.trim().to_owned(),
        };
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(&part.to_lowercase());
        rdn.clear();
    };
    for c in dn.chars() {
        if escaped {
            rdn.push(c);
            escaped = false;
        } else if c == '\\' {
            rdn.push(c);
            escaped = true;
        } else if c == ',' || c == ';' {
            flush(&mut rdn, &mut out);
        } else {
            rdn.push(c);
        }
    }
    if !rdn.trim().is_empty() {
        flush(&mut rdn, &mut out);
    }
    out
}

/// The group graph: each group's direct members (normalised DNs).
#[derive(Debug, Clone, Default)]
pub struct GroupGraph {
    members: HashMap<String, Vec<String>>,
}

impl GroupGraph {
    /// Build from group entries, reading `member` and `uniqueMember` (groupOfNames, AD groups,
    /// groupOfUniqueNames; a uniqueMember's optional `#'0101'B` UID suffix is dropped).
    pub fn from_entries<'a>(groups: impl IntoIterator<Item = &'a Entry>) -> GroupGraph {
        let mut members = HashMap::new();
        for g in groups {
            let mut m: Vec<String> = g.all("member").iter().map(|d| normalise_dn(d)).collect();
            for u in g.all("uniquemember") {
                let dn = u.rsplit_once('#').filter(|(_, uid)| uid.starts_with('\'')).map_or(u.as_str(), |(d, _)| d);
                m.push(normalise_dn(dn));
            }
            members.insert(normalise_dn(&g.dn), m);
        }
        GroupGraph { members }
    }

    /// Whether a DN is a known group.
    pub fn is_group(&self, dn: &str) -> bool {
        self.members.contains_key(&normalise_dn(dn))
    }

    /// Every non-group member of `group`, through nested groups to any depth; a group that
    /// contains itself (directly or round a loop) is visited once.
    pub fn expand(&self, group: &str) -> Vec<String> {
        let mut seen: HashSet<String> = HashSet::new();
        let mut users = Vec::new();
        let mut user_seen = HashSet::new();
        let mut stack = vec![normalise_dn(group)];
        while let Some(g) = stack.pop() {
            if !seen.insert(g.clone()) {
                continue;
            }
            let Some(ms) = self.members.get(&g) else { continue };
            for m in ms {
                if self.members.contains_key(m) {
                    stack.push(m.clone());
                } else if user_seen.insert(m.clone()) {
                    users.push(m.clone());
                }
            }
        }
        users
    }
}

/// A directory entry that could not become a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryError {
    /// The entry's DN.
    pub dn: String,
    /// The attribute (or configured group) at fault.
    pub attribute: String,
    /// What is wrong, in words an IT manager can act on.
    pub message: String,
}

impl std::fmt::Display for EntryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.dn, self.attribute, self.message)
    }
}

/// What a directory read turns into.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mapped {
    /// The people found, in configured-group order.
    pub people: Vec<Person>,
    /// Their sign-in names.
    pub logins: Vec<PersonLogin>,
    /// Entries that could not be used.
    pub errors: Vec<EntryError>,
    /// How many members each configured group had after nesting, by group DN as configured.
    pub group_sizes: Vec<(String, usize)>,
    /// The kinds the configured groups cover (the only kinds a sync may mark as left).
    pub kinds: Vec<PersonKind>,
}

/// Map users to people: the first configured group containing a user decides their kind, year,
/// tutor group and roles; users in no configured group are ignored.
pub fn map_people(
    groups: &[DirectoryGroup],
    graph: &GroupGraph,
    users: &[Entry],
    attrs: &Attributes,
    group_map: &GroupMap,
) -> Mapped {
    let by_dn: BTreeMap<String, &Entry> = users.iter().map(|u| (normalise_dn(&u.dn), u)).collect();
    let mut placed: HashMap<String, usize> = HashMap::new();
    let mut out = Mapped::default();
    let mut order: Vec<String> = Vec::new();
    for (gi, g) in groups.iter().enumerate() {
        if !out.kinds.contains(&g.kind) {
            out.kinds.push(g.kind);
        }
        if !graph.is_group(&g.dn) {
            out.errors.push(EntryError {
                dn: g.dn.clone(),
                attribute: format!("directory.groups[{gi}].dn"),
                message: "no such group under the base DN (check the DN and that the group's objectClass is group, groupOfNames or groupOfUniqueNames)".into(),
            });
            out.group_sizes.push((g.dn.clone(), 0));
            continue;
        }
        let members = graph.expand(&g.dn);
        out.group_sizes.push((g.dn.clone(), members.len()));
        for m in members {
            if by_dn.contains_key(&m) && !placed.contains_key(&m) {
                placed.insert(m.clone(), gi);
                order.push(m);
            }
        }
    }
    let mut keys: HashMap<(PersonKind, String), String> = HashMap::new();
    for dn in order {
        let (Some(entry), Some(&gi)) = (by_dn.get(&dn), placed.get(&dn)) else { continue };
        match person_of(entry, &groups[gi], attrs, group_map) {
            Ok((person, logins)) => {
                if let Some(first) = keys.get(&(person.kind, person.key.clone())) {
                    out.errors.push(EntryError {
                        dn: entry.dn.clone(),
                        attribute: key_attribute(person.kind, attrs).to_owned(),
                        message: format!("`{}` is also the {} of {first}; each person needs their own", person.key, key_attribute(person.kind, attrs)),
                    });
                    continue;
                }
                keys.insert((person.kind, person.key.clone()), entry.dn.clone());
                out.logins.push(PersonLogin { kind: person.kind, key: person.key.clone(), logins });
                out.people.push(person);
            }
            Err(e) => out.errors.push(e),
        }
    }
    out
}

fn key_attribute(kind: PersonKind, attrs: &Attributes) -> &str {
    if kind == PersonKind::Pupil { &attrs.upn } else { &attrs.email }
}

fn person_of(e: &Entry, g: &DirectoryGroup, a: &Attributes, map: &GroupMap) -> Result<(Person, Vec<String>), EntryError> {
    let fail = |attribute: &str, message: String| EntryError { dn: e.dn.clone(), attribute: attribute.to_owned(), message };
    let given = e.first(&a.given_name).ok_or_else(|| fail(&a.given_name, "is missing; a person needs a given name".into()))?;
    let family = e.first(&a.family_name).ok_or_else(|| fail(&a.family_name, "is missing; a person needs a family name".into()))?;
    let email = e.first(&a.email).map(str::to_lowercase);
    if let Some(m) = &email
        && !m.contains('@')
    {
        return Err(fail(&a.email, format!("`{m}` is not an email address")));
    }
    let upn = match e.first(&a.upn) {
        Some(u) if g.kind == PersonKind::Pupil => Some(check_upn(u).map_err(|m| fail(&a.upn, m))?),
        Some(u) => Some(u.to_ascii_uppercase()),
        None => None,
    };
    let year_group = match (g.year, a.year_group.as_deref().and_then(|n| e.first(n).map(|v| (n, v)))) {
        (Some(y), _) => Some(y),
        (None, Some((name, v))) => Some(parse_year(v).ok_or_else(|| fail(name, format!("`{v}` is not a year group such as Year 7, Y7, R or N")))?),
        (None, None) => None,
    };
    let date_of_birth = match a.date_of_birth.as_deref().and_then(|n| e.first(n).map(|v| (n, v))) {
        Some((name, v)) => Some(parse_date(v).ok_or_else(|| fail(name, format!("`{v}` is not a date such as 2014-09-01 or 01/09/2014")))?),
        None => None,
    };
    let key = match g.kind {
        PersonKind::Pupil => upn.clone().ok_or_else(|| fail(&a.upn, "is missing; pupils are matched by their UPN (set directory.attributes.upn to the attribute that holds it)".into()))?,
        _ => email.clone().ok_or_else(|| fail(&a.email, "is missing; staff and other adults are matched by their email".into()))?,
    };
    let filter_group = map
        .group_for(g.kind, year_group)
        .ok_or_else(|| fail("year", format!("year {} maps to no filtering group; add it to [console.groups]", year_group.map_or("(none)".to_owned(), |y| y.to_string()))))?
        .to_owned();
    let tutor_group = g.tutor_group.clone().or_else(|| a.tutor_group.as_deref().and_then(|n| e.first(n)).map(str::to_owned));
    let job_title = a.job_title.as_deref().and_then(|n| e.first(n)).map(str::to_owned);
    let logins = e.logins(&a.logins);
    let person = Person {
        kind: g.kind,
        key,
        given_name: given.to_owned(),
        family_name: family.to_owned(),
        year_group,
        tutor_group,
        date_of_birth,
        upn,
        email,
        job_title,
        roles: g.roles.clone(),
        filter_group,
    };
    Ok((person, logins))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(dn: &str, attrs: &[(&str, &[&str])]) -> Entry {
        Entry {
            dn: dn.into(),
            attrs: attrs.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.iter().map(|s| (*s).to_owned()).collect())).collect(),
        }
    }

    #[test]
    fn dns_compare_as_a_directory_compares_them() {
        assert_eq!(normalise_dn("CN=Year 7, OU=Groups,DC=School,DC=Local"), "cn=year 7,ou=groups,dc=school,dc=local");
        assert_eq!(normalise_dn("cn=Smith\\, Jo,ou=Staff"), "cn=smith\\, jo,ou=staff");
        assert_ne!(normalise_dn("cn=a,ou=x"), normalise_dn("cn=a,ou=y"));
    }

    #[test]
    fn nested_groups_expand_through_loops() {
        let graph = GroupGraph::from_entries(&[
            entry("cn=all,ou=g", &[("member", &["cn=y7,ou=g", "uid=head,ou=p"])]),
            entry("cn=y7,ou=g", &[("member", &["uid=a,ou=p", "cn=y7b,ou=g"])]),
            entry("cn=y7b,ou=g", &[("uniqueMember", &["uid=b,ou=p#'0101'B", "cn=ALL,ou=g"])]),
        ]);
        let mut all = graph.expand("CN=All,OU=G");
        all.sort();
        assert_eq!(all, ["uid=a,ou=p", "uid=b,ou=p", "uid=head,ou=p"]);
        assert_eq!(graph.expand("cn=y7b,ou=g").len(), 3, "a loop back to the top still finds everyone once");
        assert!(graph.expand("cn=missing").is_empty());
    }
}
