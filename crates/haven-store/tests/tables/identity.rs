//! Network identity: live bindings kept and restored, the append-only binding record, network
//! passwords, guest passes decided once, registered devices found by MAC.

use haven_accounts::RoleSet;
use haven_accounts::people::{GroupMap, ImportFormat, PersonKind, parse_csv};
use haven_identity::{Binding, BindingSource, Identify, IdentityBook};
use haven_store::{Backend, GuestQuery, GuestStatus, LiveIdentity, NewAccount, NewDevice, PeopleQuery, RecordError};

use sqlx::Connection;

use crate::common::*;

const HOUR: i64 = 3_600_000;

fn binding(user: &str, group: &str, source: BindingSource, since: i64, hours: Option<i64>) -> Binding {
    Binding {
        user: Some(user.into()),
        group: Some(group.into()),
        device: None,
        source,
        since: ts(since),
        expires: hours.map(|h| ts(since + h * HOUR)),
    }
}

async fn pupil(ctx: &Ctx) -> i64 {
    let p = parse_csv(
        "UPN,Legal Surname,Forename,Year,Reg\nA123456789012,Smith,Jo,Year 7,7JS\n",
        ImportFormat::Sims,
        PersonKind::Pupil,
        &GroupMap::default(),
    )
    .unwrap();
    let people: Vec<_> = p.people.into_iter().map(|(_, p)| p).collect();
    let plan = ctx.store.plan_people_import(&people, &[PersonKind::Pupil]).await.unwrap();
    ctx.store.apply_people_import(&plan, "roll.csv", ts(T0)).await.unwrap();
    ctx.store.people(&PeopleQuery::default()).await.unwrap()[0].id
}

async fn bindings_are_kept_restored_swept_and_recorded(ctx: Ctx) {
    let book = IdentityBook::new();
    let live = LiveIdentity::new(ctx.store.clone(), book.clone());
    let (a, b) = (ip("10.1.0.7"), ip("10.1.0.8"));
    live.bind(a, binding("jo@school.test", "ks3", BindingSource::Portal, T0, Some(1)), "jo@school.test", "signed in at the portal")
        .await
        .unwrap();
    live.bind(b, binding("visitor", "guests", BindingSource::Guest, T0, Some(8)), "kim", "guest pass 1").await.unwrap();
    assert_eq!(book.lookup(a, ts(T0 + 1)).unwrap().group.as_deref(), Some("ks3"));

    // A restart: a fresh book restores what is still live; Jo's hour is over, so hers ends.
    let book2 = IdentityBook::new();
    let live2 = LiveIdentity::new(ctx.store.clone(), book2.clone());
    assert_eq!(live2.restore(ts(T0 + 2 * HOUR)).await.unwrap(), 1);
    assert!(book2.lookup(a, ts(T0 + 2 * HOUR)).is_none());
    assert_eq!(book2.lookup(b, ts(T0 + 2 * HOUR)).unwrap().user.as_deref(), Some("visitor"));
    assert_eq!(ctx.store.saved_bindings().await.unwrap().len(), 1, "the expired one is forgotten");

    // A newer sign-in replaces the guest; a forced sign-out ends it.
    live2
        .bind(
            b,
            binding("kim@school.test", "staff", BindingSource::Portal, T0 + 2 * HOUR, Some(8)),
            "kim@school.test",
            "signed in at the portal",
        )
        .await
        .unwrap();
    assert!(
        live2.release(b, Some(BindingSource::Guest), "x", "a stale release", ts(T0 + 2 * HOUR)).await.unwrap().is_none(),
        "only the source that made it"
    );
    let ended = live2.release(b, None, "it_admin", "signed out from the console", ts(T0 + 3 * HOUR)).await.unwrap();
    assert_eq!(ended.unwrap().user.as_deref(), Some("kim@school.test"));
    assert!(book2.lookup(b, ts(T0 + 3 * HOUR)).is_none());
    assert!(ctx.store.saved_bindings().await.unwrap().is_empty());

    // Expiry sweeps.
    live2
        .bind(a, binding("jo@school.test", "ks3", BindingSource::Portal, T0 + 4 * HOUR, Some(1)), "jo@school.test", "portal")
        .await
        .unwrap();
    assert_eq!(live2.sweep(ts(T0 + 4 * HOUR + 1)).await.unwrap(), 0);
    assert_eq!(live2.sweep(ts(T0 + 6 * HOUR)).await.unwrap(), 1);
    assert!(ctx.store.saved_bindings().await.unwrap().is_empty());

    let log = ctx.store.binding_log(None, 0).await.unwrap();
    let lines: Vec<(String, String, String, String)> =
        log.iter().rev().map(|l| (l.event.clone(), l.address.clone(), l.actor.clone(), l.detail.clone())).collect();
    let want = [
        ("start", "10.1.0.7", "jo@school.test", "signed in at the portal"),
        ("start", "10.1.0.8", "kim", "guest pass 1"),
        ("end", "10.1.0.7", "haven", "expired while Haven was stopped"),
        ("end", "10.1.0.8", "kim@school.test", "replaced by a portal binding"),
        ("start", "10.1.0.8", "kim@school.test", "signed in at the portal"),
        ("end", "10.1.0.8", "it_admin", "signed out from the console"),
        ("start", "10.1.0.7", "jo@school.test", "portal"),
        ("end", "10.1.0.7", "haven", "expired"),
    ];
    assert_eq!(lines, want.map(|(a, b, c, d)| (a.to_owned(), b.to_owned(), c.to_owned(), d.to_owned())));
    assert_eq!(log.iter().find(|l| l.event == "end" && l.detail == "expired").unwrap().source, "portal");
    assert_eq!(ctx.store.binding_log(Some("10.1.0.8"), 0).await.unwrap().len(), 4);
    // The record cannot be rewritten.
    for sql in ["UPDATE binding_log SET detail = 'rewritten'", "DELETE FROM binding_log"] {
        let err = match ctx.store.backend() {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&ctx.location).await.unwrap();
                sqlx::raw_sql(sql).execute(&mut c).await.unwrap_err()
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&ctx.location).await.unwrap();
                sqlx::raw_sql(sql).execute(&mut c).await.unwrap_err()
            }
        };
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
}

