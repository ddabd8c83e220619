//! Sign-in names (migration 10): which person a RADIUS User-Name means, on both backends.

use haven_accounts::people::{GroupMap, ImportFormat, PersonKind, parse_csv};
use haven_store::PersonLogin;

use crate::common::*;

const STAFF: &str = "kind,given_name,family_name,email\n\
                     staff,Alex,Teacher,a.teacher@school.example\n\
                     staff,Sam,Smith,s_smith@school.example\n\
                     staff,Sam,Smithson,s.smith@school.example\n\
                     staff,Sam,Smith2,s.smith@other.example\n";

async fn a_login_finds_the_person_by_name_email_or_unique_local_part(ctx: Ctx) {
    let s = &ctx.store;
    let people: Vec<_> = parse_csv(STAFF, ImportFormat::Plain, PersonKind::Staff, &GroupMap::default())
        .unwrap()
        .people
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    let plan = s.plan_people_import(&people, &[PersonKind::Staff]).await.unwrap();
    s.apply_people_import(&plan, "staff.csv", ts(T0)).await.unwrap();
    let name = |r: Option<haven_store::PersonRecord>| r.map(|r| r.person.family_name);

    assert_eq!(name(s.person_for_login("A.Teacher").await.unwrap()).as_deref(), Some("Teacher"), "email local part, any case");
    assert_eq!(name(s.person_for_login("a.teacher@school.example").await.unwrap()).as_deref(), Some("Teacher"), "whole email");
    // `_` is a literal, not a LIKE wildcard: s_smith is one person, never s.smith.
    assert_eq!(name(s.person_for_login("s_smith").await.unwrap()).as_deref(), Some("Smith"));
    // Two people have the local part s.smith: no guess.
    assert_eq!(name(s.person_for_login("s.smith").await.unwrap()), None);
    assert_eq!(name(s.person_for_login("").await.unwrap()), None);

    // A directory sync records AD logon names; re-recording replaces that source's names.
    let l = |logins: &[&str]| PersonLogin {
        kind: PersonKind::Staff,
        key: "s.smith@school.example".into(),
        logins: logins.iter().map(|x| x.to_string()).collect(),
    };
    assert_eq!(s.set_person_logins(&[l(&["SSMITH01", "s.smith"])], "ldap", ts(T0)).await.unwrap(), 2);
    assert_eq!(name(s.person_for_login("ssmith01").await.unwrap()).as_deref(), Some("Smithson"));
    assert_eq!(name(s.person_for_login("s.smith").await.unwrap()).as_deref(), Some("Smithson"), "a recorded name wins");
    s.set_person_logins(&[l(&["ssmith02"])], "ldap", ts(T0 + DAY)).await.unwrap();
    assert_eq!(name(s.person_for_login("ssmith01").await.unwrap()), None, "the old name is gone");
    assert_eq!(name(s.person_for_login("ssmith02").await.unwrap()).as_deref(), Some("Smithson"));
    // Unknown people are skipped, not invented.
    let ghost = PersonLogin { kind: PersonKind::Staff, key: "ghost@school.example".into(), logins: vec!["ghost".into()] };
    assert_eq!(s.set_person_logins(&[ghost], "ldap", ts(T0)).await.unwrap(), 0);

    // A leaver is found by nobody.
    let plan = s.plan_people_import(&people[..1], &[PersonKind::Staff]).await.unwrap();
    s.apply_people_import(&plan, "staff.csv", ts(T0 + DAY)).await.unwrap();
    assert_eq!(name(s.person_for_login("ssmith02").await.unwrap()), None);
}

both!(a_login_finds_the_person_by_name_email_or_unique_local_part);
