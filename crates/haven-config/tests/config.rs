//! Configuration tests: the built-in default policy, the example file, and every kind of refusal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use haven_config::{Config, ConfigError};
use haven_policy::{Action, DecidedBy, What, Who};
use jiff::Timestamp;

/// Monday 23 Nov 2026 (GMT): a lesson, and lunch.
const LESSON: &str = "2026-11-23T10:00:00Z";
const LUNCH: &str = "2026-11-23T12:30:00Z";

fn decide(config: &Config, group: &str, what: &str, when: &str) -> (Action, String) {
    let built = config.build().unwrap();
    let snap = built.snapshot;
    let who = Who { group: Some(group), ..Who::default() };
    let d = snap.decide(&who, &What::parse(what).unwrap(), when.parse::<Timestamp>().unwrap());
    (d.action, snap.sentence(&d))
}

fn with_games_list(extra: &str) -> Config {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let text = format!(
        "[[lists]]\nname = \"games\"\nformat = \"domains\"\npath = \"games.txt\"\ncategory = \"games\"\n\
         [[lists]]\nname = \"porn\"\nformat = \"domains\"\npath = \"porn.txt\"\ncategory = \"pornography\"\n{extra}"
    );
    Config::from_toml(&text, "test.toml", &dir).unwrap()
}

fn refusal(text: &str) -> ConfigError {
    Config::from_toml(text, "haven.toml", Path::new(".")).expect_err("configuration must be refused")
}

#[test]
fn embedded_defaults_build_with_every_group_and_the_test_floor() {
    let config = Config::embedded().unwrap();
    let built = config.build().unwrap();
    let ids: Vec<&str> = built.snapshot.policy().groups().iter().map(|g| &*g.id).collect();
    for g in ["reception_ks1", "ks2", "ks3", "ks4", "sixth_form", "staff", "guests", "unknown"] {
        assert!(ids.contains(&g), "default policy lacks {g}: {ids:?}");
    }
    let snap = &built.snapshot;
    assert_eq!(&*snap.policy().group(snap.policy().fallback()).id, "unknown");
    for (what, who) in
        [("csam-domain.haven-floor-test.test", "staff"), ("http://url-level.haven-floor-test.test/abuse-test/page.html", "sixth_form")]
    {
        let d = snap.decide(&Who { group: Some(who), ..Who::default() }, &What::parse(what).unwrap(), Timestamp::now());
        assert!(matches!(d.decided_by, DecidedBy::IllegalFloor), "{what}");
    }
    // URL-level test entries block that URL only.
    let sibling = What::parse("http://url-level.haven-floor-test.test/fine.html").unwrap();
    assert_eq!(snap.decide(&Who::default(), &sibling, Timestamp::now()).action, Action::Allow);
}

#[test]
fn default_policy_is_age_appropriate() {
    let c = with_games_list("");
    let cases = [
        ("reception_ks1", "roblox.test", LUNCH, Action::Block),
        ("ks2", "roblox.test", LESSON, Action::Block),
        ("ks2", "roblox.test", LUNCH, Action::Allow),
        ("ks3", "roblox.test", LESSON, Action::Block),
        ("ks3", "roblox.test", LUNCH, Action::Allow),
        ("staff", "roblox.test", LUNCH, Action::Allow),
        ("staff", "roblox.test", LESSON, Action::Block),
        ("guests", "roblox.test", LUNCH, Action::Block),
        ("unknown", "roblox.test", LUNCH, Action::Block),
        ("sixth_form", "porn.test", LUNCH, Action::Block),
        ("staff", "porn.test", LUNCH, Action::Block),
    ];
    for (group, what, when, want) in cases {
        let (got, why) = decide(&c, group, what, when);
        assert_eq!(got, want, "{group} {what} at {when}: {why}");
    }
}

#[test]
fn the_example_configuration_loads_and_decides() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../haven.example.toml");
    let config = Config::from_file(&path).unwrap();
    let built = config.build().unwrap();
    assert!(built.snapshot.lists().distinct_domains() > 300_000);
    let snap = &built.snapshot;
    let who = Who { user: Some("j.smith"), ..Who::default() };
    let d = snap.decide(&who, &What::parse("www.bet365.com").unwrap(), LUNCH.parse().unwrap());
    assert_eq!(snap.sentence(&d), "Blocked for Key Stage 3: Gambling");
    let d = snap.decide(&who, &What::parse("newsocial.example").unwrap(), LESSON.parse().unwrap());
    assert_eq!(d.action, Action::Block);
    let d = snap.decide(&who, &What::parse("scratch.mit.edu").unwrap(), LESSON.parse().unwrap());
    assert_eq!(d.action, Action::Allow);
    assert!(snap.taxonomy().id("local_radio").is_some());
}

