//! Whole-load failures: each is a `LoadError` naming the path and the cause, never a panic and
//! never a partial list set.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;

use haven_lists::{LoadError, SourceSpec, Ut1Mapping, build};
use haven_policy::{ListFormat, Matching};

use crate::support::{cat, file, fixture, taxonomy, ut1_tarball};

/// The error a build must end in (`ListSet` has no `Debug`, so `unwrap_err` is not available).
fn fail(t: &haven_policy::Taxonomy, sources: &[SourceSpec]) -> LoadError {
    match build(t, sources) {
        Ok((_, report)) => panic!("build should have failed; it loaded: {report}"),
        Err(e) => e,
    }
}

fn ut1(path: PathBuf) -> SourceSpec {
    let t = taxonomy();
    let mapping = Ut1Mapping(HashMap::from([("adult".to_string(), Some(cat(&t, "adult")))]));
    SourceSpec::Ut1 { name: "ut1".into(), path, mapping }
}

#[test]
fn missing_file_names_the_path() {
    let t = taxonomy();
    let other = cat(&t, "other");
    // Relative, as a configuration file would give it.
    let err = fail(&t, &[file("extra", "lists/extra.txt".into(), ListFormat::Domains, other, Matching::Subdomains)]);
    assert!(matches!(err, LoadError::Io { .. }), "{err:?}");
    assert_eq!(err.to_string(), "lists/extra.txt: No such file or directory");

    // Formats that the counting pass skips fail just the same when loading.
    let missing = fixture("does-not-exist.txt");
    let err = fail(&t, &[file("urls", missing.clone(), ListFormat::Urls, other, Matching::Subdomains)]);
    assert_eq!(err.to_string(), format!("{}: No such file or directory", missing.display()));
    let illegal = cat(&t, "illegal");
    let err = fail(&t, &[SourceSpec::Hashed { name: "iwf".into(), path: missing.clone(), category: illegal }]);
    assert!(err.to_string().starts_with(&missing.display().to_string()), "{err}");

    // A good source before a missing one changes nothing: the whole build fails.
    let sources = [
        file("hosts", fixture("hosts.txt"), ListFormat::Hosts, other, Matching::Exact),
        file("extra", missing.clone(), ListFormat::Domains, other, Matching::Subdomains),
    ];
    assert!(matches!(build(&t, &sources), Err(LoadError::Io { .. })));
}

#[test]
fn missing_ut1_path_names_the_path() {
    let missing = fixture("no-such-ut1.tar.gz");
    let err = fail(&taxonomy(), &[ut1(missing.clone())]);
    assert_eq!(err.to_string(), format!("{}: No such file or directory", missing.display()));
}

#[test]
fn corrupt_tarball_is_an_error() {
    let path = fixture("corrupt.tar.gz");
    let err = fail(&taxonomy(), &[ut1(path.clone())]);
    assert!(matches!(err, LoadError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().starts_with(&format!("{}: corrupt archive: ", path.display())), "{err}");
}

#[test]
fn truncated_tarball_is_an_error() {
    let mut head = Vec::new();
    std::fs::File::open(ut1_tarball()).unwrap().take(200_000).read_to_end(&mut head).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ut1-truncated.tar.gz");
    std::fs::write(&path, head).unwrap();
    let err = fail(&taxonomy(), &[ut1(path.clone())]);
    assert!(matches!(err, LoadError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("ut1-truncated.tar.gz"), "{err}");
}

#[test]
fn corrupt_gzip_list_is_an_error() {
    let t = taxonomy();
    let path = fixture("truncated.txt.gz");
    // Domains are counted first; urls are not, so both passes meet the damage.
    for format in [ListFormat::Domains, ListFormat::Urls] {
        let err = fail(&t, &[file("gz", path.clone(), format, cat(&t, "other"), Matching::Subdomains)]);
        assert!(matches!(err, LoadError::Corrupt { .. }), "{err:?}");
        assert!(err.to_string().starts_with(&path.display().to_string()), "{err}");
    }
}

#[test]
fn gzip_name_without_gzip_data_is_an_error() {
    let t = taxonomy();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("list.txt.gz");
    std::fs::write(&path, "plain.example.com\n").unwrap();
    let err = fail(&t, &[file("gz", path, ListFormat::Domains, cat(&t, "other"), Matching::Subdomains)]);
    assert!(matches!(err, LoadError::Corrupt { .. }), "{err:?}");
}

#[test]
fn directory_without_categories_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README"), "not UT1").unwrap();
    let err = fail(&taxonomy(), &[ut1(dir.path().to_path_buf())]);
    assert!(matches!(err, LoadError::NotUt1 { .. }), "{err:?}");

    // A valid tarball that is not UT1 is refused too, rather than loading nothing.
    let tarball = dir.path().join("other.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&tarball).unwrap());
    b.append_path_with_name(dir.path().join("README"), "docs/README").unwrap();
    b.finish().unwrap();
    drop(b);
    let err = fail(&taxonomy(), &[ut1(tarball)]);
    assert!(matches!(err, LoadError::NotUt1 { .. }), "{err:?}");
}

#[test]
fn duplicate_source_names_are_refused() {
    let t = taxonomy();
    let other = cat(&t, "other");
    let sources = [
        file("same", fixture("hosts.txt"), ListFormat::Hosts, other, Matching::Exact),
        file("same", fixture("adblock.txt"), ListFormat::Adblock, other, Matching::Subdomains),
    ];
    let err = fail(&t, &sources);
    assert!(matches!(&err, LoadError::DuplicateName(n) if n == "same"), "{err:?}");
}

#[test]
fn category_from_another_taxonomy_is_refused() {
    let t = taxonomy();
    let small = haven_policy::Taxonomy::new(vec![t.get(cat(&t, "adult")).clone()]).unwrap();
    let err = fail(&small, &[file("hosts", fixture("hosts.txt"), ListFormat::Hosts, cat(&t, "illegal"), Matching::Exact)]);
    assert!(matches!(err, LoadError::UnknownCategory(_)), "{err:?}");
}
