//! The `haven` binary, run as a user would: real files, real exit codes, real output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn haven(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_haven")).args(args).env_remove("HAVEN_CONFIG").output().unwrap()
}

fn example() -> String {
    root().join("haven.example.toml").display().to_string()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn check_blocks_and_explains() {
    let o = haven(&["--config", &example(), "check", "www.bet365.com", "--group", "ks3", "--at", "2026-11-23T12:30"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("BLOCK  www.bet365.com\n  Blocked for Key Stage 3: Gambling\n"), "{out}");
    assert!(out.contains("list:      ut1/gambling (entry `bet365.com`)"), "{out}");
    assert!(out.contains("rule:      ks3/gambling"), "{out}");
}

#[test]
fn check_follows_time_windows_in_school_time() {
    let lunch = haven(&["--config", &example(), "check", "roblox.com", "--group", "ks3", "--at", "2026-11-23T12:30"]);
    assert_eq!(lunch.status.code(), Some(0), "{}", stdout(&lunch));
    assert!(stdout(&lunch).contains("Allowed for Key Stage 3: Online games (during Lunch)"), "{}", stdout(&lunch));
    // 12:30 BST on 2026-06-15 is 11:30 UTC: still lunch in school time.
    let summer = haven(&["--config", &example(), "check", "roblox.com", "--group", "ks3", "--at", "2026-06-15T11:30:00Z"]);
    assert_eq!(summer.status.code(), Some(0), "{}", stdout(&summer));
    let lesson = haven(&["--config", &example(), "check", "roblox.com", "--group", "ks3", "--at", "2026-11-23T10:00"]);
    assert_eq!(lesson.status.code(), Some(3));
    assert!(stdout(&lesson).contains("(allowed only during Lunch, After-school clubs)"), "{}", stdout(&lesson));
}

#[test]
fn check_json_is_machine_readable() {
    let o = haven(&["--config", &example(), "check", "roblox.com", "--user", "j.smith", "--at", "2026-11-23T10:00", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["action"], "block");
    assert_eq!(v["group"], "ks3");
    assert_eq!(v["identity"], "user");
    assert_eq!(v["category"], "games");
    assert_eq!(v["list_source"], "ut1/games");
    assert_eq!(v["list_entry"], "roblox.com");
    assert_eq!(v["reference"], "ks3/games");
    assert_eq!(v["kcsie"], serde_json::json!(["conduct"]));
}

#[test]
fn the_floor_works_on_embedded_defaults() {
    let o = haven(&["check", "http://url-level.haven-floor-test.test/abuse-test/page.html", "--group", "staff"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stdout(&o).contains("Blocked: child sexual abuse material on the haven-test-list/illegal_csam list. Nothing can override this."),
        "{}",
        stdout(&o)
    );
    let sibling = haven(&["check", "http://url-level.haven-floor-test.test/other.html", "--group", "staff"]);
    assert_eq!(sibling.status.code(), Some(0));
}

#[test]
fn an_attempt_to_disable_the_floor_is_refused_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("haven.toml");
    std::fs::write(&cfg, "[illegal]\nenabled = false\n").unwrap();
    let o = haven(&["--config", cfg.to_str().unwrap(), "check", "www.example.com"]);
    assert_eq!(o.status.code(), Some(64));
    assert!(stderr(&o).contains("illegal.enabled: the illegal-content floor cannot be disabled"), "{}", stderr(&o));
    let audit = std::fs::read_to_string(dir.path().join("haven-audit.jsonl")).unwrap();
    let line: serde_json::Value = serde_json::from_str(audit.lines().next().unwrap()).unwrap();
    assert_eq!(line["event"], "illegal_floor_override_refused");
    assert_eq!(line["field"], "illegal.enabled");
}

#[test]
fn no_flag_exempts_anything_from_the_floor() {
    for flag in ["--no-floor", "--skip-illegal", "--allow-all"] {
        let o = haven(&["check", "csam-domain.haven-floor-test.test", flag]);
        assert_eq!(o.status.code(), Some(2), "{flag} must be an unknown argument");
    }
}

#[test]
fn a_missing_list_stops_the_load_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("haven.toml");
    std::fs::write(&cfg, "[[lists]]\nname = \"x\"\nformat = \"domains\"\npath = \"gone.txt\"\ncategory = \"games\"\n").unwrap();
    let o = haven(&["--config", cfg.to_str().unwrap(), "lists", "import"]);
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
    assert!(stderr(&o).contains("gone.txt"), "{}", stderr(&o));
}

#[test]
fn import_reports_bad_lines_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("mixed-quality.txt");
    std::fs::write(&list, "good.example\nbad name.example\n\nco.uk\nalso-good.example\n").unwrap();
    let o = haven(&["lists", "import", "--format", "domains", "--category", "games", list.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains(&format!("{}:2:", list.display())), "{out}");
    assert!(out.contains(&format!("{}:4:", list.display())), "{out}");
    assert!(out.contains("loaded 2 distinct domains from 1 sources"), "{out}");
    assert!(out.contains("2 bad lines skipped"), "{out}");
}

#[test]
fn stats_counts_every_category_of_the_real_ut1_tarball() {
    let o = haven(&["--config", &example(), "lists", "stats", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let cats = v["categories"].as_object().unwrap();
    for c in ["gambling", "games", "proxy_anonymiser", "vpn", "doh", "social_networks", "dating", "drugs", "piracy", "exam_cheating"] {
        assert!(cats[c]["domains"].as_u64().unwrap() > 0, "{c} empty");
    }
    assert!(v["distinct_domains"].as_u64().unwrap() > 300_000);
    assert!(v["bytes_per_domain"].as_f64().unwrap() <= 40.0, "{}", v["bytes_per_domain"]);
}

#[test]
fn config_command_lists_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("haven.toml");
    std::fs::write(&cfg, "[groups.ks3.categories]\ngamblin = \"block\"\nvideo_streaming = { during = [\"brunch\"] }\n").unwrap();
    let o = haven(&["--config", cfg.to_str().unwrap(), "config"]);
    assert_eq!(o.status.code(), Some(64));
    let err = stderr(&o);
    assert!(err.contains("groups.ks3.categories.gamblin"), "{err}");
    assert!(err.contains("window `brunch` is not defined"), "{err}");
    let ok = haven(&["--config", &example(), "config"]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
}

/// Tidy checks (rust-analyzer style): cheap rules that keep the tree readable.
#[test]
fn tidy_every_rust_file_opens_with_a_module_doc_and_the_code_map_is_complete() {
    let arch = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let mut missing_doc = Vec::new();
    let mut stack = vec![root().join("crates"), root().join("fuzz/fuzz_targets")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.parent() == Some(&root().join("crates")) {
                    let name = p.file_name().unwrap().to_string_lossy().into_owned();
                    assert!(arch.contains(&format!("`crates/{name}`")), "ARCHITECTURE.md code map lacks crates/{name}");
                }
                if !p.ends_with("target") && !p.ends_with("fixtures") {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                if !text.trim_start().starts_with("//!") {
                    missing_doc.push(p.display().to_string());
                }
            }
        }
    }
    assert!(missing_doc.is_empty(), "files without a `//!` module doc: {missing_doc:?}");
}
