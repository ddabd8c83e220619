//! Behaviour of the accounts core: passwords, TOTP (RFC 6238 vectors), roles, lockout, sessions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use haven_accounts::session::{Expiry, Stage};
use haven_accounts::totp::TotpSecret;
use haven_accounts::{LockoutPolicy, PasswordError, PasswordPolicy, Permission, Role, RoleSet, SessionPolicy};
use jiff::Timestamp;

fn ts(s: i64) -> Timestamp {
    Timestamp::from_second(s).unwrap()
}

mod passwords {
    use super::*;

    #[test]
    fn default_policy_needs_length_upper_lower_digit() {
        let p = PasswordPolicy::default();
        assert!(p.check("Chalkboard42", &[]).is_ok());
        for (pw, rule) in [("Ab1", "at least 8"), ("chalkboard42", "upper-case"), ("CHALKBOARD42", "lower-case"), ("Chalkboard", "digit")] {
            match p.check(pw, &[]) {
                Err(PasswordError::Policy(broken)) => assert!(broken.iter().any(|b| b.contains(rule)), "{pw}: {broken:?}"),
                other => panic!("{pw} should be refused, got {other:?}"),
            }
        }
    }

    #[test]
    fn every_broken_rule_is_listed_and_the_password_never_appears() {
        let err = PasswordPolicy::default().check("abc", &[]).unwrap_err().to_string();
        assert!(err.contains("at least 8") && err.contains("upper-case") && err.contains("digit"), "{err}");
        assert!(!err.contains("abc"));
    }

    #[test]
    fn username_inside_the_password_is_refused() {
        let p = PasswordPolicy::default();
        assert!(p.check("Jsmith2026x", &["jsmith"]).is_err());
        assert!(p.check("Jsmith2026x", &["kjones"]).is_ok());
    }

    #[test]
    fn policy_is_configurable() {
        let p = PasswordPolicy { min_length: 12, require_symbol: true, ..PasswordPolicy::default() };
        assert!(p.check("Chalkboard42", &[]).is_err());
        assert!(p.check("Chalkboard42!", &[]).is_ok());
        let lax = PasswordPolicy { require_upper: false, require_digit: false, ..PasswordPolicy::default() };
        assert!(lax.check("chalkboard", &[]).is_ok());
    }

    #[test]
    fn argon2id_hash_verifies_only_the_right_password() {
        let h = haven_accounts::hash_password("Chalkboard42").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(haven_accounts::verify_password(&h, "Chalkboard42"));
        assert!(!haven_accounts::verify_password(&h, "chalkboard42"));
        assert!(!haven_accounts::verify_password("not a hash", "Chalkboard42"));
        let again = haven_accounts::hash_password("Chalkboard42").unwrap();
        assert_ne!(h, again, "salts must differ");
    }

    #[test]
    fn change_reminder_after_the_interval() {
        let p = PasswordPolicy { change_after: Some(Duration::from_secs(90 * 86_400)), ..PasswordPolicy::default() };
        assert!(!p.change_due(ts(0), ts(89 * 86_400)));
        assert!(p.change_due(ts(0), ts(90 * 86_400)));
        let never = PasswordPolicy { change_after: None, ..PasswordPolicy::default() };
        assert!(!never.change_due(ts(0), ts(10_000 * 86_400)));
    }
}

mod totp {
    use super::*;

    /// RFC 6238 appendix B, SHA-1, truncated to 6 digits.
    #[test]
    fn rfc6238_test_vectors() {
        let s = TotpSecret::from_bytes(b"12345678901234567890");
        for (t, code) in [(59, "287082"), (1_111_111_109, "081804"), (1_111_111_111, "050471"), (1_234_567_890, "005924"), (2_000_000_000, "279037"), (20_000_000_000, "353130")] {
            assert_eq!(s.code_at(ts(t)), code, "t={t}");
        }
    }