#[test]
fn unknown_keys_are_refused_by_name() {
    let e = refusal("fallback_grup = \"unknown\"\n");
    let text = e.to_string();
    assert!(text.starts_with("haven.toml:"), "{text}");
    assert!(text.contains("fallback_grup"), "{text}");
    assert!(text.contains("line 1"), "{text}");
    let e = refusal("[groups.ks3]\ntitle = \"KS3\"\ncolour = \"blue\"\n");
    assert!(e.to_string().contains("colour"), "{e}");
}

#[test]
fn field_errors_name_the_field_and_all_are_reported() {
    let e = refusal(
        "[groups.ks3.categories]\ngamblin = \"block\"\ngames = \"sometimes\"\n\
         [windows.bad]\nspans = [\"Funday 12:00-13:00\"]\n\
         [[groups.ks3.sites]]\naction = \"allow\"\nsite = \"example.com\"\n",
    );
    let text = e.to_string();
    for needle in [
        "haven.toml: groups.ks3.categories.gamblin: `gamblin` is not a category",
        "haven.toml: groups.ks3.categories.games: `sometimes` must be",
        "haven.toml: windows.bad.spans[0]: `Funday` is not a day",
        "haven.toml: groups.ks3.sites[0].reason: every site entry needs a reason",
        "haven.toml: groups.ks3.sites[0].author: every site entry needs an author",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
    }
}

#[test]
fn the_illegal_floor_cannot_be_switched_off_or_overridden() {
    for (text, field) in [
        ("[illegal]\nenabled = false\n", "illegal.enabled"),
        ("[illegal]\ntest_list = false\n", "illegal.test_list"),
        ("[groups.staff.categories]\nillegal_csam = \"allow\"\n", "groups.staff.categories.illegal_csam"),
        (
            "[groups.ks3.categories]\nillegal_terrorism = { action = \"block\", nominated = [\"dsl\"] }\n",
            "groups.ks3.categories.illegal_terrorism",
        ),
        (
            "[[groups.staff.sites]]\naction = \"allow\"\nsite = \"csam-domain.haven-floor-test.test\"\nreason = \"r\"\nauthor = \"a\"\n",
            "groups.staff.sites[0].site",
        ),
        ("[categories.illegal_extra]\ntitle = \"x\"\nkind = \"illegal\"\n", "categories.illegal_extra.kind"),
    ] {
        let e = refusal(text);
        let overrides = e.floor_overrides();
        assert_eq!(overrides.len(), 1, "{text}: {e}");
        assert_eq!(overrides[0].field, field, "{text}");
        assert_eq!(e.audit_path(), Some(Path::new("./haven-audit.jsonl")));
    }
}

#[test]
fn illegal_lists_belong_to_the_floor_only() {
    let e = refusal("[[lists]]\nname = \"x\"\nformat = \"domains\"\npath = \"x.txt\"\ncategory = \"illegal_csam\"\n");
    assert!(e.to_string().contains("lists[0].category: `illegal_csam` is illegal content"), "{e}");
    let e = refusal("[illegal]\nsources = [{ name = \"iwf\", format = \"domains\", path = \"iwf.txt\", category = \"gambling\" }]\n");
    assert!(e.to_string().contains("illegal.sources[0].category"), "{e}");
}

#[test]
fn a_missing_list_is_a_clear_error_at_build_time() {
    let c = Config::from_toml(
        "[[lists]]\nname = \"gone\"\nformat = \"domains\"\npath = \"no/such/list.txt\"\ncategory = \"games\"\n",
        "haven.toml",
        Path::new("/tmp"),
    )
    .unwrap();
    let e = c.build().err().expect("missing list must fail the build");
    assert!(matches!(e, ConfigError::Lists(_)), "{e}");
    assert!(e.to_string().contains("/tmp/no/such/list.txt"), "{e}");
}

#[test]
fn fallback_group_must_fail_closed() {
    let e = refusal("[groups.unknown.categories]\ngames = \"allow\"\n");
    assert!(e.to_string().contains("groups.unknown.categories.games: the fallback group must be at least as strict"), "{e}");
    let e = refusal("fallback_group = \"staff\"\n");
    assert!(e.to_string().contains("fallback_group"), "{e}");
}