async fn device_bindings_follow_the_register(ctx: Ctx) {
    let owner = pupil(&ctx).await;
    let s = &ctx.store;
    let id = s
        .add_device(
            &NewDevice {
                name: "IT-LAPTOP-042".into(),
                mac: Some("aa:bb:cc:dd:ee:0f".into()),
                address: Some(ip("10.2.0.42")),
                owner_person_id: Some(owner),
                notes: String::new(),
            },
            ts(T0),
        )
        .await
        .unwrap();
    s.add_device(&NewDevice { name: "Tablet".into(), mac: Some("aa:bb:cc:dd:ee:10".into()), ..Default::default() }, ts(T0)).await.unwrap();
    let dup = s.add_device(&NewDevice { name: "Clone".into(), mac: Some("aa:bb:cc:dd:ee:0f".into()), ..Default::default() }, ts(T0)).await;
    assert!(matches!(dup, Err(RecordError::Conflict { .. })), "{dup:?}");
    let d = s.device_by_mac("aa:bb:cc:dd:ee:0f").await.unwrap().unwrap();
    assert_eq!((d.name.as_str(), d.owner_name.as_deref(), d.owner_group.as_deref()), ("IT-LAPTOP-042", Some("Jo Smith"), Some("ks3")));
    assert_eq!(d.address, Some(ip("10.2.0.42")));
    assert!(s.device_by_mac("aa:bb:cc:dd:ee:99").await.unwrap().is_none());

    let book = IdentityBook::new();
    let live = LiveIdentity::new(ctx.store.clone(), book.clone());
    let wanted = |devices: &[haven_store::DeviceRecord]| {
        devices
            .iter()
            .filter_map(|d| {
                Some((
                    d.address?,
                    Binding {
                        user: d.owner_user.clone(),
                        group: d.owner_group.clone(),
                        device: Some(d.name.clone()),
                        source: BindingSource::Device,
                        since: ts(T0),
                        expires: None,
                    },
                ))
            })
            .collect::<Vec<_>>()
    };
    live.sync_devices(wanted(&s.devices(false).await.unwrap()), "it_admin", ts(T0)).await.unwrap();
    let who = book.who(ip("10.2.0.42"));
    assert_eq!((who.device.as_deref(), who.group.as_deref()), (Some("IT-LAPTOP-042"), Some("ks3")));
    assert!(s.retire_device(id, ts(T0 + HOUR)).await.unwrap());
    assert!(!s.retire_device(id, ts(T0 + HOUR)).await.unwrap());
    assert_eq!(s.devices(false).await.unwrap().len(), 1);
    assert_eq!(s.devices(true).await.unwrap().len(), 2, "retired, never deleted");
    live.sync_devices(wanted(&s.devices(false).await.unwrap()), "it_admin", ts(T0 + HOUR)).await.unwrap();
    assert_eq!(book.who(ip("10.2.0.42")).group, None);
    // The MAC is free again once retired.
    s.add_device(&NewDevice { name: "New laptop".into(), mac: Some("aa:bb:cc:dd:ee:0f".into()), ..Default::default() }, ts(T0 + HOUR))
        .await
        .unwrap();
}