    #[test]
    fn accepts_one_step_of_drift_and_never_a_replay() {
        let s = TotpSecret::from_bytes(b"12345678901234567890");
        let now = ts(1_111_111_111);
        let code = s.code_at(now);
        let step = s.verify(&code, now, None).unwrap();
        assert_eq!(s.verify(&code, now, Some(step)), None, "replay refused");
        assert!(s.verify(&s.code_at(ts(1_111_111_111 - 30)), now, None).is_some(), "previous step ok");
        assert!(s.verify(&s.code_at(ts(1_111_111_111 + 30)), now, None).is_some(), "next step ok");
        assert_eq!(s.verify(&s.code_at(ts(1_111_111_111 - 90)), now, None), None, "too old");
        assert_eq!(s.verify("12345", now, None), None);
        assert_eq!(s.verify("abcdef", now, None), None);
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert!(s.verify(&spaced, now, None).is_some(), "spaces ignored");
    }

    #[test]
    fn base32_round_trip_and_uri() {
        let s = TotpSecret::from_bytes(b"12345678901234567890");
        assert_eq!(s.to_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(TotpSecret::from_base32("gezd gnbv gy3t qojq gezd gnbv gy3t qojq").unwrap(), s);
        assert!(TotpSecret::from_base32("not base32!").is_err());
        let uri = s.otpauth_uri("Haven (St John's)", "j.smith");
        assert_eq!(
            uri,
            "otpauth://totp/Haven%20%28St%20John%27s%29:j.smith?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Haven%20%28St%20John%27s%29&algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(format!("{s:?}"), "TotpSecret(..)", "Debug never shows the secret");
    }

    proptest::proptest! {
        #[test]
        fn base32_round_trips(bytes in proptest::collection::vec(proptest::num::u8::ANY, 1..64)) {
            let s = TotpSecret::from_bytes(&bytes);
            proptest::prop_assert_eq!(TotpSecret::from_base32(&s.to_base32()).unwrap(), s);
        }
    }
}

mod roles {
    use super::*;

    #[test]
    fn governors_never_see_names() {
        assert!(!RoleSet::of(&[Role::Governor]).allows(Permission::ViewPeople));
        assert!(RoleSet::of(&[Role::Governor]).allows(Permission::ViewDashboard));
    }

    #[test]
    fn auditor_reads_the_audit_log_and_changes_nothing() {
        let a = RoleSet::of(&[Role::Auditor]);
        assert!(a.allows(Permission::ViewAuthAudit));
        for p in [Permission::ManageAccounts, Permission::ManagePeople, Permission::ViewPeople] {
            assert!(!a.allows(p), "{p:?}");
        }
    }

    #[test]
    fn mfa_for_safeguarding_and_admin_roles() {
        for r in [Role::Dsl, Role::DeputyDsl, Role::ItAdmin, Role::Headteacher] {
            assert!(r.requires_mfa(), "{r}");
        }
        for r in [Role::Staff, Role::Governor, Role::Auditor] {
            assert!(!r.requires_mfa(), "{r}");
        }
        assert!(RoleSet::of(&[Role::Staff, Role::Dsl]).requires_mfa());
    }

    #[test]
    fn role_sets_parse_and_print() {
        let s = RoleSet::parse("DSL, staff;IT admin").unwrap();
        assert_eq!(s.to_list(), "dsl,it_admin,staff");
        assert_eq!(RoleSet::parse(&s.to_list()).unwrap(), s);
        assert!(RoleSet::parse("dsl,wizard").unwrap_err().to_string().contains("\"wizard\""));
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
    }

    #[test]
    fn scopes_parse_and_intersect() {
        use haven_accounts::role::PermissionSet;
        let token = PermissionSet::parse_scopes("people:read audit:read").unwrap();
        let staff = RoleSet::of(&[Role::Staff]).permissions();
        assert_eq!(token.intersect(staff).iter().count(), 0);
        assert!(token.is_subset(RoleSet::of(&[Role::ItAdmin]).permissions()));
        assert!(PermissionSet::parse_scopes("people:delete").is_err());
    }
}

mod lockout {
    use super::*;
    use haven_accounts::AddressThrottle;

    #[test]
    fn fifth_failure_locks_for_the_period() {
        let p = LockoutPolicy::default();
        let now = ts(1_000_000);
        let mut failures = 0;
        for _ in 0..4 {
            let o = p.on_failure(failures, now);
            assert_eq!(o.locked_until, None);
            failures = o.failures;
        }
        let o = p.on_failure(failures, now);
        let until = o.locked_until.unwrap();
        assert_eq!(until, ts(1_000_000 + 15 * 60));
        assert!(LockoutPolicy::is_locked(Some(until), ts(1_000_000 + 15 * 60 - 1)));
        assert!(!LockoutPolicy::is_locked(Some(until), until));
    }

    #[test]
    fn an_address_spraying_many_accounts_is_refused_then_forgiven() {
        let p = LockoutPolicy { address_max_failures: 3, ..LockoutPolicy::default() };
        let mut t = AddressThrottle::new();
        let a = "10.0.0.9".parse().unwrap();
        let b = "10.0.0.10".parse().unwrap();
        for i in 0..3 {
            assert!(t.allowed(&p, a, ts(100 + i)));
            t.record_failure(&p, a, ts(100 + i));
        }
        assert!(!t.allowed(&p, a, ts(200)));
        assert!(t.allowed(&p, b, ts(200)), "other addresses unaffected");
        assert!(t.allowed(&p, a, ts(100 + 15 * 60)), "window over");
    }
}

mod sessions {
    use super::*;

    #[test]
    fn idle_and_absolute_expiry() {
        let p = SessionPolicy::default();
        let start = ts(0);
        assert_eq!(p.check(Stage::Full, start, ts(29 * 60), ts(29 * 60 + 59)), Ok(()));
        assert_eq!(p.check(Stage::Full, start, ts(0), ts(30 * 60)), Err(Expiry::Idle));
        // Busy all day: still ends at 12 hours.
        assert_eq!(p.check(Stage::Full, start, ts(12 * 3600 - 1), ts(12 * 3600)), Err(Expiry::Absolute));
        // A half-finished sign-in ends after five minutes.
        assert_eq!(p.check(Stage::NeedsTotp, start, ts(4 * 60), ts(5 * 60)), Err(Expiry::Absolute));
    }

    #[test]
    fn tokens_are_random_and_hashes_are_stable() {
        let a = haven_accounts::session::new_token().unwrap();
        let b = haven_accounts::session::new_token().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(haven_accounts::random::token_hash(&a), haven_accounts::random::token_hash(&a));
        assert_ne!(haven_accounts::random::token_hash(&a), a);
        let t = haven_accounts::token::mint().unwrap();
        assert!(haven_accounts::token::looks_like_token(&t.secret));
        assert!(!haven_accounts::token::looks_like_token("hvn_nothex"));
        assert_eq!(t.hash, haven_accounts::random::token_hash(&t.secret));
    }

    #[test]
    fn recovery_codes_normalise() {
        let c = haven_accounts::recovery::generate().unwrap();
        assert_eq!(c.len(), 29);
        assert_eq!(haven_accounts::recovery::normalise(&c.to_lowercase().replace('-', " ")), c.replace('-', ""));
    }
}

mod people {
    use haven_accounts::people::{GroupMap, ImportError, ImportFormat, PersonKind, check_upn, parse_csv, parse_year};

    /// Valid UPNs (check letter computed by hand for the first: weights 2..13 sum to 368 = 16 x 23).
    const UPN1: &str = "A123456789012";

    #[test]
    fn upn_check_letter() {
        assert_eq!(check_upn("a123456789012").unwrap(), UPN1);
        assert!(check_upn("B123456789012").unwrap_err().contains("check letter"));
        assert!(check_upn("A12345678901").unwrap_err().contains("13"));
        assert!(check_upn("A12345678901!").is_err());
    }

    #[test]
    fn year_groups_as_mis_exports_write_them() {
        for (t, y) in [("Year 7", 7), ("Y10", 10), ("7", 7), ("Yr 13", 13), ("R", 0), ("Reception", 0), ("Nursery", -1)] {
            assert_eq!(parse_year(t), Some(y), "{t}");
        }
        assert_eq!(parse_year("Year 15"), None);
        assert_eq!(parse_year("Blue"), None);
    }

    #[test]
    fn year_groups_map_to_the_policy_groups() {
        let m = GroupMap::default();
        for (y, g) in [(0, "reception_ks1"), (2, "reception_ks1"), (3, "ks2"), (7, "ks3"), (9, "ks3"), (10, "ks4"), (12, "sixth_form")] {
            assert_eq!(m.group_for(PersonKind::Pupil, Some(y)), Some(g), "year {y}");
        }
        assert_eq!(m.group_for(PersonKind::Staff, None), Some("staff"));
        assert_eq!(m.group_for(PersonKind::Visitor, None), Some("guests"));
    }

    #[test]
    fn sims_export_with_a_bad_row_keeps_the_good_ones() {
        let csv = "\u{feff}Adno,UPN,Legal Surname,Forename,Year,Reg,DOB\n\
                   1001,A123456789012,Smith,Jo,Year 7,7JS,01/09/2013\n\
                   1002,B123456789012,Jones,Sam,Year 8,8AB,02/10/2012\n\
                   1003,A123456789012,Brown,Alex,Year 9,9CD,2011-13-01\n\
                   ,,,,,,\n";
        let p = parse_csv(csv, ImportFormat::Sims, PersonKind::Pupil, &GroupMap::default()).unwrap();
        assert_eq!(p.people.len(), 1);
        let (row, jo) = &p.people[0];
        assert_eq!((*row, jo.full_name().as_str(), jo.year_group, jo.filter_group.as_str()), (2, "Jo Smith", Some(7), "ks3"));
        assert_eq!(jo.date_of_birth.as_deref(), Some("2013-09-01"));
        assert_eq!(jo.tutor_group.as_deref(), Some("7JS"));
        let errs: Vec<String> = p.errors.iter().map(ToString::to_string).collect();
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[0].starts_with("row 3: UPN:"), "{errs:?}");
        assert!(errs[1].starts_with("row 4: date of birth:"), "{errs:?}");
    }

    #[test]
    fn wonde_arbor_and_plain_columns() {
        let wonde = "Forename,Surname,Year Group,Registration Group,Date of Birth,UPN\nJo,Smith,Year 10,10X,2010-01-01,A123456789012\n";
        let p = parse_csv(wonde, ImportFormat::Wonde, PersonKind::Pupil, &GroupMap::default()).unwrap();
        assert_eq!(p.people[0].1.filter_group, "ks4");
        let arbor = "First Name,Last Name,Year,Registration Form,UPN,Email Address\nJo,Smith,Reception,RB,A123456789012,jo@school.test\n";
        let p = parse_csv(arbor, ImportFormat::Arbor, PersonKind::Pupil, &GroupMap::default()).unwrap();
        assert_eq!((p.people[0].1.year_group, p.people[0].1.email.as_deref()), (Some(0), Some("jo@school.test")));
        let plain = "kind,given_name,family_name,email,job_title,roles\nstaff,Kim,Jones,K.Jones@School.test,Head of Year 9,teacher\ngovernor,Pat,Lee,pat@gov.test,,\nvisitor,No,Email,,,\n";
        let p = parse_csv(plain, ImportFormat::Plain, PersonKind::Pupil, &GroupMap::default()).unwrap();
        assert_eq!(p.people.len(), 2);
        assert_eq!((p.people[0].1.key.as_str(), p.people[0].1.filter_group.as_str()), ("k.jones@school.test", "staff"));
        assert_eq!(p.people[1].1.filter_group, "guests");
        assert_eq!(p.errors[0].to_string(), "row 4: email: a visitor needs an email address to be matched across imports");
    }

    #[test]
    fn a_file_without_name_columns_is_refused_whole() {
        let e = parse_csv("UPN,Year\nA123456789012,7\n", ImportFormat::Sims, PersonKind::Pupil, &GroupMap::default()).unwrap_err();
        assert!(matches!(e, ImportError::MissingColumn { field: "given name", .. }), "{e}");
        assert!(e.to_string().contains("forename"));
    }
}