#[test]
fn groups_can_nominate_users_and_subgroups() {
    let c = with_games_list(
        "[groups.ks4.categories]\ngames = { action = \"block\", nominated = [\"@esports\", \"t.lee\"] }\n\
         [groups.ks4.subgroups]\nesports = [\"s.patel\"]\n\
         [[identity.users]]\nuser = \"s.patel\"\ngroup = \"ks4\"\n\
         [[identity.users]]\nuser = \"t.lee\"\ngroup = \"ks4\"\n\
         [[identity.users]]\nuser = \"r.ng\"\ngroup = \"ks4\"\n",
    );
    let snap = c.build().unwrap().snapshot;
    let what = What::parse("roblox.test").unwrap();
    for (user, want) in [("s.patel", Action::Allow), ("t.lee", Action::Allow), ("r.ng", Action::Block)] {
        let d = snap.decide(&Who { user: Some(user), ..Who::default() }, &what, LESSON.parse().unwrap());
        assert_eq!(d.action, want, "{user}: {}", snap.sentence(&d));
    }
}

#[test]
fn the_ut1_mapping_is_data_and_names_real_categories() {
    let config = Config::embedded().unwrap();
    let table: toml::Table = toml::from_str(haven_config::UT1_MAPPING).unwrap();
    for (dir, cat) in &table {
        let cat = cat.as_str().unwrap();
        if !cat.is_empty() {
            assert!(config.taxonomy().id(cat).is_some(), "UT1 {dir} maps to unknown category {cat}");
        }
    }
    assert!(table.len() >= 69, "every UT1 directory is mapped or deliberately skipped");
}

mod console {
    //! `[console]`: defaults, the school's account rules, and refusals that name the field.

    use std::path::Path;
    use std::time::Duration;

    use haven_config::Config;

    #[test]
    fn absent_means_no_console_and_present_means_tls_on_loopback() {
        assert!(Config::embedded().unwrap().console().is_none());
        let c = Config::from_toml("[console]\n", "t.toml", Path::new("/etc/haven")).unwrap();
        let console = c.console().unwrap();
        assert_eq!(console.listen.to_string(), haven_config::DEFAULT_CONSOLE_LISTEN);
        let tls = console.tls.as_ref().unwrap();
        assert_eq!(tls.cert, Path::new("/etc/haven/console-cert.pem"));
        assert_eq!(console.password, haven_accounts::PasswordPolicy::default());
    }

    #[test]
    fn the_school_sets_its_own_rules() {
        let text = "[console]\nlisten = \"0.0.0.0:443\"\nschool = \"St John's\"\ntls_cert = \"certs/c.pem\"\ntls_key = \"certs/k.pem\"\n\
                    [console.password]\nmin_length = 12\nrequire_symbol = true\nchange_after_days = 0\n\
                    [console.session]\nidle_minutes = 15\nabsolute_hours = 8\n[console.lockout]\nmax_failures = 3\nlock_minutes = 30\n";
        let c = Config::from_toml(text, "t.toml", Path::new("/srv")).unwrap();
        let console = c.console().unwrap();
        assert_eq!(console.school, "St John's");
        assert_eq!((console.password.min_length, console.password.require_symbol, console.password.change_after), (12, true, None));
        assert_eq!((console.session.idle, console.session.absolute), (Duration::from_secs(900), Duration::from_secs(8 * 3600)));
        assert_eq!((console.lockout.max_failures, console.lockout.lock_for), (3, Duration::from_secs(1800)));
        assert_eq!(console.tls.as_ref().unwrap().key, Path::new("/srv/certs/k.pem"));
    }

    #[test]
    fn weak_or_unsafe_settings_are_refused_by_field() {
        for (text, field) in [
            ("[console]\nlisten = \"0.0.0.0:80\"\ntls = false\n", "console.tls"),
            ("[console]\n[console.password]\nmin_length = 4\n", "console.password.min_length"),
            ("[console]\nlisten = \"nowhere\"\n", "console.listen"),
            ("[console]\n[console.session]\nidle_minutes = 600\nabsolute_hours = 1\n", "console.session.idle_minutes"),
            ("[console]\n[console.lockout]\nmax_failures = 0\n", "console.lockout"),
            ("[console]\npasword = 1\n", "pasword"),
        ] {
            let e = Config::from_toml(text, "t.toml", Path::new(".")).unwrap_err().to_string();
            assert!(e.contains(field), "{text}: {e}");
        }
        assert!(Config::from_toml("[console]\nlisten = \"127.0.0.1:8080\"\ntls = false\n", "t.toml", Path::new(".")).unwrap().console().unwrap().tls.is_none());
    }
}