async fn network_passwords_and_guest_passes(ctx: Ctx) {
    let owner = pupil(&ctx).await;
    let s = &ctx.store;
    s.set_network_password(owner, "JSmith7", "$argon2id$fake", "it_admin", ts(T0)).await.unwrap();
    let l = s.network_login("jsmith7").await.unwrap().unwrap();
    assert_eq!((l.person_id, l.username.as_str(), l.set_by.as_str()), (owner, "jsmith7", "it_admin"));
    s.set_network_password(owner, "jsmith7", "$argon2id$new", "it_admin", ts(T0 + 1)).await.unwrap();
    assert_eq!(s.network_logins().await.unwrap().len(), 1, "replaced, not added");
    assert!(s.network_login("nobody").await.unwrap().is_none());

    let hash = haven_accounts::hash_password("Chalkboard42").unwrap();
    let kim = s
        .create_account(&NewAccount {
            username: "kim",
            display_name: "Kim Jones",
            email: None,
            roles: RoleSet::EMPTY,
            password_hash: &hash,
            must_change_password: false,
            at: ts(T0),
        })
        .await
        .unwrap();
    let id = s.request_guest_pass("Pat Visitor", "Governors' meeting", kim, ip("10.3.0.5"), "hash-of-token", ts(T0)).await.unwrap();
    let pending = s.guest_passes(&GuestQuery { sponsor: Some(kim), status: Some(GuestStatus::Pending), limit: 0 }).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!((pending[0].name.as_str(), pending[0].sponsor_name.as_str()), ("Pat Visitor", "Kim Jones"));
    assert_eq!(s.guest_pass_by_token("hash-of-token").await.unwrap().unwrap().id, id);
    assert!(s.decide_guest_pass(id, GuestStatus::Approved, "kim", Some(4), Some(ts(T0 + 4 * HOUR)), ts(T0 + 60_000)).await.unwrap());
    assert!(!s.decide_guest_pass(id, GuestStatus::Declined, "kim", None, None, ts(T0 + 120_000)).await.unwrap(), "decided once");
    let g = s.guest_pass(id).await.unwrap().unwrap();
    assert_eq!((g.status, g.hours, g.expires, g.decided_by.as_str()), (GuestStatus::Approved, Some(4), Some(ts(T0 + 4 * HOUR)), "kim"));
    s.move_guest_pass(id, ip("10.3.0.9")).await.unwrap();
    assert_eq!(s.guest_pass(id).await.unwrap().unwrap().address, "10.3.0.9");
    assert!(s.guest_passes(&GuestQuery { sponsor: Some(kim + 1), ..Default::default() }).await.unwrap().is_empty());
}

both!(bindings_are_kept_restored_swept_and_recorded, device_bindings_follow_the_register, network_passwords_and_guest_passes);
