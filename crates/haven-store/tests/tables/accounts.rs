//! Console accounts, sessions, API tokens, the recovery code and the append-only audit log.

use haven_accounts::role::PermissionSet;
use haven_accounts::session::Stage;
use haven_accounts::{Permission, Role, RoleSet};
use haven_store::{AuthAuditQuery, AuthEvent, Backend, NewAccount, NewApiToken, RecordError, SessionRecord};
use sqlx::Connection;

use crate::common::*;

fn new_account<'a>(username: &'a str, roles: &[Role]) -> NewAccount<'a> {
    NewAccount {
        username,
        display_name: "Jo Smith",
        email: Some("j.smith@school.test"),
        roles: RoleSet::of(roles),
        password_hash: "$argon2id$fake",
        must_change_password: false,
        at: ts(T0),
    }
}

async fn create_read_and_conflict(ctx: Ctx) {
    let s = &ctx.store;
    assert_eq!(s.account_count().await.unwrap(), 0);
    let id = s.create_account(&new_account("J.Smith", &[Role::Dsl, Role::Staff])).await.unwrap();
    let a = s.account_by_username("  j.SMITH ").await.unwrap().unwrap();
    assert_eq!((a.id, a.username.as_str(), a.display_name.as_str()), (id, "j.smith", "Jo Smith"));
    assert_eq!(a.roles, RoleSet::of(&[Role::Dsl, Role::Staff]));
    assert_eq!(a.password_changed, ts(T0));
    assert!(!a.disabled && a.totp_secret.is_none() && a.locked_until.is_none());
    assert_eq!(s.account(id).await.unwrap().unwrap(), a);
    assert!(!format!("{a:?}").contains("argon2"), "Debug hides the hash");
    match s.create_account(&new_account("j.smith", &[Role::Staff])).await {
        Err(RecordError::Conflict { what: "username", value }) => assert_eq!(value, "j.smith"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    s.create_account(&new_account("a.jones", &[Role::Governor])).await.unwrap();
    let names: Vec<_> = s.accounts().await.unwrap().into_iter().map(|a| a.username).collect();
    assert_eq!(names, ["a.jones", "j.smith"]);
    assert!(matches!(s.update_account(999, "x", None, RoleSet::EMPTY, false).await, Err(RecordError::NotFound { id: 999, .. })));
}

async fn lock_unlock_password_and_profile(ctx: Ctx) {
    let s = &ctx.store;
    let id = s.create_account(&new_account("j.smith", &[Role::Staff])).await.unwrap();
    s.record_sign_in_failure(id, 4, None).await.unwrap();
    s.record_sign_in_failure(id, 0, Some(ts(T0 + 900_000))).await.unwrap();
    let a = s.account(id).await.unwrap().unwrap();
    assert_eq!((a.failed_sign_ins, a.locked_until), (0, Some(ts(T0 + 900_000))));
    s.unlock_account(id).await.unwrap();
    assert_eq!(s.account(id).await.unwrap().unwrap().locked_until, None);
    s.record_sign_in_failure(id, 0, Some(ts(T0 + 900_000))).await.unwrap();
    s.set_password(id, "$argon2id$new", ts(T0 + DAY), true).await.unwrap();
    let a = s.account(id).await.unwrap().unwrap();
    assert_eq!((a.password_hash.as_str(), a.password_changed, a.must_change_password, a.locked_until), ("$argon2id$new", ts(T0 + DAY), true, None));
    s.record_sign_in_success(id, ts(T0 + 2 * DAY)).await.unwrap();
    assert_eq!(s.account(id).await.unwrap().unwrap().last_sign_in, Some(ts(T0 + 2 * DAY)));
    s.update_account(id, "Jo Smith-Jones", None, RoleSet::of(&[Role::Auditor]), true).await.unwrap();
    let a = s.account(id).await.unwrap().unwrap();
    assert_eq!((a.display_name.as_str(), a.email, a.roles, a.disabled), ("Jo Smith-Jones", None, RoleSet::of(&[Role::Auditor]), true));
}

async fn totp_steps_are_claimed_once(ctx: Ctx) {
    let s = &ctx.store;
    let id = s.create_account(&new_account("j.smith", &[Role::Dsl])).await.unwrap();
    s.set_totp_pending(id, Some("GEZDGNBV")).await.unwrap();
    assert_eq!(s.account(id).await.unwrap().unwrap().totp_pending.as_deref(), Some("GEZDGNBV"));
    s.confirm_totp(id, "GEZDGNBV", 100).await.unwrap();
    let a = s.account(id).await.unwrap().unwrap();
    assert_eq!((a.totp_secret.as_deref(), a.totp_pending, a.totp_last_step), (Some("GEZDGNBV"), None, Some(100)));
    assert!(!s.claim_totp_step(id, 100).await.unwrap(), "the enrolment code cannot be replayed");
    assert!(s.claim_totp_step(id, 101).await.unwrap());
    assert!(!s.claim_totp_step(id, 101).await.unwrap());
    assert!(!s.claim_totp_step(id, 99).await.unwrap());
    s.clear_totp(id).await.unwrap();
    assert!(s.account(id).await.unwrap().unwrap().totp_secret.is_none());
    assert!(s.claim_totp_step(id, 1).await.unwrap(), "a fresh enrolment starts over");
}

async fn sessions_round_trip_and_expire(ctx: Ctx) {
    let s = &ctx.store;
    let id = s.create_account(&new_account("j.smith", &[Role::Staff])).await.unwrap();
    let other = s.create_account(&new_account("a.jones", &[Role::Staff])).await.unwrap();
    let session = |hash: &str, account_id, created| SessionRecord {
        token_hash: hash.into(),
        account_id,
        stage: Stage::NeedsTotp,
        csrf_token: "csrf".into(),
        created: ts(created),
        last_seen: ts(created),
        client: "10.0.0.1".into(),
    };
    s.insert_session(&session("a", id, T0)).await.unwrap();
    s.insert_session(&session("b", id, T0 + 1000)).await.unwrap();
    s.insert_session(&session("c", other, T0 + 2000)).await.unwrap();
    assert_eq!(s.session("a").await.unwrap().unwrap(), session("a", id, T0));
    assert_eq!(s.session("zz").await.unwrap(), None);
    s.touch_session("a", ts(T0 + 5000)).await.unwrap();
    assert_eq!(s.session("a").await.unwrap().unwrap().last_seen, ts(T0 + 5000));
    s.delete_session("a").await.unwrap();
    assert_eq!(s.session("a").await.unwrap(), None);
    assert_eq!(s.delete_sessions_of(id).await.unwrap(), 1);
    assert!(s.session("c").await.unwrap().is_some(), "another account's session survives");
    assert_eq!(s.prune_sessions(ts(T0 + 2001), ts(0)).await.unwrap(), 1);
    assert_eq!(s.session("c").await.unwrap(), None);
}

async fn api_tokens_are_found_by_hash_and_revoked_by_their_owner(ctx: Ctx) {
    let s = &ctx.store;
    let id = s.create_account(&new_account("j.smith", &[Role::ItAdmin])).await.unwrap();
    let other = s.create_account(&new_account("a.jones", &[Role::Staff])).await.unwrap();
    let scopes = PermissionSet::of(&[Permission::ViewPeople, Permission::ViewAuthAudit]);
    let new = NewApiToken { account_id: id, name: "MIS sync", token_hash: "hash1", hint: "hvn_abc123", scopes, at: ts(T0), expires: Some(ts(T0 + DAY)) };
    let t = s.insert_api_token(&new).await.unwrap();
    let found = s.api_token_by_hash("hash1").await.unwrap().unwrap();
    assert_eq!((found.id, found.account_id, found.name.as_str(), found.scopes), (t, id, "MIS sync", scopes));
    assert_eq!(found.expires, Some(ts(T0 + DAY)));
    assert!(s.api_token_by_hash("nope").await.unwrap().is_none());
    assert_eq!(s.api_tokens(Some(id)).await.unwrap().len(), 1);
    assert_eq!(s.api_tokens(Some(other)).await.unwrap().len(), 0);
    assert!(!s.revoke_api_token(t, Some(other), ts(T0 + 1)).await.unwrap(), "not someone else's token");
    s.touch_api_token(t, ts(T0 + 2)).await.unwrap();
    assert!(s.revoke_api_token(t, Some(id), ts(T0 + 3)).await.unwrap());
    assert!(!s.revoke_api_token(t, None, ts(T0 + 4)).await.unwrap(), "already revoked");
    let after = s.api_token_by_hash("hash1").await.unwrap().unwrap();
    assert_eq!((after.last_used, after.revoked), (Some(ts(T0 + 2)), Some(ts(T0 + 3))));
}

async fn recovery_code_is_used_once(ctx: Ctx) {
    let s = &ctx.store;
    assert_eq!(s.recovery_code().await.unwrap(), None);
    s.set_recovery_code("old", ts(T0)).await.unwrap();
    s.set_recovery_code("new", ts(T0 + 1)).await.unwrap();
    let (id, hash) = s.recovery_code().await.unwrap().unwrap();
    assert_eq!(hash, "new", "replacing retires the old code");
    assert!(s.use_recovery_code(id, ts(T0 + 2)).await.unwrap());
    assert!(!s.use_recovery_code(id, ts(T0 + 3)).await.unwrap());
    assert_eq!(s.recovery_code().await.unwrap(), None);
}

async fn audit_log_is_append_only_and_filtered(ctx: Ctx) {
    let s = &ctx.store;
    for (i, (event, user)) in [("sign_in_failed", "j.smith"), ("sign_in_failed", "j.smith"), ("locked", "j.smith"), ("sign_in", "a.jones")].iter().enumerate() {
        let e = AuthEvent { event, username: user, client: "10.0.0.1", detail: "x", ..AuthEvent::default() };
        s.append_auth_event(&e, ts(T0 + i as i64)).await.unwrap();
    }
    let all = s.auth_audit(&AuthAuditQuery::default()).await.unwrap();
    assert_eq!(all.iter().map(|r| r.event.as_str()).collect::<Vec<_>>(), ["sign_in", "locked", "sign_in_failed", "sign_in_failed"]);
    assert_eq!(all[0].time, ts(T0 + 3));
    let smith = s.auth_audit(&AuthAuditQuery { username: Some("J.Smith".into()), ..Default::default() }).await.unwrap();
    assert_eq!(smith.len(), 3);
    let failed = s.auth_audit(&AuthAuditQuery { event: Some("sign_in_failed".into()), limit: 1, ..Default::default() }).await.unwrap();
    assert_eq!(failed.len(), 1);
    let older = s.auth_audit(&AuthAuditQuery { before_id: Some(failed[0].id), ..Default::default() }).await.unwrap();
    assert_eq!(older.len(), 1);
    // Behind Haven's back, the database itself refuses to change or delete entries.
    for sql in ["UPDATE auth_audit SET detail = 'rewritten'", "DELETE FROM auth_audit"] {
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
    assert_eq!(scalar(&ctx, "SELECT COUNT(*) FROM auth_audit WHERE detail = 'x'").await, 4);
}

both!(
    create_read_and_conflict,
    lock_unlock_password_and_profile,
    totp_steps_are_claimed_once,
    sessions_round_trip_and_expire,
    api_tokens_are_found_by_hash_and_revoked_by_their_owner,
    recovery_code_is_used_once,
    audit_log_is_append_only_and_filtered,
);
