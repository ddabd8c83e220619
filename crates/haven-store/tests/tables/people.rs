//! The people directory: import plans (adds, changes, leavers), applying them, listing, counts.

use haven_accounts::people::{GroupMap, ImportFormat, PersonKind, parse_csv};
use haven_store::PeopleQuery;

use crate::common::*;

const ROLL: &str = "UPN,Legal Surname,Forename,Year,Reg\n\
                    A123456789012,Smith,Jo,Year 7,7JS\n\
                    P000000000001,Jones,Sam,Year 10,10AB\n";

fn parse(csv: &str) -> Vec<haven_accounts::people::Person> {
    let p = parse_csv(csv, ImportFormat::Sims, PersonKind::Pupil, &GroupMap::default()).unwrap();
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    p.people.into_iter().map(|(_, p)| p).collect()
}

async fn import_plans_adds_changes_and_leavers(ctx: Ctx) {
    let s = &ctx.store;
    let first = parse(ROLL);
    let plan = s.plan_people_import(&first, &[PersonKind::Pupil]).await.unwrap();
    assert_eq!((plan.adds.len(), plan.changes.len(), plan.leavers.len()), (2, 0, 0));
    assert!(s.people(&PeopleQuery::default()).await.unwrap().is_empty(), "planning writes nothing");
    s.apply_people_import(&plan, "roll.csv (sims)", ts(T0)).await.unwrap();
    let all = s.people(&PeopleQuery::default()).await.unwrap();
    assert_eq!(all.iter().map(|r| r.person.full_name()).collect::<Vec<_>>(), ["Sam Jones", "Jo Smith"]);
    assert_eq!(all[1].person.filter_group, "ks3");

    // Next term: Jo moves up a year, Sam has left, Alex joins.
    let next = parse("UPN,Legal Surname,Forename,Year,Reg\nA123456789012,Smith,Jo,Year 8,8JS\nD000000000002,Brown,Alex,Year 12,12C\n");
    let plan = s.plan_people_import(&next, &[PersonKind::Pupil]).await.unwrap();
    assert_eq!(plan.adds.iter().map(|p| p.full_name()).collect::<Vec<_>>(), ["Alex Brown"]);
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.changes[0].fields, ["year group", "tutor group"]);
    assert_eq!(plan.leavers.iter().map(|r| r.person.full_name()).collect::<Vec<_>>(), ["Sam Jones"]);
    s.apply_people_import(&plan, "roll2.csv (sims)", ts(T0 + DAY)).await.unwrap();
    let active = s.people(&PeopleQuery::default()).await.unwrap();
    assert_eq!(active.len(), 2);
    let everyone = s.people(&PeopleQuery { include_left: true, ..Default::default() }).await.unwrap();
    let sam = everyone.iter().find(|r| r.person.given_name == "Sam").unwrap();
    assert!(!sam.active, "leavers are disabled");
    assert_eq!(sam.left, Some(ts(T0 + DAY)));
    assert_eq!(scalar(&ctx, "SELECT COUNT(*) FROM people").await, 3, "never deleted");
    // Importing the same file again changes nothing; a leaver who returns is re-activated.
    let again = s.plan_people_import(&next, &[PersonKind::Pupil]).await.unwrap();
    assert_eq!((again.adds.len(), again.changes.len(), again.leavers.len(), again.unchanged), (0, 0, 0, 2));
    let back = s.plan_people_import(&first, &[PersonKind::Pupil]).await.unwrap();
    assert!(back.changes.iter().any(|c| c.fields.contains(&"rejoined")));
    // Staff are not leavers of a pupil import.
    let staff = parse_csv("kind,given_name,family_name,email\nstaff,Kim,Jones,kim@school.test\n", ImportFormat::Plain, PersonKind::Staff, &GroupMap::default()).unwrap();
    let plan = s.plan_people_import(&[staff.people[0].1.clone()], &[PersonKind::Staff]).await.unwrap();
    s.apply_people_import(&plan, "staff.csv", ts(T0 + 2 * DAY)).await.unwrap();
    let plan = s.plan_people_import(&next, &[PersonKind::Pupil]).await.unwrap();
    assert!(plan.leavers.is_empty());
}

async fn search_and_aggregate_counts(ctx: Ctx) {
    let s = &ctx.store;
    let plan = s.plan_people_import(&parse(ROLL), &[PersonKind::Pupil]).await.unwrap();
    s.apply_people_import(&plan, "roll.csv", ts(T0)).await.unwrap();
    let found = s.people(&PeopleQuery { search: Some("SMI".into()), ..Default::default() }).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(s.people(&PeopleQuery { search: Some("10ab".into()), ..Default::default() }).await.unwrap()[0].person.given_name, "Sam");
    assert_eq!(s.people(&PeopleQuery { kind: Some(PersonKind::Staff), ..Default::default() }).await.unwrap().len(), 0);
    let counts = s.people_counts().await.unwrap();
    assert_eq!(counts, [("ks3".to_owned(), "pupil".to_owned(), 1), ("ks4".to_owned(), "pupil".to_owned(), 1)]);
}

both!(import_plans_adds_changes_and_leavers, search_and_aggregate_counts);
